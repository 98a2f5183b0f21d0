"""Raw interactions -> SequenceDataset: k-core filter, time order, id maps (method.md, "Split and training windows").

The paper removes users and items with fewer than 5 interactions (5-core) and orders each
user's interactions by time. This module does both for any table of (user, item, time) rows,
so every raw source (Amazon, Yelp, MovieLens, the RecBole ``.inter`` files) goes through one path:

    raw table --kcore_filter--> k-core table --build_dataset--> SequenceDataset

Id assignment follows S3-Rec's ``data_process.py`` (``id_map``), so that a dataset built from
the original files lines up with the published ``<Name>.txt`` files:

* **users** get ids in order of their first appearance in the table's row order (the raw
  file order, *not* the time-sorted order); user ``u`` of the dataset (0-based index into
  ``sequences``) is written as user id ``u + 1`` in the S3-Rec layout;
* each user's interactions are sorted stably by ``(time, original row order)``: ties in time
  keep the order of the raw file;
* **items** get ids ``1..n`` in order of first appearance when walking the users in id order
  through their time-sorted sequences;
* repeated (user, item) rows are kept as repeated interactions, as S3-Rec does.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from .dataset import SequenceDataset


def _require_columns(df: pd.DataFrame, columns: Iterable[str], where: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"{where}: column(s) {missing} not in the table; its columns are {list(df.columns)}")


def kcore_filter(df: pd.DataFrame, k: int = 5, user: str = "user", item: str = "item") -> pd.DataFrame:
    """Iterative k-core: drop rows until every user and every item has at least ``k`` rows.

    Each round counts the rows of every user and every item in the current table and drops,
    at once, all rows whose user or item has fewer than ``k``; it stops when a round drops
    nothing. The result is the unique maximal sub-table in which every user and item has
    ``>= k`` rows (the same fixed point as S3-Rec's ``filter_Kcore``). Repeated (user, item)
    rows each count. Row order and index are kept; the input is not modified.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"kcore_filter: k must be a positive integer, got {k!r}")
    _require_columns(df, [user, item], "kcore_filter")
    out = df
    while True:
        user_n = out.groupby(user, sort=False)[user].transform("size").to_numpy()   # (rows,)
        item_n = out.groupby(item, sort=False)[item].transform("size").to_numpy()   # (rows,)
        keep = (user_n >= k) & (item_n >= k)
        if keep.all():
            return out.copy() if out is df else out
        out = out[keep]


def build_dataset(
    df: pd.DataFrame,
    item_labels: Mapping[object, Iterable[str]],
    name: str,
    user: str = "user",
    item: str = "item",
    time: str = "time",
    min_label_items: int = 1,
) -> SequenceDataset:
    """Turn a (user, item, time) table and raw item labels into a :class:`SequenceDataset`.

    Parameters
    ----------
    df : DataFrame
        One row per interaction, in raw file order (row order breaks ties in time). The
        ``time`` column may hold anything sortable (ints, floats, ISO date strings, datetimes).
    item_labels : mapping raw item id -> iterable of label names (str)
        Items missing from the mapping, or with an empty iterable, get an empty label set
        (allowed; a warning gives their count).
    name : str
        Dataset name (also the file stem used by ``save_s3rec_layout``).
    min_label_items : int
        Drop labels carried by fewer than this many items of the dataset (1 = keep all).

    Label ids: the sorted distinct names found on the dataset's items -> ``0..n_labels-1``.

    ``meta`` holds the raw <-> new id maps: ``user2id`` (raw -> S3-Rec user id ``u + 1``),
    ``id2user`` (list, index ``u`` -> raw id of ``sequences[u]``), ``item2id`` (raw -> item id
    ``1..n``) and ``id2item`` (list, index = item id, entry 0 is ``None`` for padding).
    """
    _check_table(df, name, user, item, time, min_label_items)
    user_code, user_raw, items_sorted = _time_order(df, name, user, item, time)
    item_code, item_raw = pd.factorize(items_sorted, sort=False)        # (rows,) 0-based, first appearance
    flat = item_code.astype(np.int64) + 1                               # (rows,) ids 1..n
    counts = np.bincount(user_code, minlength=len(user_raw))            # (n_users,)
    sequences = np.split(flat, np.cumsum(counts)[:-1])

    raw_items = item_raw.tolist()
    names_per_item = [_item_label_names(item_labels.get(raw, ()), raw, name) for raw in raw_items]
    label_names, item_label_sets = _label_ids(names_per_item, min_label_items)
    n_empty = sum(1 for s in item_label_sets[1:] if not s)
    if n_empty:
        warnings.warn(f"build_dataset({name!r}): {n_empty} of {len(raw_items)} items have no label "
                      f"(missing from item_labels, empty, or only rare labels)", stacklevel=2)

    raw_users = user_raw.tolist()
    meta = {
        "user2id": {raw: u + 1 for u, raw in enumerate(raw_users)},
        "id2user": raw_users,
        "item2id": {raw: i + 1 for i, raw in enumerate(raw_items)},
        "id2item": [None] + raw_items,
        "items_without_label": n_empty,
        "min_label_items": int(min_label_items),
    }
    return SequenceDataset(name, sequences, item_label_sets, label_names, meta)


def _check_table(df: pd.DataFrame, name: str, user: str, item: str, time: str, min_label_items) -> None:
    """The columns are there, the table is not empty, no id or time is missing, ``min_label_items`` is valid."""
    _require_columns(df, [user, item, time], "build_dataset")
    if len(df) == 0:
        raise ValueError(f"build_dataset({name!r}): the interaction table is empty (nothing left after filtering?)")
    for col in (user, item, time):
        if df[col].isna().any():
            rows = np.flatnonzero(df[col].isna().to_numpy())[:5].tolist()
            raise ValueError(f"build_dataset({name!r}): column {col!r} has missing values (row positions {rows}...)")
    if isinstance(min_label_items, bool) or not isinstance(min_label_items, (int, np.integer)) or min_label_items < 1:
        raise ValueError(f"build_dataset: min_label_items must be a positive integer, got {min_label_items!r}")


def _time_order(df: pd.DataFrame, name: str, user: str, item: str, time: str) -> tuple[np.ndarray, pd.Index, np.ndarray]:
    """Users by first appearance, then (time, row) inside each user: ``(user code of every row, raw users in
    order of first appearance, raw items in that time order)``."""
    user_code, user_raw = pd.factorize(df[user], sort=False)            # (rows,), first-appearance order
    try:
        time_rank, _ = pd.factorize(df[time], sort=True)                # (rows,), rank of the time value
    except TypeError:                                                   # e.g. numbers mixed with text
        kinds = sorted({type(v).__name__ for v in df[time].tolist()})
        raise ValueError(f"build_dataset({name!r}): column {time!r} mixes values that cannot be ordered "
                         f"({', '.join(kinds)})") from None
    row = np.arange(len(df), dtype=np.int64)                            # (rows,), raw file order
    order = np.lexsort((row, time_rank, user_code))                     # last key sorts first
    return user_code, user_raw, df[item].to_numpy()[order]


def _item_label_names(labels, raw, name: str) -> list[str]:
    """One item's label names, checked (a list of str; a lone string or a mapping is an error naming the item)."""
    if labels is None:
        labels = ()
    if isinstance(labels, (str, bytes)):
        raise ValueError(f"build_dataset({name!r}): labels of item {raw!r} must be an iterable of names, "
                         f"got the single string {labels!r} (wrap it in a list)")
    if isinstance(labels, Mapping) or not isinstance(labels, Iterable):
        raise ValueError(f"build_dataset({name!r}): labels of item {raw!r} must be a list of names, "
                         f"got {type(labels).__name__} {labels!r:.80}")
    labels = list(dict.fromkeys(labels))
    bad = [x for x in labels if not isinstance(x, str)]
    if bad:
        raise ValueError(f"build_dataset({name!r}): labels of item {raw!r} must be str, got {bad[:3]!r}")
    return labels


def _label_ids(names_per_item: list[list[str]], min_label_items: int) -> tuple[list[str], list[frozenset]]:
    """Label ids: the sorted distinct names carried by at least ``min_label_items`` items -> ``0..n-1``;
    ``(label names, label-id set per item id with the empty padding set first)``."""
    label_count = pd.Series([x for labels in names_per_item for x in labels], dtype=object).value_counts()
    label_names = sorted(label_count.index[label_count >= min_label_items].tolist())
    label_id = {x: j for j, x in enumerate(label_names)}
    return label_names, [frozenset()] + [frozenset(label_id[x] for x in labels if x in label_id)
                                         for labels in names_per_item]
