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
"""
from __future__ import annotations

import numpy as np

from .dataset import SequenceDataset


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

    # motivations: distributions over a few categories each
    mot = np.zeros((n_motivations, n_labels))
    for m in range(n_motivations):
        cats = rng.choice(n_labels, size=cats_per_motivation, replace=False)
        mot[m, cats] = rng.dirichlet(np.full(cats_per_motivation, 0.8))

    # items: primary category (every category gets items), extra labels, popularity, successors
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
    cat_probs = [popularity[ix] / popularity[ix].sum() for ix in by_cat]
    succ = np.empty((n_items, n_successors), dtype=np.int64)
    for i in range(n_items):
        pool = by_cat[primary[i]]
        succ[i] = rng.choice(pool, size=n_successors, replace=len(pool) < n_successors)

    # users: lengths, motivation preferences
    lens = np.clip(min_len + rng.geometric(1.0 / max(mean_len - min_len + 1, 1.0), n_users) - 1, min_len, max_len)
    pref = rng.dirichlet(np.full(n_motivations, 0.5), size=n_users)            # (U, M)
    T = int(lens.max())
    items = np.zeros((n_users, T), dtype=np.int64)
    motiv = np.zeros((n_users, T), dtype=np.int64)
    switch = np.zeros((n_users, T), dtype=bool)

    def draw_rows(prob_rows):                       # one categorical draw per row, vectorised
        cdf = np.cumsum(prob_rows, axis=1)
        return (rng.random((prob_rows.shape[0], 1)) * cdf[:, -1:] > cdf).sum(axis=1)

    def item_from_category(cats):                   # a popular item of each requested category
        out = np.empty(cats.size, dtype=np.int64)
        for c in np.unique(cats):                   # loop over categories (<= n_labels), not users
            rows = np.flatnonzero(cats == c)
            out[rows] = rng.choice(by_cat[c], size=rows.size, p=cat_probs[c])
        return out

    cur = draw_rows(pref)
    for t in range(T):
        if t > 0:
            sw = rng.random(n_users) < switch_rate
            other = pref.copy()
            other[np.arange(n_users), cur] = 0.0     # a switch goes to a *different* motivation
            cur = np.where(sw, draw_rows(other), cur)
            switch[:, t] = sw
        motiv[:, t] = cur
        cat = draw_rows(mot[cur])
        nxt = item_from_category(cat)
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
