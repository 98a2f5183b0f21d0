"""Command line: ``python -m srsupm_lab {demo,stats,train} ...``.

* ``demo``  — the main job on the embedded synthetic world: statistics, the PMSD/level
  distribution (method.md §1), and a short training of a backbone with and without SRSUPM,
  compared on the test set; results and a figure go to ``--out`` (default ``runs/demo``).
* ``stats`` — statistics and PMSD/level distribution of any dataset.
* ``train`` — one experiment with every hyper-parameter as an option (see ``train --help``).
* ``reproduce`` — a grid of the paper's experiments (Table 1, 3, 4 or Fig. 3), resumable, then
  the report tables (``srsupm_lab.reproduce``); ``--dry-run`` lists the runs and which are done.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def _level_report(ds, K: int, bins: str, max_len: int = 50) -> tuple:
    import pandas as pd

    from . import pmsa
    from .data import leave_one_out

    split = leave_one_out(ds, max_len=max_len)
    p, lev = pmsa.assess(split.train.inputs, split.train.targets, ds.item_labels, K, bins)
    p = p.numpy()
    hist = {"PMSD = 0": (p == 0).mean(), "0 < PMSD ≤ .2": ((p > 0) & (p <= .2)).mean(),
            ".2 < PMSD ≤ .4": ((p > .2) & (p <= .4)).mean(), ".4 < PMSD ≤ .6": ((p > .4) & (p <= .6)).mean(),
            ".6 < PMSD ≤ .8": ((p > .6) & (p <= .8)).mean(), ".8 < PMSD < 1": ((p > .8) & (p < 1)).mean(),
            "PMSD = 1": (p == 1).mean()}
    shares = np.bincount(lev.numpy(), minlength=K) / len(lev)
    print(f"\nPMSA on {len(p)} training windows (K={K}, {bins} bins): mean PMSD {p.mean():.3f}")
    for name, v in hist.items():
        print(f"  {name:<16}{v:7.2%}  {'█' * int(round(v * 50))}")
    print("  level shares: " + "  ".join(f"{k}: {s:.1%}" for k, s in enumerate(shares)))
    return pd.DataFrame({"level": np.arange(K), "share": shares}), p


def cmd_stats(args) -> int:
    from .data import load_dataset

    ds = load_dataset(args.dataset, root=args.root, labels=args.labels)
    print(ds.stats().to_string())
    _level_report(ds, args.K, args.bins)
    return 0


def cmd_demo(args) -> int:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from .config import TrainConfig
    from .data import load_dataset
    from .experiment import run_experiment

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = load_dataset("synthetic")
    print("== The embedded synthetic motivation world ==")
    print(ds.stats().to_string())
    shares, p = _level_report(ds, args.K, "even")

    print(f"\n== Training {args.backbone} alone and with SRSUPM (at most {args.epochs} epochs, CPU is fine) ==")
    rows, histories = [], {}
    for srsupm in (False, True):
        cfg = TrainConfig(dataset="synthetic", backbone=args.backbone, srsupm=srsupm, K=args.K, epochs=args.epochs,
                          max_len=args.max_len, patience=args.patience, lr=args.lr, batch_size=256, seed=args.seed, device=args.device,
                          out_dir=str(out / (("srsupm-" if srsupm else "") + args.backbone)), resume=True,
                          progress=not args.quiet)
        res = run_experiment(cfg)
        overall = next(r for r in res["test"] if r.get("level", "all") in ("all", None))
        rows.append({"model": res["model"], "best epoch": res["best_epoch"],
                     **{k: overall[k] for k in ("recall@10", "recall@20", "ndcg@10", "ndcg@20")}})
        histories[res["model"]] = pd.read_csv(Path(cfg.out_dir) / "history.csv")
    table = pd.DataFrame(rows)
    print("\nTest set (full ranking, seen items masked):")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    table.to_csv(out / "comparison.csv", index=False)

    fig, ax = plt.subplots(1, 3, figsize=(14, 3.6))
    ax[0].hist(p, bins=40, color="#4c72b0")
    ax[0].set(title="PMSD of training windows", xlabel="PMSD", ylabel="windows")
    ax[1].bar(shares["level"], shares["share"], color="#dd8452")
    ax[1].set(title=f"shift levels (K={args.K})", xlabel="level", ylabel="share")
    for name, h in histories.items():
        col = next(c for c in h.columns if c.startswith("valid") and "recall@10" in c)
        ax[2].plot(h["epoch"], h[col], marker="o", ms=3, label=name)
    ax[2].set(title="validation Recall@10", xlabel="epoch")
    ax[2].legend()
    fig.tight_layout()
    fig.savefig(out / "demo.png", dpi=110)
    print(f"\nFigure: {out / 'demo.png'}; tables and runs: {out}/")
    return 0


def cmd_reproduce(args) -> int:
    from . import reproduce as R

    if args.grid == "table2":                      # timings, not training runs
        from .timing import inference_table, write_table2
        if len(args.datasets) != 1:
            raise SystemExit(f"reproduce --grid table2 times one dataset (the paper: beauty), got {args.datasets}")
        table = inference_table(args.datasets[0], args.backbones, repeats=args.repeats,
                                device=args.device or "auto", root=args.data_root,
                                fused_mixture=args.fused_mixture)
        print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        written = write_table2(table, args.reports, args.datasets[0])
        print("reports: " + ", ".join(str(p) for p in written.values()))
        return 0
    specs = R.build_grid(args.grid, args.datasets, args.seeds, backbones=args.backbones, ps=args.ps, Ks=args.Ks,
                         variants=args.variants, rows=args.ablations)
    common = {k: v for k, v in (("epochs", args.epochs), ("patience", args.patience), ("device", args.device),
                                ("lr", args.lr), ("batch_size", args.batch_size), ("data_root", args.data_root),
                                ("labels", args.labels)) if v is not None}
    clash = sorted(set(common) & {k for k, _ in args.set})
    if clash:
        raise SystemExit(f"reproduce: {clash} given both as an option and with --set; give each once")
    common.update(dict(args.set))
    if args.dry_run:
        status = R.grid_status(specs, args.runs, epochs=args.epochs, common=common)
        print(status.to_string(index=False))
        counts = status["state"].value_counts()
        print(f"\n{len(status)} runs: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
        return 0
    if args.jobs < 1:
        raise SystemExit(f"reproduce: --jobs must be at least 1, got {args.jobs}")
    status = R.run_grid(specs, args.runs, engine=args.engine, common=common, on_error="continue", jobs=args.jobs)
    print(status.to_string(index=False))
    df = R.collect(args.runs)
    written = R.write_reports(df, args.reports, runs_dir=args.runs)
    print(f"\n{len(df)} finished runs under {args.runs}; reports: " + ", ".join(str(p) for p in written.values()))
    return 1 if (status["state"] == "failed").any() else 0


def main(argv=None) -> int:
    from .experiment import _key_value, add_train_arguments, train_from_args
    from .threads import apply_thread_policy

    apply_thread_policy("large")            # the CLI's jobs are large; an explicit OMP_NUM_THREADS wins

    parser = argparse.ArgumentParser(prog="python -m srsupm_lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="the main job on the embedded synthetic world")
    demo.add_argument("--backbone", default="sasrec")
    demo.add_argument("--K", type=int, default=5)
    demo.add_argument("--epochs", type=int, default=10)
    demo.add_argument("--patience", type=int, default=3)
    demo.add_argument("--max-len", type=int, default=20, help="input length L (synthetic sequences average 12 items)")
    demo.add_argument("--lr", type=float, default=0.001)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--device", default="auto")
    demo.add_argument("--out", default="runs/demo")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=cmd_demo)
    stats = sub.add_parser("stats", help="dataset statistics and PMSD/level distribution")
    stats.add_argument("--dataset", default="synthetic")
    stats.add_argument("--root", default=None)
    stats.add_argument("--labels", default="categories")
    stats.add_argument("--K", type=int, default=5)
    stats.add_argument("--bins", default="even")
    stats.set_defaults(func=cmd_stats)
    train = sub.add_parser("train", help="train one model (every hyper-parameter is an option)")
    add_train_arguments(train)
    train.set_defaults(func=lambda a: (train_from_args(a), 0)[1])
    rep = sub.add_parser("reproduce", help="run a grid of the paper's experiments, then write the report tables")
    rep.add_argument("--grid", required=True,
                     help="table1 | table2 | table3 | table4 | fig3; table2 times inference (no training)")
    rep.add_argument("--repeats", type=int, default=5, help="table2: timed passes per model (median)")
    rep.add_argument("--fused-mixture", action="store_true",
                     help="table2: score +SRSUPM with the torch.compile'd mixture (training grids: --set "
                          "fused_mixture=true)")
    rep.add_argument("--datasets", nargs="+", default=["beauty"], help="beauty sports yelp synthetic ...")
    rep.add_argument("--backbones", nargs="+", default=None,
                     help="table1 and table2 (default: all five); table3, table4 and fig3 (default: sasrec, "
                          "the paper's)")
    rep.add_argument("--variants", nargs="+", default=None, choices=("backbone", "srsupm"),
                     help="table1: the backbones alone, +SRSUPM, or both (default)")
    rep.add_argument("--ablations", nargs="+", default=None, metavar="ROW",
                     help="table3: the rows to run, in this order, among sasrec (the backbone alone; also "
                          "'backbone') wo-pmsid-pmsim wo-pmsim wo-pmsid wo-pmi srsupm (default: these six, the "
                          "paper's) and wo-pmsid-pmsim-pmi (a control: the SIC branches alone, mean-pooled)")
    rep.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    rep.add_argument("--ps", nargs="+", type=float, default=None, help="table4 noise levels (default 0 .1 .2 .3 .4 .5)")
    rep.add_argument("--Ks", nargs="+", type=int, default=None, help="fig3 values of K (default 3 4 5 6 7)")
    rep.add_argument("--engine", choices=("papermill", "inline"), default="papermill")
    rep.add_argument("--jobs", type=int, default=1,
                     help="runs trained at once, each with cores/jobs CPU threads (default 1; on a 2-core CPU "
                          "--jobs 2 gave 1.0-2x the runs per hour, depending on the model and the day)")
    rep.add_argument("--runs", default="runs/reproduce", help="one folder per run below this")
    rep.add_argument("--reports", default="reports", help="where the CSV/markdown tables and Fig. 3 go")
    rep.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: TrainConfig's 200)")
    rep.add_argument("--patience", type=int, default=None)
    rep.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:1 | mps")
    rep.add_argument("--lr", type=float, default=None)
    rep.add_argument("--batch-size", type=int, default=None)
    rep.add_argument("--data-root", default=None)
    rep.add_argument("--labels", default=None)
    rep.add_argument("--set", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                     help="any other TrainConfig field for every run, e.g. --set gamma=0.01 (repeatable)")
    rep.add_argument("--dry-run", action="store_true", help="list the runs and which are done; run nothing")
    rep.set_defaults(func=cmd_reproduce)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
