"""The k-core filter, reported: what it kept of a table is counted and said, never dropped without a word.

The paper (and the S3-Rec release it uses) keeps users and items with at least 5 interactions
(:func:`srsupm_lab.data.preprocess.kcore_filter`). On a table of one's own that filter can drop most of
it (a small shop, a short log). The decision (data/README.md, "Your own data"): the filter stays the
default, so one's data goes through the paper's protocol, and every load that filters reports it:

* :func:`filter_reported` returns the kept table and its counts (``{"k", "before", "after"}``, each of
  ``interactions``, ``users``, ``items``), which the loaders keep in ``ds.meta["kcore_counts"]``;
* when the filter drops anything, one ``UserWarning`` gives the counts before and after (printed by the
  command line, as the leave-one-out split's warning is);
* ``python -m srsupm_lab stats`` prints them (:func:`kcore_lines`).
"""
from __future__ import annotations

import warnings

import pandas as pd

from .preprocess import kcore_filter

__all__ = ["filter_reported", "kcore_counts", "kcore_lines"]

_KINDS = ("interactions", "users", "items")


def _sizes(df: pd.DataFrame, user: str, item: str) -> dict[str, int]:
    return {"interactions": int(len(df)), "users": int(df[user].nunique()), "items": int(df[item].nunique())}


def kcore_counts(before: pd.DataFrame, after: pd.DataFrame, k: int, user: str = "user",
                 item: str = "item") -> dict:
    """``{"k": k, "before": sizes, "after": sizes}``, sizes the number of interactions, users and items."""
    return {"k": int(k), "before": _sizes(before, user, item), "after": _sizes(after, user, item)}


def _summary(counts: dict) -> str:
    b, a = counts["before"], counts["after"]
    return ", ".join(f"{a[x]} of {b[x]} {x}" for x in ("users", "items", "interactions"))


def filter_reported(df: pd.DataFrame, k: int, source: str, user: str = "user",
                    item: str = "item") -> tuple[pd.DataFrame, dict]:
    """:func:`~srsupm_lab.data.preprocess.kcore_filter` and its counts; a ``UserWarning`` naming ``source`` and
    the counts when it drops anything."""
    kept = kcore_filter(df, k=k, user=user, item=item)
    counts = kcore_counts(df, kept, k, user, item)
    if counts["before"] != counts["after"]:
        warnings.warn(f"{source}: the {k}-core filter kept {_summary(counts)} (every user and item keeps at least "
                      f"{k} interactions; k=1 or k=None keeps them all)", stacklevel=3)
    return kept, counts


def kcore_lines(counts) -> list[str]:
    """What ``stats`` prints of ``ds.meta["kcore_counts"]`` (nothing without it: the shipped S3-Rec files were
    filtered when they were built)."""
    if not isinstance(counts, dict) or not {"k", "before", "after"} <= set(counts):
        return []
    return [f"{counts['k']}-core filter: kept {_summary(counts)}"]
