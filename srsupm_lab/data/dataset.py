"""The in-memory dataset every part of srsupm_lab reads (method.md, Notation).

A :class:`SequenceDataset` is a list of time-ordered item sequences plus a multi-label
set per item. Item ids run ``1..n_items``; id ``0`` is padding and carries no labels.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd


@dataclass
class SequenceDataset:
    """User sequences and item labels.

    Attributes
    ----------
    name : str
        Short name (``"beauty"``, ``"synthetic"``, or a folder name).
    sequences : list of np.ndarray
        One int64 array per user, item ids in ``1..n_items``, oldest first.
    item_labels : list of frozenset
        Indexed by item id; ``item_labels[0]`` is the empty padding entry. Each set holds
        int label ids in ``0..n_labels-1``.
    label_names : list of str
        ``label_names[j]`` is the readable name of label id ``j``.
    meta : dict
        Anything the source wants to keep (e.g. the synthetic world's true switch points).
    """

    name: str
    sequences: list[np.ndarray]
    item_labels: list[frozenset]
    label_names: list[str]
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sequences = [np.asarray(s, dtype=np.int64) for s in self.sequences]
        if not self.sequences:
            raise ValueError(f"dataset {self.name!r}: it holds no user sequence")
        if len(self.item_labels) == 0 or self.item_labels[0]:
            raise ValueError(f"dataset {self.name!r}: item_labels[0] is padding and must be an empty set")
        for u, s in enumerate(self.sequences):
            if s.size == 0:
                raise ValueError(f"dataset {self.name!r}: user {u} has an empty sequence")
        top = max(int(s.max()) for s in self.sequences)
        low = min(int(s.min()) for s in self.sequences)
        if low < 1:
            raise ValueError(f"dataset {self.name!r}: item ids must be >= 1 (0 is padding), found {low}")
        if top >= len(self.item_labels):
            raise ValueError(
                f"dataset {self.name!r}: item {top} appears in a sequence but item_labels covers "
                f"only items 1..{len(self.item_labels) - 1}"
            )

    @property
    def n_users(self) -> int:
        return len(self.sequences)

    @property
    def n_items(self) -> int:
        return len(self.item_labels) - 1

    @property
    def n_labels(self) -> int:
        return len(self.label_names)

    @property
    def n_interactions(self) -> int:
        return int(sum(len(s) for s in self.sequences))

    def lengths(self) -> np.ndarray:
        return np.fromiter((len(s) for s in self.sequences), dtype=np.int64, count=self.n_users)

    def with_labels(self, item_labels: Sequence[frozenset], suffix: str = "") -> "SequenceDataset":
        """A copy that shares the sequences but uses other labels (e.g. after label noise)."""
        return SequenceDataset(self.name + suffix, self.sequences, list(item_labels), self.label_names, dict(self.meta))

    def stats(self) -> pd.DataFrame:
        """One-column table of the dataset's size, sequence lengths and label coverage."""
        lens = self.lengths()
        n_lab = np.array([len(x) for x in self.item_labels[1:]])
        rows = {
            "users": self.n_users,
            "items": self.n_items,
            "interactions": self.n_interactions,
            "avg seq len": round(float(lens.mean()), 2),
            "min seq len": int(lens.min()),
            "max seq len": int(lens.max()),
            "sparsity": round(1.0 - self.n_interactions / (self.n_users * self.n_items), 5),
            "labels": self.n_labels,
            "labels per item (mean)": round(float(n_lab.mean()), 2),
            "labels per item (max)": int(n_lab.max()) if n_lab.size else 0,
            "items with no label": int((n_lab == 0).sum()),
        }
        return pd.DataFrame({self.name: pd.Series(rows, dtype=object)})

    def __repr__(self) -> str:
        return (f"SequenceDataset({self.name!r}: {self.n_users} users, {self.n_items} items, "
                f"{self.n_interactions} interactions, {self.n_labels} labels)")
