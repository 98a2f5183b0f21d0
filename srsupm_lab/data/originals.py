"""Build the paper's datasets from the public ORIGINAL files (docs/method.md, "Data and windows"; paper §5.1).

The S3-Rec releases the package reads (``<D>.txt`` + ``<D>_item2categories.json``, see
:mod:`srsupm_lab.data.loaders`) can be rebuilt from the raw dumps, and other categories built
the same way. From the command line (``--help`` of each says what to download from where)::

    python -m srsupm_lab.data.originals amazon Beauty Sports_and_Outdoors --raw downloads --out mydata
    python -m srsupm_lab.data.originals movielens --raw downloads --out mydata
    python -m srsupm_lab.data.originals yelp --raw downloads/yelp --out mydata
    SRSUPM_DATA=mydata python -m srsupm_lab stats --dataset beauty

or from Python:

* ``prepare_amazon(category, root)``: Amazon 2014 (McAuley et al., UCSD) 5-core reviews
  ``reviews_<Category>_5.json.gz`` + metadata ``meta_<Category>.json.gz``. Labels: every
  category path of the item with its root dropped (``[c for path in categories for c in
  path[1:]]``), brand not used, as in the derived ``*_item2categories.json`` files.
* ``prepare_movielens_100k(root)``: ``ml-100k.zip`` from GroupLens; labels are the 19 genres.
* ``prepare_yelp(root)``: the Yelp Open Dataset JSON, a **manual** download (licence
  click-through); labels are the business ``categories``. By default S3-Rec's date filter
  keeps reviews dated 2019-01-01 00:00:00 .. 2019-12-31 00:00:00 (string comparison, so
  most of 31 December is out, exactly as in S3-Rec).

Every ``prepare_*`` applies k-core filtering (k=5 by default), builds a
:class:`SequenceDataset` with :func:`preprocess.build_dataset` (S3-Rec id order) and, given
``out``, writes it in the S3-Rec layout with :func:`save_s3rec_layout`.

Malformed input lines raise ``ValueError`` naming the file and the 1-based line number.
"""
from __future__ import annotations

import ast
import io
import json
import os
import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from .dataset import SequenceDataset
from .download import fetch
from .preprocess import build_dataset, kcore_filter
from .raw_lines import (MalformedLineError, field, id_field, numbered_lines, parse_json_or_literal,
                        read_records)
from .s3rec_layout import save_s3rec_layout

# Public download locations, one entry per raw file: name -> (url, sha256).
# sha256 is None where no published checksum is known to us: ``fetch`` then skips the check
# (pass your own digest to ``fetch`` to pin a copy). The Amazon 2014 files are listed on
# https://jmcauley.ucsd.edu/data/amazon/ and served from snap.stanford.edu. Yelp has no direct
# URL: its files sit behind a licence click-through on the page below (manual download).
SOURCES: dict[str, tuple[str, str | None]] = {
    "amazon_reviews": ("https://snap.stanford.edu/data/amazon/productGraph/categoryFiles/reviews_{category}_5.json.gz", None),
    "amazon_meta": ("https://snap.stanford.edu/data/amazon/productGraph/categoryFiles/meta_{category}.json.gz", None),
    "ml-100k": ("https://files.grouplens.org/datasets/movielens/ml-100k.zip", None),
    "yelp": ("https://www.yelp.com/dataset", None),
}

# The 24 categories of the 2014 Amazon dump that have a 5-core review file.
AMAZON_CATEGORIES = (
    "Amazon_Instant_Video", "Apps_for_Android", "Automotive", "Baby", "Beauty", "Books",
    "CDs_and_Vinyl", "Cell_Phones_and_Accessories", "Clothing_Shoes_and_Jewelry", "Digital_Music",
    "Electronics", "Grocery_and_Gourmet_Food", "Health_and_Personal_Care", "Home_and_Kitchen",
    "Kindle_Store", "Movies_and_TV", "Musical_Instruments", "Office_Products",
    "Patio_Lawn_and_Garden", "Pet_Supplies", "Sports_and_Outdoors", "Tools_and_Home_Improvement",
    "Toys_and_Games", "Video_Games",
)

# ml-100k's u.genre, in flag order (used when the zip lacks u.genre).
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)

# S3-Rec's Yelp date window (inclusive string bounds on the review "date" field).
S3REC_YELP_DATES = ("2019-01-01 00:00:00", "2019-12-31 00:00:00")

YELP_FILES = ("yelp_academic_dataset_review.json", "yelp_academic_dataset_business.json")

_LEADING_ASIN = re.compile(r"""\s*\{\s*['"]asin['"]\s*:\s*['"]([^'"]+)['"]""")


def _ensure_file(path: Path, source: str, download: bool, progress: bool, **fmt) -> Path:
    """``path`` if it exists, else download it from ``SOURCES[source]`` (or explain where to get it)."""
    if path.is_file():
        return path
    url, sha = SOURCES[source]
    url = url.format(**fmt)
    if not download:
        raise FileNotFoundError(f"{path} is missing; download it from {url} (or call with download=True)")
    return fetch(url, path, sha256=sha, progress=progress)


# --------------------------------------------------------------------------- Amazon 2014
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
    reviews = _ensure_file(root / f"reviews_{category}_5.json.gz", "amazon_reviews", download, progress, category=category)
    meta = _ensure_file(root / f"meta_{category}.json.gz", "amazon_meta", download, progress, category=category)
    df = kcore_filter(read_amazon_reviews(reviews, progress), k=k)
    labels = read_amazon_meta(meta, set(df["item"].unique()), progress)
    ds = build_dataset(df, labels, name=category, min_label_items=min_label_items)
    ds.meta.update(source="amazon-2014", files=[reviews.name, meta.name], kcore=k)
    if out is not None:
        save_s3rec_layout(ds, out)
    return ds


# --------------------------------------------------------------------------- MovieLens 100K
def _zip_member(zf: zipfile.ZipFile, zip_path: Path, name: str, required: bool = True) -> str | None:
    found = [m for m in zf.namelist() if m == name or m.endswith("/" + name)]
    if not found:
        if required:
            raise ValueError(f"{zip_path} has no member {name!r}; it holds {zf.namelist()[:30]}")
        return None
    return found[0]


def _zip_lines(zf: zipfile.ZipFile, member: str, source: str, progress: bool) -> Iterator[tuple[int, str]]:
    with zf.open(member) as raw, io.TextIOWrapper(raw, encoding="latin-1") as f:
        yield from numbered_lines(f, source, progress)


def read_movielens_100k(zip_path: str | os.PathLike, progress: bool = False) -> tuple[pd.DataFrame, dict[int, list[str]]]:
    """(``user, item, time, rating`` table in file order, ``item -> genre names``) from ``ml-100k.zip``."""
    zip_path = Path(zip_path)
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as err:
        raise ValueError(f"{zip_path}: not a zip file ({err})") from None
    with zf:
        genres = list(ML100K_GENRES)
        genre_member = _zip_member(zf, zip_path, "u.genre", required=False)
        if genre_member is not None:
            source = f"{zip_path}:{genre_member}"
            by_index = {}
            for lineno, line in _zip_lines(zf, genre_member, source, False):
                name, _, idx = line.rstrip("\r\n").rpartition("|")
                if not name or not idx.isdigit():
                    raise MalformedLineError(source, lineno, "expected 'genre|index'", line)
                by_index[int(idx)] = name
            genres = [by_index[i] for i in sorted(by_index)]

        member = _zip_member(zf, zip_path, "u.data")
        source = f"{zip_path}:{member}"
        rows = []
        for lineno, line in _zip_lines(zf, member, source, progress):
            parts = line.split()
            if len(parts) != 4 or not all(p.isascii() and p.isdigit() for p in parts):
                raise MalformedLineError(source, lineno, "expected 4 tab-separated integers 'user item rating timestamp'", line)
            u, i, r, t = map(int, parts)
            rows.append((u, i, t, r))
        df = pd.DataFrame(rows, columns=["user", "item", "time", "rating"])

        member = _zip_member(zf, zip_path, "u.item")
        source = f"{zip_path}:{member}"
        labels: dict[int, list[str]] = {}
        for lineno, line in _zip_lines(zf, member, source, progress):
            fields = line.rstrip("\r\n").split("|")
            flags = fields[-len(genres):]
            if len(fields) < 5 + len(genres) or not (fields[0].isascii() and fields[0].isdigit()) or \
                    any(f not in ("0", "1") for f in flags):
                raise MalformedLineError(source, lineno, f"expected 'id|title|release|video release|url' and "
                                         f"{len(genres)} genre flags 0/1, separated by '|'", line)
            if int(fields[0]) in labels:
                raise MalformedLineError(source, lineno, f"item {int(fields[0])} is listed twice", line)
            labels[int(fields[0])] = [g for g, f in zip(genres, flags) if f == "1"]
    return df, labels


def prepare_movielens_100k(root: str | os.PathLike, *, k: int = 5, download: bool = True,
                           out: str | os.PathLike | None = None, progress: bool = True) -> SequenceDataset:
    """MovieLens 100K (``root/ml-100k.zip``) as a SequenceDataset named ``"ml-100k"``; labels = genres."""
    zip_path = _ensure_file(Path(root) / "ml-100k.zip", "ml-100k", download, progress)
    df, labels = read_movielens_100k(zip_path, progress)
    ds = build_dataset(kcore_filter(df, k=k), labels, name="ml-100k")
    ds.meta.update(source="movielens-100k", files=[zip_path.name], kcore=k)
    if out is not None:
        save_s3rec_layout(ds, out)
    return ds


# --------------------------------------------------------------------------- Yelp
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


# --------------------------------------------------------------------------- command line
_CLI_EPILOG = """\
what to download (into the --raw folder; amazon and movielens fetch missing files themselves):
  amazon     reviews_<Category>_5.json.gz and meta_<Category>.json.gz, Amazon 2014 (McAuley, UCSD),
             listed on https://jmcauley.ucsd.edu/data/amazon/ , served from
             https://snap.stanford.edu/data/amazon/productGraph/categoryFiles/
  movielens  ml-100k.zip from https://files.grouplens.org/datasets/movielens/ml-100k.zip
  yelp       yelp_academic_dataset_review.json and yelp_academic_dataset_business.json from the
             Yelp Open Dataset, https://www.yelp.com/dataset (accept its terms, download, extract)

Each dataset goes to its own folder under --out (Beauty, Sports_and_Outdoors, Yelp, ...), in the
S3-Rec layout the package reads: then load_dataset("beauty", root=OUT), or set SRSUPM_DATA=OUT.
The statistics printed at the end can be compared with the published ones (paper §5.1)."""


def _cli_parser():
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m srsupm_lab.data.originals", epilog=_CLI_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build datasets in the S3-Rec layout (<D>.txt + <D>_item2categories.json + datamaps.json)\n"
                    "from the public original files: k-core filtering, time order, S3-Rec id order, labels.\n"
                    "python -m srsupm_lab.data.originals SOURCE --help: the options of each source.")
    sub = parser.add_subparsers(dest="source", required=True, metavar="SOURCE")

    def common(p, raw_help):
        p.add_argument("--raw", required=True, metavar="DIR", help=raw_help)
        p.add_argument("--out", required=True, metavar="DIR",
                       help="data root: each dataset is written to DIR/<folder name>")
        p.add_argument("--k", type=int, default=5, help="k-core: users and items with fewer interactions "
                       "are removed, repeatedly (default: 5, the paper's)")
        p.add_argument("--overwrite", action="store_true",
                       help="replace a dataset folder that already holds files (default: refuse)")
        p.add_argument("--quiet", action="store_true", help="no progress bars (default: bars on)")

    am = sub.add_parser("amazon", help="Amazon 2014 categories (Beauty, Sports_and_Outdoors, ...)",
                        description="Amazon 2014 5-core reviews + metadata; labels are the category paths "
                                    "without their root. Missing files are downloaded into --raw.")
    am.add_argument("categories", nargs="+", metavar="CATEGORY",
                    help="e.g. Beauty Sports_and_Outdoors; one of: " + " ".join(AMAZON_CATEGORIES))
    common(am, "folder holding (or receiving) reviews_<Category>_5.json.gz and meta_<Category>.json.gz")
    am.add_argument("--min-label-items", type=int, default=1,
                    help="drop labels carried by fewer items (default: 1, keep all)")
    am.add_argument("--no-download", action="store_true",
                    help="never download; stop if a file is missing (default: download missing files)")
    ml = sub.add_parser("movielens", help="MovieLens 100K (genres as labels)",
                        description="MovieLens 100K; labels are the 19 genres. ml-100k.zip is downloaded into "
                                    "--raw when missing. Written to OUT/ml-100k-s3rec (the name ml-100k is "
                                    "the RecBole atomic files): load it with load_dataset('OUT/ml-100k-s3rec').")
    common(ml, "folder holding (or receiving) ml-100k.zip")
    ml.add_argument("--no-download", action="store_true",
                    help="never download; stop if the zip is missing (default: download it)")
    ye = sub.add_parser("yelp", help="the Yelp Open Dataset (a manual download)",
                        description="The Yelp Open Dataset (business categories as labels), S3-Rec's 2019 "
                                    "window of reviews by default. Yelp's files cannot be downloaded by a "
                                    "script: accept the terms at https://www.yelp.com/dataset and extract the "
                                    "two JSON files into --raw.")
    common(ye, "folder holding yelp_academic_dataset_review.json and yelp_academic_dataset_business.json")
    ye.add_argument("--all-dates", action="store_true",
                    help="keep every review (default: S3-Rec's window 2019-01-01 00:00:00 .. 2019-12-31 00:00:00)")
    return parser


def _jobs(args) -> list[tuple[str, object]]:
    """(output folder name, function building the dataset with ``out=``) for each dataset asked."""
    progress = not args.quiet
    if args.source == "amazon":
        unknown = [c for c in args.categories if c not in AMAZON_CATEGORIES]
        if unknown:
            raise ValueError(f"unknown Amazon 2014 categor{'y' if len(unknown) == 1 else 'ies'} "
                             f"{', '.join(map(repr, unknown))}; known: {', '.join(AMAZON_CATEGORIES)}")
        return [(c, lambda out, c=c: prepare_amazon(c, args.raw, k=args.k, min_label_items=args.min_label_items,
                                                    download=not args.no_download, out=out, progress=progress))
                for c in args.categories]
    if args.source == "movielens":
        return [("ml-100k-s3rec", lambda out: prepare_movielens_100k(args.raw, k=args.k, download=not args.no_download,
                                                                     out=out, progress=progress))]
    dates = None if args.all_dates else S3REC_YELP_DATES
    return [("Yelp", lambda out: prepare_yelp(args.raw, dates=dates, k=args.k, out=out, progress=progress))]


def main(argv=None) -> int:
    """``python -m srsupm_lab.data.originals SOURCE ...``: build S3-Rec folders; returns the exit status."""
    args = _cli_parser().parse_args(argv)
    try:
        if args.k < 1:
            raise ValueError(f"--k must be at least 1, got {args.k}")
        jobs = _jobs(args)
        targets = [Path(args.out) / name for name, _ in jobs]
        busy = [str(t) for t in targets if t.is_dir() and any(t.iterdir())]
        if busy and not args.overwrite:
            raise ValueError(f"{', '.join(busy)} already hold{'s' if len(busy) == 1 else ''} files; "
                             f"pass --overwrite to replace them, or choose another --out")
        for (name, build), target in zip(jobs, targets):
            ds = build(target)
            print(f"{target}: {ds.n_users:,} users, {ds.n_items:,} items, {ds.n_interactions:,} interactions, "
                  f"{ds.n_labels:,} labels")
    except (ValueError, FileNotFoundError, ConnectionError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
