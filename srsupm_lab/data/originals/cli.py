"""``python -m srsupm_lab.data.originals SOURCE ...``: build S3-Rec folders from the raw originals."""
from __future__ import annotations

import sys
from pathlib import Path

from .amazon import AMAZON_CATEGORIES, prepare_amazon
from .movielens import prepare_movielens_100k
from .yelp import S3REC_YELP_DATES, prepare_yelp

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
