"""Your own interaction data: a table of ``user, item, timestamp`` (+ labels) -> :class:`SequenceDataset`.

The most common form of recommendation data is one row per interaction. This module reads it
from a CSV or TSV file, a Parquet file (pandas with pyarrow) or a pandas DataFrame, and makes
the same choices as the shipped datasets (data/README.md, "Your own data"):

* **columns**: ``user``, ``item`` and ``timestamp`` (or ``time``) by default, each name selectable;
  optional labels, either a column of the table (``label_column``: names separated by
  ``label_sep``, default ``"|"``, e.g. ``"Drama|Comedy"``; a list of strings in a DataFrame;
  an empty cell means "not given on this row", and an item's non-empty cells must agree) or
  a separate item table (``item_labels``: a file or DataFrame with columns ``item`` and
  ``labels``, one row per item, or a mapping ``{item: [label, ...]}``; its item column may also
  carry the interactions' item column name, its label column is renamed with ``label_column``);
* **ids are strings**: ids are read as text, stripped of surrounding blanks and never converted
  to numbers, so ``"012"`` and ``"12"`` are two items (in a DataFrame or Parquet file, integer
  ids become their decimal text; float ids are refused, since ``12.0`` would not match ``"12"``);
* **time**: numbers (any unit, e.g. Unix seconds) when the column holds numbers, else dates and
  times in ISO 8601 (``2020-05-01``, ``2020-05-01 10:00``, offsets honoured, compared in UTC),
  or in the format given by ``time_format`` (a ``strftime`` pattern, or ``"mixed"``). A value
  that parses as neither is an error: no row is ever dropped or moved for it;
* **duplicates**: rows with the same user, item and time (after parsing) are kept, as S3-Rec
  keeps repeated interactions (``duplicates="keep"``), or all but the first dropped
  (``"drop"``), or refused (``"error"``); when there are any, one warning gives their count;
* **k-core**: iteratively, every user and every item keeps at least ``k`` interactions
  (``k=5``, the S3-Rec release; ``k=None`` or ``1`` turns the filter off); what it dropped is never
  silent: a warning gives the users, items and interactions before and after, and
  ``ds.meta["kcore_counts"]`` keeps them (:mod:`srsupm_lab.data.kcore`);
* **order**: each user's interactions by time, ties kept in file order (a stable sort);
* **ids 1..n**: users in order of first appearance in the file (``sequences[u]`` is user
  ``u + 1``), items ``1..n`` in order of first appearance along the users' time-ordered
  sequences (S3-Rec's ``id_map``, :mod:`srsupm_lab.data.preprocess`). The maps back to the raw
  ids are kept in ``ds.meta``: ``id2user[u]`` (raw id of ``sequences[u]``), ``id2item[i]``
  (raw id of item ``i``; entry 0 is ``None``), and ``user2id`` / ``item2id`` the other way.

Bad input raises a one-line ``ValueError`` naming the file, the line (1-based, the header is
line 1; ``row N`` for Parquet and DataFrames) and the value: a missing column (the columns
found are listed), an empty file, a missing user, item or time value (an empty cell, or one
of ``NA``, ``N/A``, ``NaN``, ``nan``, ``null``, ``NULL``, ``None``, ``<NA>``), a time that is
neither a number nor a date, an item whose labels differ between two rows, and a k-core
filter that leaves nothing. The column checks live in :mod:`srsupm_lab.data.interaction_columns`.

    >>> ds = read_interactions("ratings.csv", time="ts", label_column="genres", k=5)
    >>> ds = dataset_from_frame(df, user="customer", item="sku", item_labels=products)
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .dataset import SequenceDataset
from .interaction_columns import (RowPlace, check_header, duplicate_rows, first_true, id_column, label_cell, read_table,
                                  require_columns, resolve_time_column, time_column)
from .kcore import filter_reported
from .preprocess import build_dataset

__all__ = ["INTERACTION_SUFFIXES", "dataset_from_frame", "read_interactions", "read_item_labels"]

#: file suffixes read by :func:`read_interactions` (and so by ``load_dataset(path)``)
INTERACTION_SUFFIXES = (".csv", ".tsv", ".parquet")
DUPLICATE_ACTIONS = ("keep", "drop", "error")


# ---------------------------------------------------------------- labels
def _labels_from_column(series: pd.Series, items: np.ndarray, col: str, sep: str,
                        where: RowPlace) -> dict[str, list[str]]:
    """``{item: labels}`` from a label column of the interactions; an item's non-empty cells must agree."""
    pairs = pd.DataFrame({"item": items, "cell": series.to_numpy(dtype=object)})
    try:
        pairs = pairs.drop_duplicates()                            # keeps first occurrences, in row order
    except TypeError:                                              # list cells: read every row
        pass
    seen: dict[str, tuple[frozenset, int, object]] = {}
    out: dict[str, list[str]] = {}
    for pos, item, cell in zip(pairs.index.tolist(), pairs["item"].tolist(), pairs["cell"].tolist()):
        names = label_cell(cell, sep, where, pos, col)
        if names is None:
            continue
        if item in seen:
            first, first_pos, first_cell = seen[item]
            if frozenset(names) != first:
                raise ValueError(f"{where.row(pos)}: column {col!r}: item {item!r} has labels {cell!r} here but "
                                 f"{first_cell!r} on {where.ref(first_pos)} (an item's labels must agree on every "
                                 f"row; an empty cell is allowed)")
            continue
        seen[item] = (frozenset(names), pos, cell)
        out[item] = list(names)
    return out


def read_item_labels(source, *, item: str = "item", label_column: str = "labels",
                     label_sep: str = "|", sep: str | None = None) -> dict[str, list[str]]:
    """``{item id (text): [label, ...]}`` from an item table.

    ``source`` is a CSV/TSV/Parquet file or a DataFrame with columns ``item`` and
    ``label_column`` (one row per item; labels separated by ``label_sep``, or a list of strings
    in a DataFrame; an empty cell is an item without label), or a mapping ``{item: labels}``
    (labels a list of strings or one ``label_sep``-separated string). Item ids are text, as in
    :func:`read_interactions`. An item listed twice is an error naming both lines.
    """
    return _item_table(source, (item,), label_column, label_sep, sep)


def _item_table(source, item_columns: tuple[str, ...], label_column: str, label_sep: str,
                sep: str | None = None) -> dict[str, list[str]]:
    """:func:`read_item_labels`; the item column is the first of ``item_columns`` that the table has."""
    if isinstance(source, Mapping):
        where = RowPlace("item_labels", "frame", index=list(source))
        keys = id_column(pd.Series(list(source), dtype=object), "key", "item", where)
        out, key_of = {}, {}
        for raw, key, value in zip(source, keys.tolist(), source.values()):
            if key in out:
                raise ValueError(f"item_labels: keys {key_of[key]!r} and {raw!r} name the same item {key!r} "
                                 f"(ids are text)")
            names = label_cell(value, label_sep, where, len(out), "labels")
            out[key], key_of[key] = list(names or ()), raw
        return out
    if isinstance(source, pd.DataFrame):
        df, where = source.reset_index(drop=True), RowPlace("item table (DataFrame)", "frame", index=source.index)
        df.columns = [str(c) for c in df.columns]
        where.n_rows = len(df)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if sep is None and path.suffix.lower() not in INTERACTION_SUFFIXES:
            raise ValueError(f"{path}: unknown item table type {path.suffix!r}; expected one of "
                             f"{', '.join(INTERACTION_SUFFIXES)} (or give sep=... for delimited text)")
        df, where = read_table(path, sep)
    else:
        raise TypeError(f"item_labels must be a file path, a DataFrame or a mapping, got {type(source).__name__}")
    item = next((c for c in item_columns if c in df.columns), None)
    if item is None:
        names = " or ".join(repr(c) for c in item_columns)
        raise ValueError(f"{where.header()}: no column {names} (the item column); the columns found are "
                         f"{list(df.columns)}")
    require_columns(df, where, {"labels": label_column})
    items = id_column(df[item], item, "item", where)
    dup = pd.Series(items).duplicated().to_numpy()
    if dup.any():
        pos = first_true(dup)
        first = first_true(items == items[pos])
        raise ValueError(f"{where.row(pos)}: item {items[pos]!r} is listed again (first on {where.ref(first)}); "
                         f"the item table has one row per item")
    cells = df[label_column].to_numpy(dtype=object)
    return {it: list(label_cell(cell, label_sep, where, pos, label_column) or ())
            for pos, (it, cell) in enumerate(zip(items.tolist(), cells))}


# ---------------------------------------------------------------- the dataset
def _check_options(k, duplicates, label_sep) -> None:
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
        raise ValueError(f"k must be a positive integer or None (no k-core filter), got {k!r}")
    if duplicates not in DUPLICATE_ACTIONS:
        raise ValueError(f"duplicates must be one of {DUPLICATE_ACTIONS}, got {duplicates!r}")
    if not isinstance(label_sep, str) or not label_sep:
        raise ValueError(f"label_sep must be a non-empty string, got {label_sep!r}")


def _build(df: pd.DataFrame, where: RowPlace, *, user: str, item: str, time: str | None, label_column: str | None,
           item_labels, label_sep: str, k: int | None, duplicates: str, time_format: str | None,
           name: str) -> SequenceDataset:
    time = resolve_time_column(df.columns, time)
    require_columns(df, where, {"user": user, "item": item, "time": time,
                         "labels": label_column if item_labels is None else None})
    if len(df) == 0:
        raise ValueError(f"{where.header()}: no interaction rows")
    users = id_column(df[user], user, "user", where)
    items = id_column(df[item], item, "item", where)
    times, time_kind = time_column(df[time], time, where, time_format)
    table = pd.DataFrame({"user": users, "item": items, "time": times.reset_index(drop=True)})

    if item_labels is not None:
        labels = _item_table(item_labels, tuple(dict.fromkeys((item, "item"))), label_column or "labels", label_sep)
    elif label_column is not None:
        labels = _labels_from_column(df[label_column], items, label_column, label_sep, where)
    else:
        labels = None

    dup, what = duplicate_rows(table, where)
    n_dup = int(dup.sum())
    if n_dup:
        if duplicates == "error":
            raise ValueError(what + "; duplicates='error'")
        warnings.warn(what + ("; kept (duplicates='keep', as S3-Rec keeps repeated interactions; 'drop' drops them)"
                              if duplicates == "keep" else "; dropped, the first of each kept (duplicates='drop')"),
                      stacklevel=3)
        if duplicates == "drop":
            table = table[~dup]

    n_rows, n_users, n_items = len(table), table["user"].nunique(), table["item"].nunique()
    counts = None
    if k is not None and k > 1:
        kept, counts = filter_reported(table, int(k), where.source)
        if len(kept) == 0:
            most_u = int(table.groupby("user").size().max())
            most_i = int(table.groupby("item").size().max())
            raise ValueError(f"{where.source}: the {k}-core filter leaves no interaction (before it: {n_rows} "
                             f"interactions, {n_users} users, {n_items} items; the most interactions of one user: "
                             f"{most_u}, of one item: {most_i}); lower k, or k=None turns the filter off")
        table = kept

    with warnings.catch_warnings():
        if labels is None:
            warnings.filterwarnings("ignore", message=r"build_dataset\(.*have no label")
        ds = build_dataset(table, labels or {}, name=name)
    if labels is None:
        warnings.warn(f"{where.source}: no labels given (label_column=None, item_labels=None): every item has an "
                      f"empty label set, so PMSA sees no category", stacklevel=3)
    ds.meta.update(
        source=where.source, kcore=None if k is None or k == 1 else int(k), time=time_kind,
        columns={"user": user, "item": item, "time": time, "labels": label_column},
        label_sep=label_sep, rows_read=int(len(df)), duplicates=n_dup, duplicates_action=duplicates,
        rows_before_kcore=n_rows, users_before_kcore=int(n_users), items_before_kcore=int(n_items),
        kcore_counts=counts,
    )
    return ds


def dataset_from_frame(df: pd.DataFrame, *, user: str = "user", item: str = "item", time: str | None = None,
                       label_column: str | None = None, item_labels=None, label_sep: str = "|",
                       k: int | None = 5, duplicates: str = "keep", time_format: str | None = None,
                       name: str = "interactions") -> SequenceDataset:
    """A :class:`SequenceDataset` from a DataFrame of interactions, one row per interaction (module doc).

    Parameters
    ----------
    df : DataFrame
        Row order is the "file order" that breaks ties in time and numbers the users.
    user, item, time : str
        Column names; ``time=None`` takes ``timestamp``, else ``time``.
    label_column : str, optional
        A column of ``df`` holding each item's labels (a ``label_sep``-separated string or a
        list of strings; empty = not given on that row). With ``item_labels``, the label
        column of the item table instead (default ``"labels"``).
    item_labels : path, DataFrame or mapping, optional
        An item table, see :func:`read_item_labels`: its item column is named like the
        interactions' (``item``) or ``item``, its label column ``label_column`` or ``labels``.
    label_sep : str
        Separator of label names inside one cell, ``"|"`` by default.
    k : int or None
        k-core filter (5, as the S3-Rec release); ``None`` or ``1``: no filter.
    duplicates : ``"keep"``, ``"drop"`` or ``"error"``
        What to do with rows repeating an earlier row's user, item and time.
    time_format : str, optional
        ``pd.to_datetime`` format of text times (e.g. ``"%d/%m/%Y %H:%M"`` or ``"mixed"``);
        default: numbers, else ISO 8601.
    name : str
        The dataset's name.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"dataset_from_frame expects a pandas DataFrame, got {type(df).__name__}")
    _check_options(k, duplicates, label_sep)
    where = RowPlace("DataFrame", "frame", index=df.index)
    where.n_rows = len(df)
    frame = df.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    check_header(frame.columns, "DataFrame")
    return _build(frame, where, user=user, item=item, time=time, label_column=label_column, item_labels=item_labels,
                  label_sep=label_sep, k=k, duplicates=duplicates, time_format=time_format, name=name)


def read_interactions(path: str | os.PathLike, *, user: str = "user", item: str = "item", time: str | None = None,
                      label_column: str | None = None, item_labels=None, label_sep: str = "|",
                      k: int | None = 5, duplicates: str = "keep", time_format: str | None = None,
                      sep: str | None = None, name: str | None = None) -> SequenceDataset:
    """A :class:`SequenceDataset` from a file of interactions: ``.csv``, ``.tsv`` or ``.parquet``.

    CSV and TSV files are UTF-8 (a BOM is allowed), with a header line naming the columns;
    every cell is read as text (ids stay text; times are parsed as the module doc says).
    ``sep`` overrides the separator (``","`` for ``.csv``, tab for ``.tsv``; giving it reads
    any suffix as delimited text). Parquet needs pyarrow. ``name`` defaults to the file's stem.
    The other options are those of :func:`dataset_from_frame`; errors name the file and line.
    """
    _check_options(k, duplicates, label_sep)
    path = Path(path).expanduser()
    if sep is None and path.suffix.lower() not in INTERACTION_SUFFIXES:
        raise ValueError(f"{path}: unknown interaction file type {path.suffix!r}; expected one of "
                         f"{', '.join(INTERACTION_SUFFIXES)} (or give sep=... for delimited text)")
    df, where = read_table(path, sep)
    return _build(df, where, user=user, item=item, time=time, label_column=label_column, item_labels=item_labels,
                  label_sep=label_sep, k=k, duplicates=duplicates, time_format=time_format,
                  name=name or path.stem)
