"""What the trainer, evaluation, analysis and serving call on a model: one batch type, one protocol (method.md §2, §9–§10).

**A batch** (:class:`Batch`) is a mapping of named tensor columns, the same type for training and
scoring. ``inputs [B, L]`` (left-padded item ids, the most recent last) is always there; the
others are optional and a model says which it reads (``requires``):

==================  =========================================================================
``targets``         ``[B]`` the next item (or ``[B, L]`` for one-pass rows of prefixes)
``users``           ``[B]`` user index (Caser embeds users)
``levels``          ``[B]`` PMSA level of each window (paper §4.1; only for a method that asks)
``context``         ``[B]`` ground truth a generator knows and a recommender does not (an oracle)
``times``           ``[B, L]`` time of each event (time-aware models)
``behaviours``      ``[B, L]`` behaviour type of each event (multi-behaviour models)
``long_history``    ``[B, H]`` the long history beyond the window (long-sequence models)
``history``         ``[B, H]`` every item seen before the target (evaluation masks it)
``index``           ``[B]`` row of each window in the training windows (caches keyed by window)
==================  =========================================================================

``batch["inputs"]`` and ``batch.inputs`` read the same column; an optional column that is absent
reads None as an attribute.

**The protocol** (:class:`Recommender`, a base class with every optional part's default):

* ``loss(batch) -> (L, parts)``: the training loss on a batch and its named parts (detached);
* ``score(batch, items=None)``: scores of every item ``[B, N+1]`` (column 0 = padding), or of the
  candidates ``items [B, C]`` (``[B, C]``), so a scorer whose score depends on the candidate fits
  (override :meth:`Recommender.score_items`); ``score(inputs, users)`` is the short form of
  ``score(Batch(inputs=inputs, users=users))``;
* ``requires``: the columns its batches must hold beyond ``inputs`` and ``targets``; checked once
  against the data (:func:`check_requires`), one line naming what is missing;
* optional: ``prepare(train, levels)`` before the first epoch, ``training_data(train)`` (its own
  tensors, e.g. one-pass rows), ``epoch_diagnostics(valid, levels, batch)`` (per-epoch numbers, the
  trainer's ``eng_*`` columns) and ``progress_columns`` (which of them the trainer prints).

Shared code reads a model's optional parts through :func:`part` only, so a model written without
the base class (any object with ``loss`` and ``score``) gets the same defaults.
"""
from __future__ import annotations

from typing import Any, ClassVar, Mapping, Protocol, runtime_checkable

import torch
from torch import nn

__all__ = ["COLUMNS", "Batch", "Recommender", "RecommenderLike", "as_batch", "check_requires", "part",
           "scoring_batch"]

#: every column a batch may carry, with its shape
COLUMNS = {
    "inputs": "[B, L] left-padded item ids", "targets": "[B] next item, or [B, L] for one-pass rows",
    "users": "[B] user index", "levels": "[B] PMSA level", "context": "[B] ground truth of a generated world",
    "times": "[B, L] event times", "behaviours": "[B, L] behaviour type per event",
    "long_history": "[B, H] the history beyond the window", "history": "[B, H] items seen before the target",
    "index": "[B] row in the training windows", "window": "[B, L] one-pass rows: the window of each target cell",
}
#: columns a scorer never sees (what it is asked to predict, and what evaluation masks)
_NOT_FOR_SCORING = ("targets", "history")


class Batch(dict):
    """Named tensor columns of one batch (module doc): ``batch["users"]`` or ``batch.users`` (None when absent)."""

    def __getattr__(self, name: str):
        if name in COLUMNS:
            return self.get(name)
        raise AttributeError(f"Batch has no column {name!r}; columns are {sorted(COLUMNS)}")

    @classmethod
    def of(cls, windows, columns=None) -> "Batch":
        """The non-empty columns of ``windows`` (a :class:`~srsupm_lab.data.windows.Windows`), or those named in ``columns``."""
        names = [n for n in COLUMNS if getattr(windows, n, None) is not None]
        return cls({n: getattr(windows, n) for n in names if columns is None or n in columns})


def scoring_batch(windows) -> Batch:
    """What a scorer may see of ``windows``: every column but the targets and the masked history."""
    return Batch.of(windows, [n for n in COLUMNS if n not in _NOT_FOR_SCORING])


def as_batch(batch, users_or_items=None) -> tuple[Batch, torch.Tensor | None]:
    """``(batch, items)`` from the arguments of ``score``: ``(Batch, items)`` as given, a Windows as its scoring
    columns, or the short form ``(inputs, users)`` (then no candidates)."""
    if isinstance(batch, torch.Tensor):
        return Batch(inputs=batch, users=users_or_items), None
    if isinstance(batch, Batch):
        return batch, users_or_items
    if isinstance(batch, Mapping):
        return Batch(batch), users_or_items
    if hasattr(batch, "inputs"):
        return scoring_batch(batch), users_or_items
    raise TypeError(f"score: needs a Batch, a Windows or an inputs tensor, got {type(batch).__name__}")


@runtime_checkable
class RecommenderLike(Protocol):
    """The least a model must offer the trainer and evaluation: ``loss`` and ``score`` (module doc)."""

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]: ...

    def score(self, batch: Batch, items: torch.Tensor | None = None) -> torch.Tensor: ...


class Recommender(nn.Module):
    """Base class of the lab's models: the protocol (module doc) with the default of every optional part."""

    #: the columns a batch must hold beyond ``inputs`` and ``targets`` (:data:`COLUMNS`)
    requires: ClassVar[frozenset[str]] = frozenset()
    #: ``{diagnostic: short label}``: the per-epoch diagnostics the trainer shows (its progress bar and epoch line)
    progress_columns: ClassVar[dict[str, str]] = {}
    #: whether the model trains on one-pass rows of prefixes (its ``training_data``)
    one_pass: bool = False

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError(f"{type(self).__name__} does not define loss(batch)")

    def score(self, batch, items: torch.Tensor | None = None) -> torch.Tensor:
        """Scores ``[B, N+1]`` of every item (column 0 = padding), or ``[B, C]`` of the candidates ``items [B, C]``."""
        batch, items = as_batch(batch, items)
        return self.score_items(batch, items)

    def score_items(self, batch: Batch, items: torch.Tensor | None) -> torch.Tensor:
        """:meth:`score` on a Batch; by default the candidates' columns of :meth:`score_all`. A scorer whose score
        depends on the candidate overrides this (and scores all items in chunks when ``items`` is None)."""
        scores = self.score_all(batch)                                              # (B, N+1)
        return scores if items is None else scores.gather(1, items)                 # (B, C)

    def score_all(self, batch: Batch) -> torch.Tensor:
        """Scores of every item ``[B, N+1]`` (column 0 = padding)."""
        raise NotImplementedError(f"{type(self).__name__} defines neither score_all(batch) nor score_items(batch, items)")

    def prepare(self, train, levels: torch.Tensor | None = None) -> None:
        """Called once before the first epoch with the training windows (and their levels, when asked for)."""

    def training_data(self, train) -> dict[str, torch.Tensor] | None:
        """The model's own training tensors (e.g. one-pass rows); None: the trainer batches the windows."""
        return None

    def epoch_diagnostics(self, valid, valid_levels, batch: Batch | None) -> dict[str, float]:
        """Numbers measured after each epoch (the trainer's ``eng_*`` columns); none by default."""
        return {}


_DEFAULTS: dict[str, Any] = {"requires": frozenset(), "progress_columns": {}, "one_pass": False,
                             "prepare": None, "training_data": None, "epoch_diagnostics": None}


def part(model, name: str):
    """The optional protocol part ``name`` of ``model`` (an attribute, or a bound method), or its default
    (None for a hook the model does not define). The one place shared code reads them."""
    if name not in _DEFAULTS:
        raise KeyError(f"part: {name!r} is not an optional part of the Recommender protocol ({sorted(_DEFAULTS)})")
    value = getattr(model, name, _DEFAULTS[name])
    return frozenset(value) if name == "requires" else value


def check_requires(model, columns, where: str) -> None:
    """One line when ``model`` requires columns the data does not hold (``columns``: the names it holds)."""
    missing = sorted(part(model, "requires") - set(columns) - {"inputs", "targets"})
    if missing:
        raise ValueError(f"{where}: {type(model).__name__} requires the column(s) {missing}, which the data does "
                         f"not hold (it holds {sorted(set(columns))})")
