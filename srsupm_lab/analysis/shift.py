"""The analyses behind the paper's figures, from a trained SRSUPM model and a set of windows (paper §5.5–5.7).

Everything is batched over windows (no Python loop over windows or pairs): the model is run
through its analysis hooks (:meth:`SRSUPM.shift_distribution`, :meth:`SRSUPM.basic_view`,
:meth:`SRSUPM.shift_representations`; eval mode, no grad) in blocks of ``batch_size`` windows,
and the statistics are tensor reductions over the whole set.

==============================  ===================================================================
:func:`shift_distributions`      α (M, K) of every window towards its own target (Eq. 9; §5)
:func:`mean_shift_matrix`        mean α per PMSA level: the K×K matrix of paper Fig. 6
:func:`mean_shift_distribution`  the same, straight from a model and windows (a DataFrame)
:func:`diagonal_dominance`       how much of each level's α sits on its own branch (Fig. 6 in numbers)
:func:`basic_views`              g = Σ_k ẑ_k (M, d) (Eq. 15; §7)
:func:`pair_distances`           L2 distances between views of windows sharing target and level
                                 vs. sharing the target only (paper Fig. 8)
:func:`view_distances`           the same, straight from a model and windows
:func:`separation`               P(same-level pair closer than target-only pair), Fig. 8 in one number
:func:`gaussian_kde`             a Gaussian kernel density estimate (SciPy; Scott's bandwidth)
:func:`level_gain_table`         two per-level evaluation tables merged, with the relative gain (Fig. 7)
==============================  ===================================================================

Their plots are in :mod:`srsupm_lab.analysis.shift_plots`; branch collapse and how much α knows of the
level in :mod:`srsupm_lab.analysis.branches`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats

from ..methods.srsupm.branch_stats import check_levels

__all__ = ["shift_distributions", "mean_shift_matrix", "mean_shift_distribution", "diagonal_dominance",
           "basic_views", "shift_representations", "pair_distances", "view_distances", "separation",
           "gaussian_kde", "level_gain_table", "check_levels", "SAME_LEVEL", "TARGET_ONLY"]

#: keys of the two distance sets of :func:`pair_distances` (paper Fig. 8's two curves)
SAME_LEVEL = "same target & level"
TARGET_ONLY = "same target only"


# ----------------------------------------------------------------------------- running the model
def _device(model) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _blocks(model, windows, fn, batch_size: int) -> torch.Tensor:
    """Concatenate ``fn(part)`` over blocks of ``batch_size`` windows (on the model's device), on CPU."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    n = len(windows)
    if n == 0:
        raise ValueError("no window to analyse (the Windows are empty)")
    device = _device(model)
    out = [fn(windows.subset(slice(s, s + batch_size)).to(device)).cpu() for s in range(0, n, batch_size)]
    return torch.cat(out)


def _check_srsupm(model) -> None:
    for name in ("shift_distribution", "basic_view", "shift_representations"):
        if not callable(getattr(model, name, None)):
            raise TypeError(f"expected an SRSUPM model (with {name}()); got {type(model).__name__}. "
                            f"A backbone alone has no shift branches to analyse")


def shift_distributions(model, windows, batch_size: int = 1024) -> torch.Tensor:
    """α (M, K) of every window towards its own target (method.md §5, Eq. 9), float32 on CPU."""
    _check_srsupm(model)
    return _blocks(model, windows, lambda w: model.shift_distribution(w.inputs, w.users, w.targets), batch_size)


def shift_representations(model, windows, batch_size: int = 1024) -> torch.Tensor:
    """Ẑ (M, K, d) of every window (method.md §3–§4), on CPU."""
    _check_srsupm(model)
    return _blocks(model, windows, lambda w: model.shift_representations(w.inputs, w.users), batch_size)


def basic_views(model, windows, batch_size: int = 1024) -> torch.Tensor:
    """Basic views g = Σ_k ẑ_k (M, d) (method.md §7, Eq. 15), on CPU."""
    _check_srsupm(model)
    return _blocks(model, windows, lambda w: model.basic_view(w.inputs, w.users), batch_size)


# ----------------------------------------------------------------------------- Fig. 6
def mean_shift_matrix(alpha, levels, K: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean shift distribution per PMSA level (paper Fig. 6; method.md §5).

    Parameters
    ----------
    alpha : (M, K) shift distributions (rows sum to 1), e.g. from :func:`shift_distributions`.
    levels : (M,) the PMSA level of each window (Eq. 3).
    K : number of levels (default ``alpha.shape[1]``).

    Returns
    -------
    (matrix, counts) : float64 (K, K) with ``matrix[l, k]`` = mean of α_k over the windows of
    level ``l`` (a row of NaN where no window has level ``l``), and int64 (K,) window counts.
    One ``index_add_`` over all windows, accumulated in float64.
    """
    a = torch.as_tensor(alpha).detach().cpu().double()
    if a.dim() != 2:
        raise ValueError(f"alpha must be (M, K), got shape {tuple(a.shape)}")
    K = a.shape[1] if K is None else int(K)
    if a.shape[1] != K:
        raise ValueError(f"alpha has {a.shape[1]} branches but K={K}")
    lv = check_levels(levels, a.shape[0], K)
    sums = torch.zeros(K, K, dtype=torch.float64).index_add_(0, lv, a)          # (K, K)
    counts = torch.bincount(lv, minlength=K)                                     # (K,)
    matrix = sums / counts.unsqueeze(1).double()                                  # 0/0 -> NaN rows
    return matrix.numpy(), counts.numpy()


def mean_shift_distribution(model, windows, levels, batch_size: int = 1024) -> pd.DataFrame:
    """The Fig. 6 matrix of ``model`` on ``windows``: rows = PMSA level, columns = branch.

    A DataFrame (index ``level``, columns ``branch`` 0..K−1) of mean α (Eq. 9); the number of
    windows per level is in ``table.attrs["windows"]`` (a list). Levels without windows are NaN rows.
    """
    alpha = shift_distributions(model, windows, batch_size)
    matrix, counts = mean_shift_matrix(alpha, levels, alpha.shape[1])
    K = matrix.shape[0]
    table = pd.DataFrame(matrix, index=pd.Index(range(K), name="level"), columns=pd.Index(range(K), name="branch"))
    table.attrs["windows"] = [int(c) for c in counts]
    return table


def diagonal_dominance(matrix, counts=None) -> dict:
    """Fig. 6 in numbers: how much of each level's mean α sits on its own branch.

    Over the levels that have windows (non-NaN rows of the K×K ``matrix``):

    * ``diagonal`` — mean of α_ll (chance: 1/K, given as ``uniform``);
    * ``diagonal_weighted`` — the same weighted by the windows per level (``counts``), i.e. the
      mean over windows of α at their own level (what L_PMSID maximises, §5);
    * ``off_diagonal`` — mean of α_lk, k ≠ l;
    * ``argmax_on_diagonal`` — share of levels whose largest mean α is their own branch;
    * ``margin`` — mean of α_ll − max_{k≠l} α_lk (> 0: the diagonal wins on average);
    * ``levels`` — how many levels were present.
    """
    m = np.asarray(matrix.values if isinstance(matrix, pd.DataFrame) else matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"matrix must be K x K, got shape {m.shape}")
    K = m.shape[0]
    present = ~np.isnan(m).any(axis=1)                                           # (K,)
    if not present.any():
        raise ValueError("diagonal_dominance: no level has windows (all rows are NaN)")
    diag = np.diag(m)[present]                                                   # (P,)
    off = np.where(np.eye(K, dtype=bool), np.nan, m)[present]                   # (P, K)
    if counts is None and isinstance(matrix, pd.DataFrame) and "windows" in matrix.attrs:
        counts = matrix.attrs["windows"]
    weighted = float("nan")
    if counts is not None:
        c = np.asarray(counts, dtype=np.float64)[present]
        weighted = float((diag * c).sum() / c.sum())
    return {"diagonal": float(diag.mean()), "diagonal_weighted": weighted,
            "off_diagonal": float(np.nanmean(off)), "uniform": 1.0 / K,
            "argmax_on_diagonal": float((np.argmax(m[present], axis=1) == np.flatnonzero(present)).mean()),
            "margin": float((diag - np.nanmax(off, axis=1)).mean()), "levels": int(present.sum())}


# ----------------------------------------------------------------------------- Fig. 8
def _target_pairs(targets: torch.Tensor, max_pairs: int | None, generator: torch.Generator | None):
    """Pairs (i, j), i ≠ j, of windows with the same target: all of them, or ``max_pairs`` drawn uniformly.

    Windows are sorted by target; a target group of size n holds n(n−1)/2 unordered pairs,
    numbered group after group. Pair number r inside a group is decoded to local positions
    (a, b), a < b, by the triangular numbering r = b(b−1)/2 + a. Without replacement when
    drawing (``torch.randperm`` for a small total, else a uniform draw with replacement).
    """
    order = torch.argsort(targets, stable=True)                                 # (M,)
    _, counts = torch.unique_consecutive(targets[order], return_counts=True)    # (T,)
    starts = torch.cumsum(counts, 0) - counts                                   # (T,)
    n_pairs = counts * (counts - 1) // 2                                        # (T,)
    cum = torch.cumsum(n_pairs, 0)                                              # (T,)
    total = int(cum[-1]) if cum.numel() else 0
    if total == 0:
        empty = torch.empty(0, dtype=torch.long)
        return empty, empty, 0
    if max_pairs is None or total <= max_pairs:
        r = torch.arange(total)
    elif total <= 50 * max_pairs:
        r = torch.randperm(total, generator=generator)[:max_pairs]
    else:                                                                       # huge: repeats negligible
        r = torch.randint(total, (max_pairs,), generator=generator)
    g = torch.searchsorted(cum, r, right=True)                                  # (P,) group of each pair
    local = r - (cum[g] - n_pairs[g])                                           # (P,) pair number in group
    b = torch.floor((1 + torch.sqrt(1 + 8 * local.double())) / 2).long()       # b(b−1)/2 <= local
    b = b - (b * (b - 1) // 2 > local).long()                                   # rounding guards
    b = b + ((b + 1) * b // 2 <= local).long()
    a = local - b * (b - 1) // 2                                                # 0 <= a < b
    return order[starts[g] + a], order[starts[g] + b], total


def pair_distances(views, targets, levels, max_pairs: int | None = 200_000, seed: int = 0,
                   return_pairs: bool = False, chunk: int = 65_536) -> dict:
    """L2 distances between basic views of window pairs sharing a target (paper Fig. 8; method.md §7).

    Every unordered pair of distinct windows with the same target is either in one PMSIM group
    (same target **and** same level, Eq. 11: what L_PMSIM pulls together) or shares the target
    only (different level). PMSIM should make the first kind closer.

    Parameters
    ----------
    views : (M, d) basic views g = Σ_k ẑ_k (:func:`basic_views`).
    targets, levels : (M,) each window's target item and PMSA level.
    max_pairs : use all same-target pairs when there are at most this many, else draw this many
        uniformly (seeded); None = always all of them.
    return_pairs : also return the window indices of each pair.

    Returns
    -------
    dict with ``SAME_LEVEL`` and ``TARGET_ONLY`` (float64 numpy arrays of distances),
    ``total_pairs`` (same-target pairs in the set) and, with ``return_pairs``, ``pairs_same`` /
    ``pairs_other`` ((P, 2) int64 arrays, first index < second in target-sorted order).
    """
    g = torch.as_tensor(views).detach().cpu()
    t = torch.as_tensor(targets).long().cpu()
    lv = torch.as_tensor(levels).long().cpu()
    if g.dim() != 2 or t.shape != (g.shape[0],) or lv.shape != (g.shape[0],):
        raise ValueError(f"views (M, d), targets (M,), levels (M,) must agree, got {tuple(g.shape)}, "
                         f"{tuple(t.shape)}, {tuple(lv.shape)}")
    if max_pairs is not None and (isinstance(max_pairs, bool) or not isinstance(max_pairs, int) or max_pairs < 1):
        raise ValueError(f"max_pairs must be a positive integer or None, got {max_pairs!r}")
    gen = torch.Generator().manual_seed(int(seed))
    i, j, total = _target_pairs(t, max_pairs, gen)
    gd = g.double()
    dist = torch.cat([(gd[i[s:s + chunk]] - gd[j[s:s + chunk]]).norm(dim=1) for s in range(0, i.numel(), chunk)]) \
        if i.numel() else torch.empty(0, dtype=torch.float64)
    same = lv[i] == lv[j]
    out = {SAME_LEVEL: dist[same].numpy(), TARGET_ONLY: dist[~same].numpy(), "total_pairs": total}
    if return_pairs:
        pairs = torch.stack([i, j], dim=1)
        out["pairs_same"], out["pairs_other"] = pairs[same].numpy(), pairs[~same].numpy()
    return out


def view_distances(model, windows, levels, max_pairs: int | None = 200_000, seed: int = 0,
                   batch_size: int = 1024) -> dict:
    """:func:`pair_distances` of ``model``'s basic views on ``windows`` (paper Fig. 8)."""
    views = basic_views(model, windows, batch_size)
    return pair_distances(views, windows.targets, levels, max_pairs=max_pairs, seed=seed)


def separation(distances: Mapping) -> float:
    """P(a same-level pair is closer than a target-only pair), ties counting ½ (Fig. 8 in one number).

    The Mann–Whitney AUC of the two distance sets of :func:`pair_distances`, U / (n₁ n₂) with U the
    statistic of :func:`scipy.stats.mannwhitneyu` (average ranks for ties): 0.5 = the two curves
    of Fig. 8 coincide; towards 1 = pairs of one PMSIM group sit closer than other pairs with the
    same target. NaN when either set is empty.
    """
    a = np.asarray(distances[SAME_LEVEL], dtype=np.float64)
    b = np.asarray(distances[TARGET_ONLY], dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return float("nan")
    u_b = stats.mannwhitneyu(b, a, method="asymptotic").statistic              # pairs where b > a, ties ½
    return float(u_b / (a.size * b.size))


def gaussian_kde(values, grid, bandwidth: float | None = None, n: int | None = None) -> np.ndarray:
    """Gaussian kernel density estimate of ``values`` on ``grid`` (:class:`scipy.stats.gaussian_kde`, float64).

    ``bandwidth`` (the kernel's sd) defaults to Scott's rule, σ̂ · n^(−1/5) (σ̂ with ddof 1), with
    ``n`` the number of values, or the size of the sample they summarise when ``values`` are its
    equally weighted quantiles. The density integrates to 1 over the real line. Values that are
    all equal (σ̂ = 0) get a kernel of sd 10⁻³·max(|value|, 1).
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    grid = np.asarray(grid, dtype=np.float64)
    if x.size == 0:
        return np.full(grid.shape, np.nan)
    if bandwidth is not None and not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth!r}")
    sd = x.std(ddof=1) if x.size > 1 else 0.0
    if not sd > 0:                                    # one point, or all equal: no spread to scale
        h = bandwidth or 1e-3 * max(abs(float(x.mean())), 1.0)
        return stats.norm.pdf(grid, loc=float(x.mean()), scale=h)
    factor = bandwidth / sd if bandwidth is not None else (n or x.size) ** (-0.2)   # Scott: n^(-1/(d+4))
    return stats.gaussian_kde(x, bw_method=factor)(grid.ravel()).reshape(grid.shape)


# ----------------------------------------------------------------------------- Fig. 7
def level_gain_table(backbone: pd.DataFrame, srsupm: pd.DataFrame, metrics: Sequence[str] | None = None,
                     names: tuple[str, str] = ("backbone", "srsupm")) -> pd.DataFrame:
    """Two per-level evaluation tables merged into one tidy table with the gain (paper Fig. 7; method.md §10).

    ``backbone`` and ``srsupm`` are tables as :func:`srsupm_lab.evaluate.evaluate` returns them (and
    ``test_levels.csv`` stores): columns ``level`` ("all" and level ids), ``users`` and metrics,
    from the same test users. Returns one row per (level, metric): ``level``, ``users``, ``metric``,
    the two values (columns named by ``names``), ``difference`` (srsupm − backbone) and
    ``relative_gain`` ((srsupm − backbone) / backbone; NaN where the backbone scores 0).
    Levels present in only one table are dropped; differing user counts at a level raise.
    """
    a_name, b_name = names
    for who, t in ((a_name, backbone), (b_name, srsupm)):
        for col in ("level", "users"):
            if col not in t.columns:
                raise ValueError(f"{who}: the table has no column {col!r} (columns: {list(t.columns)})")
    if metrics is None:
        metrics = [c for c in backbone.columns if "@" in c and c in srsupm.columns]
    missing = [m for m in metrics if m not in backbone.columns or m not in srsupm.columns]
    if missing or not metrics:
        raise ValueError(f"metrics {missing or metrics} are not columns of both tables")

    def long(t, value_name):
        t = t.assign(level=t["level"].astype(str))
        return t.melt(id_vars=["level", "users"], value_vars=list(metrics), var_name="metric", value_name=value_name)

    merged = long(backbone, a_name).merge(long(srsupm, b_name), on=["level", "metric"], suffixes=("", "_other"))
    bad = merged[merged["users"] != merged["users_other"]]
    if len(bad):
        raise ValueError(f"the tables count different users at levels {sorted(set(bad['level']))}: "
                         f"compare evaluations of the same test windows")
    merged = merged.drop(columns="users_other")
    merged["difference"] = merged[b_name] - merged[a_name]
    base = merged[a_name].where(merged[a_name] != 0)
    merged["relative_gain"] = merged["difference"] / base
    key = merged["level"].map(lambda v: -1 if v == "all" else int(v))
    merged = merged.assign(_key=key, _m=merged["metric"].map(list(metrics).index))
    merged = merged.sort_values(["_m", "_key"]).drop(columns=["_key", "_m"]).reset_index(drop=True)
    merged["level"] = [v if v == "all" else int(v) for v in merged["level"]]
    return merged[["level", "users", "metric", a_name, b_name, "difference", "relative_gain"]]
