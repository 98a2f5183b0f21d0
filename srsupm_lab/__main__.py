"""Command line: python -m srsupm_lab COMMAND [options]; python -m srsupm_lab COMMAND --help explains each.

* demo: the main job on the embedded synthetic world: statistics, the PMSD/level distribution
  (docs/method.md, PMSA), and a short training of a backbone alone, with SRSUPM and as the oracle
  told the true shifts, compared on the test set; results and a figure go to --out (default runs/demo).
* stats: statistics and PMSD/level distribution of any dataset.
* train: one experiment with every hyper-parameter as an option (see train --help).
* reproduce: a grid of the paper's experiments (Table 1, 2, 3, 4 or Fig. 3), resumable, then the
  report tables (srsupm_lab.reproduce); --dry-run lists the runs and which are done.
* diagnose, screen, oracle-gap, decisive: the mechanism study (srsupm_lab.cli.mechanism): is the
  mechanism engaged in a run folder; the paper's open readings ranked on validation data; the
  synthetic world's oracle gap; the decisive experiment on Beauty.
"""
from __future__ import annotations

import argparse
import functools
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


def _gap_verdict(table) -> str:
    """One plain paragraph: how much of the backbone→oracle gap SRSUPM closes on the test set (oracle.py)."""
    from .methods.srsupm.oracle import gap_closed

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

    from .config import TrainConfig
    from .data import load_dataset
    from .experiment import run_experiment
    from .atomic import atomic_write

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
    shares, p = _level_report(ds, args.K, "even")

    print(f"\n== Training {args.backbone} alone, with SRSUPM, and the oracle told the true shifts "
          f"(at most {args.epochs} epochs, CPU is fine) ==")
    rows, histories = [], {}
    for kind, cfg in configs.items():
        res = run_experiment(cfg)
        overall = next(r for r in res["test"] if r.get("level", "all") in ("all", None))
        rows.append({"model": res["model"], "best epoch": res["best_epoch"], "valid recall@10": res["best_valid_recall@10"],
                     **{k: overall[k] for k in ("recall@10", "recall@20", "ndcg@10", "ndcg@20")}})
        histories[res["model"]] = pd.read_csv(Path(cfg.out_dir) / "history.csv")
    table = pd.DataFrame(rows)
    print("\nTest set (full ranking, seen items masked):")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    atomic_write(out / "comparison.csv", lambda tmp: table.to_csv(tmp, index=False))
    print(_gap_verdict(table))

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


def cmd_reproduce(args) -> int:
    from . import reproduce as R

    if (args.grid is None) == (args.plan is None):
        raise ValueError("reproduce: give either --grid (one grid from the options) or --plan FILE (the grids "
                         "of an experiments file, e.g. reports/experiments.toml)")
    if args.plan is not None:
        return _reproduce_plan(R, args)
    if args.only:
        raise ValueError("reproduce: --only picks grids of a --plan")
    args.datasets, args.seeds = args.datasets or ["beauty"], args.seeds or [1, 2, 3]
    if args.grid == "table2":                      # timings, not training runs
        from .methods.srsupm.timing import inference_table, write_table2
        if len(args.datasets) != 1:
            raise ValueError(f"reproduce --grid table2 times one dataset (the paper: beauty), got {args.datasets}")
        if args.dry_run or args.report_only:
            raise ValueError("reproduce --grid table2 times inference; --dry-run and --report-only do not apply")
        table = inference_table(args.datasets[0], args.backbones, repeats=args.repeats,
                                device=args.device or "auto", root=args.data_root,
                                fused_mixture=args.fused_mixture)
        print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        written = write_table2(table, args.reports, args.datasets[0])
        print("reports: " + ", ".join(str(p) for p in written.values()))
        return 0
    specs = R.build_grid(args.grid, args.datasets, args.seeds, backbones=args.backbones, ps=args.ps, Ks=args.Ks,
                         variants=args.variants, rows=args.ablations)
    named = {k: v for k, v in (("epochs", args.epochs), ("patience", args.patience), ("device", args.device),
                               ("lr", args.lr), ("batch_size", args.batch_size), ("data_root", args.data_root),
                               ("labels", args.labels)) if v is not None}
    common = R.common_settings(named, dict(args.set))
    if args.jobs < 1:
        raise ValueError(f"reproduce: --jobs must be at least 1, got {args.jobs}")
    if args.dry_run:                               # the checks of a real run, then what it would do
        return _print_status(R.grid_status(specs, args.runs, common=common, engine=args.engine))
    if not args.report_only:
        status = R.run_grid(specs, args.runs, engine=args.engine, common=common, on_error="continue",
                            jobs=args.jobs)
        print(status.to_string(index=False))
    df = R.collect(args.runs)
    if df.empty:
        raise FileNotFoundError(f"reproduce: no finished run below {args.runs}; the reports in {args.reports} are "
                                f"left as they are")
    written = R.write_reports(df, args.reports, runs_dir=args.runs)
    print(f"\n{len(df)} finished runs under {args.runs}; reports: " + ", ".join(str(p) for p in written.values()))
    return 1 if not args.report_only and (status["state"] == "failed").any() else 0


def _print_status(status) -> int:
    print(status.drop(columns=["note"] if not status["note"].any() else []).to_string(index=False))
    runs = status.drop_duplicates("out_dir")                  # a plan may list a run in several grids
    counts = runs["state"].value_counts()
    print(f"\n{len(runs)} runs: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return 0


def _reproduce_plan(R, args) -> int:
    """``reproduce --plan FILE``: run, resume, list (``--dry-run``) or report (``--report-only``) its grids."""
    options = ("datasets", "seeds", "backbones", "variants", "ablations", "ps", "Ks", "set", "epochs", "patience",
               "device", "lr", "batch_size", "data_root", "labels")
    given = ["--" + name.replace("_", "-") for name in options if getattr(args, name) not in (None, [])]
    if given:
        raise ValueError(f"reproduce --plan: {given} belong in the plan file, not on the command line")
    grids = R.load_plan(args.plan)
    if args.dry_run:
        return _print_status(R.plan_status(grids, only=args.only))
    failed = False
    if not args.report_only:
        status = R.run_plan(grids, only=args.only)
        print(status.to_string(index=False))
        failed = bool((status["state"] == "failed").any())
    for line in R.write_plan_reports(grids, only=args.only):
        print(line)
    return 1 if failed else 0


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it names one already or the option is a flag."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" in text or action.default in (None, argparse.SUPPRESS) or action.nargs == 0
                or not (action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE))):
            return text
        return text + " (default: %(default)s)"


class _RawHelpFormatter(argparse.RawDescriptionHelpFormatter, _HelpFormatter):
    """The top-level help: description and examples as written."""


_DESCRIPTION = """\
srsupm_lab: SRSUPM (motivation-aware sequential recommendation) over five backbones.
The method, equation by equation and mapped to the code: docs/method.md.
Every command explains its options and their defaults: python -m srsupm_lab COMMAND --help"""

_EPILOG = """\
examples:
  python -m srsupm_lab demo                      # about a minute on a 2-core CPU
  python -m srsupm_lab stats --dataset beauty
  python -m srsupm_lab train --dataset beauty --backbone sasrec --srsupm --out runs/beauty-sasrec-srsupm
  python -m srsupm_lab reproduce --grid table1 --datasets beauty --seeds 1 --dry-run
build the real datasets from their public originals: python -m srsupm_lab.data.originals --help"""


def main(argv=None) -> int:
    from .backbones import BACKBONES
    from .config import BINS
    from .data.loaders import KNOWN_DATASETS, LABEL_KINDS
    from .cli.mechanism import add_mechanism_commands
    from .threads import apply_thread_policy
    from .cli.train import key_value, add_train_arguments, train_from_args

    apply_thread_policy("large")            # the CLI's jobs are large; an explicit OMP_NUM_THREADS wins

    parser = argparse.ArgumentParser(prog="python -m srsupm_lab", description=_DESCRIPTION, epilog=_EPILOG,
                                     formatter_class=_RawHelpFormatter)
    sub = parser.add_subparsers(  # every command's parser (added here or later) shows its options' defaults
        dest="command", required=True, metavar="COMMAND",
        title="commands (python -m srsupm_lab COMMAND --help for its options)",
        parser_class=functools.partial(argparse.ArgumentParser, formatter_class=_HelpFormatter))
    demo = sub.add_parser(
        "demo",
        help="the main job on the embedded synthetic world: statistics, PMSD/levels, a backbone with and "
             "without SRSUPM",
        description="The main job on the embedded synthetic motivation world (no data files needed): dataset "
                    "statistics, the PMSD/level distribution, then the backbone trained alone and with SRSUPM "
                    "and compared on the test set (full ranking). Tables, run folders and demo.png go to --out; "
                    "a second call reuses the finished runs there. With the defaults it takes about a "
                    "minute on a 2-core CPU (47 s quiet, 55 s beside a busy process). Learning rate and batch (0.001, 256) are the quick teaching "
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
    stats = sub.add_parser(
        "stats", help="dataset statistics and the PMSD/level distribution",
        description="Statistics of a dataset (users, items, interactions, labels) and the PMSA assessment of "
                    "its training windows: the PMSD histogram (paper Eq. 2) and the share of each shift level "
                    "(Eq. 3).")
    stats.add_argument("--dataset", default="synthetic",
                       help=f"{' | '.join(KNOWN_DATASETS)}, or a folder in the S3-Rec layout")
    stats.add_argument("--root", default=None,
                       help="folder holding the real datasets (default: the SRSUPM_DATA environment variable, "
                            "then the package's search path; see README, Data)")
    stats.add_argument("--labels", default="categories", choices=LABEL_KINDS,
                       help="item labels PMSA compares: category names or S3-Rec attribute ids")
    stats.add_argument("--K", type=int, default=5, help="number of shift levels (3 or more)")
    stats.add_argument("--bins", default="even", choices=BINS,
                       help="level bins: even splits of (0, 1) (the paper, Eq. 3) or quantiles of the training "
                            "windows' PMSD")
    stats.set_defaults(func=cmd_stats)
    train = sub.add_parser(
        "train", help="train one model (every hyper-parameter is an option)",
        description="One experiment: data, PMSA, the backbone (+ SRSUPM), training with early stopping on "
                    "validation Recall@10, full-ranking test of the best checkpoint. Every TrainConfig field is "
                    "an option; options given here override --config FILE, which overrides the defaults "
                    "(srsupm_lab/config.py). Results go to --out.")
    add_train_arguments(train)
    train.set_defaults(func=lambda a: (train_from_args(a), 0)[1])
    rep = sub.add_parser(
        "reproduce",
        help="run a grid of the paper's experiments (Tables 1-4, Fig. 3), resumable, then write the report tables",
        description="Runs a grid of the paper's experiments (--grid and its options, or every grid of an "
                    "experiments file: --plan reports/experiments.toml), one folder per run under --runs (a "
                    "finished run is skipped, an interrupted one resumes), then writes the CSV/markdown tables "
                    "under --reports. Options left unset keep TrainConfig's defaults (srsupm_lab/config.py).")
    rep.add_argument("--grid", default=None,
                     help="table1 | table2 | table3 | table4 | fig3; table2 times inference (no training)")
    rep.add_argument("--plan", default=None, metavar="FILE",
                     help="run or resume every grid of an experiments file instead (reports/experiments.toml)")
    rep.add_argument("--only", nargs="+", default=None, metavar="NAME", help="--plan: only the grids of these names")
    rep.add_argument("--report-only", action="store_true",
                     help="run nothing: write the reports again from the run folders")
    rep.add_argument("--repeats", type=int, default=5, help="table2: timed passes per model (median)")
    rep.add_argument("--fused-mixture", action="store_true",
                     help="table2: score +SRSUPM with the torch.compile'd mixture (training grids: --set "
                          "fused_mixture=true)")
    rep.add_argument("--datasets", nargs="+", default=None,
                     help="beauty sports yelp synthetic ml-100k, or folders in the S3-Rec layout (default: beauty)")
    rep.add_argument("--backbones", nargs="+", default=None,
                     help="table1 and table2 (default: all five); table3, table4 and fig3 (default: sasrec, "
                          "the paper's)")
    rep.add_argument("--variants", nargs="+", default=None, choices=("backbone", "srsupm"),
                     help="table1: the backbones alone, +SRSUPM, or both (default)")
    rep.add_argument("--ablations", nargs="+", default=None, metavar="ROW",
                     help="table3: the rows to run, in this order, among sasrec (the backbone alone; also "
                          "'backbone') wo-pmsid-pmsim wo-pmsim wo-pmsid wo-pmi srsupm (default: these six, the "
                          "paper's) and wo-pmsid-pmsim-pmi (a control: the SIC branches alone, mean-pooled)")
    rep.add_argument("--seeds", nargs="+", type=int, default=None, help="random seeds (default: 1 2 3)")
    rep.add_argument("--ps", nargs="+", type=float, default=None, help="table4 noise levels (default 0 .1 .2 .3 .4 .5)")
    rep.add_argument("--Ks", nargs="+", type=int, default=None, help="fig3 values of K (default 3 4 5 6 7)")
    rep.add_argument("--engine", choices=("papermill", "inline"), default="inline",
                     help="inline: run_experiment in this process; papermill: each run executes "
                          "notebooks/04_train.ipynb (kept in its folder; same results.json)")
    rep.add_argument("--jobs", type=int, default=1,
                     help="runs trained at once, each with cores/jobs CPU threads (default 1; on a 2-core CPU "
                          "--jobs 2 gave 1.0-2x the runs per hour, depending on the model and the day)")
    rep.add_argument("--runs", default="runs/reproduce", help="one folder per run below this")
    rep.add_argument("--reports", default="reports", help="where the CSV/markdown tables and Fig. 3 go")
    rep.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: TrainConfig's 200)")
    rep.add_argument("--patience", type=int, default=None, help="early-stopping patience (default: TrainConfig's)")
    rep.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:1 | mps (default: TrainConfig's auto)")
    rep.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: TrainConfig's)")
    rep.add_argument("--batch-size", type=int, default=None, help="training batch size (default: TrainConfig's)")
    rep.add_argument("--data-root", default=None, help="folder holding the real datasets (default: the search path)")
    rep.add_argument("--labels", default=None, help="categories | attributes (default: TrainConfig's categories)")
    rep.add_argument("--set", action="append", type=key_value, default=[], metavar="KEY=VALUE",
                     help="any other TrainConfig field for every run, e.g. --set gamma=0.01 (repeatable)")
    rep.add_argument("--dry-run", action="store_true",
                     help="make the checks of a real run, then list the runs and which are done; run nothing")
    rep.set_defaults(func=cmd_reproduce)
    add_mechanism_commands(sub)
    from .cli.serving import add_serving_commands
    add_serving_commands(sub)                          # recommend, export, serve
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, KeyError, OSError, FloatingPointError) as err:
        # expected failures, each a message that says what and where: bad input or config (ValueError,
        # TypeError, KeyError: an unknown key), a missing file or a run folder in the way (OSError:
        # FileNotFoundError, FileExistsError), a failed write (OSError naming the path, a full disk
        # said so), a diverged training (FloatingPointError)
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
