"""The raw-id maps a run folder stores, so that the run stands alone (the map's chapter 06: serving).

A trained model speaks indices: users ``0..U-1`` (rows of ``SequenceDataset.sequences``) and items
``1..N`` (0 is padding). The people who call it speak the dataset's own ids: the ids of an S3-Rec
file, the text ids of a table of interactions (``ds.meta["id2user"]``, ``["id2item"]``), or, for a
generated world, the ids it numbers itself with (users ``u + 1``, items ``i``, as the S3-Rec layout
writes them). When a run is created, :func:`write_id_maps` stores in ``id_maps.npz`` (one
compressed NumPy file, read back without pickle, written atomically):

==================================  ===============================================================
``users``                           raw id of user index ``u`` (int64, or text)
``items``                           raw id of item ``i`` at position ``i - 1`` (int64, or text)
``history_flat``, ``history_start``  every user's items, oldest first (CSR: user ``u`` holds
                                    ``flat[start[u]:start[u+1]]``): the state a user id is served from
``label_flat``, ``label_start``     each item's label ids (CSR over items ``0..N``)
``label_names``                     the labels' names: item names are built from them where they
                                    are words (:func:`srsupm_lab.data.item_text.item_texts`)
``about``                           JSON text: the format version and the dataset's name
==================================  ===============================================================

The histories and labels make the folder enough to rebuild the model (:mod:`srsupm_lab.serve.load`)
and to recommend for a stored user without the dataset's files. :func:`IdMaps.from_dataset` builds
the same maps in memory (for a run folder written before the maps existed).
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_write, remove_stale_temps

__all__ = ["ID_MAPS_FILE", "IdMaps", "write_id_maps", "read_id_maps"]

ID_MAPS_FILE = "id_maps.npz"
FORMAT = 1
_ARRAYS = ("users", "items", "history_flat", "history_start", "label_flat", "label_start", "label_names", "about")


def _raw_array(values) -> np.ndarray:
    """Raw ids as int64 when every one is an integer, else as text (NumPy's fixed-width str: no pickle)."""
    values = list(values)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.int64)
    return np.asarray([str(v) for v in values], dtype=np.str_)


def _csr(rows) -> tuple[np.ndarray, np.ndarray]:
    """``(flat int32, start int64 [len(rows)+1])`` of a list of integer sequences."""
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    start = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.concatenate([np.asarray(r, dtype=np.int32) for r in rows]) if start[-1] else np.zeros(0, np.int32)
    return flat.astype(np.int32), start


@dataclass
class IdMaps:
    """The maps between a dataset's raw ids and a model's indices, with the users' histories (module doc)."""

    dataset: str
    users: np.ndarray            # [U] raw user ids
    items: np.ndarray            # [N] raw item ids of items 1..N
    history_flat: np.ndarray     # [interactions] item indices
    history_start: np.ndarray    # [U + 1]
    label_flat: np.ndarray       # label ids
    label_start: np.ndarray      # [N + 2] over items 0..N
    label_names: np.ndarray      # [labels] str

    # ------------------------------------------------------------------ building
    @classmethod
    def from_dataset(cls, ds) -> "IdMaps":
        """The maps of a :class:`~srsupm_lab.data.SequenceDataset`: its raw ids where it keeps them
        (``meta["id2user"]``/``["id2item"]``, an S3-Rec file's ``meta["user_ids"]``), else ``u + 1`` and ``i``."""
        meta = ds.meta if isinstance(ds.meta, dict) else {}
        if meta.get("id2user") is not None:
            users = meta["id2user"]
        elif meta.get("user_ids") is not None:
            users = meta["user_ids"]
        else:
            users = np.arange(1, ds.n_users + 1)
        items = meta["id2item"][1:] if meta.get("id2item") is not None else np.arange(1, ds.n_items + 1)
        if len(users) != ds.n_users or len(items) != ds.n_items:
            raise ValueError(f"dataset {ds.name!r}: its raw-id lists hold {len(users)} users and {len(items)} items, "
                             f"the dataset {ds.n_users} and {ds.n_items}")
        history_flat, history_start = _csr(ds.sequences)
        label_flat, label_start = _csr([sorted(s) for s in ds.item_labels])
        return cls(ds.name, _raw_array(users), _raw_array(items), history_flat, history_start, label_flat,
                   label_start, np.asarray(list(ds.label_names), dtype=np.str_))

    # ------------------------------------------------------------------ sizes and look-ups
    @property
    def n_users(self) -> int:
        return int(self.users.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.items.shape[0])

    def _lookup(self, which: str) -> dict:
        cache = f"_{which}_index"
        if not hasattr(self, cache):                       # raw id as text -> index (items from 1)
            raw, first = (self.users, 0) if which == "users" else (self.items, 1)
            setattr(self, cache, {str(r): i for i, r in enumerate(raw.tolist(), start=first)})
        return getattr(self, cache)

    def user_index(self, raw_ids) -> tuple[np.ndarray, list]:
        """``(indices of the known ids in the order given, [unknown ids])``; an id and its text match alike."""
        return self._index("users", raw_ids)

    def item_index(self, raw_ids) -> tuple[np.ndarray, list]:
        """``(item indices 1..N of the known ids, in order, [unknown ids])``."""
        return self._index("items", raw_ids)

    def _index(self, which: str, raw_ids) -> tuple[np.ndarray, list]:
        table = self._lookup(which)
        found = [table.get(str(r)) for r in raw_ids]
        unknown = [r for r, i in zip(raw_ids, found) if i is None]
        return np.asarray([i for i in found if i is not None], dtype=np.int64), unknown

    def history(self, u: int) -> np.ndarray:
        """User ``u``'s item indices, oldest first."""
        return self.history_flat[self.history_start[u]:self.history_start[u + 1]].astype(np.int64)

    def item_names(self) -> list[str] | None:
        """Each item's name from its labels' names (index = item, entry 0 ``""``), or None where the
        labels are unnamed ids (:func:`~srsupm_lab.data.item_text.item_texts`)."""
        from ..data.item_text import NoItemText, item_texts
        try:
            return item_texts(self.as_dataset())
        except NoItemText:
            return None

    def as_dataset(self):
        """A :class:`~srsupm_lab.data.SequenceDataset` of the stored histories and labels (its ``meta``
        holds the raw-id lists): what a method needs to build its model without the dataset's files."""
        from ..data.dataset import SequenceDataset
        sequences = [self.history(u) for u in range(self.n_users)]
        labels = [frozenset(self.label_flat[self.label_start[i]:self.label_start[i + 1]].tolist())
                  for i in range(self.n_items + 1)]
        meta = {"id2user": self.users.tolist(), "id2item": [None, *self.items.tolist()]}
        return SequenceDataset(self.dataset, sequences, labels, self.label_names.tolist(), meta)

    def arrays(self) -> dict[str, np.ndarray]:
        about = json.dumps({"format": FORMAT, "dataset": self.dataset})
        return {"users": self.users, "items": self.items, "history_flat": self.history_flat,
                "history_start": self.history_start, "label_flat": self.label_flat, "label_start": self.label_start,
                "label_names": self.label_names, "about": np.asarray(about, dtype=np.str_)}


def write_id_maps(out_dir, ds) -> Path:
    """Store ``ds``'s raw-id maps in ``out_dir/id_maps.npz`` (atomically; a killed write's temporary goes first)."""
    path = Path(out_dir) / ID_MAPS_FILE
    remove_stale_temps(path)
    arrays = IdMaps.from_dataset(ds).arrays()

    def write(tmp):
        with open(tmp, "wb") as fh:                       # a file object: savez would add ".npz" to a name
            np.savez_compressed(fh, **arrays)
    atomic_write(path, write)
    return path


def read_id_maps(out_dir) -> IdMaps | None:
    """The maps stored in ``out_dir``, or None when the folder predates them; a damaged file is one
    ``ValueError`` naming it."""
    path = Path(out_dir) / ID_MAPS_FILE
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in _ARRAYS if k not in npz.files]
            if missing:
                raise ValueError(f"{path}: lacks {missing}: not a srsupm_lab id-map file")
            arrays = {k: npz[k] for k in _ARRAYS}
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{path}: cannot be read ({type(err).__name__}: {str(err)[:120]}): the file is truncated "
                         f"or corrupt; delete it and load_run rebuilds the maps from the dataset") from None
    about = json.loads(str(arrays.pop("about")))
    if about.get("format") != FORMAT:
        raise ValueError(f"{path}: format {about.get('format')!r}, expected {FORMAT}")
    maps = IdMaps(about["dataset"], **arrays)
    if maps.history_start.shape != (maps.n_users + 1,) or maps.label_start.shape != (maps.n_items + 2,):
        raise ValueError(f"{path}: {maps.n_users} users and {maps.n_items} items, but histories for "
                         f"{maps.history_start.shape[0] - 1} and labels for {maps.label_start.shape[0] - 2}")
    return maps
