"""The paired comparisons of the reports: which run is compared with which, on the same test users
(method.md §10; the bootstrap itself is :mod:`srsupm_lab.analysis.significance`).

Every report here pairs runs of :func:`.collect`'s frame by (dataset, backbone, seed), hands each
pair's per-user test ranks to :func:`srsupm_lab.analysis.significance.compare_runs`, and adds a row pooled
over the seeds of every key that has several (:func:`compare_pairs`). A pair whose ranks are gone
(run folders kept without ``test_ranks.csv`` and checkpoint) keeps its rows of the last report
(``previous``) when those still match the runs' stored metrics.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..experiment import can_measure
from ..run_folder import RANKS_FILE
from ..methods.srsupm.frame import ablated, full_srsupm, is_default, paper_model
from ..methods.srsupm.grids import DEFAULT_K, SWITCHES

__all__ = ["POOLED_NOTE", "compare_pairs", "significance_report", "ablation_significance_report",
           "ablation_backbone_significance_report", "departure_significance_report", "sweep_significance_report",
           "setting_name"]

POOLED_NOTE = ("A seed written `1+2+3` pools those seeds: each test user's metric is averaged over the "
               "model's runs, then the users are resampled; the interval reflects the test users, with each "
               "model's training noise averaged over its seeds.")


def _compare(df: pd.DataFrame, runs_dir, runs_a: Sequence[str], runs_b: Sequence[str],
             previous: pd.DataFrame | None, key: dict, n_boot: int, device) -> pd.DataFrame | None:
    """:func:`significance.compare_runs` of two models' runs (one per seed, several when pooled), or,
    when their ranks are gone, the rows of ``previous`` (the last report) for ``key`` provided their
    means are still the runs' stored metrics (averaged over the seeds); None when neither is possible."""
    from ..analysis.significance import compare_runs
    if all(can_measure(Path(runs_dir) / run, RANKS_FILE) for run in (*runs_a, *runs_b)):
        t = compare_runs([Path(runs_dir) / r for r in runs_a], [Path(runs_dir) / r for r in runs_b],
                         device=device, n_boot=n_boot)
        for col, value in reversed(key.items()):
            t.insert(0, col, value)
        return t
    if previous is None or previous.empty or not set(key) <= set(previous.columns):
        return None
    rows = previous.loc[np.logical_and.reduce([previous[c].astype(str) == str(v) for c, v in key.items()])]
    metrics = df.set_index("run")
    same = len(rows) > 0 and all(
        math.isclose(float(r["a"]), float(metrics.loc[list(runs_a), r["metric"]].mean()), abs_tol=1e-6)
        and math.isclose(float(r["b"]), float(metrics.loc[list(runs_b), r["metric"]].mean()), abs_tol=1e-6)
        for _, r in rows.iterrows())
    return rows.reset_index(drop=True) if same else None


def compare_pairs(df: pd.DataFrame, runs_dir, pairs: list[tuple[dict, str, str]], previous, n_boot: int,
                  device="cpu") -> pd.DataFrame:
    """Rows of :func:`_compare` for each pair ``(key, run_a, run_b)`` (``key`` ends with its ``seed``)
    and, after the seeds of a key that has several, one pooled over them: seed ``"1+2+3"``, each
    user's metric averaged over the model's seeds (:func:`srsupm_lab.analysis.significance.paired_bootstrap`).
    When some seeds' ranks are gone and the last report has no pooled row for them all, the pooled
    row covers the seeds whose ranks are there (``"2+3"``), if several."""
    groups: dict[tuple, list[tuple[dict, str, str]]] = {}
    for key, a, b in pairs:
        groups.setdefault(tuple((c, str(v)) for c, v in key.items() if c != "seed"), []).append((key, a, b))
    parts = []
    for members in groups.values():
        done = []
        for key, a, b in sorted(members, key=lambda m: m[0]["seed"]):
            t = _compare(df, runs_dir, [a], [b], previous, key, n_boot, device)
            if t is not None:
                parts.append(t)
                done.append((key, a, b))
        # pooled over every seed shown (by ranks, or the last report's row); else over the seeds
        # whose ranks are still there, when those are several (older runs kept without ranks)
        measured = [m for m in done if all(can_measure(Path(runs_dir) / r, RANKS_FILE) for r in m[1:])]
        for seeds in (done, measured):                 # the second is tried only when the first fails
            if len(seeds) < 2:
                continue
            pooled = {**seeds[0][0], "seed": "+".join(str(k["seed"]) for k, _, _ in seeds)}
            t = _compare(df, runs_dir, [a for _, a, _ in seeds], [b for _, _, b in seeds], previous, pooled,
                         n_boot, device)
            if t is not None:
                parts.append(t)
                break
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    out["seed"] = out["seed"].astype(str)                    # seeds, and "1+2" for the pooled rows
    return out


def significance_report(df: pd.DataFrame, runs_dir, n_boot: int = 2000, device="cpu",
                        previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """+SRSUPM against its backbone alone, paired by (dataset, backbone, seed), on the same test users.

    Default-setting runs only; both runs' per-user test ranks (``test_ranks.csv``, else re-scored
    from the best checkpoints) go to :func:`srsupm_lab.analysis.significance.compare_runs`. One row per
    (dataset, backbone, seed, metric) with the gain, its paired-bootstrap 95 % interval and
    p-value. A pair whose ranks are gone keeps its rows of ``previous`` (the last
    ``significance.csv``) when those still match the runs' metrics, and is left out otherwise.
    """
    sub = df[is_default(df)] if len(df) else df
    pairs = []
    for (ds, bb, seed), g in sub.groupby(["dataset", "backbone", "seed"], sort=True):
        if set(g["srsupm"]) != {False, True}:
            continue
        a, b = g.loc[~g["srsupm"], "run"].iloc[0], g.loc[g["srsupm"], "run"].iloc[0]
        pairs.append(({"dataset": ds, "backbone": bb, "seed": seed}, a, b))
    return compare_pairs(df, runs_dir, pairs, previous, n_boot, device)


def _reference_runs(df: pd.DataFrame, reference: str) -> pd.Series:
    """Run name per (dataset, backbone, seed) of a reference model with K = 5 and no label noise:
    ``"full"`` (the full SRSUPM) or ``"backbone"`` (the backbone alone)."""
    plain = (df["K"] == DEFAULT_K) & (df["noise_p"] == 0)
    srsupm = df["srsupm"].astype(bool)
    mask = {"full": plain & srsupm & is_default(df), "backbone": plain & ~srsupm}[reference]
    return df[mask].set_index(["dataset", "backbone", "seed"])["run"]


def _ablation_pairs(df: pd.DataFrame, reference: str) -> list[tuple[dict, str, str]]:
    """``(key, run_a, run_b)`` for each ablation run (K = 5, no label noise, some switch off) and the
    ``reference`` run of its (dataset, backbone, seed): ``"full"`` (A = the ablation, B = the full
    SRSUPM) or ``"backbone"`` (A = the backbone alone, B = the ablation)."""
    refs = _reference_runs(df, reference)
    runs = df[ablated(df) & (df["K"] == DEFAULT_K) & (df["noise_p"] == 0)]
    pairs = []
    for _, r in runs.sort_values(["dataset", "backbone", "run"]).iterrows():
        key = (r["dataset"], r["backbone"], r["seed"])
        if key not in refs.index:
            continue
        name = "w/o " + "+".join(sw for sw in SWITCHES if not r[sw])
        a_b = (r["run"], refs.loc[key]) if reference == "full" else (refs.loc[key], r["run"])
        pairs.append(({"dataset": key[0], "backbone": key[1], "variant": name, "seed": key[2]}, *a_b))
    return pairs


def ablation_significance_report(df: pd.DataFrame, runs_dir, n_boot: int = 2000, device="cpu",
                                 previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each ablation against the full SRSUPM, paired by (dataset, backbone, seed), on the same test users.

    Ablation runs are +SRSUPM runs with K = 5, no label noise and some switch off (Table 3's rows and
    the control; any backbone). A is the ablation, B the full model, so a positive gain is what the
    switched-off part adds (:func:`srsupm_lab.analysis.significance.compare_runs`). One row per (dataset,
    backbone, variant, seed, metric); the variant is ``"w/o " + the switches off`` (e.g.
    ``w/o pmsid+pmsim``). ``previous`` as in :func:`significance_report`.
    """
    if not len(df):
        return pd.DataFrame()
    return compare_pairs(df, runs_dir, _ablation_pairs(df, "full"), previous, n_boot, device)


def ablation_backbone_significance_report(df: pd.DataFrame, runs_dir, n_boot: int = 2000, device="cpu",
                                          previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each ablation (B) against the backbone alone (A) of its (dataset, backbone, seed): does the
    reduced model still beat the backbone? For the control (``w/o pmsid+pmsim+pmi``) this asks
    whether the added SIC layers alone carry the gain. Rows and ``previous`` as in
    :func:`ablation_significance_report`; a positive gain is the ablated model's over the backbone.
    """
    if not len(df):
        return pd.DataFrame()
    return compare_pairs(df, runs_dir, _ablation_pairs(df, "backbone"), previous, n_boot, device)


def departure_significance_report(df: pd.DataFrame, runs_dir, n_boot: int = 2000, device="cpu",
                                  previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each run of a departure (B) against the paper's model (A) with the same dataset, backbone,
    switches, K, label noise and seed, on the same test users (see :func:`.collect.paper_model`).

    One row per (dataset, backbone, departure, seed, metric), and rows pooled over the seeds; the
    departure is named as its runs are (``sasrec+srsupm-temperature-learned``: the model part of the
    run name, which also names any switch off, K or noise). ``previous`` as in :func:`significance_report`.
    """
    if not len(df) or "level_temperature" not in df:
        return pd.DataFrame()
    same = ["dataset", "backbone", *SWITCHES, "K", "noise_p", "seed"]
    paper_runs = df[paper_model(df) & df["srsupm"].astype(bool)].set_index(same)["run"]
    pairs = []
    for _, r in df[~paper_model(df)].sort_values("run").iterrows():
        key = tuple(r[c] for c in same)
        if key not in paper_runs.index:
            continue
        model = Path(r["run"]).parent.name                        # e.g. sasrec+srsupm-temperature-learned
        pairs.append(({"dataset": r["dataset"], "backbone": r["backbone"], "departure": model, "seed": r["seed"]},
                      paper_runs.loc[key], r["run"]))
    return compare_pairs(df, runs_dir, pairs, previous, n_boot, device)


def setting_name(K: int, noise_p: float) -> str:
    """``K=3``, ``p=0.5`` (or both), or ``K=5, p=0`` for the default setting."""
    parts = ([f"K={K}"] if K != DEFAULT_K else []) + ([f"p={noise_p:g}"] if noise_p else [])
    return ", ".join(parts) or f"K={DEFAULT_K}, p=0"


def sweep_significance_report(df: pd.DataFrame, runs_dir, n_boot: int = 2000, device="cpu",
                              previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each run of the Fig. 3 / Table 4 sweeps (B: full +SRSUPM with K ≠ 5 or label noise p > 0)
    against two references of the same dataset, backbone and seed, on the same test users: the
    +SRSUPM run with K = 5 and p = 0 (``against = "K=5, p=0"``: does the setting change anything?)
    and the backbone alone (``against = "backbone alone"``: is the gain still there?).

    One row per (dataset, backbone, setting, against, seed, metric), and rows pooled over seeds
    (:func:`compare_pairs`); ``setting`` reads ``K=3`` or ``p=0.5``. ``previous`` as in
    :func:`significance_report`.
    """
    if not len(df):
        return pd.DataFrame()
    same = ["dataset", "backbone", "seed"]
    full = df[full_srsupm(df)]
    default, alone = _reference_runs(df, "full"), _reference_runs(df, "backbone")
    sweeps = full[(full["K"] != DEFAULT_K) | (full["noise_p"] != 0)]
    pairs = []
    for _, r in sweeps.sort_values(["dataset", "backbone", "noise_p", "K", "seed"]).iterrows():
        key = tuple(r[c] for c in same)
        setting = setting_name(int(r["K"]), float(r["noise_p"]))
        for against, ref in ((setting_name(DEFAULT_K, 0.0), default), ("backbone alone", alone)):
            if key in ref.index:
                pairs.append(({"dataset": key[0], "backbone": key[1], "setting": setting, "against": against,
                               "seed": key[2]}, ref.loc[key], r["run"]))
    return compare_pairs(df, runs_dir, pairs, previous, n_boot, device)
