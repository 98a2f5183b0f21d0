"""PMSA — psychological motivation shift assessment (paper §4.1, Eqs. 2–3; method.md §1).

How far does a user's motivation move between a history window ``S`` and its next item ``v``?
With ``C(x)`` the category set of item ``x`` and ``C_S`` the union over the window:

    PMSD(S, v) = 1 − |C(v) ∩ C_S| / |C(v) ∪ C_S|          (Eq. 2)

PMSD is then cut into ``K ≥ 3`` discrete shift levels (Eq. 3): exactly 0 → level 0 (no shift),
exactly 1 → level K−1 (complete shift), and the open interval (0, 1) split into K−2 bins for
levels 1..K−2 (even bins as in the paper, or quantile bins as an extension).

Label noise (paper §5.6.2) drops each (item, label) pair with probability ``p``.

Three layers, from readable to fast:
* :func:`pmsd` — the scalar definition on Python sets, the reference a student reads;
* :func:`shift_level` — Eq. 3 on a scalar or an array;
* :func:`assess` — every window at once: item label sets become bitsets (one row of uint64
  words per item), a window's union is the bitwise OR of its rows, and set sizes are popcounts.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch

__all__ = ["pmsd", "shift_level", "level_edges", "assess", "drop_labels", "label_bitsets", "check_K"]


def check_K(K) -> int:
    """``K`` as an int, or one line saying it must be an integer >= 3 (PMSA's levels, Eq. 3)."""
    return _check_K(K)


def _check_K(K) -> int:
    if not isinstance(K, (int, np.integer)) or isinstance(K, bool) or K < 3:
        raise ValueError(f"K (the number of shift levels) must be an integer >= 3, got {K!r}")
    return int(K)


def pmsd(history_label_sets: Iterable[Iterable[int]], target_label_set: Iterable[int]) -> float:
    """Eq. 2 for one window: ``1 − |C(v) ∩ C_S| / |C(v) ∪ C_S|``.

    ``history_label_sets`` holds one label set per item of the window; ``target_label_set`` is
    ``C(v)``. An empty union gives 1.0 (method.md §1, a choice: no shared motivation can be shown).

    >>> pmsd([{1, 2}, {3}], {2, 4})      # C_S = {1,2,3}; ∩ = {2}; ∪ = {1,2,3,4}
    0.75
    """
    c_s: set = set()
    for labels in history_label_sets:
        c_s |= set(labels)
    c_v = set(target_label_set)
    union = c_v | c_s
    if not union:
        return 1.0
    return 1.0 - len(c_v & c_s) / len(union)


def level_edges(K: int, bins="even", pmsd_values=None) -> np.ndarray:
    """The ``K−3`` cut points inside (0, 1) that separate levels 1..K−2.

    ``bins="even"``: ``j/(K−2)`` for ``j = 1..K−3`` (the paper). ``bins="quantile"``: the
    ``j/(K−2)`` quantiles of the values of ``pmsd_values`` that lie strictly inside (0, 1), so the
    middle levels hold about equal shares (an extension: on real data the even bins put ~80 % of
    windows into one level). An explicit array of increasing cut points is returned as is.
    """
    K = _check_K(K)
    q = np.arange(1, K - 2) / (K - 2)
    if isinstance(bins, str):
        if bins == "even":
            return q.astype(np.float64)
        if bins == "quantile":
            if pmsd_values is None:
                raise ValueError("bins='quantile' needs the PMSD values to take quantiles of")
            v = np.asarray(pmsd_values, dtype=np.float64)
            inner = v[(v > 0) & (v < 1)]
            if inner.size == 0:
                return q.astype(np.float64)
            return np.quantile(inner, q)
        raise ValueError(f"bins must be 'even', 'quantile' or an array of cut points, got {bins!r}")
    edges = np.asarray(bins, dtype=np.float64)
    if edges.shape != (K - 3,) or np.any(np.diff(edges) < 0) or np.any((edges <= 0) | (edges >= 1)):
        raise ValueError(f"explicit bins must be {K - 3} increasing cut points inside (0, 1), got {bins!r}")
    return edges


def shift_level(pmsd_value, K: int, edges=None):
    """Eq. 3: map PMSD (a scalar or array) to a level in ``0..K−1``.

    Without ``edges`` the paper's even bins: ``level = 1 + min(K−3, floor(PMSD·(K−2)))`` for
    ``0 < PMSD < 1``. With ``edges`` (from :func:`level_edges`), a value ``x`` in (0, 1) gets
    ``1 + #{edges ≤ x}``. Returns an int for a scalar input, an int64 array otherwise.

    >>> [shift_level(x, 5) for x in (0.0, 0.2, 1/3, 0.5, 0.9, 1.0)]
    [0, 1, 2, 2, 3, 4]
    """
    K = _check_K(K)
    x = np.asarray(pmsd_value, dtype=np.float64)
    if np.any((x < 0) | (x > 1)) or np.any(np.isnan(x)):
        raise ValueError("PMSD values must lie in [0, 1]")
    if edges is None:
        inner = 1 + np.minimum(K - 3, np.floor(x * (K - 2)).astype(np.int64))
    else:
        inner = 1 + np.searchsorted(np.asarray(edges, dtype=np.float64), x, side="right")
    level = np.where(x == 0, 0, np.where(x == 1, K - 1, inner)).astype(np.int64)
    return int(level) if level.ndim == 0 else level


def label_bitsets(item_labels: Sequence[frozenset], n_labels: int | None = None) -> np.ndarray:
    """Item label sets as bitsets: ``[n_items+1, W]`` uint64, bit ``j`` of item ``i`` set iff ``j ∈ C(i)``."""
    if n_labels is None:
        n_labels = 1 + max((max(s) for s in item_labels if s), default=-1)
    words = max(1, (n_labels + 63) // 64)
    lens = np.fromiter((len(s) for s in item_labels), dtype=np.int64, count=len(item_labels))
    items = np.repeat(np.arange(len(item_labels)), lens)
    labels = np.fromiter((j for s in item_labels for j in s), dtype=np.int64, count=int(lens.sum()))
    if labels.size and (labels.min() < 0 or labels.max() >= n_labels):
        raise ValueError(f"label ids must lie in 0..{n_labels - 1}")
    bits = np.zeros((len(item_labels), words), dtype=np.uint64)
    np.bitwise_or.at(bits, (items, labels // 64), np.left_shift(np.uint64(1), (labels % 64).astype(np.uint64)))
    return bits


def assess(inputs, targets, item_labels: Sequence[frozenset], K: int, bins="even", chunk: int = 16384):
    """PMSD (Eq. 2) and shift level (Eq. 3) of every window at once.

    Parameters
    ----------
    inputs : LongTensor or array [M, L]
        0-padded input windows (padding contributes no labels).
    targets : LongTensor or array [M]
    item_labels : list of frozenset, indexed by item id (index 0 = padding, empty).
    K : int, number of levels (>= 3).
    bins : "even" (paper), "quantile" (extension, cut points from these windows' PMSD) or an
        explicit array of ``K−3`` cut points (e.g. the training windows' quantile edges, reused
        on the test windows).

    Returns
    -------
    (pmsd, level) : FloatTensor [M] (float64), LongTensor [M]. ``assess.last_edges`` is not
    kept; call :func:`level_edges` to get the cut points used.
    """
    K = _check_K(K)
    x = np.asarray(inputs.cpu() if torch.is_tensor(inputs) else inputs, dtype=np.int64)
    t = np.asarray(targets.cpu() if torch.is_tensor(targets) else targets, dtype=np.int64)
    if x.ndim != 2 or t.ndim != 1 or x.shape[0] != t.shape[0]:
        raise ValueError(f"assess: inputs must be [M, L] and targets [M], got {x.shape} and {t.shape}")
    n = len(item_labels)
    if x.size and (x.min() < 0 or x.max() >= n):
        raise ValueError(f"assess: input item ids must lie in 0..{n - 1} (the label table's range)")
    if t.size and (t.min() < 1 or t.max() >= n):
        raise ValueError(f"assess: target item ids must lie in 1..{n - 1}")
    bits = label_bitsets(item_labels)
    out = np.empty(t.shape[0], dtype=np.float64)
    for s in range(0, t.shape[0], chunk):               # chunks bound memory, not a per-window loop
        union_s = np.bitwise_or.reduce(bits[x[s:s + chunk]], axis=1)      # (m, W)
        tgt = bits[t[s:s + chunk]]                                        # (m, W)
        inter = np.bitwise_count(union_s & tgt).sum(axis=1)
        union = np.bitwise_count(union_s | tgt).sum(axis=1)
        out[s:s + chunk] = np.where(union == 0, 1.0, 1.0 - inter / np.maximum(union, 1))
    edges = None if (isinstance(bins, str) and bins == "even") else level_edges(K, bins, out)
    level = shift_level(out, K, edges) if out.size else np.zeros(0, dtype=np.int64)
    return torch.from_numpy(out), torch.from_numpy(np.asarray(level, dtype=np.int64))


def drop_labels(item_labels: Sequence[frozenset], p: float, seed: int = 0) -> list[frozenset]:
    """Label noise (paper §5.6.2; method.md §1): drop each (item, label) pair with probability ``p``.

    Where every label of an item is dropped, one of its original labels, chosen uniformly, is
    kept, so a labelled item never ends up empty; items without labels stay empty. Labels are
    visited in sorted order, so the result depends only on ``(item_labels, p, seed)``.
    """
    if not isinstance(p, (int, float, np.floating)) or isinstance(p, bool) or not (0.0 <= float(p) <= 1.0):
        raise ValueError(f"label-noise probability p must lie in [0, 1], got {p!r}")
    if p == 0:
        return list(item_labels)
    rng = np.random.default_rng(seed)
    lens = np.fromiter((len(s) for s in item_labels), dtype=np.int64, count=len(item_labels))
    flat = np.fromiter((j for s in item_labels for j in sorted(s)), dtype=np.int64, count=int(lens.sum()))
    owner = np.repeat(np.arange(len(item_labels)), lens)
    keep = rng.random(flat.size) >= p
    kept_per_item = np.bincount(owner[keep], minlength=len(item_labels))
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    emptied = np.flatnonzero((kept_per_item == 0) & (lens > 0))
    pick = starts[emptied] + np.floor(rng.random(emptied.size) * lens[emptied]).astype(np.int64)
    keep[pick] = True
    ends = np.cumsum(lens)
    return [frozenset(flat[a:b][keep[a:b]].tolist()) for a, b in zip(starts, ends)]
