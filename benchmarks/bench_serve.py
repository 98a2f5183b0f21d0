"""Benchmark: serving a SASRec run on Beauty: ``recommend --all`` against one full-ranking test pass, and the
HTTP service's latency and throughput at batch 1 and batched (srsupm_lab.serve; docs/serving.md).

    python benchmarks/bench_serve.py                      # trains a 1-epoch SASRec on Beauty in a temp folder
    python benchmarks/bench_serve.py --run runs/beauty-sasrec --repeats 5 --requests 2000

1. **Batch**: the median time of one full-ranking pass over Beauty's test users (``evaluate``: every
   item scored, history masked, ranks) and of ``recommend --all`` (every user's top 10, seen items
   excluded, written to a Parquet file in chunks); target: at most 1.5x the test pass.
2. **Online**: a ``serve`` service on 127.0.0.1 (a free port, in this process's threads) answers
   ``--requests`` POSTs of one random user (batch 1, one kept-alive connection) and ``--requests // 8`` of ``--batch`` users, sent
   one after another by one client; p50 and p99 of the request latency (client side, HTTP included)
   and the throughput. Target: p99 at most 20 ms at batch 1.

The load average of the machine (``os.getloadavg``) is printed with the table: on a shared machine
rerun it when the machine is quiet. ``--out`` also writes the table to a file.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch


def beauty_run(run: str | None, folder: Path) -> Path:
    """``run`` when given, else a 1-epoch SASRec trained on Beauty (the lab's defaults) into ``folder``."""
    if run:
        return Path(run)
    from srsupm_lab.experiment import run_experiment
    out = folder / "beauty-sasrec"
    t = time.perf_counter()
    run_experiment(dict(dataset="beauty", backbone="sasrec", epochs=1, out_dir=str(out), device="cpu",
                        progress=False))
    print(f"trained a 1-epoch SASRec on Beauty in {time.perf_counter() - t:.0f} s -> {out}", flush=True)
    return out


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def time_batch(out: Path, repeats: int, folder: Path) -> dict:
    from srsupm_lab.cli.serving import write_all
    from srsupm_lab.evaluate import evaluate
    from srsupm_lab.experiment import load_trained
    from srsupm_lab.serve import load_run
    trained = load_trained(out, device="cpu")
    test = trained.data.split.test
    run = load_run(out, device="cpu")
    passes, alls = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        evaluate(trained.model, test, mask_history=True, batch_size=1024)
        passes.append(time.perf_counter() - t)
        t = time.perf_counter()
        write_all(run, folder / "recs.parquet", k=10, progress=False)
        alls.append(time.perf_counter() - t)
    return {"users": run.n_users, "test users": len(test), "test pass s": statistics.median(passes),
            "recommend --all s": statistics.median(alls), "run": run}


def _post(connection: http.client.HTTPConnection, body: dict) -> dict:
    """One POST /recommend on a kept-alive connection (as a service's client keeps one)."""
    connection.request("POST", "/recommend", body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    if response.status != 200:
        raise RuntimeError(f"the service answered {response.status}: {answer}")
    return answer


def time_service(run, requests: int, batch: int, seed: int = 0) -> list[dict]:
    from srsupm_lab.serve.http import make_server
    server = make_server(run, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    g = np.random.default_rng(seed)
    users = run.maps.users.tolist()
    rows = []
    try:
        for size, n in ((1, requests), (batch, max(requests // 8, 10))):
            for _ in range(5):                                              # warm-up
                _post(connection, {"users": [users[i] for i in g.integers(0, len(users), size)], "k": 10})
            lat = []
            t0 = time.perf_counter()
            for _ in range(n):
                body = {"users": [users[i] for i in g.integers(0, len(users), size)], "k": 10}
                t = time.perf_counter()
                _post(connection, body)
                lat.append(time.perf_counter() - t)
            wall = time.perf_counter() - t0
            lat_ms = np.array(lat) * 1e3
            rows.append({"batch": size, "requests": n, "p50 ms": float(np.percentile(lat_ms, 50)),
                         "p99 ms": float(np.percentile(lat_ms, 99)), "requests/s": n / wall, "users/s": n * size / wall})
    finally:
        connection.close()
        server.shutdown()
        server.server_close()
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default=None, help="a trained Beauty run folder (default: train a 1-epoch SASRec)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes of the batch part (median)")
    parser.add_argument("--requests", type=int, default=1000, help="requests at batch 1 (batched: an eighth)")
    parser.add_argument("--batch", type=int, default=64, help="users per batched request")
    parser.add_argument("--out", default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    from srsupm_lab.threads import apply_thread_policy
    apply_thread_policy("large")
    with tempfile.TemporaryDirectory() as tmp:
        out = beauty_run(args.run, Path(tmp))
        before = load()
        batch = time_batch(out, args.repeats, Path(tmp))
        service = time_service(batch.pop("run"), args.requests, args.batch)
    ratio = batch["recommend --all s"] / batch["test pass s"]
    lines = [f"python benchmarks/bench_serve.py{' --run ' + args.run if args.run else ''} --repeats {args.repeats} "
             f"--requests {args.requests} --batch {args.batch}",
             f"device cpu ({platform.machine()}), {os.cpu_count()} cores, torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads; {before} before, {load()} after",
             "",
             f"batch: {batch['users']} users, median of {args.repeats}",
             f"{'one full-ranking test pass':<34}{batch['test pass s']:8.2f} s",
             f"{'recommend --all (top 10, Parquet)':<34}{batch['recommend --all s']:8.2f} s   "
             f"{ratio:.2f}x the test pass (target <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'})",
             "",
             "online: one client, requests one after another, HTTP on 127.0.0.1 included",
             f"{'batch':>6}{'requests':>10}{'p50 ms':>9}{'p99 ms':>9}{'requests/s':>12}{'users/s':>10}"]
    for r in service:
        lines.append(f"{r['batch']:>6}{r['requests']:>10}{r['p50 ms']:>9.2f}{r['p99 ms']:>9.2f}"
                     f"{r['requests/s']:>12.1f}{r['users/s']:>10.0f}")
    p99 = service[0]["p99 ms"]
    lines.append(f"batch 1 p99 {p99:.2f} ms (target <= 20 ms: {'met' if p99 <= 20 else 'NOT met'})")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
