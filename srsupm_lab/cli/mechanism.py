"""The commands of the mechanism study: ``diagnose``, ``screen``, ``oracle-gap`` and ``decisive``; per run folder
``cold-start`` and ``policy-metrics`` (MTRec §5).

Each command runs (or resumes) one declared experiment and writes its report from the run folders,
or with ``--report-only`` writes the report again without training:

* ``diagnose RUN`` — the engagement of a run folder (:mod:`srsupm_lab.analysis.diagnose`);
* ``screen`` — the paper's open readings ranked on validation Recall@10 (:mod:`srsupm_lab.methods.srsupm.screening`);
* ``oracle-gap`` — backbone, SRSUPM and the oracle on the synthetic world (:mod:`srsupm_lab.reproduce.oracle_gap`);
* ``decisive`` — the five arms on Beauty at the paper's protocol (:mod:`srsupm_lab.reproduce.decisive`);
* ``cold-start RUN``, ``policy-metrics RUN`` — a run folder through its users' first k items
  (:mod:`srsupm_lab.analysis.cold_start`), its AUC, NCIS and satisfaction (:mod:`srsupm_lab.analysis.policy_metrics`).
"""
from __future__ import annotations

__all__ = ["add_mechanism_commands", "add_diagnose_command", "add_cold_start_command", "add_policy_metrics_command",
           "add_reward_satisfaction_command", "add_screen_command", "add_oracle_gap_command", "add_decisive_command"]


def _require_positive(option: str, value, integer: bool = True) -> None:
    """One line for an option that must be a positive (finite) number: ``--negatives 0`` would sample nothing
    and score every user 1.0."""
    import math
    if integer:
        values = value if isinstance(value, list) else [value]
        bad = [v for v in values if v < 1]
        if bad:
            raise ValueError(f"{option} must be a positive integer, got {bad[0]}")
    elif not (math.isfinite(value) and value > 0):
        raise ValueError(f"{option} must be a positive finite number, got {value!r}")


def _csv_target(path, option: str) -> None:
    """``--out`` must name a file to write: not a folder, and in a folder that exists (checked before the work)."""
    from pathlib import Path
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"{option} {target}: is a folder; give the path of a CSV file to write")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"{option} {target}: the folder {target.parent} does not exist")


def _experiment_options(parser, runs: str, report: str, files: str) -> None:
    """The options every declared experiment shares: its run folders, its report, --report-only, --device."""
    parser.add_argument("--runs", default=runs, help=f"run folders below this (default: {runs})")
    parser.add_argument("--report", default=report, help=f"where {files} go (default: {report})")
    parser.add_argument("--report-only", action="store_true", help="only rebuild the report from the run folders")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda (default: auto)")


def cmd_screen(args) -> int:
    """Run (or resume) the screening grid, then write its validation-only report."""
    from ..methods.srsupm.screening import write_report
    from ..reproduce.screening import run_screening

    if not args.report_only:
        run_screening(args.dataset, args.epochs, args.seed, args.runs, args.settings, device=args.device)
    print(f"report: {write_report(args.runs, args.report, args.dataset)}")
    return 0


def cmd_oracle_gap(args) -> int:
    """Run (or resume) the oracle-gap seeds, then write reports/synthetic_oracle.md."""
    from ..reproduce.oracle_gap import run_gap, write_gap_report

    if not args.report_only:
        run_gap(args.seeds, args.runs, device=args.device)
    print(f"report: {write_gap_report(args.runs, args.report)}")
    return 0


def cmd_decisive(args) -> int:
    """Run (or resume) the decisive experiment's arms, then write its report."""
    from ..reproduce.decisive import decisive_report, run_decisive

    if not args.report_only:
        extra = {} if args.lr is None else {"lr": args.lr}
        run_decisive(args.seeds, args.runs, args.arms, args.dataset, device=args.device, data_root=args.data_root,
                     **extra)
    print(f"report: {decisive_report(args.runs, args.report, dataset=args.dataset)}")
    return 0


def cmd_diagnose(args) -> int:
    """Print a run folder's diagnostics (srsupm_lab.analysis.diagnose)."""
    from ..analysis.diagnose import diagnose
    from ..run_check import check_run

    check_run(args.run)                      # its data is the data it trained on, before anything is read
    result = diagnose(args.run, device=args.device)
    if result["now"] is None:
        print(f"{args.run} (method {result['method']}) keeps no checkpoint.pt: its best weights cannot be measured "
              f"again; what it recorded while it trained:")
    elif result["now"]:
        print(f"Diagnostics of {args.run} (method {result['method']}) on its best weights (validation windows):")
        for name, value in result["now"].items():
            print(f"  {name:<18}{value:10.4f}")
    else:
        print(f"{args.run}: method {result['method']!r} records no diagnostics; its losses and validation per epoch:")
    if len(result["history"]):
        print("\nPer epoch (history.csv):")
        print(result["history"].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    if result["engaged"] is not None:
        print(f"\nLast epoch: {'engaged' if result['engaged'] else 'not engaged'} (the method's thresholds: "
              f"docs/method.md, 'Is the mechanism doing its job?')")
    return 0


def cmd_cold_start(args) -> int:
    """Print (and with --out write) a run folder's cold-start table (srsupm_lab.analysis.cold_start)."""
    from ..analysis.cold_start import cold_start_ranks, cold_start_table
    from ..atomic import atomic_write
    from ..run_check import load_checked

    _require_positive("cold-start --negatives", args.negatives)
    _require_positive("cold-start --ks", args.ks)
    _csv_target(args.out, "cold-start --out")
    run = load_checked(args.run, device=args.device)
    ranks = cold_start_ranks(run.model, run.data.dataset, run.data.split, ks=args.ks, n_negatives=args.negatives,
                             seed=args.seed)
    table = cold_start_table(ranks)
    print(f"Cold start of {args.run} (method {run.config.method}): the test target from the user's first k items")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    if args.out:
        atomic_write(args.out, lambda tmp: ranks.to_csv(tmp, index=False))
        print(f"per-user ranks: {args.out}")
    return 0


def cmd_policy_metrics(args) -> int:
    """Print (and with --out write) a run folder's policy metrics (srsupm_lab.analysis.policy_metrics)."""
    import pandas as pd

    from ..analysis.policy_metrics import policy_summary
    from ..atomic import atomic_write
    from ..reproduce.mtrec import measure_policy, policy_file
    from ..run_check import check_run

    _require_positive("policy-metrics --negatives", args.negatives)
    _require_positive("policy-metrics --cap", args.cap, integer=False)
    _csv_target(args.out, "policy-metrics --out")
    check_run(args.run)                      # before its cache is read or anything is written into the folder
    path = measure_policy(args.run, n_negatives=args.negatives)
    if path is None:
        raise FileNotFoundError(f"{args.run}: not a finished run with its checkpoint.pt (nor its "
                                f"{policy_file(args.negatives)})")
    table = pd.read_csv(path)
    print(f"Policy metrics of {args.run} (MTRec §5: AUC and NCIS, trained − untrained; cap {args.cap:g}), "
          f"{path.name}:")
    for name, value in policy_summary(table, cap=args.cap).items():
        print(f"  {name:<18}{value:12.4f}" if isinstance(value, float) else f"  {name:<18}{value:12}")
    if args.out:
        atomic_write(args.out, lambda tmp: table.to_csv(tmp, index=False))
        print(f"per-user values: {args.out}")
    return 0


def cmd_reward_satisfaction(args) -> int:
    """Fit the rewards on the clickbait world and write their correlation with the true satisfaction."""
    import pandas as pd

    from ..analysis.reward_satisfaction import reward_satisfaction_table, write_reward_satisfaction_report
    tables = [reward_satisfaction_table(seeds=args.seeds, backbone=b) for b in args.backbones]
    table = pd.concat(tables, ignore_index=True)
    table.attrs["budget"] = tables[0].attrs.get("budget", {})
    paths = write_reward_satisfaction_report(table, args.report)
    print(f"reward against satisfaction: {paths['md']}")
    return 0


def add_mechanism_commands(sub) -> None:
    """Add every command of this module to the ``python -m srsupm_lab`` subparsers ``sub``."""
    for add in (add_diagnose_command, add_cold_start_command, add_policy_metrics_command,
                add_reward_satisfaction_command, add_screen_command, add_oracle_gap_command, add_decisive_command):
        add(sub)


def add_diagnose_command(sub) -> None:
    diag = sub.add_parser("diagnose", help="a run folder's method diagnostics (SRSUPM: is its mechanism engaged? α, "
                                           "β, branches, PMSIM and gradient shares) and its history")
    diag.add_argument("run", help="a run folder (config.json + checkpoint.pt)")
    diag.add_argument("--device", default="cpu", help="where to score the validation windows (default: cpu)")
    diag.set_defaults(func=cmd_diagnose)


def add_cold_start_command(sub) -> None:
    cold = sub.add_parser("cold-start", help="a run folder's test users seen through their first k items only: "
                                             "full ranking and the sampled-100 protocol side by side")
    cold.add_argument("run", help="a run folder (config.json + checkpoint.pt)")
    cold.add_argument("--ks", nargs="+", type=int, default=[1, 2, 3, 5], help="history lengths k")
    cold.add_argument("--negatives", type=int, default=100,
                      help="sampled items per user (the sampled protocol)")
    cold.add_argument("--seed", type=int, default=0, help="seed of the sampled items")
    cold.add_argument("--out", default=None, help="write the per-user ranks (k, protocol, user, rank) to this CSV")
    cold.add_argument("--device", default="cpu", help="where to score (default: cpu)")
    cold.set_defaults(func=cmd_cold_start)


def add_policy_metrics_command(sub) -> None:
    from ..analysis.policy_metrics import NCIS_CAP
    pol = sub.add_parser("policy-metrics", help="a finished run folder's AUC (full candidates and sampled "
                                                "negatives), NCIS against its untrained model and satisfaction@10 "
                                                "(MTRec's Table 1 metrics; kept in the folder, one file per "
                                                "--negatives)")
    pol.add_argument("run", help="a finished run folder (results.json + checkpoint.pt, or its policy_metrics.csv)")
    pol.add_argument("--negatives", type=int, default=100, help="sampled negatives of the sampled AUC")
    pol.add_argument("--cap", type=float, default=NCIS_CAP, help="the cap of a user's NCIS weight")
    pol.add_argument("--out", default=None, help="write the per-user values to this CSV")
    pol.set_defaults(func=cmd_policy_metrics)


def add_reward_satisfaction_command(sub) -> None:
    rs = sub.add_parser("reward-satisfaction", help="MTRec's and IRL's learned rewards, a click model and an oracle "
                                                    "against the true satisfaction of the clickbait world (Spearman)")
    rs.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="worlds and fits (default: 1 2 3)")
    rs.add_argument("--backbones", nargs="+", default=["sasrec", "gru4rec"], help="(default: sasrec gru4rec)")
    rs.add_argument("--report", default="reports/mtrec", help="where the csv and md go (default: reports/mtrec)")
    rs.set_defaults(func=cmd_reward_satisfaction)


def add_screen_command(sub) -> None:
    scr = sub.add_parser("screen", help="train the screened readings of the paper's open choices for a short "
                                        "budget and rank them on validation Recall@10 (srsupm_lab.methods.srsupm.screening)")
    scr.add_argument("--dataset", default="synthetic", help="synthetic | beauty (default: synthetic)")
    scr.add_argument("--epochs", type=int, default=10, help="epochs per setting (default: 10)")
    scr.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    scr.add_argument("--settings", nargs="+", default=None,
                     help="names among srsupm_lab.methods.srsupm.screening.SETTINGS and 'backbone' (default: all, no backbone)")
    _experiment_options(scr, "runs/screen", "reports", "screening_<dataset>.csv/.md")
    scr.set_defaults(func=cmd_screen)


def add_oracle_gap_command(sub) -> None:
    gap = sub.add_parser("oracle-gap", help="backbone, SRSUPM and the oracle told the true shifts on the synthetic "
                                            "world, over seeds: how much of the gap SRSUPM closes (srsupm_lab.reproduce.oracle_gap)")
    gap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3], help="seeds (default: 1 2 3)")
    _experiment_options(gap, "runs/oracle-gap", "reports", "synthetic_oracle.csv/.md")
    gap.set_defaults(func=cmd_oracle_gap)


def add_decisive_command(sub) -> None:
    dec = sub.add_parser("decisive", help="the decisive experiment on Beauty at the paper's protocol: SASRec (CE, "
                                          "BCE), the control, SRSUPM literal and engaged (srsupm_lab.reproduce.decisive)")
    dec.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3], help="seeds (default: 1 2 3)")
    dec.add_argument("--arms", nargs="+", default=None, help="arm names (default: all five, seed by seed)")
    dec.add_argument("--dataset", default="beauty", help="the dataset (default: beauty, the paper's decisive case; "
                                                        "another's report files are suffixed _<dataset>)")
    _experiment_options(dec, "runs/decisive", "reports/decisive", "arms.csv, significance.csv and decisive.md")
    dec.add_argument("--lr", type=float, default=None,
                     help="another learning rate for every arm (default: the paper's 0.01); use its own --runs folder")
    dec.add_argument("--data-root", default=None, help="folder of the real datasets (default: SRSUPM_DATA, else "
                                                      "the repository's data/)")
    dec.set_defaults(func=cmd_decisive)
