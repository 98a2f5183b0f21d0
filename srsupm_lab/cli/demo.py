"""The ``demo`` command: the main job on the embedded synthetic world (statistics, PMSD and levels, then a backbone
trained alone, with SRSUPM and as the oracle told the true shifts, compared on the test set)."""
from __future__ import annotations

from pathlib import Path

__all__ = ["add_command", "gap_verdict"]


def gap_verdict(table) -> str:
    """One plain paragraph: how much of the backbone→oracle gap SRSUPM closes on the test set (oracle.py)."""
    from ..methods.srsupm.oracle import gap_closed

    r = dict(zip(table["model"].str.split("+").str[0].str.lower(), table["recall@10"]))
    backbone = table["recall@10"].iloc[0]
    srsupm, oracle = r.get("srsupm"), r.get("oracle")
    share = gap_closed(backbone, srsupm, oracle)
    if share != share:                                         # NaN: the oracle does not beat the backbone
        return (f"\nThe oracle ({oracle:.4f}) does not beat the backbone ({backbone:.4f}) here: at this budget "
                f"knowing the true shift is worth nothing measurable, so there is no gap for SRSUPM to close.")
    if share <= 0:
        return (f"\nKnowing the true shift is worth {oracle - backbone:+.4f} Recall@10 here (oracle {oracle:.4f}, "
                f"backbone {backbone:.4f}). SRSUPM ({srsupm:.4f}) closes none of that gap: on this world and budget "
                f"its shift mechanism does not pay (one seed: reports/oracle-gap/synthetic_oracle.md has three, and why).")
    return (f"\nKnowing the true shift is worth {oracle - backbone:+.4f} Recall@10 here (oracle {oracle:.4f}, backbone "
            f"{backbone:.4f}); SRSUPM ({srsupm:.4f}) closes {share:.0%} of that gap (one seed: "
            f"reports/oracle-gap/synthetic_oracle.md has three).")


def cmd_demo(args) -> int:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from ..atomic import atomic_write
    from ..config import TrainConfig
    from ..data import load_dataset
    from ..experiment import run_experiment
    from .stats import level_report

    out = Path(args.out)
    configs = {kind: TrainConfig(dataset="synthetic", backbone=args.backbone, method=kind, K=args.K, epochs=args.epochs,
                                 max_len=args.max_len, patience=args.patience, lr=args.lr, batch_size=256,
                                 seed=args.seed, device=args.device,
                                 out_dir=str(out / (("" if kind == "none" else f"{kind}-") + args.backbone)),
                                 resume=True, progress=not args.quiet)
               for kind in ("none", "srsupm", "oracle")}       # the method plugged onto the backbone
    # every option is checked above (one line) and --out is not created here: each run makes its folder (and
    # --out) and removes what it made when it fails early, so a bad option or size leaves no folder behind
    ds = load_dataset("synthetic")
    print("== The embedded synthetic motivation world ==")
    print(ds.stats().to_string())
    shares, p = level_report(ds, args.K, "even")

    print(f"\n== Training {args.backbone} alone, with SRSUPM, and the oracle told the true shifts "
          f"(at most {args.epochs} epochs, CPU is fine) ==")
    rows, histories = [], {}
    for kind, cfg in configs.items():
        res = run_experiment(cfg, levels=True)  # compared level by level
        overall = next(r for r in res["test"] if r.get("level", "all") in ("all", None))
        rows.append({"model": res["model"], "best epoch": res["best_epoch"], "valid recall@10": res["best_valid_recall@10"],
                     **{k: overall[k] for k in ("recall@10", "recall@20", "ndcg@10", "ndcg@20")}})
        histories[res["model"]] = pd.read_csv(Path(cfg.out_dir) / "history.csv")
    table = pd.DataFrame(rows)
    print("\nTest set (full ranking, seen items masked):")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    atomic_write(out / "comparison.csv", lambda tmp: table.to_csv(tmp, index=False))
    print(gap_verdict(table))

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
    atomic_write(out / "demo.png", lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    print(f"\nFigure: {out / 'demo.png'}; tables and runs: {out}/")
    return 0


def add_command(sub) -> None:
    """Add ``demo`` to the ``python -m srsupm_lab`` subparsers ``sub``."""
    from ..backbones import BACKBONES
    demo = sub.add_parser(
        "demo",
        help="the main job on the embedded synthetic world: statistics, PMSD/levels, a backbone with and "
             "without SRSUPM",
        description="The main job on the embedded synthetic motivation world (no data files needed): dataset "
                    "statistics, the PMSD/level distribution, then the backbone trained alone and with SRSUPM "
                    "and compared on the test set (full ranking). Tables, run folders and demo.png go to --out; "
                    "a second call reuses the finished runs there. With the defaults it is a short CPU job "
                    "(reports/ keeps measured times). Learning rate and batch (0.001, 256) are the quick teaching "
                    "setting, not the paper's (0.01, 128): on the small synthetic world they converge in a "
                    "few epochs.")
    demo.add_argument("--backbone", default="sasrec", choices=tuple(BACKBONES), help="the sequential encoder")
    demo.add_argument("--K", type=int, default=5, help="number of shift levels (3 or more; the paper's best 5)")
    demo.add_argument("--epochs", type=int, default=10, help="maximum training epochs per model")
    demo.add_argument("--patience", type=int, default=3,
                      help="stop after this many epochs without a better validation Recall@10")
    demo.add_argument("--max-len", type=int, default=20, help="input length L (synthetic sequences average 12 items)")
    demo.add_argument("--lr", type=float, default=0.001, help="Adam learning rate")
    demo.add_argument("--seed", type=int, default=42, help="random seed (initialisation, batches)")
    demo.add_argument("--device", default="auto", help="auto (cuda > mps > cpu) | cpu | cuda | cuda:1 | mps")
    demo.add_argument("--out", default="runs/demo", help="folder for comparison.csv, demo.png and the two runs")
    demo.add_argument("--quiet", action="store_true", help="no progress bars (default: bars on)")
    demo.set_defaults(func=cmd_demo)
