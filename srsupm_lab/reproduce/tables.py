"""Tables 1, 3 and 4 and Fig. 3 from the collected runs, beside the paper's values (paper §5.2–5.4, §5.6).

Each report takes :func:`.collect`'s frame of the paper's model (see :func:`.collect.paper_model`)
and returns a tidy table: mean, sample sd (ddof 1) and number of seeds per cell, and the paper's
value where the paper has one (its Tables 3 and 4 and Fig. 3 are SASRec's only).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..methods.srsupm import paper
from ..methods.srsupm.frame import ablated, full_srsupm, is_default
from .collect import METRICS, summarise as _summarise
from .report_folder import check_cells
from ..methods.srsupm.grids import ABLATIONS, DEFAULT_K, SWITCHES

__all__ = ["table1_report", "table3_report", "table4_report", "fig3_report", "plot_fig3", "variant"]


def summarise(df: pd.DataFrame, by, metrics=METRICS, what: str = "a table") -> pd.DataFrame:
    """:func:`.collect.summarise` of the runs of each cell, once they are checked to differ in their seed only
    (:func:`.report_folder.check_cells`)."""
    check_cells(df, by, what)
    return _summarise(df, by, metrics)


def _gain(a, b) -> float:
    return (b - a) / a if a is not None and b is not None and np.isfinite(a) and np.isfinite(b) and a != 0 \
        else float("nan")


def table1_report(df: pd.DataFrame) -> pd.DataFrame:
    """Table 1: one row per (dataset, backbone, srsupm, metric): mean, sd, seeds, paper, gain of +SRSUPM."""
    sub = df[is_default(df)]
    if sub.empty:
        return pd.DataFrame()
    s = summarise(sub, ["dataset", "backbone", "srsupm"], what="Table 1")
    rows = []
    for _, r in s.iterrows():
        for m in METRICS:
            rows.append({"dataset": r["dataset"], "backbone": r["backbone"], "srsupm": bool(r["srsupm"]), "metric": m,
                         "mean": r[f"{m}_mean"], "sd": r[f"{m}_sd"], "seeds": int(r["seeds"]),
                         "paper": paper.paper_value(r["dataset"], r["backbone"], bool(r["srsupm"]), m)})
    t = pd.DataFrame(rows)
    base = t[~t["srsupm"]].set_index(["dataset", "backbone", "metric"])
    t["gain"] = [(_gain(base.loc[(d, b, m), "mean"], v) if plug and (d, b, m) in base.index else np.nan)
                 for d, b, m, plug, v in zip(t["dataset"], t["backbone"], t["metric"], t["srsupm"], t["mean"])]
    t["paper_gain"] = [(_gain(paper.paper_value(d, b, False, m), p) if plug else np.nan)
                       for d, b, m, plug, p in zip(t["dataset"], t["backbone"], t["metric"], t["srsupm"], t["paper"])]
    t["paper"] = t["paper"].astype(float)
    return t.sort_values(["dataset", "backbone", "srsupm"], kind="stable").reset_index(drop=True)


def variant(row) -> str | None:
    """Table 3's row of a run: the backbone's name when alone, else the ``ABLATIONS`` row (the
    paper's, or our control) whose switches are off (None for a combination with no row)."""
    if not row["srsupm"]:
        return paper.BACKBONE_NAMES.get(row["backbone"], row["backbone"])
    off = {s for s in SWITCHES if not row[s]}
    for name, switches in ABLATIONS.items():
        if switches is not None and off == {k for k, v in switches.items() if v is False}:
            return name
    return None


def table3_report(df: pd.DataFrame) -> pd.DataFrame:
    """Table 3: ablation variants (K = 5, no noise) per (dataset, backbone) that has at least one
    ablation run: mean, sd, seeds and the paper's R@10 / N@10 (the paper's Table 3 is SASRec's)."""
    sub = df[(df["K"] == DEFAULT_K) & (df["noise_p"] == 0)].copy()
    if sub.empty:
        return pd.DataFrame()
    sub["variant"] = sub.apply(variant, axis=1)
    sub = sub[sub["variant"].notna()]
    # a backbone's Table 3 only when it has an ablation run (otherwise its rows are Table 1's)
    pairs = ["dataset", "backbone"]
    keep = sub.set_index(pairs).index.isin(sub[ablated(sub)].set_index(pairs).index)
    sub = sub[keep]
    if sub.empty:
        return pd.DataFrame()
    s = summarise(sub, ["dataset", "backbone", "variant"], ("recall@10", "ndcg@10"), what="Table 3")
    p3 = paper.table3().set_index(["dataset", "variant", "metric"])["value"]     # SASRec's rows only
    for m in ("recall@10", "ndcg@10"):
        s[f"{m}_paper"] = [p3.get((d, v, m), np.nan) if b == "sasrec" else np.nan
                           for d, b, v in zip(s["dataset"], s["backbone"], s["variant"])]
    order = {v: i for i, v in enumerate(ABLATIONS)}                 # the alone row (not a key) first
    s = s.assign(_o=s["variant"].map(order).fillna(-1)).sort_values(["dataset", "backbone", "_o"]).drop(columns="_o")
    return s.reset_index(drop=True)


def _sweep(df: pd.DataFrame, column: str, other: str, other_default) -> pd.DataFrame:
    """Full +SRSUPM runs with ``other`` at its default, grouped by (dataset, backbone, ``column``), for
    the (dataset, backbone) pairs that have at least two values of ``column``."""
    sub = df[full_srsupm(df) & (df[other] == other_default)]
    if sub.empty:
        return pd.DataFrame()
    values = sub.groupby(["dataset", "backbone"])[column].transform("nunique")
    return sub[values >= 2]


def table4_report(df: pd.DataFrame) -> pd.DataFrame:
    """Table 4: +SRSUPM (switches on, K = 5) per (dataset, backbone, noise level p): R@10 mean, sd,
    seeds and the paper's value (the paper's Table 4 is SASRec's)."""
    sub = _sweep(df, "noise_p", "K", DEFAULT_K)
    if sub.empty:
        return pd.DataFrame()
    s = summarise(sub, ["dataset", "backbone", "noise_p"], ("recall@10",), what="Table 4")
    p4 = paper.table4()
    s["recall@10_paper"] = [next((v for d2, p2, v in zip(p4["dataset"], p4["noise_p"], p4["recall@10"])
                                  if bb == "sasrec" and d2 == d and math.isclose(p2, p)), np.nan)
                            for d, bb, p in zip(s["dataset"], s["backbone"], s["noise_p"])]
    return s.sort_values(["dataset", "backbone", "noise_p"]).reset_index(drop=True)


def fig3_report(df: pd.DataFrame) -> pd.DataFrame:
    """Fig. 3: +SRSUPM (switches on, no noise) per (dataset, backbone, K): mean, sd and seeds of every metric."""
    sub = _sweep(df, "K", "noise_p", 0.0)
    if sub.empty:
        return pd.DataFrame()
    return summarise(sub, ["dataset", "backbone", "K"], what="Fig. 3").sort_values(["dataset", "backbone", "K"]).reset_index(drop=True)


def plot_fig3(table: pd.DataFrame, metric: str = "recall@10"):
    """Mean ± sd of ``metric`` against K, one line per (dataset, backbone) (paper Fig. 3); returns the Figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for (ds, bb), t in table.groupby(["dataset", "backbone"], sort=False):
        label = f"{ds}, {paper.BACKBONE_NAMES.get(bb, bb)}+SRSUPM"
        ax.errorbar(t["K"], t[f"{metric}_mean"], yerr=t[f"{metric}_sd"].fillna(0), marker="o", capsize=3, label=label)
    ax.set(xlabel="K (number of shift levels)", ylabel=metric, title=f"{metric} against K (Fig. 3)")
    ax.set_xticks(sorted(table["K"].unique()))
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig
