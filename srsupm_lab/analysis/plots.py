"""The figures the notebooks share (matplotlib; paper §4.1, §5 and Figs. 3, 7; method.md §1, §10).

Every function takes data (arrays, DataFrames) and an optional ``ax``; without one it makes its
own figure. It returns the axes it drew on, so a notebook can add to them and a test can read
back what was drawn (bar heights, line data). Nothing here computes a model output: PMSD and
levels come from :mod:`srsupm_lab.pmsa`, histories and level tables from the trainer.

=========================  ====================================================================
:func:`pmsd_histogram`      PMSD distribution, the masses at exactly 0 and 1 drawn apart (Eq. 2)
:func:`level_map`           which PMSD range lands in which level, for several K (Eq. 3)
:func:`level_shares`        share of windows per shift level, one or several series (Eq. 3)
:func:`noise_effect_table`  level shares and mean PMSD for each label-noise p (paper §5.6.2)
:func:`noise_effect`        that table as a figure (shares or mean PMSD against p)
:func:`learning_curves`     losses and validation metrics per epoch (trainer history)
:func:`level_metric_bars`   a metric per PMSA level, one or two models side by side (Fig. 7)
=========================  ====================================================================

Colours follow the levels: level 0 (no shift) to level K−1 (complete shift) run along one
sequential colour map, so the same level has the same colour in every figure of a notebook.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import pmsa

__all__ = ["pmsd_histogram", "level_map", "level_shares", "noise_effect_table", "noise_effect",
           "learning_curves", "level_metric_bars", "level_colors"]

_SERIES_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


# ----------------------------------------------------------------------------- helpers
def _new_axes(ax, figsize=(6, 3.5)):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure          # no pyplot state: nothing is shown twice in a notebook

    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def _as_series(data, default_name: str) -> dict[str, np.ndarray]:
    """An array or a mapping name -> array, as an ordered dict of float/int numpy arrays."""
    if isinstance(data, Mapping):
        out = {str(k): np.asarray(v.cpu() if hasattr(v, "cpu") else v) for k, v in data.items()}
    else:
        out = {default_name: np.asarray(data.cpu() if hasattr(data, "cpu") else data)}
    if not out:
        raise ValueError("nothing to plot: an empty mapping")
    for name, v in out.items():
        if v.ndim != 1:
            raise ValueError(f"{name}: expected a 1-d array, got shape {v.shape}")
    return out


def level_colors(K: int):
    """``K`` colours, level 0 (no shift) light to level K−1 (complete shift) dark."""
    from matplotlib import colormaps

    cmap = colormaps["viridis_r"]
    return [cmap(0.1 + 0.8 * k / max(K - 1, 1)) for k in range(K)]


def _level_names(K: int) -> list[str]:
    names = [str(k) for k in range(K)]
    names[0] += "\nno shift"
    names[-1] += "\ncomplete"
    return names


# ----------------------------------------------------------------------------- PMSD
def pmsd_histogram(pmsd, bins: int = 10, ax=None, K: int | None = None, title: str | None = None):
    """Histogram of PMSD values (Eq. 2; paper §4.1), the exact 0 and exact 1 masses apart.

    PMSD = 0 ("no shift") and PMSD = 1 ("complete shift") are levels of their own in Eq. 3, so
    they are drawn as separate bars left of 0 and right of 1, and the open interval (0, 1) as
    ``bins`` even bins. Heights are **shares of all windows** of a series (bars of one series
    sum to 1), so series of different sizes compare.

    Parameters
    ----------
    pmsd : array [M], or a mapping name -> array for several series side by side.
    bins : number of even bins over (0, 1).
    K : if given, dashed lines mark the even level boundaries ``j/(K−2)`` (Eq. 3).

    Returns
    -------
    Axes. Each series adds three bar containers labelled ``"<name>: PMSD = 0"``,
    ``"<name>: 0 < PMSD < 1"`` and ``"<name>: PMSD = 1"``.
    """
    series = _as_series(pmsd, "windows")
    if not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    ax = _new_axes(ax)
    width = 1.0 / bins
    edges = np.linspace(0.0, 1.0, bins + 1)
    gap = max(0.6 * width, 0.08)                       # space between the (0, 1) bins and the end bars
    n = len(series)
    for j, (name, v) in enumerate(series.items()):
        v = v.astype(np.float64)
        if v.size == 0:
            raise ValueError(f"{name}: no PMSD value to plot")
        if np.any((v < 0) | (v > 1)) or np.any(np.isnan(v)):
            raise ValueError(f"{name}: PMSD values must lie in [0, 1]")
        m = v.size
        zero, one = np.count_nonzero(v == 0) / m, np.count_nonzero(v == 1) / m
        counts, _ = np.histogram(v[(v > 0) & (v < 1)], bins=edges)
        color = _SERIES_COLORS[j % len(_SERIES_COLORS)]
        w = width / n
        shift = (j - (n - 1) / 2) * w
        ax.bar([-gap - width / 2 + shift], [zero], width=w, color=color, hatch="//", edgecolor="black",
               linewidth=0.5, label=f"{name}: PMSD = 0")
        ax.bar(edges[:-1] + width / 2 + shift, counts / m, width=w, color=color, alpha=0.8,
               label=f"{name}: 0 < PMSD < 1")
        ax.bar([1 + gap + width / 2 + shift], [one], width=w, color=color, hatch="\\\\", edgecolor="black",
               linewidth=0.5, label=f"{name}: PMSD = 1")
    if K is not None:
        for e in pmsa.level_edges(K):
            ax.axvline(e, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xticks([-gap - width / 2, 0, 0.25, 0.5, 0.75, 1, 1 + gap + width / 2],
                  ["=0", "0", ".25", ".5", ".75", "1", "=1"])
    ax.set_xlim(-2 * gap - width, 1 + 2 * gap + width)
    ax.set_xlabel("PMSD (Eq. 2); '=0' and '=1' are the exact masses")
    ax.set_ylabel("share of windows")
    if n > 1:
        handles = [c for c in ax.containers if c.get_label().endswith("0 < PMSD < 1")]
        ax.legend(handles, [h.get_label().split(": ")[0] for h in handles], frameon=False)
    ax.set_title(title or "PMSD distribution")
    return ax


def level_map(Ks: Sequence[int] = (3, 4, 5, 6, 7), ax=None, bins="even", pmsd_values=None):
    """Which PMSD values fall in which level (Eq. 3), one row per K.

    Each row shows level 0 as a point at PMSD = 0, level K−1 as a point at PMSD = 1 and the
    levels 1..K−2 as the segments of (0, 1) between the cut points of
    :func:`srsupm_lab.pmsa.level_edges` (even bins by default; ``bins="quantile"`` with
    ``pmsd_values`` shows the data-driven cut points of the extension).

    Returns the Axes; row ``K`` holds one ``broken_barh`` collection labelled ``"K=<K>"`` with
    K−2 segments.
    """
    Ks = [int(k) for k in Ks]
    ax = _new_axes(ax, figsize=(7, 0.5 + 0.55 * len(Ks)))
    for row, K in enumerate(Ks):
        cuts = np.concatenate([[0.0], pmsa.level_edges(K, bins, pmsd_values), [1.0]])
        colors = level_colors(K)
        ax.broken_barh([(a, b - a) for a, b in zip(cuts[:-1], cuts[1:])], (row - 0.35, 0.7),
                       facecolors=colors[1:-1], edgecolor="white", label=f"K={K}")
        for lvl, (a, b) in enumerate(zip(cuts[:-1], cuts[1:]), start=1):
            ax.text((a + b) / 2, row, str(lvl), ha="center", va="center", fontsize=8,
                    color="white" if lvl > (K - 1) / 2 else "black")
        ax.scatter([0.0, 1.0], [row, row], s=140, c=[colors[0], colors[-1]], edgecolors="black", zorder=3)
        ax.text(-0.035, row, "0", ha="right", va="center", fontsize=8)
        ax.text(1.035, row, str(K - 1), ha="left", va="center", fontsize=8)
    ax.set_yticks(range(len(Ks)), [f"K={K}" for K in Ks])
    ax.set_xlim(-0.1, 1.1)
    ax.set_ylim(-0.6, len(Ks) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel("PMSD: the point 0 is level 0, the point 1 level K−1, (0, 1) splits into K−2 levels")
    ax.set_title(f"Shift levels of Eq. 3 ({bins if isinstance(bins, str) else 'explicit'} bins)")
    return ax


def level_shares(levels, K: int, ax=None, title: str | None = None):
    """Share of windows at each shift level ``0..K−1`` (Eq. 3; paper §4.1).

    ``levels`` is an int array [M] or a mapping name -> array (e.g. ``{"even": ..., "quantile":
    ...}``) drawn as grouped bars. Returns the Axes; each series is one bar container labelled
    with its name whose heights are ``bincount(levels, minlength=K) / M``.
    """
    series = _as_series(levels, "windows")
    K = int(K)
    ax = _new_axes(ax)
    n = len(series)
    w = 0.8 / n
    x = np.arange(K)
    for j, (name, v) in enumerate(series.items()):
        v = v.astype(np.int64)
        if v.size == 0:
            raise ValueError(f"{name}: no level to plot")
        if v.min() < 0 or v.max() >= K:
            raise ValueError(f"{name}: levels must lie in 0..{K - 1}")
        shares = np.bincount(v, minlength=K) / v.size
        kw = {"color": level_colors(K)} if n == 1 else {"color": _SERIES_COLORS[j % len(_SERIES_COLORS)]}
        bars = ax.bar(x + (j - (n - 1) / 2) * w, shares, width=w, label=name, **kw)
        ax.bar_label(bars, labels=[f"{s:.2f}" for s in shares], fontsize=7, padding=1)
    ax.set_xticks(x, _level_names(K))
    ax.set_xlabel("shift level (Eq. 3)")
    ax.set_ylabel("share of windows")
    ax.set_ylim(0, 1.08 * max(ax.get_ylim()[1], 0.05))
    if n > 1:
        ax.legend(frameon=False)
    ax.set_title(title or f"Level shares, K={K}")
    return ax


# ----------------------------------------------------------------------------- label noise
def noise_effect_table(pmsd_by_p: Mapping[float, np.ndarray], K: int, bins="even") -> pd.DataFrame:
    """Mean PMSD and level shares for each label-noise probability (paper §5.6.2, Table 4's axis).

    ``pmsd_by_p`` maps ``p`` to the PMSD of the same windows computed with labels after
    :func:`srsupm_lab.pmsa.drop_labels` at that ``p``. Returns one row per ``p`` (sorted) with
    columns ``p``, ``windows``, ``mean_pmsd``, ``pmsd=0``, ``pmsd=1`` and ``level_0`` ..
    ``level_{K−1}`` (shares).
    """
    rows = []
    for p in sorted(pmsd_by_p):
        v = np.asarray(pmsd_by_p[p], dtype=np.float64)
        lv = pmsa.shift_level(v, K, None if (isinstance(bins, str) and bins == "even")
                              else pmsa.level_edges(K, bins, v))
        shares = np.bincount(np.atleast_1d(lv), minlength=K) / v.size
        rows.append({"p": float(p), "windows": int(v.size), "mean_pmsd": float(v.mean()),
                     "pmsd=0": float(np.mean(v == 0)), "pmsd=1": float(np.mean(v == 1)),
                     **{f"level_{k}": float(shares[k]) for k in range(K)}})
    return pd.DataFrame(rows)


def noise_effect(table: pd.DataFrame, kind: str = "levels", ax=None, current_p: float | None = None,
                 title: str | None = None):
    """How label noise moves PMSA (paper §5.6.2): level shares (``kind="levels"``) or mean PMSD
    (``kind="mean"``) against the drop probability ``p``.

    ``table`` is :func:`noise_effect_table`'s output. Dropping labels shrinks both ``C(v)`` and
    ``C_S``; the target keeps at least one label, so windows move between levels rather than
    vanish. ``current_p`` draws a vertical marker. Returns the Axes; with ``kind="levels"`` one
    line per level labelled ``"level k"``, with ``kind="mean"`` one line labelled ``"mean PMSD"``.
    """
    if kind not in ("levels", "mean"):
        raise ValueError(f"kind must be 'levels' or 'mean', got {kind!r}")
    if "p" not in table.columns:
        raise ValueError("table needs a column 'p' (see noise_effect_table)")
    ax = _new_axes(ax)
    p = table["p"].to_numpy(dtype=np.float64)
    if kind == "levels":
        level_cols = [c for c in table.columns if c.startswith("level_")]
        colors = level_colors(len(level_cols))
        for k, col in enumerate(level_cols):
            ax.plot(p, table[col].to_numpy(), marker="o", markersize=3, color=colors[k], label=f"level {k}")
        ax.set_ylabel("share of windows")
        ax.set_ylim(0, 1)
        ax.legend(frameon=False, fontsize=7, ncol=2)
    else:
        ax.plot(p, table["mean_pmsd"].to_numpy(), marker="o", color="black", label="mean PMSD")
        ax.set_ylabel("mean PMSD")
    if current_p is not None:
        ax.axvline(current_p, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("label-noise probability p")
    ax.set_title(title or ("Level shares under label noise" if kind == "levels" else "Mean PMSD under label noise"))
    return ax


# ----------------------------------------------------------------------------- training
def learning_curves(history: pd.DataFrame, ax=None, metric: str = "valid_recall@10"):
    """Losses and validation metrics per epoch from a trainer history (method.md §10–§11).

    ``history`` has a column ``epoch``, loss columns ``loss*`` (``loss``, ``loss_rec``,
    ``loss_pmsid``, ...) and metric columns ``valid_*``. The losses go on the first axes, the
    validation metrics on the second; the best epoch by ``metric`` (early stopping's criterion,
    paper §5.1) is marked on both.

    ``ax``: None (a new figure with two panels), a pair of Axes, or one Axes (metrics then go on
    a twin y-axis). Returns the two Axes ``(loss_ax, metric_ax)``; every column is one line
    labelled with its column name.
    """
    if "epoch" not in history.columns:
        raise ValueError("history needs a column 'epoch'")
    loss_cols = [c for c in history.columns if c.startswith("loss")]
    metric_cols = [c for c in history.columns if c.startswith("valid_")]
    if not loss_cols and not metric_cols:
        raise ValueError("history has no 'loss*' and no 'valid_*' column to plot")
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10, 3.5), layout="constrained")
        loss_ax, metric_ax = fig.subplots(1, 2)
    elif isinstance(ax, (tuple, list, np.ndarray)):
        loss_ax, metric_ax = ax
    else:
        loss_ax, metric_ax = ax, ax.twinx()
    epoch = history["epoch"].to_numpy()
    for col in loss_cols:
        loss_ax.plot(epoch, history[col].to_numpy(), marker=".", label=col,
                     linewidth=2.0 if col == "loss" else 1.0)
    for col in metric_cols:
        metric_ax.plot(epoch, history[col].to_numpy(), marker=".", label=col, linestyle="--" if "ndcg" in col else "-")
    if metric in history.columns and history[metric].notna().any():
        best = epoch[int(np.nanargmax(history[metric].to_numpy()))]
        for a in (loss_ax, metric_ax):
            a.axvline(best, color="grey", linestyle=":", linewidth=1)
        metric_ax.set_title(f"Validation (best {metric} at epoch {best})")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss")
    metric_ax.set_xlabel("epoch")
    metric_ax.set_ylabel("validation metric")
    if loss_cols:
        loss_ax.legend(frameon=False, fontsize=7)
        loss_ax.set_title(loss_ax.get_title() or "Training losses")
    if metric_cols:
        metric_ax.legend(frameon=False, fontsize=7, loc="lower right")
    return loss_ax, metric_ax


def level_metric_bars(tables, metric: str = "recall@10", ax=None, title: str | None = None):
    """A metric per PMSA level of the evaluated windows (paper Fig. 7; method.md §10).

    ``tables`` is one evaluation table or a mapping model name -> table (e.g. ``{"SASRec": ...,
    "SASRec+SRSUPM": ...}``), each with columns ``level`` (``"all"`` and level ids), ``users``
    and the metrics, as :func:`srsupm_lab.evaluate.evaluate` returns and ``test_levels.csv``
    stores. Bars are drawn per level for every model side by side; the ``"all"`` row is a dashed
    horizontal line in the model's colour. Tick labels give the users per level (from the first
    table). Returns the Axes; each model is one bar container labelled with its name.
    """
    if isinstance(tables, pd.DataFrame):
        tables = {"model": tables}
    if not tables:
        raise ValueError("no table to plot")
    prepared = {}
    for name, t in tables.items():
        for col in ("level", metric):
            if col not in t.columns:
                raise ValueError(f"{name}: the table has no column {col!r} (columns: {list(t.columns)})")
        lv = t[t["level"].astype(str) != "all"]
        prepared[name] = (dict(zip(lv["level"].astype(int), lv[metric].astype(float))),
                          dict(zip(lv["level"].astype(int), lv["users"].astype(int))) if "users" in t else {},
                          t.loc[t["level"].astype(str) == "all", metric].astype(float).tolist())
    levels = sorted(set().union(*(set(v[0]) for v in prepared.values())))
    ax = _new_axes(ax)
    n = len(prepared)
    w = 0.8 / n
    x = np.arange(len(levels))
    for j, (name, (values, _, overall)) in enumerate(prepared.items()):
        color = _SERIES_COLORS[j % len(_SERIES_COLORS)]
        heights = [values.get(lvl, np.nan) for lvl in levels]
        ax.bar(x + (j - (n - 1) / 2) * w, heights, width=w, color=color, label=name)
        if overall:
            ax.axhline(overall[0], color=color, linestyle="--", linewidth=1)
    users = next(iter(prepared.values()))[1]
    ax.set_xticks(x, [f"level {lvl}" + (f"\n{users[lvl]} users" if lvl in users else "") for lvl in levels])
    ax.set_ylabel(metric)
    ax.set_xlabel("PMSA level of the evaluated window (dashed: all users)")
    if n > 1 or next(iter(prepared)) != "model":
        ax.legend(frameon=False)
    ax.set_title(title or f"{metric} per shift level (paper Fig. 7)")
    return ax
