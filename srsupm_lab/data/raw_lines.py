"""Reading the raw originals line by line, with errors that name the file and the line.

The public datasets (Amazon 2014, MovieLens-100K, Yelp) come as large text files, often gzipped,
one JSON object (or, on some Amazon mirrors, one Python dict literal) per line.
:mod:`srsupm_lab.data.originals` reads them through these helpers, so a bad byte, a line that
does not parse or a missing field is one ``ValueError`` saying which file and which line.
"""
from __future__ import annotations

import ast
import gzip
import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm.auto import tqdm

__all__ = ["MalformedLineError", "numbered_lines", "text_lines", "read_records", "id_field", "field",
           "parse_json_or_literal"]


class MalformedLineError(ValueError):
    """A raw file has a line that cannot be parsed; the message names the file and line."""

    def __init__(self, source: str, lineno: int, reason: str, line: str):
        snippet = line.strip()
        snippet = snippet if len(snippet) <= 80 else snippet[:77] + "..."
        super().__init__(f"{source}, line {lineno}: {reason}: {snippet!r}")
        self.source, self.lineno = source, lineno


def numbered_lines(stream: Iterable[str], source: str, progress: bool) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) for every non-blank line."""
    for lineno, line in enumerate(tqdm(stream, desc=Path(source).name, unit=" lines", disable=not progress), 1):
        if line.strip():
            yield lineno, line


def text_lines(path: Path) -> Iterator[str]:
    """The lines of a raw UTF-8 text file (gunzipping ``*.gz``), decoded one by one so that a bad
    byte is reported with its 1-based line; a BOM at the start is skipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise ValueError(f"{path}, line {lineno}: not UTF-8 text (byte 0x{raw[err.start]:02x} at column "
                                 f"{err.start + 1})") from None


def read_records(path: Path, parse, progress: bool) -> Iterator[tuple[int, str, object]]:
    """(line number, line, parsed record) for every line; parse errors name file and line."""
    try:
        for lineno, line in numbered_lines(text_lines(path), str(path), progress):
            try:
                record = parse(line)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as err:
                raise MalformedLineError(str(path), lineno, f"cannot parse ({type(err).__name__})", line) from None
            if not isinstance(record, dict):
                raise MalformedLineError(str(path), lineno, "expected one JSON object / dict per line", line)
            yield lineno, line, record
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: not a readable {'gzip ' if path.suffix == '.gz' else ''}text file "
                         f"({type(err).__name__}: {err})") from None


def id_field(record: dict, key: str, path: Path, lineno: int, line: str) -> str:
    """A record's id (user, item, business): a non-empty string (``null`` or a number would turn into
    the id ``"None"`` or collide with another spelling of it)."""
    value = field(record, key, path, lineno, line)
    if not isinstance(value, str) or not value.strip():
        raise MalformedLineError(str(path), lineno, f"{key!r} must be a non-empty string, got {value!r}", line)
    return value


def field(record: dict, key: str, path: Path, lineno: int, line: str):
    try:
        return record[key]
    except KeyError:
        raise MalformedLineError(str(path), lineno, f"missing field {key!r}", line) from None


def parse_json_or_literal(line: str):
    """Amazon 2014 review files are JSON; a few mirrors store Python dict literals."""
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return ast.literal_eval(line)
