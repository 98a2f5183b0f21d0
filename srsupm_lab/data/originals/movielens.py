"""MovieLens 100K (GroupLens, ``ml-100k.zip``) -> SequenceDataset with the 19 genres as labels."""
from __future__ import annotations

import io
import os
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from ..dataset import SequenceDataset
from ..kcore import filter_reported
from ..preprocess import build_dataset
from ..raw_lines import MalformedLineError, numbered_lines
from ..s3rec_layout import save_s3rec_layout
from .sources import ensure_file

# ml-100k's u.genre, in flag order (used when the zip lacks u.genre).
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)


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


def _one_spelling(first: dict, what: str, value: int, text: str, source: str, lineno: int, line: str) -> None:
    """Refuse a second spelling of an integer id (``012`` after ``12``): read as integers the two would merge.
    ``first``: id -> (spelling, source, line) of the first time it was read."""
    seen = first.setdefault(value, (text, source, lineno))
    if seen[0] != text:
        where = f"line {seen[2]}" if seen[1] == source else f"{seen[1]}, line {seen[2]}"
        raise MalformedLineError(source, lineno, f"{what} id {value} spelled {text!r}, {where} as {seen[0]!r}; read "
                                 f"as integers they would merge into one id: write each id one way", line)


def read_movielens_100k(zip_path: str | os.PathLike, progress: bool = False) -> tuple[pd.DataFrame, dict[int, list[str]]]:
    """(``user, item, time, rating`` table in file order, ``item -> genre names``) from ``ml-100k.zip``.

    Every id is an integer written one way: a second spelling (``012`` after ``12``, in ``u.data`` or
    between ``u.data`` and ``u.item``) is an error naming both lines, not two rows merged into one id.
    Exact duplicate interactions (same user, item and timestamp) are kept, each an interaction of
    its own; one ``UserWarning`` gives their count and the lines of the first.
    """
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
        rows, lines = [], []
        spelled: dict[str, dict[int, tuple[str, str, int]]] = {"user": {}, "item": {}}
        for lineno, line in _zip_lines(zf, member, source, progress):
            parts = line.split()
            if len(parts) != 4 or not all(p.isascii() and p.isdigit() for p in parts):
                raise MalformedLineError(source, lineno, "expected 4 tab-separated integers 'user item rating timestamp'", line)
            u, i, r, t = map(int, parts)
            _one_spelling(spelled["user"], "user", u, parts[0], source, lineno, line)
            _one_spelling(spelled["item"], "item", i, parts[1], source, lineno, line)
            rows.append((u, i, t, r))
            lines.append(lineno)
        df = pd.DataFrame(rows, columns=["user", "item", "time", "rating"])
        repeats = df.duplicated(["user", "item", "time"]).to_numpy()
        if repeats.any():
            row = int(repeats.argmax())
            first = int(((df["user"] == df["user"].iat[row]) & (df["item"] == df["item"].iat[row])
                         & (df["time"] == df["time"].iat[row])).to_numpy().argmax())
            warnings.warn(f"{source}: {int(repeats.sum())} exact duplicate interaction(s) (same user, item and "
                          f"timestamp; the first: line {lines[row]} repeats line {lines[first]}) are kept, each as "
                          f"an interaction of its own", stacklevel=2)

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
            _one_spelling(spelled["item"], "item", int(fields[0]), fields[0], source, lineno, line)
            if int(fields[0]) in labels:
                raise MalformedLineError(source, lineno, f"item {int(fields[0])} is listed twice", line)
            labels[int(fields[0])] = [g for g, f in zip(genres, flags) if f == "1"]
    return df, labels


def prepare_movielens_100k(root: str | os.PathLike, *, k: int = 5, download: bool = True,
                           out: str | os.PathLike | None = None, progress: bool = True) -> SequenceDataset:
    """MovieLens 100K (``root/ml-100k.zip``) as a SequenceDataset named ``"ml-100k"``; labels = genres."""
    zip_path = ensure_file(Path(root) / "ml-100k.zip", "ml-100k", download, progress)
    df, labels = read_movielens_100k(zip_path, progress)
    df, counts = filter_reported(df, k, "ml-100k")
    ds = build_dataset(df, labels, name="ml-100k")
    ds.meta.update(source="movielens-100k", files=[zip_path.name], kcore=k, kcore_counts=counts)
    if out is not None:
        save_s3rec_layout(ds, out)
    return ds
