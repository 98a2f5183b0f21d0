"""The ``reproduce`` command: a grid of the paper's experiments (``--grid``) or every grid of an experiments file
(``--plan``), resumable, then the report tables (:mod:`srsupm_lab.reproduce`, method.md §10–§12).

A report folder that holds the tables of other runs is not replaced unless ``--replace-reports`` says so
(:mod:`srsupm_lab.reproduce.report_folder`).
"""
from __future__ import annotations

__all__ = ["add_command"]


def cmd_reproduce(args) -> int:
    from .. import reproduce as R

    if (args.grid is None) == (args.plan is None):
        raise ValueError("reproduce: give either --grid (one grid from the options) or --plan FILE (the grids "
                         "of an experiments file, e.g. reports/experiments.toml)")
    if args.plan is not None:
        return _reproduce_plan(R, args)
    if args.only:
        raise ValueError("reproduce: --only picks grids of a --plan")
    args.datasets, args.seeds = args.datasets or ["beauty"], args.seeds or [1, 2, 3]
    if args.grid == "table2":                      # timings, not training runs
        return _table2(args)
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
    # a report folder of other runs is refused before any training, not after it
    R.check_replace(args.reports, R.expected_runs(args.runs, [s.name for s in specs]), args.runs,
                    replace=args.replace_reports)
    failed = False
    if not args.report_only:
        status = R.run_grid(specs, args.runs, engine=args.engine, common=common, on_error="continue",
                            jobs=args.jobs)
        print(status.to_string(index=False))
        failed = bool((status["state"] == "failed").any())
    df = R.collect(args.runs)
    if df.empty:
        raise FileNotFoundError(f"reproduce: no finished run below {args.runs}; the reports in {args.reports} are "
                                f"left as they are")
    written = R.write_reports(df, args.reports, runs_dir=args.runs, replace=args.replace_reports)
    print(f"\n{len(df)} finished runs under {args.runs}; reports: " + ", ".join(str(p) for p in written.values()))
    return 1 if failed else 0


def _table2(args) -> int:
    """``reproduce --grid table2``: inference timings of one dataset (no training)."""
    from ..methods.srsupm.timing import inference_table, write_table2
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
    R.check_plan_reports(grids, only=args.only, replace=args.replace_reports)     # before any training
    failed = False
    if not args.report_only:
        status = R.run_plan(grids, only=args.only)
        print(status.to_string(index=False))
        failed = bool((status["state"] == "failed").any())
    for line in R.write_plan_reports(grids, only=args.only, replace=args.replace_reports):
        print(line)
    return 1 if failed else 0


def add_command(sub) -> None:
    """Add ``reproduce`` to the ``python -m srsupm_lab`` subparsers ``sub``."""
    from .train import key_value
    rep = sub.add_parser(
        "reproduce",
        help="run a grid of the paper's experiments (Tables 1-4, Fig. 3), resumable, then write the report tables",
        description="Runs a grid of the paper's experiments (--grid and its options, or every grid of an "
                    "experiments file: --plan reports/experiments.toml), one folder per run under --runs (a "
                    "finished run is skipped, an interrupted one resumes), then writes the CSV/markdown tables "
                    "under --reports, all of them or none. A reports folder whose tables came from other runs is "
                    "left as it is unless --replace-reports is given. Options left unset keep TrainConfig's "
                    "defaults (srsupm_lab/config.py).")
    rep.add_argument("--grid", default=None,
                     help="table1 | table2 | table3 | table4 | fig3; table2 times inference (no training)")
    rep.add_argument("--plan", default=None, metavar="FILE",
                     help="run or resume every grid of an experiments file instead (reports/experiments.toml); "
                          "its folders and dataset paths are relative to the file")
    rep.add_argument("--only", nargs="+", default=None, metavar="NAME", help="--plan: only the grids of these names")
    rep.add_argument("--report-only", action="store_true",
                     help="run nothing: write the reports again from the run folders")
    rep.add_argument("--replace-reports", action="store_true",
                     help="replace a reports folder whose tables were built from other runs (default: refuse)")
    rep.add_argument("--repeats", type=int, default=5, help="table2: timed passes per model (median)")
    rep.add_argument("--fused-mixture", action="store_true",
                     help="table2: score +SRSUPM with the torch.compile'd mixture (training grids: --set "
                          "fused_mixture=true)")
    rep.add_argument("--datasets", nargs="+", default=None,
                     help="beauty sports yelp synthetic ml-100k, folders in the S3-Rec layout or files of "
                          "interactions (.csv, .tsv, .parquet) (default: beauty)")
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
                     help="runs trained at once, each with cores/jobs CPU threads (default 1; benchmarks/ measures "
                          "what more jobs give on a machine)")
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
