"""Where the raw originals come from, and fetching one that is missing (see :mod:`srsupm_lab.data.originals`)."""
from __future__ import annotations

from pathlib import Path

from ..download import fetch

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


def ensure_file(path: Path, source: str, download: bool, progress: bool, **fmt) -> Path:
    """``path`` if it exists, else download it from ``SOURCES[source]`` (or explain where to get it)."""
    if path.is_file():
        return path
    url, sha = SOURCES[source]
    url = url.format(**fmt)
    if not download:
        raise FileNotFoundError(f"{path} is missing; download it from {url} (or call with download=True)")
    return fetch(url, path, sha256=sha, progress=progress)
