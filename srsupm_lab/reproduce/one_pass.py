"""SRSUPM trained one encoder pass per user against per-window training, read on validation data
(method.md §2 and §7).

One pass per user gives every window the same ``h`` and the same loss terms as per-window training
(``tests/test_one_pass_srsupm.py``, float64), but it changes three things a whole run may feel: a
batch holds all the windows of few users (so PMSIM drops same-user negatives, ``same_user_negatives``
"mask"), dropout masks are shared along a user's row, and SASRec must count positions from the
window's start (``positions="from_start"``) where the package's default counts them from its end. The
three models below separate the position convention from the path:

=========================  ===================================================================
``srsupm-window``          per window, positions from the end (the package's default path)
``srsupm-window-start``    per window, positions from the start
``srsupm-onepass``         one pass per user, positions from the start
=========================  ===================================================================

each with the engaged SRSUPM setting of the decisive experiment's arm (e)
(:data:`srsupm_lab.reproduce.decisive.ARMS`), on SASRec. Protocols (:data:`BASES`): the demo's budget on
the synthetic world; the decisive protocol at lr 0.001 on Beauty (so the decisive arm (e)'s per-window
run of a seed *is* ``srsupm-window`` of that seed). The report pairs the models on the **validation**
users (per-user ranks of the best weights, :func:`srsupm_lab.experiment.user_ranks` with
``split="valid"``): one pass becomes a default only where it is not worse there. Test figures are
shown beside them, never used to choose. Declared in ``reports/experiments.toml`` as grid kind
``one-pass`` (keys ``datasets``, ``arms``, ``seeds``); ``reproduce --plan ... --only <grid> --report-only``
regenerates the report from the run folders.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .decisive import ARMS, PROTOCOL
from .model_seeds import model_seed_configs

__all__ = ["MODELS", "BASES", "PAIRS", "one_pass_configs", "one_pass_table", "one_pass_report"]

_ENGAGED = ARMS["sasrec+srsupm-engaged"]
#: model folder name -> the TrainConfig fields that make it (on top of the dataset's base)
MODELS = {"srsupm-window": {**_ENGAGED, "one_pass": False},
          "srsupm-window-start": {**_ENGAGED, "one_pass": False, "backbone_options": {"positions": "from_start"}},
          "srsupm-onepass": {**_ENGAGED, "one_pass": True, "backbone_options": {"positions": "from_start"}}}
#: the training protocol per dataset
BASES = {"synthetic": {"dataset": "synthetic", "backbone": "sasrec", "max_len": 20, "lr": 0.001, "batch_size": 256,
                       "epochs": 20, "patience": 3, "K": 5},
         "beauty": {**PROTOCOL, "lr": 0.001}}
#: (A, B) pairs reported as "B against A": the convention alone, the path alone, both
PAIRS = [("srsupm-window", "srsupm-window-start"), ("srsupm-window-start", "srsupm-onepass"),
         ("srsupm-window", "srsupm-onepass")]


def one_pass_configs(dataset: str, seeds, runs: str | Path, models=None, **common) -> list[dict]:
    """One TrainConfig dict per (model, seed), seeds outermost, with its out_dir below ``runs``."""
    return model_seed_configs("one-pass", BASES, MODELS, dataset, seeds, runs, models, **common)


def one_pass_table(runs: str | Path) -> pd.DataFrame:
    """One row per finished run: dataset, model, seed, epochs, best epoch, median training seconds per epoch,
    validation and test Recall@10 / NDCG@10 (the best epoch's)."""
    rows = []
    for path in sorted(Path(runs).glob("*/*/seed*/results.json")):
        if path.parent.parent.name not in MODELS:
            continue
        res = json.loads(path.read_text(encoding="utf-8"))
        history = pd.read_csv(path.parent / "history.csv")
        valid = next(r for r in res["valid"] if str(r.get("level")) == "all")
        test = next(r for r in res["test"] if str(r.get("level")) == "all")
        rows.append({"dataset": path.parent.parent.parent.name, "model": path.parent.parent.name,
                     "seed": int(res["config"]["seed"]), "epochs": len(history), "best_epoch": res["best_epoch"],
                     "s/epoch": float(history["train_seconds"].median()),
                     "valid_recall@10": valid["recall@10"], "valid_ndcg@10": valid["ndcg@10"],
                     "test_recall@10": test["recall@10"], "test_ndcg@10": test["ndcg@10"]})
    return pd.DataFrame(rows)


def _comparisons(runs: Path, table: pd.DataFrame, n_boot: int) -> pd.DataFrame:
    """Paired bootstrap of each pair on the seeds both finished, validation first, test beside it."""
    from ..analysis.significance import compare_runs
    rows = []
    for dataset, d in table.groupby("dataset", sort=False):
        seeds = {m: set(g["seed"]) for m, g in d.groupby("model")}
        for a, b in PAIRS:
            both = sorted(seeds.get(a, set()) & seeds.get(b, set()))
            if not both:
                continue
            folders = {m: [runs / dataset / m / f"seed{s}" for s in both] for m in (a, b)}
            for split in ("valid", "test"):
                res = compare_runs(folders[a], folders[b], split=split, n_boot=n_boot)
                rows += [{"dataset": dataset, "split": split, "model_a": a, "model_b": b,
                          "seeds": " ".join(map(str, both)), **r} for r in res.to_dict("records")]
    return pd.DataFrame(rows)


def one_pass_report(runs: str | Path, report_dir: str | Path, n_boot: int = 2000) -> Path:
    """``one_pass_srsupm.csv``, ``one_pass_srsupm_significance.csv`` and ``one_pass_srsupm.md`` in
    ``report_dir``; the markdown's path. No finished run: nothing is written, one line says so."""
    from ..atomic import atomic_write
    runs, report_dir = Path(runs), Path(report_dir)
    table = one_pass_table(runs)
    if table.empty:
        raise FileNotFoundError(f"one-pass: no finished run below {runs}; the report in {report_dir} is left as it is")
    sig = _comparisons(runs, table, n_boot)
    report_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(report_dir / "one_pass_srsupm.csv", lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))
    atomic_write(report_dir / "one_pass_srsupm_significance.csv",
                 lambda tmp: sig.to_csv(tmp, index=False, float_format="%.6g"))
    shown = ["dataset", "split", "model_a", "model_b", "seeds", "metric", "a", "b", "relative", "ci_low", "ci_high",
             "p_value", "seed_ci_low", "seed_ci_high", "seed_p_value"]
    lines = ["# SRSUPM one encoder pass per user against per window (SASRec, the engaged setting)", "",
             "Each run trains to early stopping on validation Recall@10 (`srsupm_lab/reproduce/one_pass.py`: the "
             "synthetic world at the demo's budget, Beauty at the decisive protocol with lr 0.001). The pairs are "
             "read on the **validation** users (per-user ranks of the best weights); test beside them, never used "
             "to choose. Seconds per epoch are the runs' own, on a shared machine: `benchmarks/` holds the timings. "
             "Regenerate: `python -m srsupm_lab reproduce --plan reports/experiments.toml --only <grid> "
             "--report-only`.", "", table.to_markdown(index=False, floatfmt=".4f"), "",
             "## Paired comparisons (B against A, on the seeds both finished)", "",
             "None yet." if sig.empty else
             sig[sig["metric"].isin(["recall@10", "ndcg@10"])][shown].to_markdown(index=False, floatfmt=".4f")]
    md = report_dir / "one_pass_srsupm.md"
    atomic_write(md, lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8"))
    return md
