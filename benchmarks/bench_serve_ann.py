"""Benchmark: the approximate stage (faiss HNSW and IVF) against exact top-10 inner products: recall@10 of
the index against exact and its speed-up, on Beauty's item embeddings and a synthetic 1,000,000-item
catalogue (srsupm_lab.serve.ann; docs/serving.md, the lesson tutorials/09_offline_to_online.md).

    python benchmarks/bench_serve_ann.py                       # trains a 1-epoch SASRec on Beauty first
    python benchmarks/bench_serve_ann.py --run runs/beauty-sasrec --million-kinds ivf hnsw

* **Beauty**: ``E`` is the item table of a SASRec run (12,101 x 64), the queries the user vectors
  ``h`` of ``--queries`` users.
* **1,000,000 items**: a clustered catalogue, as learned embeddings are (isotropic noise would be the
  hardest case no real table is): ``--clusters`` centres ``c ~ N(0, I_64)``, each item a centre plus
  ``N(0, s^2 I)``, each query a centre plus ``N(0, s^2 I)``, ``s = --spread``; seeded. At ``s = 0.5``
  the clusters barely overlap and an IVF index scanning 4 of 1,024 cells already finds the exact top
  10; at ``s = 1`` (the default) they overlap as much as they are apart.

Exact: ``torch.topk(h @ E.T, 10)`` in batches of ``--chunk`` queries (what ``recommend`` does). Each
time is the median of ``--repeats`` passes over all queries, in milliseconds per query; the speed-up
is exact over approximate; the index's build time is given apart. Target on the 1,000,000 items:
recall@10 at least 0.95 at 5x the exact speed or more. The load average is printed with the table.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def exact(h: torch.Tensor, E: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Exact top-k item ids (1..N) of ``h @ E.T`` (row 0 of E is padding), ``chunk`` queries at a time."""
    from srsupm_lab.serve.ann import exact_top_k
    return torch.cat([exact_top_k(h[i:i + chunk], E, k)[1] for i in range(0, h.shape[0], chunk)])


def bench(name: str, E: torch.Tensor, h: torch.Tensor, settings: list, repeats: int, chunk: int, k: int = 10) -> list:
    from srsupm_lab.serve.ann import ItemIndex, recall_at_k
    truth = exact(h, E, k, chunk)
    t_exact = median_time(lambda: exact(h, E, k, chunk), repeats)
    rows = [{"catalogue": name, "stage": "exact", "recall": 1.0, "ms/query": 1e3 * t_exact / h.shape[0],
             "speed-up": 1.0, "build s": 0.0}]
    for kind, build, searches in settings:
        t = time.perf_counter()
        index = ItemIndex(E, kind=kind, **build)
        built = time.perf_counter() - t
        for search in searches:
            index.set_search(**search)
            found = index.search(h, k)[1]
            t_ann = median_time(lambda: index.search(h, k), repeats)
            label = f"{kind} " + " ".join(f"{a}={b}" for a, b in {**build, **search}.items())
            rows.append({"catalogue": name, "stage": label, "recall": recall_at_k(found, truth),
                         "ms/query": 1e3 * t_ann / h.shape[0], "speed-up": t_exact / t_ann, "build s": built})
        del index
    return rows


def clustered(n: int, d: int, clusters: int, queries: int, seed: int,
              spread: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = np.random.default_rng(seed)
    centres = g.normal(size=(clusters, d)).astype(np.float32)
    E = np.empty((n + 1, d), dtype=np.float32)
    E[0] = 0
    for lo in range(1, n + 1, 200_000):                                 # in blocks: bounded memory
        hi = min(lo + 200_000, n + 1)
        E[lo:hi] = centres[g.integers(0, clusters, hi - lo)] + spread * g.normal(size=(hi - lo, d)).astype(np.float32)
    h = centres[g.integers(0, clusters, queries)] + spread * g.normal(size=(queries, d)).astype(np.float32)
    return torch.from_numpy(E), torch.from_numpy(h)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default=None, help="a trained Beauty run folder (default: train a 1-epoch SASRec)")
    parser.add_argument("--queries", type=int, default=1000, help="queries (users) per catalogue")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes (median)")
    parser.add_argument("--chunk", type=int, default=32, help="queries per exact product")
    parser.add_argument("--items", type=int, default=1_000_000, help="items of the synthetic catalogue")
    parser.add_argument("--clusters", type=int, default=2000, help="centres of the synthetic catalogue")
    parser.add_argument("--spread", type=float, default=1.0, help="noise around the centres of the synthetic catalogue")
    parser.add_argument("--million-kinds", nargs="+", default=["ivf"], choices=("ivf", "hnsw"),
                        help="indexes built on the synthetic catalogue (hnsw takes minutes to build there)")
    parser.add_argument("--skip-beauty", action="store_true", help="the synthetic catalogue only")
    parser.add_argument("--out", default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    from srsupm_lab.threads import apply_thread_policy
    apply_thread_policy("large")
    before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = []
    if not args.skip_beauty:
        from bench_serve import beauty_run
        from srsupm_lab.serve import load_run
        from srsupm_lab.serve.recommend import padded_rows
        with tempfile.TemporaryDirectory() as tmp:
            run = load_run(beauty_run(args.run, Path(tmp)), device="cpu")
        who = np.random.default_rng(0).choice(run.n_users, size=min(args.queries, run.n_users), replace=False)
        inputs = torch.from_numpy(padded_rows(run.maps.history_flat, run.maps.history_start, who, run.max_len))
        h = run.user_vectors(inputs, torch.from_numpy(who)).float()
        rows += bench("beauty", run.item_table().float(), h,
                      [("hnsw", {"M": 32, "ef_construction": 200}, [{"ef": 32}, {"ef": 64}, {"ef": 128}]),
                       ("ivf", {"nlist": 440}, [{"nprobe": 8}, {"nprobe": 32}])], args.repeats, args.chunk)
    E, h = clustered(args.items, 64, args.clusters, args.queries, seed=0, spread=args.spread)
    settings = {"ivf": ("ivf", {"nlist": 1024}, [{"nprobe": n} for n in (4, 16, 64, 128, 256)]),
                "hnsw": ("hnsw", {"M": 16, "ef_construction": 80}, [{"ef": 32}, {"ef": 64}, {"ef": 128}])}
    rows += bench(f"synthetic {args.items:,} s={args.spread:g}", E, h, [settings[k] for k in args.million_kinds], args.repeats,
                  args.chunk)
    after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [f"python benchmarks/bench_serve_ann.py{' --run ' + args.run if args.run else ''}"
             f"{' --skip-beauty' if args.skip_beauty else ''} --queries "
             f"{args.queries} --repeats {args.repeats} --spread {args.spread:g} --million-kinds "
             f"{' '.join(args.million_kinds)}",
             f"device cpu ({platform.machine()}), {os.cpu_count()} cores, torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads; load average {before} before, {after} after; top 10, "
             f"{args.queries} queries, median of {args.repeats}",
             "",
             f"{'catalogue':<26}{'stage':<36}{'recall@10':>10}{'ms/query':>10}{'speed-up':>10}{'build s':>9}"]
    for r in rows:
        lines.append(f"{r['catalogue']:<26}{r['stage']:<36}{r['recall']:>10.3f}{r['ms/query']:>10.3f}"
                     f"{r['speed-up']:>9.1f}x{r['build s']:>9.1f}")
    big = [r for r in rows if r["catalogue"].startswith("synthetic") and r["stage"] != "exact"]
    met = [r for r in big if r["recall"] >= 0.95 and r["speed-up"] >= 5]
    lines.append(f"target on the synthetic catalogue (recall@10 >= 0.95 at >= 5x): "
                 + (f"met by {', '.join(r['stage'] for r in met)}" if met else "NOT met by any setting"))
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
