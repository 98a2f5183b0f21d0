"""The Yelp Open Dataset (a manual download) -> SequenceDataset, S3-Rec's 2019 window by default.

Review dates are parsed as dates (:func:`parse_yelp_date`); a malformed one is an error naming the file,
the line and the value, never a row silently dropped or sorted last.
"""
from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path

import pandas as pd

from ..dataset import SequenceDataset
from ..kcore import filter_reported
from ..preprocess import build_dataset
from ..raw_lines import MalformedLineError, field, id_field, read_records
from ..s3rec_layout import save_s3rec_layout
from .sources import SOURCES

# S3-Rec's Yelp date window (inclusive bounds on the review "date" field; the upper one is midnight, so most
# of 31 December is out, exactly as S3-Rec's string comparison had it).
S3REC_YELP_DATES = ("2019-01-01 00:00:00", "2019-12-31 00:00:00")

# the review "date" field: 'YYYY-MM-DD HH:MM:SS' (every release since 2018), or 'YYYY-MM-DD' (older ones)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?: [0-9]{2}:[0-9]{2}:[0-9]{2})?")


def parse_yelp_date(text) -> datetime | None:
    """``'YYYY-MM-DD HH:MM:SS'`` or ``'YYYY-MM-DD'`` (midnight) as a ``datetime``; None for anything else
    (another format, an impossible day such as 2019-02-30, not a string)."""
    if not isinstance(text, str) or _DATE.fullmatch(text) is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None

YELP_FILES = ("yelp_academic_dataset_review.json", "yelp_academic_dataset_business.json")


def _missing_yelp_message(root: Path, missing: list[str]) -> str:
    return (
        f"Yelp needs a manual download (licence click-through), and {', '.join(missing)} "
        f"{'is' if len(missing) == 1 else 'are'} missing from {root}.\n"
        f"  1. Open {SOURCES['yelp'][0]} , accept the Dataset Terms of Use and download the JSON dataset.\n"
        f"  2. Extract the archive (yelp_dataset.tar / .tgz).\n"
        f"  3. Put these files directly in {root}:\n"
        + "".join(f"       {root / name}\n" for name in YELP_FILES)
    )


def _date_bounds(dates) -> tuple[datetime, datetime] | None:
    if dates is None:
        return None
    bounds = tuple(parse_yelp_date(d) for d in dates) if isinstance(dates, (tuple, list)) and len(dates) == 2 \
        else (None,)
    if any(b is None for b in bounds):
        raise ValueError(f"dates must be None or a (min, max) pair of 'YYYY-MM-DD HH:MM:SS' (or 'YYYY-MM-DD') "
                         f"strings, got {dates!r}")
    return bounds


def read_yelp_reviews(path: str | os.PathLike, dates: tuple[str, str] | None = S3REC_YELP_DATES,
                      progress: bool = False) -> pd.DataFrame:
    """Table ``user, item, time, rating`` of the reviews dated inside ``dates`` (inclusive bounds).

    ``time`` is the review's ``date`` parsed as a date and time (``'YYYY-MM-DD HH:MM:SS'``, or
    ``'YYYY-MM-DD'`` for midnight), so reviews are ordered and filtered as dates, not as text. Every
    date is checked, also with ``dates=None``: a malformed one (another format, an impossible day,
    not a string) is a ``ValueError`` naming the file, the line and the value; it is never dropped
    nor sorted after every real date (where it would become its user's test target).
    """
    path = Path(path)
    bounds = _date_bounds(dates)
    rows = []
    for lineno, line, rec in read_records(path, json.loads, progress):
        raw = field(rec, "date", path, lineno, line)
        date = parse_yelp_date(raw)
        if date is None:
            raise MalformedLineError(str(path), lineno, f"'date' must be a date 'YYYY-MM-DD HH:MM:SS', got {raw!r}",
                                     line)
        if bounds is not None and not bounds[0] <= date <= bounds[1]:
            continue
        rows.append((id_field(rec, "user_id", path, lineno, line),
                     id_field(rec, "business_id", path, lineno, line), date, rec.get("stars")))
    return pd.DataFrame(rows, columns=["user", "item", "time", "rating"])


def read_yelp_business(path: str | os.PathLike, items: set[str] | None = None,
                       progress: bool = False) -> dict[str, list[str]]:
    """``business_id -> categories`` (the comma-separated string split and stripped; null -> [])."""
    path = Path(path)
    out: dict[str, list[str]] = {}
    for lineno, line, rec in read_records(path, json.loads, progress):
        bid = id_field(rec, "business_id", path, lineno, line)
        if items is not None and bid not in items:
            continue
        cats = rec.get("categories")
        if cats is None:
            out[bid] = []
        elif isinstance(cats, str):
            out[bid] = list(dict.fromkeys(c.strip() for c in cats.split(",") if c.strip()))
        else:
            raise MalformedLineError(str(path), lineno, f"'categories' must be a string or null, got {type(cats).__name__}", line)
    return out


def prepare_yelp(root: str | os.PathLike, *, dates: tuple[str, str] | None = S3REC_YELP_DATES, k: int = 5,
                 out: str | os.PathLike | None = None, progress: bool = True) -> SequenceDataset:
    """Yelp Open Dataset (files in ``root``) as a SequenceDataset named ``"Yelp"``.

    ``dates``: inclusive (min, max) bounds on the review date, as ``'YYYY-MM-DD HH:MM:SS'`` strings
    (compared as dates); the default is S3-Rec's 2019 window, ``None`` keeps every review. A
    malformed review date is an error naming the file, line and value (:func:`read_yelp_reviews`).
    """
    root = Path(root)
    missing = [name for name in YELP_FILES if not (root / name).is_file()]
    if missing:
        raise FileNotFoundError(_missing_yelp_message(root, missing))
    _date_bounds(dates)                                   # checked before the large files are read
    df, counts = filter_reported(read_yelp_reviews(root / YELP_FILES[0], dates, progress), k, str(root / YELP_FILES[0]))
    labels = read_yelp_business(root / YELP_FILES[1], set(df["item"].unique()), progress)
    ds = build_dataset(df, labels, name="Yelp")
    ds.meta.update(source="yelp-open-dataset", files=list(YELP_FILES), kcore=k, kcore_counts=counts, dates=dates)
    if out is not None:
        save_s3rec_layout(ds, out)
    return ds
