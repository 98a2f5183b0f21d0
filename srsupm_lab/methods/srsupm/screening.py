"""Screening the readings the paper leaves open, on validation data only (method.md "choice").

The paper fixes SRSUPM's equations but not several of their constants and forms (the scale of the
α/β logits, InfoNCE's similarity and τ, L_reg's form, the augmented view, singleton groups,
false negatives). :data:`SETTINGS` names a handful of combinations, from the most literal
reading (``paper``) to ones built to make each part do its job; :func:`screening_configs` gives their
run configs, :func:`srsupm_lab.reproduce.screening.run_screening` (above the methods, beside the other
experiments) trains each for a short budget (resumable run folders), and :func:`screening_table` ranks them by
**validation** Recall@10 with the engagement numbers of their last epoch beside
(:mod:`srsupm_lab.methods.srsupm.engagement`). Test metrics are never read here: :func:`screening_table` drops
them, so a default cannot be chosen on test data by accident.

:func:`choose` returns the setting the package adopts: the best validation Recall@10 among the
*engaged* ones (α informative about the level and L_PMSIM clearly below chance), or None when no
engaged setting beats the paper-literal one on validation, in which case the defaults stay literal.

    python -m srsupm_lab screen --dataset synthetic --epochs 10 --runs runs/screen --report reports
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .engagement import ENGAGED, is_engaged
from .options import PAPER_READINGS
from ...run_folder import upgrade_stored_config

__all__ = ["SETTINGS", "BASES", "screening_configs", "run_screening", "screening_table", "choose"]

_PAPER = {k: PAPER_READINGS[k] for k in ("lambda2", "gamma", "tau", "level_temperature", "pmsim_similarity",
                                            "reg_form", "augmentation", "singletons", "false_negatives")}
_SHARP = {"tau": 0.2, "lambda2": 1.0}                       # a sharper, heavier InfoNCE (docs/probes.md)
_NORMREG = {"reg_form": "normalised_mean"}                  # L_reg on unit ẑ: it cannot swamp PMSID's gradient
_CLEAN = {"singletons": "drop", "false_negatives": "mask"}  # no self-pairs, no false negatives in the denominator

#: name -> the mechanism settings (SRSUPM's options) of one screened combination
SETTINGS: dict[str, dict] = {
    "paper": dict(_PAPER),
    "legacy": {**_PAPER, "augmentation": "encoder_dropout"},          # the package's earlier reading (git history)
    "unit-scale": {**_PAPER, "level_temperature": "unit"},
    "learned-scale": {**_PAPER, "level_temperature": "learned"},
    "sharp-pmsim": {**_PAPER, **_SHARP},
    "sharp+normreg": {**_PAPER, **_SHARP, **_NORMREG},
    "unit+sharp+normreg": {**_PAPER, "level_temperature": "unit", **_SHARP, **_NORMREG},
    "learned+sharp+normreg": {**_PAPER, "level_temperature": "learned", **_SHARP, **_NORMREG},
    "learned+sharp+normreg+clean": {**_PAPER, "level_temperature": "learned", **_SHARP, **_NORMREG, **_CLEAN},
    "unit+sharp+normreg+clean": {**_PAPER, "level_temperature": "unit", **_SHARP, **_NORMREG, **_CLEAN},
    "unit+normreg": {**_PAPER, "level_temperature": "unit", **_NORMREG},
    "unit+mild+normreg": {**_PAPER, "level_temperature": "unit", "tau": 0.5, "lambda2": 0.3, **_NORMREG},
    # the control: the same SIC branches and L_reg, mean-pooled, with no PMSID, no PMSIM, no mixture
    "control": {**_PAPER, "pmsid": False, "pmsim": False, "pmi": False},
}

#: the training protocol of each screened dataset: the demo's quick setting on the synthetic
#: world; on Beauty lr 0.001 and batch 256 (docs/probes.md), not the paper's lr 0.01 / batch 128:
#: at lr 0.01 SASRec alone reaches only .023 validation Recall@10 after 5 epochs (against .075 after
#: 3 at lr 0.001; docs/probes.md), so a short screening there would rank noise
BASES: dict[str, dict] = {
    "synthetic": {"dataset": "synthetic", "backbone": "sasrec", "max_len": 20, "lr": 0.001, "batch_size": 256},
    "beauty": {"dataset": "beauty", "backbone": "sasrec", "max_len": 50, "lr": 0.001, "batch_size": 256},
}


def screening_configs(dataset: str, epochs: int, seed: int, runs: str | Path, names=None, **common) -> list[dict]:
    """One TrainConfig dict per screened setting (and the backbone alone, ``backbone``), with its out_dir."""
    if dataset not in BASES:
        raise ValueError(f"screening: no base protocol for dataset {dataset!r}; known: {list(BASES)}")
    names = list(SETTINGS) if names is None else list(names)
    unknown = [n for n in names if n not in SETTINGS and n != "backbone"]
    if unknown:
        raise ValueError(f"screening: unknown setting(s) {unknown}; known: {['backbone', *SETTINGS]}")
    base = {**BASES[dataset], "epochs": epochs, "patience": max(epochs, 1), "seed": seed, "progress": False,
            "resume": True, **common}
    out = []
    for name in names:
        mech = {"method": "none"} if name == "backbone" else {"method": "srsupm", "method_options": SETTINGS[name]}
        out.append({**base, **mech, "out_dir": str(Path(runs) / dataset / name / f"seed{seed}")})
    return out


def _row(folder: Path) -> dict | None:
    results, history = folder / "results.json", folder / "history.csv"
    if not (results.exists() and history.exists()):
        return None
    res = json.loads(results.read_text(encoding="utf-8"))
    hist = pd.read_csv(history)
    cfg = upgrade_stored_config(res["config"])
    srsupm, options = cfg["method"] == "srsupm", cfg["method_options"]
    last = hist.iloc[-1].to_dict()
    name = folder.parent.name
    row = {"dataset": cfg["dataset"], "setting": name, "seed": cfg["seed"], "epochs": int(res["epochs_run"]),
           "best_epoch": int(res["best_epoch"]), "valid_recall@10": res["best_valid_recall@10"],
           "valid_recall@10_last": last.get("valid_recall@10")}
    for col in ("loss_rec", "loss_pmsid", "loss_pmsim", "loss_reg"):
        row[col] = last.get(col)
    for col in hist.columns:
        if col.startswith("eng_"):
            row[col[4:]] = last[col]
    if srsupm:
        row["engaged"] = is_engaged(last)
        row["pmsim_below_chance"] = (last["eng_pmsim_chance"] - last["loss_pmsim"]
                                     if "eng_pmsim_chance" in last and "loss_pmsim" in last else None)
    row["seconds_per_epoch"] = res["timings"]["seconds_per_epoch"]
    row["settings"] = "backbone alone" if not srsupm else ", ".join(
        f"{k}={options.get(k)}" for k in SETTINGS.get(name, {}) if options.get(k) != PAPER_READINGS.get(k, True)) \
        or "paper-literal"
    return row


def screening_table(runs: str | Path, dataset: str | None = None) -> pd.DataFrame:
    """Every finished screening run below ``runs``, ranked by validation Recall@10 (no test metric is read)."""
    root = Path(runs)
    folders = sorted(p.parent for p in root.glob("*/*/seed*/results.json"))
    rows = [r for r in (_row(f) for f in folders) if r is not None and (dataset is None or r["dataset"] == dataset)]
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows).sort_values(["dataset", "valid_recall@10"], ascending=[True, False])
    return table.reset_index(drop=True)


def choose(table: pd.DataFrame) -> str | None:
    """The engaged setting with the best validation Recall@10, if it beats ``paper`` on validation; else None."""
    srsupm = table[table["setting"] != "backbone"]
    engaged = srsupm[srsupm["engaged"].fillna(False).astype(bool)]
    if engaged.empty:
        return None
    best = engaged.sort_values("valid_recall@10", ascending=False).iloc[0]
    paper = srsupm[srsupm["setting"] == "paper"]
    if len(paper) and best["valid_recall@10"] <= paper["valid_recall@10"].max():
        return None
    return str(best["setting"])


def write_report(runs: str | Path, report_dir: str | Path, dataset: str) -> Path:
    """``screening_<dataset>.csv`` and ``.md`` in ``report_dir`` from the run folders; returns the CSV path."""
    from ...atomic import atomic_write
    table = screening_table(runs, dataset)
    if table.empty:
        raise FileNotFoundError(f"screening: no finished {dataset} screening run below {runs}")
    report_dir = Path(report_dir)
    csv = report_dir / f"screening_{dataset}.csv"
    atomic_write(csv, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))
    choice = choose(table)
    cols = ["setting", "valid_recall@10", "best_epoch", "epochs", "alpha_info_share", "alpha_own", "beta_entropy",
            "branch_cosine", "loss_pmsim", "pmsim_chance", "grad_rec", "grad_pmsid", "grad_pmsim", "grad_reg",
            "engaged", "seconds_per_epoch", "settings"]
    shown = table[[c for c in cols if c in table.columns]]
    lines = [f"# Screening on {dataset} (validation only)", "",
             f"Ranked by best validation Recall@10; engagement from the last epoch. Engaged = α level information "
             f"≥ {ENGAGED['alpha_info_share']:.0%} of the level entropy and L_PMSIM ≥ "
             f"{ENGAGED['pmsim_below_chance']} nats below log B. Regenerate: "
             f"`python -m srsupm_lab screen --dataset {dataset} --report-only --runs {runs}`.", "",
             shown.to_markdown(index=False, floatfmt=".4f"), "",
             f"Chosen: **{choice}**" if choice else
             "Chosen: none (no engaged setting beats the paper-literal one on validation): defaults stay literal."]
    atomic_write(report_dir / f"screening_{dataset}.md",
                 lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8"))
    return csv

