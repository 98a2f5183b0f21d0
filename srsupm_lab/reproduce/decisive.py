"""The decisive experiment on Beauty at the paper's protocol: why does the gain not reproduce?

Five arms, SASRec, the paper's protocol (§5.1: Adam lr 0.01, batch 128, d 64, L 50, early stopping
on validation Recall@10 with patience 10, at most 200 epochs), seeds 1–3, paired bootstrap on the
22,363 test users (:func:`srsupm_lab.analysis.significance.compare_runs`):

* ``sasrec`` (a) — SASRec with the full cross-entropy (the package's backbone loss);
* ``sasrec-bce`` (b) — SASRec's original recipe (Kang & McAuley): binary cross-entropy with one
  sampled negative per target (``loss="bce"``), what "the hyper-parameters of their original
  papers" most plausibly means for the paper's baseline;
* ``sasrec+control`` (c) — SRSUPM's added layers without its mechanism: the K SIC branches and
  L_reg, mean-pooled, no PMSID, no PMSIM, no mixture (the engaged arm's other settings);
* ``sasrec+srsupm-paper`` (d) — SRSUPM at its most literal reading (the ``paper`` preset, ``PAPER_READINGS``);
* ``sasrec+srsupm-engaged`` (e) — SRSUPM with the setting chosen on validation by the screening
  (:data:`ENGAGED_SETTING`, :mod:`srsupm_lab.methods.srsupm.screening`).

Each explanation predicts a pattern: *weaker baselines in the paper* — (b) near the paper's
SASRec (.0860) while the others tie; *extra capacity* — (c) ≈ (e), both above (a); *the
mechanism* — (e) ahead of (c). :func:`decisive_report` writes the arms' metrics and the paired
comparisons that tell these apart; every row comes from the run folders, so the one command

    python -m srsupm_lab decisive --report-only --runs runs/decisive --report reports/decisive

regenerates it, and the same command without ``--report-only`` runs or resumes what is missing.

The protocol is the paper's on any dataset it names (``--dataset sports``: the same arms and settings,
runs in ``RUNS/sports/<arm>/seed<k>``, the report's files suffixed ``_sports`` so that one report folder
holds both; the paper's Table 1 values of that dataset beside them, :func:`srsupm_lab.methods.srsupm.paper.paper_value`).
The engaged setting stays the one chosen on Beauty's validation users: on another dataset it is a
transfer, not a new choice.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..methods.srsupm.options import PAPER_READINGS
from ..methods.srsupm.paper import paper_value
from ..methods.srsupm.screening import SETTINGS

__all__ = ["PROTOCOL", "ENGAGED_SETTING", "ARMS", "report_names", "arm_configs", "run_decisive", "arms_table", "comparisons",
           "decisive_report"]

#: §5.1 of the paper, on Beauty with SASRec
PROTOCOL = {"dataset": "beauty", "backbone": "sasrec", "lr": 0.01, "batch_size": 128, "dim": 64, "max_len": 50,
            "patience": 10, "epochs": 200, "K": 5}
#: the screening's choice on Beauty's validation users (reports/screening_beauty.md)
ENGAGED_SETTING = "unit+mild+normreg"

_MECH = ("lambda2", "gamma", "tau", "level_temperature", "pmsim_similarity", "reg_form", "augmentation",
         "singletons", "false_negatives")
_PAPER = {k: PAPER_READINGS[k] for k in _MECH}
_ENGAGED = dict(SETTINGS[ENGAGED_SETTING])

#: arm folder name -> the TrainConfig fields on top of PROTOCOL (letters as in the module doc)
ARMS: dict[str, dict] = {
    "sasrec": {"method": "none", "loss": "ce"},
    "sasrec-bce": {"method": "none", "loss": "bce"},
    "sasrec+control": {"method": "srsupm", "method_options": {**_ENGAGED, "pmsid": False, "pmsim": False,
                                                               "pmi": False}},
    "sasrec+srsupm-paper": {"method": "srsupm", "method_options": dict(_PAPER), "preset": "paper"},
    "sasrec+srsupm-engaged": {"method": "srsupm", "method_options": dict(_ENGAGED)},
}
LETTERS = dict(zip(ARMS, "abcde"))
#: (A, B) pairs reported as "B against A"
PAIRS = [("sasrec", "sasrec-bce"), ("sasrec", "sasrec+control"), ("sasrec", "sasrec+srsupm-paper"),
         ("sasrec", "sasrec+srsupm-engaged"), ("sasrec+control", "sasrec+srsupm-engaged"),
         ("sasrec+srsupm-paper", "sasrec+srsupm-engaged")]

def report_names(dataset: str = "beauty") -> dict[str, str]:
    """The report's file names for ``dataset``: ``arms.csv``, ``significance.csv``, ``decisive.md`` on Beauty,
    suffixed ``_<dataset>`` on any other (so one report folder holds the datasets side by side)."""
    suffix = "" if dataset == "beauty" else f"_{dataset}"
    return {"arms": f"arms{suffix}.csv", "significance": f"significance{suffix}.csv", "md": f"decisive{suffix}.md"}


def arm_configs(seeds, runs: str | Path, arms=None, dataset: str = "beauty", **common) -> list[dict]:
    """One TrainConfig dict per (arm, seed) on ``dataset``, seeds outermost (every arm of seed 1 before seed 2)."""
    arms = list(ARMS) if arms is None else list(arms)
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise ValueError(f"decisive: unknown arm(s) {unknown}; the arms are {list(ARMS)}")
    return [{**PROTOCOL, "dataset": dataset, "seed": seed, "progress": False, "resume": True, **ARMS[arm], **common,
             "out_dir": str(Path(runs) / dataset / arm / f"seed{seed}")} for seed in seeds for arm in arms]


def run_decisive(seeds, runs: str | Path, arms=None, dataset: str = "beauty", **common) -> None:
    """Train (or resume, or reuse) every run of :func:`arm_configs`."""
    from ..experiment import run_experiment
    for config in arm_configs(seeds, runs, arms, dataset, **common):
        print(f"decisive: {config['out_dir']}", flush=True)
        run_experiment(config, levels=True)


def _finished(runs: Path, arm: str, dataset: str = "beauty") -> dict[int, Path]:
    out = {}
    for path in sorted((runs / dataset / arm).glob("seed*/results.json")):
        out[int(json.loads(path.read_text(encoding="utf-8"))["config"]["seed"])] = path.parent
    return out


def arms_table(runs: str | Path, dataset: str = "beauty") -> pd.DataFrame:
    """One row per (arm, finished seed) on ``dataset``: epochs, best epoch, stopped early, validation and test
    metrics."""
    rows = []
    for arm in ARMS:
        for seed, folder in _finished(Path(runs), arm, dataset).items():
            res = json.loads((folder / "results.json").read_text(encoding="utf-8"))
            test = next(r for r in res["test"] if str(r.get("level")) == "all")
            rows.append({"arm": f"({LETTERS[arm]}) {arm}", "seed": seed, "lr": res["config"]["lr"],
                         "epochs": res["epochs_run"],
                         "best_epoch": res["best_epoch"], "stopped_early": res["stopped_early"],
                         "valid_recall@10": res["best_valid_recall@10"],
                         **{f"test_{m}": test[m] for m in ("recall@10", "ndcg@10", "recall@20", "ndcg@20")}})
    return pd.DataFrame(rows)


def comparisons(runs: str | Path, n_boot: int = 2000, dataset: str = "beauty") -> pd.DataFrame:
    """The paired comparisons of :data:`PAIRS` on ``dataset``, on the seeds both arms finished (pooled over those
    seeds)."""
    from ..analysis.significance import compare_runs
    runs, rows = Path(runs), []
    for a, b in PAIRS:
        fa, fb = _finished(runs, a, dataset), _finished(runs, b, dataset)
        seeds = sorted(set(fa) & set(fb))
        if not seeds:
            continue
        table = compare_runs([fa[s] for s in seeds], [fb[s] for s in seeds], n_boot=n_boot)
        for _, r in table[table["metric"].isin(["recall@10", "ndcg@10"])].iterrows():
            rows.append({"model_a": f"({LETTERS[a]}) {a}", "model_b": f"({LETTERS[b]}) {b}",
                         "seeds": " ".join(map(str, seeds)), **r.to_dict()})
    return pd.DataFrame(rows)


def decisive_report(runs: str | Path, report_dir: str | Path, n_boot: int = 2000, dataset: str = "beauty") -> Path:
    """The arms' table, their paired comparisons and the markdown that shows both, for ``dataset``, in
    ``report_dir`` (:func:`report_names`: ``arms.csv``, ``significance.csv``, ``decisive.md`` on Beauty);
    returns the markdown path."""
    from ..atomic import atomic_write
    arms = arms_table(runs, dataset)
    if arms.empty:
        raise FileNotFoundError(f"decisive: no finished run below {Path(runs) / dataset}; the report in {report_dir} "
                                f"is left as it is")
    sig = comparisons(runs, n_boot, dataset)
    report_dir, names = Path(report_dir), report_names(dataset)
    atomic_write(report_dir / names["arms"], lambda tmp: arms.to_csv(tmp, index=False, float_format="%.6g"))
    atomic_write(report_dir / names["significance"], lambda tmp: sig.to_csv(tmp, index=False, float_format="%.6g"))
    lrs = sorted(set(arms["lr"]))
    where = "the paper's protocol" if lrs == [PROTOCOL["lr"]] else f"lr {', '.join(f'{x:g}' for x in lrs)}"
    lr_flag = "" if lrs == [PROTOCOL["lr"]] else f"--lr {lrs[0]:g} "
    ds_flag = "" if dataset == "beauty" else f"--dataset {dataset} "
    paper_lr = "" if not lr_flag else f" (the paper: {PROTOCOL['lr']:g})"
    cells = {s: [paper_value(dataset, "sasrec", s, m) for m in ("recall@10", "ndcg@10")] for s in (False, True)}
    paper = ("The paper has no Table 1 cell for this dataset." if None in cells[False] + cells[True] else
             f"The paper: SASRec {cells[False][0]:.4f} / {cells[False][1]:.4f}, +SRSUPM {cells[True][0]:.4f} / "
             f"{cells[True][1]:.4f} (Recall@10 / NDCG@10).")
    lines = [f"# The decisive experiment ({dataset.capitalize()}, SASRec, {where})", "",
             f"lr {', '.join(f'{x:g}' for x in lrs)}{paper_lr}, batch {PROTOCOL['batch_size']}, "
             f"d {PROTOCOL['dim']}, L {PROTOCOL['max_len']}, early "
             f"stopping on validation Recall@10 with patience {PROTOCOL['patience']}, at most {PROTOCOL['epochs']} "
             f"epochs; the engaged arm uses the screening's `{ENGAGED_SETTING}` (chosen on Beauty). {paper} "
             f"Regenerate: `python -m srsupm_lab decisive {ds_flag}{lr_flag}--report-only --runs {runs} "
             f"--report {report_dir}`.", "", "## Finished runs", ""]
    lines.append(arms.to_markdown(index=False, floatfmt=".4f"))
    summary = arms.groupby("arm", sort=False)[["test_recall@10", "test_ndcg@10"]].agg(["mean", "std", "count"])
    summary.columns = [f"{m} {s}" for m, s in summary.columns]
    lines += ["", "Mean and sd (ddof 1) over finished seeds:", "",
              summary.reset_index().to_markdown(index=False, floatfmt=".4f")]
    lines += ["", "## Paired comparisons (B against A, on the seeds both finished)", ""]
    shown = ["model_a", "model_b", "seeds", "metric", "a", "b", "gain", "relative", "ci_low", "ci_high", "p_value",
             "seed_ci_low", "seed_ci_high", "seed_p_value"]
    lines.append("None yet." if sig.empty else sig[shown].to_markdown(index=False, floatfmt=".4f"))
    missing = [f"({LETTERS[arm]}) {arm} seed {s}" for arm in ARMS for s in (1, 2, 3)
               if s not in _finished(Path(runs), arm, dataset)]
    lines += ["", "## Not finished", "", ", ".join(missing) if missing else "Nothing: every arm has seeds 1-3."]
    md = report_dir / names["md"]
    atomic_write(md, lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8"))
    return md

