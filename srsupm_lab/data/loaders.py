"""``load_dataset``: one entry point from a name or a folder to a :class:`SequenceDataset`.

Known names
-----------
``synthetic``, ``synthetic-clickbait``   the generated worlds (no files; :mod:`.satisfaction_world`)
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
path, and any file of interactions (``.csv``, ``.tsv``, ``.parquet``: ``user, item, timestamp``
rows, 5-core filtered by default) by passing its path; the file is read by
:func:`srsupm_lab.data.interactions.read_interactions`, which takes the keyword options passed
to ``load_dataset`` (data/README.md, "Your own data").

Label choice: ``labels="categories"`` (default) reads the category-only
``*_item2categories.json``; ``labels="attributes"`` the S3-Rec attribute ids (brand mixed in
for Amazon; see data/README.md). Items without any label are allowed (Sports has 245;
PMSA treats them as contributing no category) and reported with a warning; an item that is
missing from the label file altogether is an error.

Validation: every reader checks types and ids and fails with one line naming the file, the
line (or the JSON key) and the bad value. Sequence files hold ASCII integer ids >= 1, one line
per user and each user id once (a second line for an id is an error naming both lines); UTF-8,
a BOM at the start tolerated. Label values are lists of names (categories) or of integer ids
(attributes), never a bare string, an object or ``null``. **The bound on item ids**: each item
``1..n`` needs an entry in the label file, so ``n`` can be at most the number of its entries;
an id above that is an error (file, line, id) while its line is read, before anything that
scales with the ids is allocated (a typo such as ``1000000000`` once drove this loader to 7 GB).
"""
from __future__ import annotations

import io
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np

from .dataset import SequenceDataset
from .locations import data_roots
from .satisfaction_world import SYNTHETIC_WORLDS

#: dataset name -> folder name in the data root
REAL_DATASETS = {"beauty": "Beauty", "sports": "Sports_and_Outdoors", "yelp": "Yelp", "ml-100k": "ml-100k"}
KNOWN_DATASETS = (*SYNTHETIC_WORLDS, *REAL_DATASETS)
LABEL_KINDS = ("categories", "attributes")


def load_dataset(name_or_path, root=None, labels: str = "categories", **synthetic_options) -> SequenceDataset:
    """Load a dataset by name (see module doc), from a folder in the S3-Rec layout or from a file of
    interactions (``.csv``, ``.tsv``, ``.parquet``).

    ``synthetic_options`` are passed to a generated world's maker (``SYNTHETIC_WORLDS``), and to
    :func:`~srsupm_lab.data.interactions.read_interactions` for a file of interactions (e.g.
    ``k=10``, ``time="ts"``, ``label_column="genres"``); ``labels`` (the label kind of an S3-Rec
    folder) must then stay at its default.
    """
    if labels not in LABEL_KINDS:
        raise ValueError(f"labels must be one of {LABEL_KINDS}, got {labels!r}")
    key = str(name_or_path).lower()
    if key in SYNTHETIC_WORLDS:
        return SYNTHETIC_WORLDS[key](**synthetic_options)
    file = None if key in REAL_DATASETS else interaction_file(name_or_path)
    if file is not None:
        from .interactions import read_interactions

        if labels != "categories":
            raise ValueError(f"labels={labels!r} applies to S3-Rec folders; for a file of interactions name its "
                             f"label column with label_column=... (or an item table with item_labels=...)")
        return read_interactions(file, **synthetic_options)
    if synthetic_options:
        raise TypeError(f"options {sorted(synthetic_options)} only apply to the synthetic dataset "
                        f"and to files of interactions")
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
                     f"or pass the path of a folder in the S3-Rec layout or of a file of interactions "
                     f"(.csv, .tsv, .parquet)")


def interaction_file(name_or_path) -> Path | None:
    """The path, when ``name_or_path`` names a file of interactions (a suffix of
    :data:`~srsupm_lab.data.interactions.INTERACTION_SUFFIXES`, any case) rather than a folder;
    a missing file is an error there and then (it cannot be a dataset name)."""
    from .interactions import INTERACTION_SUFFIXES

    if not isinstance(name_or_path, (str, os.PathLike)):
        return None
    path = Path(name_or_path).expanduser()
    if path.suffix.lower() not in INTERACTION_SUFFIXES or path.is_dir():
        return None
    if not path.is_file():
        raise FileNotFoundError(f"file of interactions not found: {path}")
    return path


_ID_LINE = re.compile(r"[0-9]+(?:[ \t]+[0-9]+)*")                    # ASCII decimal ids, blank-separated
_MAX_ID = 2**62                                                        # far below int64's limit


def _decoded_lines(path: Path):
    """``(1-based line number, text)`` of a UTF-8 file; a BOM at its start is skipped.

    Decoding line by line lets a bad byte be reported with its line (a text-mode reader decodes
    in blocks and cannot say where).
    """
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise ValueError(f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[err.start]:02x} at column "
                                 f"{err.start + 1})") from None


def read_sequences(path: Path, max_item: int | None = None,
                   bound_from: str | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Parse an S3-Rec sequence file: one line per user, ``user_id item_id item_id ...``.

    The rules, each broken one a ``ValueError`` naming the file, the 1-based line and the value:
    UTF-8 text (a BOM at the start is tolerated); blank lines are skipped; every other line holds
    blank-separated ASCII decimal integers, a user id then at least one item id, all ``>= 1``
    (item 0 is padding); **each user id appears on one line only** (a user's history is one
    sequence: a second line for the same id is an error naming both lines, since merging them
    would have to guess their order). With ``max_item``, an item id above it is an error as soon
    as its line is read, before anything is allocated from it (``bound_from`` names the file that
    sets the bound, for the message).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sequence file not found: {path}")
    seqs, users, first_line = [], [], {}
    for lineno, line in _decoded_lines(path):
        text = line.strip()
        if not text:
            continue
        if _ID_LINE.fullmatch(text) is None:
            bad = next((tok for tok in text.split() if not (tok.isascii() and tok.isdigit())), text)
            raise ValueError(f"{path}:{lineno}: malformed line (expected integers 'user item item ...'), "
                             f"bad token {bad[:40]!r}: {text[:80]!r}")
        ids = [int(tok) for tok in text.split()]
        if len(ids) < 2:
            raise ValueError(f"{path}:{lineno}: a user with no items: {text[:80]!r}")
        user, items = ids[0], ids[1:]
        if not 1 <= user <= _MAX_ID:
            raise ValueError(f"{path}:{lineno}: user id {user} out of range (ids are 1..{_MAX_ID})")
        if user in first_line:
            raise ValueError(f"{path}:{lineno}: user id {user} appears again (first on line {first_line[user]}); "
                             f"each user has one line")
        first_line[user] = lineno
        low, top = min(items), max(items)
        if low < 1:
            raise ValueError(f"{path}:{lineno}: item ids must be >= 1 (0 is padding), got {low}")
        bound = _MAX_ID if max_item is None else max_item
        if top > bound:
            raise ValueError(f"{path}:{lineno}: item id {top} is above {bound}"
                             + (f", the number of items {bound_from} lists (each item 1..n needs an entry there)"
                                if bound_from else ""))
        users.append(user)
        seqs.append(np.array(items, dtype=np.int64))
    if not seqs:
        raise ValueError(f"{path}: the sequence file holds no user")
    return seqs, np.array(users, dtype=np.int64)


def _read_json(path: Path):
    """Parse a JSON file; errors name the file (and line); a key given twice in one object is an error
    (``json`` would silently keep the last value)."""
    def unique(pairs):
        out = {}
        for key, value in pairs:
            if key in out:
                raise ValueError(f"{path}: key {key!r} appears twice in one object")
            out[key] = value
        return out

    try:
        with open(path, encoding="utf-8-sig") as fh:
            return json.load(fh, object_pairs_hook=unique)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start})") from None


def _label_table(raw, label_file: Path, labels: str) -> dict[int, list]:
    """``{item id: [label, ...]}`` from a parsed label file, every key and value checked.

    Keys are decimal item ids ``>= 1``; values are lists of label names (``str``, for
    ``categories``) or of integer attribute ids (``attributes``). Anything else (a bare string,
    which would split into letters, a dict, whose keys would pass for labels, ``null``, a number)
    is an error naming the file, the key and the value.
    """
    if not isinstance(raw, dict):
        raise ValueError(f"{label_file}: expected an object {{\"item_id\": [label, ...]}}, "
                         f"got a JSON {type(raw).__name__}")
    table = {}
    for key, value in raw.items():
        if not (key.isascii() and key.isdigit() and int(key) >= 1):
            raise ValueError(f"{label_file}: key {key[:40]!r} is not an item id (a decimal integer >= 1)")
        if int(key) in table:
            raise ValueError(f"{label_file}: keys {key!r} and {str(int(key))!r} name the same item")
        if not isinstance(value, list):
            raise ValueError(f"{label_file}: key {key!r}: expected a list of labels, got {json.dumps(value)[:80]}")
        if labels == "categories":
            bad = [x for x in value if not isinstance(x, str)]
            what = "label names (strings)"
        else:
            bad = [x for x in value if isinstance(x, bool) or not isinstance(x, int)]
            what = "integer attribute ids"
        if bad:
            raise ValueError(f"{label_file}: key {key!r}: expected a list of {what}, got {json.dumps(bad[0])[:80]} "
                             f"in {json.dumps(value)[:80]}")
        table[int(key)] = value
    return table


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
    label_file = folder / f"{stem}_item2{labels}.json"
    if not label_file.is_file():
        raise FileNotFoundError(f"{folder}: label file {label_file.name} not found (labels={labels!r})")
    table = _label_table(_read_json(label_file), label_file, labels)
    # every item 1..n needs a label entry, so n cannot exceed the entries: that bound is checked
    # while the sequences are read, before anything scales with the ids
    seqs, user_ids = read_sequences(seq_file, max_item=len(table), bound_from=label_file.name)
    n_items = int(max(s.max() for s in seqs))
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
        if not (isinstance(attr_names, dict) and all(isinstance(v, dict) for v in attr_names.values())):
            raise ValueError(f"{names_file}: expected an object {{\"attribute_id\": {{\"name\": ...}}}}")
        names = [str(attr_names.get(str(a), {}).get("name", f"attribute {a}")) for a in ids]
    n_empty = sum(1 for s in item_labels[1:] if not s)
    if n_empty:
        warnings.warn(f"{label_file.name}: {n_empty} item(s) have no label; PMSA counts them as bringing no category",
                      stacklevel=3)
    meta = {"source": str(folder), "labels": labels, "user_ids": user_ids}
    return SequenceDataset(name or stem, seqs, item_labels, names, meta)


def _read_atomic(path: Path):
    """A RecBole atomic file (tab-separated, a ``name:type`` header, a record per line) as a table of strings,
    columns renamed to ``name``, and each row's file line. A bad byte, or a row with fewer or more fields than
    the header (pandas fills missing ones with "": an item silently unlabelled) is one error naming the line."""
    import pandas as pd

    numbered = [(n, line.rstrip("\r\n")) for n, line in _decoded_lines(path)]
    rows = [(n, line) for n, line in numbered if line]                 # pandas skips blank lines
    header = rows[0][1].split("\t") if rows else []
    for lineno, line in rows[1:]:
        if (n := line.count("\t") + 1) != len(header):
            what = f"no {', '.join(repr(c.split(':')[0]) for c in header[n:])}" if n < len(header) else "too many"
            raise ValueError(f"{path}:{lineno}: {n} tab-separated field(s), the header has {len(header)} ({what}): "
                             f"{line[:80]!r}")
    try:
        table = pd.read_csv(io.StringIO("\n".join(line for _, line in numbered)), sep="\t", dtype=str,
                            keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"{path}: malformed tab-separated file ({str(err).strip()})") from None
    table.columns = [c.split(":")[0] for c in table.columns]
    lines = np.array([n for n, _ in rows[1:]], dtype=np.int64)
    return table, (lines if len(lines) == len(table) else np.arange(len(table), dtype=np.int64) + 2)


def _numeric_column(table, column: str, path: Path, integer: bool, lines):
    """``table[column]`` as int64 (or float64); the first bad cell is an error naming file, line and value."""
    import pandas as pd

    values = pd.to_numeric(table[column], errors="coerce")
    numbers = values.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numbers)
    if integer:
        with np.errstate(invalid="ignore"):
            bad = bad | (numbers != np.floor(numbers))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{path}:{lines[row]}: column {column!r} must hold {kind}, got {table[column].iloc[row]!r}")
    if integer:
        for row in (int(np.argmin(numbers)), int(np.argmax(numbers))):
            if not 1 <= numbers[row] <= 2**53:                         # ids 1..2^53: exact as float64 and int64
                raise ValueError(f"{path}:{lines[row]}: column {column!r} ids must lie in 1..2^53, "
                                 f"got {table[column].iloc[row]!r}")
        return values.astype(np.int64)
    return values.astype(np.float64)


def _one_spelling(column: str, parts) -> None:
    """Refuse two spellings of one integer id (``"012"``, ``"12.0"`` and ``"12"``: read as integers they would
    merge). ``parts``: ``(path, raw strings, integer ids, lines)`` of each file holding the column, in order."""
    import pandas as pd

    spellings = pd.concat([pd.DataFrame({"raw": raw.to_numpy(), "value": ids.to_numpy(), "part": k, "line": lines})
                           for k, (_, raw, ids, lines) in enumerate(parts)]).drop_duplicates("raw")   # first rows
    clash = spellings[spellings.duplicated("value", keep=False)]
    if not clash.empty:
        first, again = clash[clash["value"] == clash["value"].iloc[0]].iloc[:2].itertuples(index=False)
        where = f"line {first.line}" if first.part == again.part else f"{parts[first.part][0]}:{first.line}"
        raise ValueError(f"{parts[again.part][0]}:{again.line}: column {column!r} spells id {first.value} as "
                         f"{again.raw!r}, {where} as {first.raw!r}: as integers they would merge; write ids one way")


def read_movielens_atomic(folder) -> SequenceDataset:
    """MovieLens-100K from RecBole atomic files (``ml-100k.inter``, ``ml-100k.item``), 5-core filtered.

    Interactions are ordered by (timestamp, file row) for each user, genres are the labels (the
    space-separated ``class`` column; an empty one is an item without label). Every id must be an
    integer >= 1 and every timestamp a number: a bad cell is an error naming the file, its line and
    the value (a text timestamp would otherwise sort as text and move that interaction); so is a row
    with fewer fields than its header. **Two spellings of one id** (``"012"``, ``"12"``) are refused naming
    both lines (as integers they would merge, as RecBole tokens stay two). **Exact duplicate interactions**
    (same user, item, timestamp) are kept, as RecBole does, with one ``UserWarning`` giving their count."""
    from . import kcore, preprocess

    folder = Path(folder)
    inter, item = folder / "ml-100k.inter", folder / "ml-100k.item"
    for f in (inter, item):
        if not f.is_file():
            raise FileNotFoundError(f"ml-100k: {f} not found")
    raw, inter_lines = _read_atomic(inter)
    if not {"user_id", "item_id", "timestamp"} <= set(raw.columns):
        raise ValueError(f"{inter}: expected columns user_id, item_id, timestamp; found {list(raw.columns)}")
    df = raw.assign(user_id=_numeric_column(raw, "user_id", inter, True, inter_lines),
                    item_id=_numeric_column(raw, "item_id", inter, True, inter_lines),
                    timestamp=_numeric_column(raw, "timestamp", inter, False, inter_lines))
    df = df.rename(columns={"user_id": "user", "item_id": "item", "timestamp": "time"})
    items, item_lines = _read_atomic(item)
    if not {"item_id", "class"} <= set(items.columns):
        raise ValueError(f"{item}: expected columns item_id and class (the genres); found {list(items.columns)}")
    item_ids = _numeric_column(items, "item_id", item, True, item_lines)
    _one_spelling("user_id", [(inter, raw["user_id"], df["user"], inter_lines)])
    _one_spelling("item_id", [(inter, raw["item_id"], df["item"], inter_lines),
                              (item, items["item_id"], item_ids, item_lines)])
    if item_ids.duplicated().any():
        row = int(np.flatnonzero(item_ids.duplicated().to_numpy())[0])
        first = int(np.flatnonzero((item_ids == item_ids.iloc[row]).to_numpy())[0])
        raise ValueError(f"{item}:{item_lines[row]}: item_id {item_ids.iloc[row]} appears again (first on line "
                         f"{item_lines[first]})")
    key = df[["user", "item", "time"]]
    repeats = key.duplicated().to_numpy()
    if repeats.any():
        row = int(repeats.argmax())
        first = int((key == key.iloc[row]).all(axis=1).to_numpy().argmax())
        warnings.warn(f"{inter}: {int(repeats.sum())} exact duplicate interaction(s) (same user_id, item_id and "
                      f"timestamp; line {inter_lines[row]} repeats line {inter_lines[first]}) are kept", stacklevel=2)
    genres = dict(zip(item_ids.tolist(), items["class"].str.split().tolist()))
    df, counts = kcore.filter_reported(df, 5, str(inter))
    ds = preprocess.build_dataset(df, genres, name="ml-100k")
    ds.meta.update(source=str(folder), kcore=5, kcore_counts=counts)
    return ds
