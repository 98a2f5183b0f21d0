"""Writing a dataset in the S3-Rec layout that :func:`srsupm_lab.data.load_dataset` reads.

``<Name>.txt`` (one user per line), ``<Name>_item2categories.json`` and, when the raw ids are
known, ``datamaps.json``; every file written atomically (:func:`srsupm_lab.atomic.atomic_write`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..atomic import atomic_write
from .dataset import SequenceDataset

__all__ = ["save_s3rec_layout"]


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8", newline="\n"))


def save_s3rec_layout(ds: SequenceDataset, folder: str | os.PathLike) -> dict[str, Path]:
    """Write ``ds`` into ``folder`` as S3-Rec files; returns ``{"sequences", "labels", "datamaps"}`` paths.

    * ``<Name>.txt``: one user per line, ``user_id item item ...``, ids from 1, time order;
    * ``<Name>_item2categories.json``: ``{"item_id": [label name, ...]}`` for every item
      (names in label-id order, i.e. sorted; the list may be empty);
    * ``datamaps.json`` (when ``ds.meta`` has the raw id lists): ``user2id``, ``item2id``,
      ``id2user``, ``id2item``, ids as strings, the LLM-RecSys-ID format.

    Each file is written to a temporary file and then renamed into place.
    """
    if not ds.name or any(sep in ds.name for sep in ("/", "\\")) or ds.name in (".", ".."):
        raise ValueError(f"dataset name {ds.name!r} cannot be used as a file name")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"sequences": folder / f"{ds.name}.txt", "labels": folder / f"{ds.name}_item2categories.json"}

    lines = [" ".join(map(str, [u + 1] + seq.tolist())) for u, seq in enumerate(ds.sequences)]
    _write_text(paths["sequences"], "\n".join(lines) + "\n")
    item2cat = {str(i): [ds.label_names[j] for j in sorted(ds.item_labels[i])] for i in range(1, ds.n_items + 1)}
    _write_text(paths["labels"], json.dumps(item2cat, ensure_ascii=False))

    id2user, id2item = ds.meta.get("id2user"), ds.meta.get("id2item")
    if id2user is not None and id2item is not None:
        maps = {
            "user2id": {str(raw): str(u + 1) for u, raw in enumerate(id2user)},
            "item2id": {str(raw): str(i) for i, raw in enumerate(id2item) if i > 0},
            "id2user": {str(u + 1): str(raw) for u, raw in enumerate(id2user)},
            "id2item": {str(i): str(raw) for i, raw in enumerate(id2item) if i > 0},
        }
        paths["datamaps"] = folder / "datamaps.json"
        _write_text(paths["datamaps"], json.dumps(maps, ensure_ascii=False))
    return paths
