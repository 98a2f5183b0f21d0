"""The Yelp Open Dataset (a manual download) -> SequenceDataset, S3-Rec's 2019 window by default."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ..dataset import SequenceDataset
from ..preprocess import build_dataset, kcore_filter
from ..raw_lines import MalformedLineError, field, id_field, read_records
from ..s3rec_layout import save_s3rec_layout
from .sources import SOURCES

# S3-Rec's Yelp date window (inclusive string bounds on the review "date" field).
S3REC_YELP_DATES = ("2019-01-01 00:00:00", "2019-12-31 00:00:00")

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


def read_yelp_reviews(path: str | os.PathLike, dates: tuple[str, str] | None = S3REC_YELP_DATES,
                      progress: bool = False) -> pd.DataFrame:
    """Table ``user, item, time, rating`` (time = the ``date`` string) of reviews inside ``dates``."""
    path = Path(path)
    lo, hi = dates if dates is not None else (None, None)
    rows = []
    for lineno, line, rec in read_records(path, json.loads, progress):
        date = field(rec, "date", path, lineno, line)
        if not isinstance(date, str):
            raise MalformedLineError(str(path), lineno, f"'date' must be a string, got {date!r}", line)
        if dates is not None and (date < lo or date > hi):
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

    ``dates``: inclusive (min, max) string bounds on the review date; the default is S3-Rec's
    2019 window, ``None`` keeps every review.
    """
    root = Path(root)
    missing = [name for name in YELP_FILES if not (root / name).is_file()]
    if missing:
        raise FileNotFoundError(_missing_yelp_message(root, missing))
    if dates is not None and not (len(dates) == 2 and all(isinstance(d, str) for d in dates)):
        raise ValueError(f"dates must be None or a (min, max) pair of 'YYYY-MM-DD HH:MM:SS' strings, got {dates!r}")
    df = kcore_filter(read_yelp_reviews(root / YELP_FILES[0], dates, progress), k=k)
    labels = read_yelp_business(root / YELP_FILES[1], set(df["item"].unique()), progress)
    ds = build_dataset(df, labels, name="Yelp")
    ds.meta.update(source="yelp-open-dataset", files=list(YELP_FILES), kcore=k, dates=dates)
    if out is not None:
        save_s3rec_layout(ds, out)
    return ds
