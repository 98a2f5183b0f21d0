"""The clickbait world: a generated world where a click is not satisfaction, on purpose (mtrec.md §1; docs/mtrec_method.md, "The clickbait world").

MTRec's premise (restatement §1): each response gives the user a private *mental reward*, which
shapes her later behaviour, and clicks can disagree with it. This world makes that true by
construction, with the truth kept, so that a reward learned from behaviour can be checked
against it. The story below was fixed before any model was run on it.

**The world** is the motivation world of :mod:`srsupm_lab.data.synthetic` (shared helpers:
:func:`~srsupm_lab.data.synthetic.build_world`): motivations are distributions over a few
categories; items have a primary category, extra labels, a Zipf-like popularity and successors
in their category; each user has a preference over motivations.

**Clickbait.** ``round(clickbait_share · n_items)`` items, drawn at random, are clickbait. They
lure: wherever an item is drawn by popularity, a clickbait item weighs ``lure`` times its
popularity.

**A step** ``t`` of a user in motivation ``m`` (vectorised over users, a loop over steps):

1. with probability ``habit`` (not right after a switch) a successor of her previous item;
2. else with probability ``explore`` a drift: an item of the whole catalogue drawn by lured
   popularity (its category is usually not one of ``m``'s);
3. else an item of a category drawn from ``m``, by lured popularity within that category.

**Satisfaction.** The expected satisfaction of item ``i`` for a user in motivation ``m`` is
``satisfaction_table[m, i] = clip(base + q_i, 0.02, 0.98)`` with ``base = s_bait`` for a clickbait
item, else ``s_fit`` when ``i``'s primary category is one of ``m``'s categories and ``s_off``
otherwise; ``q_i`` is the item's quality, uniform on ``[−quality, quality]``. The realised
satisfaction of the interaction is ``Beta(κμ, κ(1 − μ))`` with ``μ`` = that table entry and
``κ = concentration`` (mean exactly ``μ``, always in ``[0, 1]``).

**Behaviour carries it only indirectly.** After an interaction of satisfaction ``s`` at step ``t``:

* she ends her session (her sequence stops) with probability ``stop_base + stop_gain · (1 − s)``,
  from step ``min_len − 1`` on (every sequence has at least ``min_len`` items, at most ``max_len``);
* before step ``t + 1`` she switches to another motivation (by her preference) with probability
  ``switch_rate + switch_gain · (1 − s)``.

Nothing else depends on satisfaction: a model sees only the items and their order.

**Ground truth** in ``meta`` (the contract other modules read; names and shapes fixed):
``satisfaction`` (per user, float64 array aligned with her sequence), ``clickbait`` (bool
``(n_items + 1,)``, index 0 = padding, False), ``satisfaction_table`` (float64
``(n_motivations, n_items + 1)``, column 0 = 0; ``satisfaction_table[motivation[u][t], item]`` scores
a recommended item), ``motivation`` and ``switch`` (as in the motivation world), ``primary_category``
(``(n_items + 1,)``, −1 at padding) and ``motivation_categories`` (also the source of the item texts of
:mod:`srsupm_lab.data.item_text`: the motivation world's descriptions; no text says which items are clickbait).
"""
from __future__ import annotations

import numpy as np
import torch

from .dataset import SequenceDataset
from .synthetic import build_world, category_probs, draw_other, draw_rows, item_from_category, make_synthetic
from .windows import Windows, target_steps

__all__ = ["make_clickbait_world", "window_satisfaction", "SYNTHETIC_WORLDS", "CLICKBAIT_DEFAULTS"]

#: the world's parameters (the story in the module doc), fixed before any model was run on it
CLICKBAIT_DEFAULTS = dict(
    n_users=800, n_items=300, n_labels=16, n_motivations=6, cats_per_motivation=3, n_successors=3,
    habit=0.3, explore=0.15, clickbait_share=0.1, lure=3.0,
    s_fit=0.85, s_off=0.35, s_bait=0.1, quality=0.05, concentration=20.0,
    switch_rate=0.1, switch_gain=0.4, stop_base=0.03, stop_gain=0.4, min_len=5, max_len=40, seed=0)

_INTS = ("n_users", "n_items", "n_labels", "n_motivations", "cats_per_motivation", "n_successors", "min_len",
         "max_len")
_PROBS = ("habit", "explore", "clickbait_share", "switch_rate", "switch_gain", "stop_base", "stop_gain")


def _check(p: dict) -> None:
    """Each bad parameter: one line naming it, what is allowed and the value."""
    def fail(name, what):
        raise ValueError(f"make_clickbait_world: {name} {what}, got {p[name]!r}")
    for name in _INTS:
        if isinstance(p[name], bool) or not isinstance(p[name], (int, np.integer)) or p[name] < 1:
            fail(name, "must be a positive integer")
    for name in _PROBS + ("s_fit", "s_off", "s_bait", "quality", "lure", "concentration"):
        if isinstance(p[name], bool) or not isinstance(p[name], (int, float, np.number)) or not np.isfinite(p[name]):
            fail(name, "must be a finite number")
    for name in _PROBS:
        if not 0.0 <= p[name] <= 1.0:
            fail(name, "must lie in [0, 1]")
    if p["n_motivations"] < 2:
        fail("n_motivations", "must be at least 2")
    if p["cats_per_motivation"] > p["n_labels"]:
        fail("cats_per_motivation", f"must be <= n_labels = {p['n_labels']}")
    if p["n_items"] < p["n_labels"]:
        fail("n_items", f"must be >= n_labels = {p['n_labels']} (every category holds an item)")
    if p["min_len"] < 3:
        fail("min_len", "must be at least 3 (a training, a validation and a test target)")
    if p["max_len"] < p["min_len"]:
        fail("max_len", f"must be >= min_len = {p['min_len']}")
    if not 0.0 < p["s_bait"] < p["s_off"] < p["s_fit"] < 1.0:
        raise ValueError(f"make_clickbait_world: the story needs 0 < s_bait < s_off < s_fit < 1, got s_bait="
                         f"{p['s_bait']!r}, s_off={p['s_off']!r}, s_fit={p['s_fit']!r}")
    if not 0.0 <= p["quality"] < 0.5:
        fail("quality", "must lie in [0, 0.5)")
    if p["lure"] < 1.0:
        fail("lure", "must be >= 1 (clickbait attracts clicks)")
    if p["concentration"] <= 0:
        fail("concentration", "must be > 0")
    if p["stop_base"] + p["stop_gain"] > 1.0 or p["switch_rate"] + p["switch_gain"] > 1.0:
        raise ValueError(f"make_clickbait_world: stop_base + stop_gain and switch_rate + switch_gain must be <= 1 "
                         f"(probabilities), got {p['stop_base'] + p['stop_gain']!r} and "
                         f"{p['switch_rate'] + p['switch_gain']!r}")


def make_clickbait_world(**options) -> SequenceDataset:
    """Generate the clickbait world (module doc); ``options`` override :data:`CLICKBAIT_DEFAULTS`. Deterministic by ``seed``."""
    unknown = sorted(set(options) - set(CLICKBAIT_DEFAULTS))
    if unknown:
        raise TypeError(f"make_clickbait_world: unknown option(s) {unknown}; its options are {list(CLICKBAIT_DEFAULTS)}")
    p = {**CLICKBAIT_DEFAULTS, **options}
    _check(p)
    U, n, T = int(p["n_users"]), int(p["n_items"]), int(p["max_len"])
    rng = np.random.default_rng(p["seed"])
    world = build_world(rng, n, p["n_labels"], p["n_motivations"], p["cats_per_motivation"], p["n_successors"])
    n_bait = int(round(p["clickbait_share"] * n))
    bait = np.zeros(n, dtype=bool)
    bait[rng.choice(n, size=n_bait, replace=False)] = True
    lured = world.popularity * np.where(bait, p["lure"], 1.0)                     # (n,)
    cat_probs = category_probs(lured, world.by_cat)
    drift_probs = lured / lured.sum()                                              # (n,)
    quality = rng.uniform(-p["quality"], p["quality"], n)                         # (n,)
    fits = world.motivation_categories[:, world.primary] > 0                      # (M, n)
    base = np.where(bait[None], p["s_bait"], np.where(fits, p["s_fit"], p["s_off"]))
    table = np.zeros((p["n_motivations"], n + 1))
    table[:, 1:] = np.clip(base + quality[None], 0.02, 0.98)                       # (M, n + 1), column 0 = 0

    pref = rng.dirichlet(np.full(p["n_motivations"], 0.5), size=U)                 # (U, M)
    items = np.zeros((U, T), dtype=np.int64)
    motiv = np.zeros((U, T), dtype=np.int64)
    switch = np.zeros((U, T), dtype=bool)
    sat = np.zeros((U, T))
    stop = np.zeros((U, T), dtype=bool)
    cur = draw_rows(rng, pref)
    for t in range(T):                                                             # steps; users vectorised
        if t > 0:
            sw = rng.random(U) < p["switch_rate"] + p["switch_gain"] * (1.0 - sat[:, t - 1])
            cur = np.where(sw, draw_other(rng, pref, cur), cur)
            switch[:, t] = sw
        motiv[:, t] = cur
        nxt = item_from_category(rng, draw_rows(rng, world.motivation_categories[cur]), world.by_cat, cat_probs)
        nxt = np.where(rng.random(U) < p["explore"], rng.choice(n, size=U, p=drift_probs), nxt)
        if t > 0:
            use_habit = (rng.random(U) < p["habit"]) & ~switch[:, t]
            succ = world.successors[items[:, t - 1] - 1, rng.integers(0, p["n_successors"], U)]
            nxt = np.where(use_habit, succ, nxt)
        items[:, t] = nxt + 1
        mu = table[cur, nxt + 1]                                                   # (U,)
        sat[:, t] = rng.beta(p["concentration"] * mu, p["concentration"] * (1.0 - mu))
        stop[:, t] = (rng.random(U) < p["stop_base"] + p["stop_gain"] * (1.0 - sat[:, t])) & (t >= p["min_len"] - 1)
    stop[:, -1] = True
    lens = stop.argmax(axis=1) + 1                                                 # (U,) the first stop ends it

    meta = {
        "generator": "make_clickbait_world",
        "params": dict(p),
        "motivation": [motiv[u, :lens[u]] for u in range(U)],
        "switch": [switch[u, :lens[u]] for u in range(U)],
        "satisfaction": [sat[u, :lens[u]] for u in range(U)],
        "clickbait": np.concatenate([[False], bait]),
        "satisfaction_table": table,
        "motivation_categories": world.motivation_categories,
        "primary_category": np.concatenate([[-1], world.primary]),
    }
    names = [f"category {c:02d}" for c in range(p["n_labels"])]
    return SequenceDataset("synthetic-clickbait", [items[u, :lens[u]] for u in range(U)], world.labels, names, meta)


def window_satisfaction(ds: SequenceDataset, windows: Windows) -> dict[str, torch.Tensor]:
    """The truth about each window's target interaction: ``satisfaction [M]`` (float64), ``motivation [M]``,
    ``clickbait [M]`` (bool), ``step [M]`` (its position in the user's sequence; :func:`~srsupm_lab.data.windows.target_steps`).

    ``ds`` must carry ``meta["satisfaction"]`` (the clickbait world); else one ValueError naming it.
    """
    meta = ds.meta if isinstance(ds.meta, dict) else {}
    if not all(k in meta for k in ("satisfaction", "motivation", "clickbait")):
        raise ValueError(f"window_satisfaction: dataset {ds.name!r} records no true satisfaction (meta['satisfaction']"
                         f"): only a generated world with it does (synthetic-clickbait)")
    steps = target_steps(windows, ds).numpy()                                      # (M,)
    lens = ds.lengths()
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]])
    pos = offsets[windows.users.cpu().numpy()] + steps                             # (M,) in the flat arrays
    flat_sat = np.concatenate(meta["satisfaction"]).astype(np.float64)
    flat_mot = np.concatenate(meta["motivation"]).astype(np.int64)
    return {"satisfaction": torch.from_numpy(flat_sat[pos]), "motivation": torch.from_numpy(flat_mot[pos]),
            "clickbait": torch.from_numpy(np.asarray(meta["clickbait"])[windows.targets.cpu().numpy()]),
            "step": torch.from_numpy(steps)}


#: the generated worlds, by dataset name (:func:`srsupm_lab.data.load_dataset`)
SYNTHETIC_WORLDS = {"synthetic": make_synthetic, "synthetic-clickbait": make_clickbait_world}
