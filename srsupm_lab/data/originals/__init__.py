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
  keeps reviews dated 2019-01-01 00:00:00 .. 2019-12-31 00:00:00 (compared as dates, so
  most of 31 December is out, exactly as in S3-Rec).

Every ``prepare_*`` applies k-core filtering (k=5 by default), builds a
:class:`SequenceDataset` with :func:`preprocess.build_dataset` (S3-Rec id order) and, given
``out``, writes it in the S3-Rec layout with :func:`save_s3rec_layout`.

Malformed input lines raise ``ValueError`` naming the file and the 1-based line number.
"""
from .amazon import AMAZON_CATEGORIES, amazon_labels, prepare_amazon, read_amazon_meta, read_amazon_reviews
from .cli import main
from .movielens import ML100K_GENRES, prepare_movielens_100k, read_movielens_100k
from .sources import SOURCES
from .yelp import S3REC_YELP_DATES, YELP_FILES, prepare_yelp, read_yelp_business, read_yelp_reviews

__all__ = ["AMAZON_CATEGORIES", "ML100K_GENRES", "S3REC_YELP_DATES", "SOURCES", "YELP_FILES", "amazon_labels",
           "main", "prepare_amazon", "prepare_movielens_100k", "prepare_yelp", "read_amazon_meta",
           "read_amazon_reviews", "read_movielens_100k", "read_yelp_business", "read_yelp_reviews"]
