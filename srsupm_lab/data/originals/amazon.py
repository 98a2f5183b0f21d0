"""Amazon 2014 (McAuley et al., UCSD): 5-core reviews + metadata -> SequenceDataset (paper §5.1)."""
from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pandas as pd

from ..dataset import SequenceDataset
from ..kcore import filter_reported
from ..preprocess import build_dataset
from ..raw_lines import MalformedLineError, field, id_field, parse_json_or_literal, read_records
from ..s3rec_layout import save_s3rec_layout
from .sources import ensure_file

# The 24 categories of the 2014 Amazon dump that have a 5-core review file.
AMAZON_CATEGORIES = (
    "Amazon_Instant_Video", "Apps_for_Android", "Automotive", "Baby", "Beauty", "Books",
    "CDs_and_Vinyl", "Cell_Phones_and_Accessories", "Clothing_Shoes_and_Jewelry", "Digital_Music",
    "Electronics", "Grocery_and_Gourmet_Food", "Health_and_Personal_Care", "Home_and_Kitchen",
    "Kindle_Store", "Movies_and_TV", "Musical_Instruments", "Office_Products",
    "Patio_Lawn_and_Garden", "Pet_Supplies", "Sports_and_Outdoors", "Tools_and_Home_Improvement",
    "Toys_and_Games", "Video_Games",
)

_LEADING_ASIN = re.compile(r"""\s*\{\s*['"]asin['"]\s*:\s*['"]([^'"]+)['"]""")


def read_amazon_reviews(path: str | os.PathLike, progress: bool = False) -> pd.DataFrame:
    """Table ``user, item, time, rating`` from a ``reviews_<Category>_5.json.gz`` file, in file order."""
    path = Path(path)
    rows = []
    for lineno, line, rec in read_records(path, parse_json_or_literal, progress):
        user = id_field(rec, "reviewerID", path, lineno, line)
        item = id_field(rec, "asin", path, lineno, line)
        t = field(rec, "unixReviewTime", path, lineno, line)
        rating = rec.get("overall")
        if not isinstance(t, (int, float)) or isinstance(t, bool):
            raise MalformedLineError(str(path), lineno, f"unixReviewTime must be a number, got {t!r}", line)
        rows.append((str(user), str(item), int(t), rating))
    return pd.DataFrame(rows, columns=["user", "item", "time", "rating"])


def amazon_labels(categories) -> list[str]:
    """Labels of one item: each category path without its root, de-duplicated in first-seen order."""
    return list(dict.fromkeys(c for path in categories for c in path[1:]))


def read_amazon_meta(path: str | os.PathLike, items: set[str] | None = None,
                     progress: bool = False) -> dict[str, list[str]]:
    """``asin -> labels`` (see :func:`amazon_labels`) from a ``meta_<Category>.json.gz`` file.

    Lines are Python dict literals (``ast.literal_eval``). With ``items``, lines whose leading
    ``'asin'`` is not in it are skipped before parsing (fast for the large files; a malformed
    line about an unused item then goes unnoticed).
    """
    path = Path(path)

    def parse(line: str):
        if items is not None:
            m = _LEADING_ASIN.match(line)
            if m is not None and m.group(1) not in items:
                return {}
        return ast.literal_eval(line)

    out: dict[str, list[str]] = {}
    for lineno, line, rec in read_records(path, parse, progress):
        if not rec:
            continue
        asin = id_field(rec, "asin", path, lineno, line)
        if items is not None and asin not in items:
            continue
        cats = rec.get("categories") or []
        if not (isinstance(cats, list) and all(isinstance(p, list) and all(isinstance(c, str) for c in p) for p in cats)):
            raise MalformedLineError(str(path), lineno, "'categories' must be a list of lists of str", line)
        out[asin] = amazon_labels(cats)
    return out


def prepare_amazon(category: str, root: str | os.PathLike, *, k: int = 5, min_label_items: int = 1,
                   download: bool = True, out: str | os.PathLike | None = None,
                   progress: bool = True) -> SequenceDataset:
    """Amazon 2014 ``category`` (e.g. ``"Beauty"``) as a SequenceDataset named ``category``.

    Files are read from (and, with ``download``, fetched into) ``root``. ``min_label_items``
    drops rare labels (S3-Rec's Beauty attributes used 5; 1 keeps all). With ``out``, the
    dataset is also written there in the S3-Rec layout.
    """
    if category not in AMAZON_CATEGORIES:
        raise ValueError(f"unknown Amazon 2014 category {category!r}; known: {', '.join(AMAZON_CATEGORIES)}")
    root = Path(root)
    reviews = ensure_file(root / f"reviews_{category}_5.json.gz", "amazon_reviews", download, progress, category=category)
    meta = ensure_file(root / f"meta_{category}.json.gz", "amazon_meta", download, progress, category=category)
    df, counts = filter_reported(read_amazon_reviews(reviews, progress), k, str(reviews))
    labels = read_amazon_meta(meta, set(df["item"].unique()), progress)
    ds = build_dataset(df, labels, name=category, min_label_items=min_label_items)
    ds.meta.update(source="amazon-2014", files=[reviews.name, meta.name], kcore=k, kcore_counts=counts)
    if out is not None:
        save_s3rec_layout(ds, out)
    return ds
