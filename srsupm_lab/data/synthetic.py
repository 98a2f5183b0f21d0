"""The embedded default dataset: a generated "motivation world" (no download needed).

A small, seeded world in which the paper's premise (method.md §1; paper §3) holds by
construction, so a student can watch PMSA recover what the generator did:

* ``n_labels`` categories and ``n_motivations`` latent motivations; a motivation is a
  distribution over categories concentrated on a few of them (Dirichlet with small
  concentration over a random subset of ``cats_per_motivation`` categories).
* ``n_items`` items, each with a primary category and 0–2 extra ones (1–3 labels), a
  Zipf-like popularity, and a few "successor" items in its own category (a sequential habit
  that backbones can learn: someone who bought a shampoo often buys its conditioner next).
* Each user has a preference over motivations. A sequence starts in one motivation; before
  every later step the user switches to another motivation with probability ``switch_rate``
  (the true motivation shift). Within a motivation the next item is, with probability
  ``habit``, a successor of the previous item, otherwise a popular item of a category drawn
  from the current motivation.

``meta["motivation"]`` (per user, per step) and ``meta["switch"]`` (True where the
motivation changed before that step) keep the ground truth. Generation loops over time
steps, vectorised over all users at once.

The world's motivations and items (:func:`build_world`) and the two vectorised draws
(:func:`draw_rows`, :func:`item_from_category`) are shared with the clickbait world
(:mod:`srsupm_lab.data.satisfaction_world`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .dataset import SequenceDataset


class World(NamedTuple):
    """The generated motivations and items (module doc); item arrays are indexed ``0..n_items-1`` (id − 1)."""
    motivation_categories: np.ndarray   # (n_motivations, n_labels): each motivation's distribution over categories
    primary: np.ndarray                 # (n_items,) each item's primary category
    labels: list                        # item_labels by item id (labels[0] = padding, empty)
    popularity: np.ndarray              # (n_items,) Zipf-like weights
    by_cat: list                        # by_cat[c]: the items (0-based) whose primary category is c
    successors: np.ndarray              # (n_items, n_successors) 0-based successor items in the same category


def build_world(rng: np.random.Generator, n_items: int, n_labels: int, n_motivations: int,
                cats_per_motivation: int, n_successors: int) -> World:
    """The motivations and items of the module doc, drawn from ``rng`` (the draws' order is fixed)."""
    mot = np.zeros((n_motivations, n_labels))
    for m in range(n_motivations):
        cats = rng.choice(n_labels, size=cats_per_motivation, replace=False)
        mot[m, cats] = rng.dirichlet(np.full(cats_per_motivation, 0.8))
    # primary category (every category gets items), extra labels, popularity, successors
    primary = np.concatenate([np.arange(n_labels), rng.integers(0, n_labels, n_items - n_labels)]) if n_items >= n_labels \
        else rng.integers(0, n_labels, n_items)
    rng.shuffle(primary)
    n_extra = rng.choice(3, size=n_items, p=[0.4, 0.4, 0.2])
    labels = [frozenset()]
    for i in range(n_items):
        extra = rng.choice(n_labels, size=n_extra[i], replace=False)
        labels.append(frozenset({int(primary[i]), *map(int, extra)}))
    popularity = 1.0 / (1.0 + rng.permutation(n_items)) ** 0.8
    by_cat = [np.flatnonzero(primary == c) for c in range(n_labels)]
    succ = np.empty((n_items, n_successors), dtype=np.int64)
    for i in range(n_items):
        pool = by_cat[primary[i]]
        succ[i] = rng.choice(pool, size=n_successors, replace=len(pool) < n_successors)
    return World(mot, primary, labels, popularity, by_cat, succ)


def category_probs(weights: np.ndarray, by_cat: list) -> list:
    """Per category, the draw probabilities of its items, proportional to ``weights`` (n_items,)."""
    return [weights[ix] / weights[ix].sum() if ix.size else ix.astype(float) for ix in by_cat]


def draw_rows(rng: np.random.Generator, prob_rows: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``prob_rows`` (B, K) (unnormalised weights), vectorised: (B,)."""
    cdf = np.cumsum(prob_rows, axis=1)
    return (rng.random((prob_rows.shape[0], 1)) * cdf[:, -1:] > cdf).sum(axis=1)


def draw_other(rng: np.random.Generator, pref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """For each user, a motivation other than ``cur`` (U,), drawn by her preference ``pref`` (U, M): a switch's target."""
    other = pref.copy()
    other[np.arange(pref.shape[0]), cur] = 0.0
    return draw_rows(rng, other)


def item_from_category(rng: np.random.Generator, cats: np.ndarray, by_cat: list, cat_probs: list) -> np.ndarray:
    """An item (0-based) of each requested category, drawn by ``cat_probs``; a loop over categories, not users."""
    out = np.empty(cats.size, dtype=np.int64)
    for c in np.unique(cats):
        rows = np.flatnonzero(cats == c)
        out[rows] = rng.choice(by_cat[c], size=rows.size, p=cat_probs[c])
    return out


def make_synthetic(n_users: int = 1000, n_items: int = 500, n_labels: int = 24, n_motivations: int = 8,
                   cats_per_motivation: int = 4, switch_rate: float = 0.2, habit: float = 0.5,
                   mean_len: float = 12.0, min_len: int = 5, max_len: int = 60, n_successors: int = 3,
                   seed: int = 0) -> SequenceDataset:
    """Generate the motivation world (see the module docstring). Deterministic by ``seed``."""
    for name, v in [("n_users", n_users), ("n_items", n_items), ("n_labels", n_labels),
                    ("n_motivations", n_motivations), ("min_len", min_len)]:
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"make_synthetic: {name} must be a positive integer, got {v!r}")
    if not 0.0 <= switch_rate <= 1.0 or not 0.0 <= habit <= 1.0:
        raise ValueError("make_synthetic: switch_rate and habit must lie in [0, 1]")
    if n_motivations < 2 or cats_per_motivation > n_labels or max_len < min_len or min_len < 3:
        raise ValueError("make_synthetic: need n_motivations >= 2, cats_per_motivation <= n_labels, 3 <= min_len <= max_len")
    rng = np.random.default_rng(seed)
    world = build_world(rng, n_items, n_labels, n_motivations, cats_per_motivation, n_successors)
    mot, labels, succ = world.motivation_categories, world.labels, world.successors
    cat_probs = category_probs(world.popularity, world.by_cat)

    # users: lengths, motivation preferences
    lens = np.clip(min_len + rng.geometric(1.0 / max(mean_len - min_len + 1, 1.0), n_users) - 1, min_len, max_len)
    pref = rng.dirichlet(np.full(n_motivations, 0.5), size=n_users)            # (U, M)
    T = int(lens.max())
    items = np.zeros((n_users, T), dtype=np.int64)
    motiv = np.zeros((n_users, T), dtype=np.int64)
    switch = np.zeros((n_users, T), dtype=bool)

    cur = draw_rows(rng, pref)
    for t in range(T):
        if t > 0:
            sw = rng.random(n_users) < switch_rate
            cur = np.where(sw, draw_other(rng, pref, cur), cur)
            switch[:, t] = sw
        motiv[:, t] = cur
        cat = draw_rows(rng, mot[cur])
        nxt = item_from_category(rng, cat, world.by_cat, cat_probs)
        if t > 0:
            use_habit = (rng.random(n_users) < habit) & ~switch[:, t]
            prev = items[:, t - 1] - 1
            nxt = np.where(use_habit, succ[prev, rng.integers(0, n_successors, n_users)], nxt)
        items[:, t] = nxt + 1

    sequences = [items[u, :lens[u]] for u in range(n_users)]
    meta = {
        "generator": "make_synthetic",
        "params": dict(n_users=n_users, n_items=n_items, n_labels=n_labels, n_motivations=n_motivations,
                       cats_per_motivation=cats_per_motivation, switch_rate=switch_rate, habit=habit,
                       mean_len=mean_len, min_len=min_len, max_len=max_len, n_successors=n_successors, seed=seed),
        "motivation": [motiv[u, :lens[u]] for u in range(n_users)],
        "switch": [switch[u, :lens[u]] for u in range(n_users)],
        "motivation_categories": mot,
    }
    names = [f"category {c:02d}" for c in range(n_labels)]
    return SequenceDataset("synthetic", sequences, labels, names, meta)
