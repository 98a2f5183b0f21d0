"""``load_dataset``: one entry point from a name or a folder to a :class:`SequenceDataset`.

Known names
-----------
``synthetic``               the embedded motivation world (no files needed)
``beauty``, ``sports``,     Amazon 2014 and Yelp in the S3-Rec release layout
``yelp``                    (``<D>.txt`` + ``<D>_item2categories.json`` / ``_item2attributes.json``)
``ml-100k``                 MovieLens-100K as RecBole atomic files, 5-core filtered here

Where the files are looked for (:func:`data_roots`): the ``root`` argument alone when given;
else the ``SRSUPM_DATA`` environment variable, then the ``data/`` folder of the repository
checkout this package runs from (a clone, an editable install), then the copy of ``data/`` that a
regular (wheel) install puts under ``<prefix>/share/srsupm_lab/data`` (pyproject's
``data-files``; found through the installed distribution's file list, so ``--user``,
``--prefix`` and virtual environments all work). The repository ships Beauty, Sports and Yelp;
ml-100k is not redistributed (MovieLens terms) and is built with
:mod:`srsupm_lab.data.originals`. Any folder in the S3-Rec layout can be loaded by passing its
path.

Label choice: ``labels="categories"`` (default) reads the category-only
``*_item2categories.json``; ``labels="attributes"`` the S3-Rec attribute ids (brand mixed in
for Amazon; see data/README.md). Items without any label are allowed (Sports has 245;
PMSA treats them as contributing no category) and reported with a warning; an item that is
missing from the label file altogether is an error.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np

from .dataset import SequenceDataset
from .synthetic import make_synthetic

#: dataset name -> folder name in the data root
REAL_DATASETS = {"beauty": "Beauty", "sports": "Sports_and_Outdoors", "yelp": "Yelp", "ml-100k": "ml-100k"}
KNOWN_DATASETS = ("synthetic", *REAL_DATASETS)
LABEL_KINDS = ("categories", "attributes")


#: where a wheel install puts the repository's ``data/`` (pyproject.toml, ``data-files``)
INSTALLED_DATA = "share/srsupm_lab/data"


def checkout_data_root() -> Path | None:
    """``data/`` of the repository checkout this package is imported from, or None if not a checkout."""
    repo = Path(__file__).resolve().parents[2]
    return repo / "data" if (repo / "pyproject.toml").is_file() and (repo / "srsupm_lab").is_dir() else None


def installed_data_root() -> Path | None:
    """The ``data/`` copy of a regular install (``<prefix>/share/srsupm_lab/data``), or None."""
    from importlib import metadata

    try:
        files = metadata.distribution("srsupm_lab").files or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        posix = f.as_posix()
        at = posix.find(INSTALLED_DATA + "/")
        if at >= 0:
            return Path(f.locate()).resolve().parents[posix[at + len(INSTALLED_DATA) + 1:].count("/")]
    return None


def data_roots(root=None) -> list[Path]:
    """The folders searched for real datasets, in order (see the module doc)."""
    if root is not None:
        return [Path(root).expanduser()]
    out = []
    if os.environ.get("SRSUPM_DATA"):
        out.append(Path(os.environ["SRSUPM_DATA"]).expanduser())
    out += [r for r in (checkout_data_root(), installed_data_root()) if r is not None and r not in out]
    return out


def load_dataset(name_or_path, root=None, labels: str = "categories", **synthetic_options) -> SequenceDataset:
    """Load a dataset by name (see module doc) or from a folder in the S3-Rec layout.

    ``synthetic_options`` are passed to :func:`make_synthetic` for ``"synthetic"``.
    """
    if labels not in LABEL_KINDS:
        raise ValueError(f"labels must be one of {LABEL_KINDS}, got {labels!r}")
    key = str(name_or_path).lower()
    if key == "synthetic":
        return make_synthetic(**synthetic_options)
    if synthetic_options:
        raise TypeError(f"options {sorted(synthetic_options)} only apply to the synthetic dataset")
    if key in REAL_DATASETS:
        folder_name = REAL_DATASETS[key]
        tried = [r / folder_name for r in data_roots(root)]
        for folder in tried:
            if folder.is_dir():
                break
        else:
            note = " (ml-100k is not shipped in data/: MovieLens' terms forbid redistribution)" if key == "ml-100k" else ""
            raise FileNotFoundError(
                f"dataset {key!r}: no folder {folder_name!r} found{note}; looked in: "
                + ", ".join(str(p) for p in tried)
                + ". Point root= or the SRSUPM_DATA environment variable at a folder holding it, or build it from the "
                  "public originals with srsupm_lab.data.originals (see README, 'Data')."
            )
        ds = read_movielens_atomic(folder) if key == "ml-100k" else read_s3rec_folder(folder, labels, name=key)
        return ds
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return read_s3rec_folder(path, labels)
    raise ValueError(f"unknown dataset {name_or_path!r}: known names are {', '.join(KNOWN_DATASETS)}, "
                     f"or pass the path of a folder in the S3-Rec layout")


def read_sequences(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Parse an S3-Rec sequence file: one line per user, ``user_id item_id item_id ...``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sequence file not found: {path}")
    seqs, users = [], []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                ids = [int(tok) for tok in line.split()]
            except ValueError:
                raise ValueError(f"{path}:{lineno}: malformed line (expected integers 'user item item ...'): "
                                 f"{line.strip()[:80]!r}") from None
            if len(ids) < 2:
                raise ValueError(f"{path}:{lineno}: a user with no items: {line.strip()[:80]!r}")
            if min(ids[1:]) < 1:
                raise ValueError(f"{path}:{lineno}: item ids must be >= 1 (0 is padding)")
            users.append(ids[0])
            seqs.append(np.array(ids[1:], dtype=np.int64))
    if not seqs:
        raise ValueError(f"{path}: the sequence file holds no user")
    return seqs, np.array(users, dtype=np.int64)


def _read_json(path: Path):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from None


def read_s3rec_folder(folder, labels: str = "categories", name: str | None = None) -> SequenceDataset:
    """Read ``<D>.txt`` plus its label file from ``folder`` (the S3-Rec layout)."""
    folder = Path(folder)
    txts = sorted(p for p in folder.glob("*.txt"))
    stem = folder.name
    seq_file = folder / f"{stem}.txt"
    if not seq_file.is_file():
        if len(txts) != 1:
            raise FileNotFoundError(f"{folder}: expected the sequence file {stem}.txt (or exactly one *.txt), "
                                    f"found {[p.name for p in txts]}")
        seq_file, stem = txts[0], txts[0].stem
    seqs, user_ids = read_sequences(seq_file)
    n_items = int(max(s.max() for s in seqs))
    label_file = folder / f"{stem}_item2{labels}.json"
    if not label_file.is_file():
        raise FileNotFoundError(f"{folder}: label file {label_file.name} not found (labels={labels!r})")
    raw = _read_json(label_file)
    try:
        table = {int(k): v for k, v in raw.items()}
    except (AttributeError, ValueError):
        raise ValueError(f"{label_file}: expected an object {{\"item_id\": [label, ...]}}") from None
    missing = [i for i in range(1, n_items + 1) if i not in table]
    if missing:
        raise ValueError(f"{label_file}: no entry for {len(missing)} item(s) of {seq_file.name}, "
                         f"e.g. item {missing[:5]}")
    if labels == "categories":
        names = sorted({str(c) for i in range(1, n_items + 1) for c in table[i]})
        index = {c: j for j, c in enumerate(names)}
        item_labels = [frozenset()] + [frozenset(index[str(c)] for c in table[i]) for i in range(1, n_items + 1)]
    else:
        ids = sorted({int(a) for i in range(1, n_items + 1) for a in table[i]})
        index = {a: j for j, a in enumerate(ids)}
        item_labels = [frozenset()] + [frozenset(index[int(a)] for a in table[i]) for i in range(1, n_items + 1)]
        names_file = folder / f"{stem}_attribute_names.json"
        attr_names = _read_json(names_file) if names_file.is_file() else {}
        names = [attr_names.get(str(a), {}).get("name", f"attribute {a}") for a in ids]
    n_empty = sum(1 for s in item_labels[1:] if not s)
    if n_empty:
        warnings.warn(f"{label_file.name}: {n_empty} item(s) have no label; PMSA counts them as bringing no category",
                      stacklevel=3)
    meta = {"source": str(folder), "labels": labels, "user_ids": user_ids}
    return SequenceDataset(name or stem, seqs, item_labels, names, meta)


def read_movielens_atomic(folder) -> SequenceDataset:
    """MovieLens-100K from RecBole atomic files (``ml-100k.inter``, ``ml-100k.item``), 5-core filtered.

    Interactions are ordered by (timestamp, file row) for each user, genres are the labels.
    """
    import pandas as pd

    from .preprocess import build_dataset, kcore_filter

    folder = Path(folder)
    inter, item = folder / "ml-100k.inter", folder / "ml-100k.item"
    for f in (inter, item):
        if not f.is_file():
            raise FileNotFoundError(f"ml-100k: {f} not found")
    df = pd.read_csv(inter, sep="\t")
    df.columns = [c.split(":")[0] for c in df.columns]
    if not {"user_id", "item_id", "timestamp"} <= set(df.columns):
        raise ValueError(f"{inter}: expected columns user_id, item_id, timestamp; found {list(df.columns)}")
    df = df.rename(columns={"user_id": "user", "item_id": "item", "timestamp": "time"})
    items = pd.read_csv(item, sep="\t")
    items.columns = [c.split(":")[0] for c in items.columns]
    genres = {int(r.item_id): str(r["class"]).split() for _, r in items.iterrows()}
    df = kcore_filter(df, k=5)
    ds = build_dataset(df, genres, name="ml-100k")
    ds.meta["source"] = str(folder)
    return ds
