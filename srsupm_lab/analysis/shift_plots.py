"""The plots of the model analyses: Figs. 6, 7 and 8 and the branch-collapse diagnostic (matplotlib; paper §5.5–5.7).

Each takes what :mod:`srsupm_lab.analysis.shift` (or :mod:`srsupm_lab.analysis.branches`) measured and an
optional ``ax``; without one it draws on a new figure (no pyplot state). It returns the axes it
drew on, so a notebook can add to them and a test can read back what was drawn.

=============================  ====================================================================
:func:`plot_alpha_heatmap`      mean α per PMSA level, the K×K matrix of Fig. 6
:func:`plot_view_distances`     densities of the view distances, same level vs. other level (Fig. 8)
:func:`plot_level_gain`         a metric per PMSA level for two models, the gain above (Fig. 7)
:func:`plot_branch_similarity`  mean cosine between the K branches (collapse without PMSID)
=============================  ====================================================================
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from . import shift as analysis
from .shift import SAME_LEVEL, TARGET_ONLY

__all__ = ["plot_alpha_heatmap", "plot_view_distances", "plot_level_gain", "plot_branch_similarity"]


def _new_axes(ax, figsize=(5.5, 4)):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure                  # no pyplot state

    return Figure(figsize=figsize, layout="constrained").add_subplot()


def plot_alpha_heatmap(matrix, ax=None, counts=None, annotate: bool = True, title: str | None = None,
                       cmap: str = "Blues", vmax: float | None = None):
    """Heatmap of the mean shift distribution per PMSA level (paper Fig. 6; method.md §5).

    ``matrix`` is the K×K output of :func:`analysis.mean_shift_matrix` or :func:`analysis.mean_shift_distribution`
    (rows = PMSA level of the window, columns = branch). A diagonal that stands out means each
    branch has specialised in its own level. Cells are annotated with their value; row labels
    give the windows per level when ``counts`` are known. Returns the Axes (the image is
    ``ax.images[0]``). ``vmax`` fixes the top of the colour scale (default: the matrix's
    maximum); pass one value to several heatmaps to compare them by colour.
    """
    m = np.asarray(matrix.values if isinstance(matrix, pd.DataFrame) else matrix, dtype=np.float64)
    if counts is None and isinstance(matrix, pd.DataFrame):
        counts = matrix.attrs.get("windows")
    K = m.shape[0]
    ax = _new_axes(ax)
    top = float(vmax) if vmax is not None else (max(float(np.nanmax(m)), 1e-9) if np.isfinite(m).any() else 1.0)
    im = ax.imshow(np.ma.masked_invalid(m), cmap=cmap, vmin=0.0, vmax=top)
    if annotate:
        for l in range(K):
            for k in range(K):
                if np.isfinite(m[l, k]):
                    ax.text(k, l, f"{m[l, k]:.2f}", ha="center", va="center", fontsize=8,
                            color="white" if m[l, k] > 0.6 * top else "black")
    ax.set_xticks(range(K), [str(k) for k in range(K)])
    rows = [f"{l}" + (f" (n={int(counts[l])})" if counts is not None else "") for l in range(K)]
    ax.set_yticks(range(K), rows)
    ax.set_xlabel("branch k (shift representation ẑ_k)")
    ax.set_ylabel("PMSA level of the window")
    ax.set_title(title or "Mean shift distribution α per level (Fig. 6)")
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="mean α")
    return ax


def plot_view_distances(distances: Mapping, ax=None, title: str | None = None, points: int = 200,
                        kind: str = "kde", bins: int = 40):
    """Densities of the L2 distances between basic views (paper Fig. 8; method.md §7).

    ``distances`` is the dict of :func:`analysis.pair_distances` / :func:`analysis.view_distances`: one curve for the
    pairs sharing target and level (one PMSIM group) and one for the pairs sharing the target only.
    It may also be a summary whose two sets are equally weighted quantiles of the distances, with
    the true counts in ``distances["pairs"]`` and the exact ``distances["separation"]``
    (:func:`srsupm_lab.reproduce.figures.fig8_table`): the KDE bandwidth then follows Scott's rule for the
    true count. ``kind="kde"`` draws a Gaussian KDE (:func:`analysis.gaussian_kde`), ``"hist"`` a density
    histogram. The legend gives the pair counts and the title the separation (:func:`analysis.separation`).
    Returns the Axes (one line, or one bar container, per set, labelled).
    """
    if kind not in ("kde", "hist"):
        raise ValueError(f"kind must be 'kde' or 'hist', got {kind!r}")
    ax = _new_axes(ax, figsize=(5.5, 3.5))
    sets = {name: np.asarray(distances[name], dtype=np.float64) for name in (SAME_LEVEL, TARGET_ONLY)}
    allv = np.concatenate(list(sets.values()))
    if allv.size == 0:
        raise ValueError("no pair to draw (no two windows share a target)")
    lo, hi = float(allv.min()), float(allv.max())
    pad = 0.05 * (hi - lo if hi > lo else 1.0)
    grid = np.linspace(max(lo - pad, 0.0), hi + pad, points)
    counts = distances.get("pairs", {})
    for (name, v), color in zip(sets.items(), ("#d62728", "#1f77b4")):
        n = int(counts.get(name, v.size))
        label = f"{name} ({n:,} pairs)"
        if v.size == 0:
            continue
        if kind == "kde":
            density = analysis.gaussian_kde(v, grid, n=n)                    # Scott's rule for the true pair count
            ax.plot(grid, density, color=color, label=label)
            ax.fill_between(grid, density, color=color, alpha=0.15)
        else:
            ax.hist(v, bins=bins, range=(grid[0], grid[-1]), density=True, color=color, alpha=0.45, label=label)
    ax.set_xlabel("L2 distance between basic views g = Σ_k ẑ_k")
    ax.set_ylabel("density")
    sep = distances["separation"] if "separation" in distances else analysis.separation(distances)
    ax.set_title(title or f"View distances (Fig. 8); separation {sep:.2f}")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_level_gain(table: pd.DataFrame, metric: str = "recall@10", ax=None, title: str | None = None):
    """Per-level bars of the two models of a :func:`analysis.level_gain_table`, the relative gain written above (Fig. 7).

    Returns the Axes: two bar containers (labelled with the two model names) over the levels,
    the "all" row as a separate group at the left.
    """
    t = table[table["metric"] == metric]
    if t.empty:
        raise ValueError(f"no row for metric {metric!r} (metrics: {sorted(set(table['metric']))})")
    a_name, b_name = table.columns[3], table.columns[4]
    ax = _new_axes(ax, figsize=(6.5, 3.6))
    x = np.arange(len(t))
    w = 0.4
    ax.bar(x - w / 2, t[a_name].to_numpy(float), width=w, color="#9e9e9e", label=a_name)
    bars = ax.bar(x + w / 2, t[b_name].to_numpy(float), width=w, color="#1f77b4", label=b_name)
    for rect, gain in zip(bars, t["relative_gain"].to_numpy(float)):
        if np.isfinite(gain):
            ax.annotate(f"{gain:+.0%}", (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                        ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(x, [("all" if lvl == "all" else f"level {lvl}") + f"\n{int(u)} users"
                      for lvl, u in zip(t["level"], t["users"])])
    ax.set_ylabel(metric)
    ax.set_title(title or f"{metric} per PMSA level, relative gain above (Fig. 7)")
    ax.legend(frameon=False)
    return ax


def plot_branch_similarity(similarity, ax=None, title: str | None = None):
    """Heatmap of the mean cosine between branches (:func:`diagnostics.branch_similarity`; collapse without PMSID)."""
    s = np.asarray(similarity, dtype=np.float64)
    K = s.shape[0]
    ax = _new_axes(ax, figsize=(4.5, 3.8))
    im = ax.imshow(s, cmap="magma", vmin=min(0.0, float(s.min())), vmax=1.0)
    for k in range(K):
        for m in range(K):
            ax.text(m, k, f"{s[k, m]:.2f}", ha="center", va="center", fontsize=8,
                    color="black" if s[k, m] > 0.6 else "white")
    ax.set_xticks(range(K), [str(k) for k in range(K)])
    ax.set_yticks(range(K), [str(k) for k in range(K)])
    ax.set_xlabel("branch")
    ax.set_ylabel("branch")
    ax.set_title(title or "Mean cosine between branches ẑ_k")
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax
