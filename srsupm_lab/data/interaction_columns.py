"""The columns of an interaction table: reading the file as text, and checking ids, times and labels cell by cell.

:mod:`srsupm_lab.data.interactions` assembles a :class:`~srsupm_lab.data.SequenceDataset` from a
table of interactions; this module holds what it checks the table with, one column at a time, so
that every bad value is reported with its place in the source:

* :class:`RowPlace` names a row: ``path:LINE`` for CSV/TSV (the physical line, header = line 1,
  blank lines and quoted line breaks counted), ``path, row N`` for Parquet, ``DataFrame, row N
  (index X)`` for a DataFrame;
* :func:`read_table` reads a CSV/TSV file as strings (nothing converted) or a Parquet file as
  stored, and turns pandas' errors (not UTF-8, empty file, a line with too many fields) into one
  line naming the place;
* :func:`require_columns` and :func:`resolve_time_column`: the named columns are there;
* :func:`id_column`: ids as text (integers as their exact decimal text, uint64 above 2**63 included;
  floats, booleans and ids holding a control character such as NUL refused);
* :func:`check_header`: a header that names a column twice is refused (pandas would rename the second);
* :func:`time_column`: numbers, or dates and times (ISO 8601 or ``time_format``) in UTC;
* :func:`is_missing` (an empty cell or one of :data:`MISSING_MARKERS`) and :func:`label_cell`
  (the label names of one cell);
* :func:`duplicate_rows`: rows repeating an earlier row's user, item and time.

The rules themselves (ids are strings, what a time may be, ...) are those of the
:mod:`~srsupm_lab.data.interactions` module doc.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["MISSING_MARKERS", "TIME_COLUMNS", "RowPlace", "check_header", "duplicate_rows", "first_true", "id_column", "is_missing",
           "label_cell", "plain_value", "read_table", "require_columns", "resolve_time_column", "time_column"]

#: cell texts that mean "no value" (besides an empty or blank cell)
MISSING_MARKERS = frozenset({"NA", "N/A", "NaN", "nan", "null", "NULL", "None", "<NA>"})
#: characters an id may not hold: C0 controls (NUL, ...), DEL
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: the time column's default names, the first found is taken
TIME_COLUMNS = ("timestamp", "time")


# ---------------------------------------------------------------- where a row came from
class RowPlace:
    """Names the place of a row in the source, for error messages.

    CSV/TSV: ``path:LINE`` with the 1-based physical line of the row (header = line 1; blank
    lines and quoted line breaks counted); Parquet: ``path, row N``; DataFrame: ``DataFrame,
    row N (index X)``, N 1-based.
    """

    def __init__(self, source: str, kind: str, path: Path | None = None, sep: str = ",", index=None):
        self.source, self.kind, self.path, self.sep, self.index = source, kind, path, sep, index
        self._lines: list[int] | None = None
        self.n_rows = 0

    def _record_lines(self) -> list[int] | None:
        """Start line of every data record, as the csv module reads the file (computed on the first error)."""
        if self._lines is None:
            lines, header = [], False
            with open(self.path, encoding="utf-8-sig", newline="") as fh:
                reader = csv.reader(fh, delimiter=self.sep)
                prev = 0
                for rec in reader:
                    start, prev = prev + 1, reader.line_num
                    if not rec or (len(rec) == 1 and not rec[0].strip()):
                        continue                                   # pandas skips blank lines too
                    if not header:
                        header = True
                        continue
                    lines.append(start)
            self._lines = lines
        return self._lines if len(self._lines) == self.n_rows else None

    def ref(self, pos: int) -> str:
        """``line N`` / ``row N`` of 0-based data row ``pos``."""
        if self.kind == "csv":
            lines = self._record_lines()
            return f"line {lines[pos]}" if lines is not None else f"data row {pos + 1}"
        if self.kind == "frame":
            return f"row {pos + 1} (index {plain_value(self.index[pos])!r})"
        return f"row {pos + 1}"

    def row(self, pos: int) -> str:
        """The message prefix of 0-based data row ``pos``: ``path:LINE`` for CSV."""
        ref = self.ref(pos)
        if ref.startswith("line "):
            return f"{self.source}:{ref[5:]}"
        return f"{self.source}, {ref}"

    def header(self) -> str:
        return f"{self.source}:1" if self.kind == "csv" else self.source


def plain_value(value):
    """A numpy scalar as the Python value, for readable messages (``1.0``, not ``np.float64(1.0)``)."""
    return value.item() if isinstance(value, np.generic) else value


def first_true(mask) -> int:
    return int(np.flatnonzero(np.asarray(mask, dtype=bool))[0])


# ---------------------------------------------------------------- reading files
def _decode_error_line(path: Path) -> str:
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                return (f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[err.start]:02x} at column {err.start + 1}); "
                        f"save the file as UTF-8")
    return f"{path}: not UTF-8 text; save the file as UTF-8"


def _bad_record_line(path: Path, sep: str, reason: str) -> str:
    """The first record whose field count differs from the header's, as ``path:LINE: ...``."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=sep)
            prev, width = 0, None
            for rec in reader:
                start, prev = prev + 1, reader.line_num
                if not rec or (len(rec) == 1 and not rec[0].strip()):
                    continue
                if width is None:
                    width = len(rec)
                elif len(rec) > width:
                    text = sep.join(rec)
                    return (f"{path}:{start}: {len(rec)} fields where the header (line 1) has {width}: "
                            f"{text[:80]!r}")
    except csv.Error as err:
        return f"{path}:{reader.line_num}: malformed {'TSV' if sep == chr(9) else 'CSV'} ({err})"
    return f"{path}: malformed {'TSV' if sep == chr(9) else 'CSV'} ({reason})"


def read_table(path: Path, sep: str | None = None) -> tuple[pd.DataFrame, RowPlace]:
    """A CSV/TSV file as a table of strings (every cell text, nothing converted), or a Parquet file as stored."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    if suffix == ".parquet" and sep is None:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow), "
                              f"or save the table as CSV") from None
        try:
            df = pd.read_parquet(path)
        except Exception as err:                                   # pyarrow's errors have no common base
            msg = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise ValueError(f"{path}: not a readable Parquet file ({type(err).__name__}: {msg[:120]})") from None
        df.columns = [str(c).strip() for c in df.columns]
        check_header(df.columns, str(path))
        where = RowPlace(str(path), "parquet", path)
        where.n_rows = len(df)
        return df.reset_index(drop=True), where
    if sep is None:
        sep = "\t" if suffix == ".tsv" else ","
    kind = "TSV" if sep == "\t" else "CSV"
    try:
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_filter=False, index_col=False,
                         encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(_decode_error_line(path)) from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}:1: the file is empty (got ''; expected a header line naming the columns, "
                         f"e.g. {sep.join(('user', 'item', 'timestamp'))!r})") from None
    except pd.errors.ParserError as err:
        raise ValueError(_bad_record_line(path, sep, str(err).strip().splitlines()[-1])) from None
    df.columns = [str(c).strip() for c in df.columns]
    check_header(_raw_header(path, sep), f"{path}:1")
    where = RowPlace(str(path), "csv", path, sep)
    where.n_rows = len(df)
    if len(df) == 0:
        raise ValueError(f"{path}:2: no data rows after the header (line 1: {sep.join(df.columns)!r}); "
                         f"the {kind} file holds no interaction")
    return df, where


def _raw_header(path: Path, sep: str) -> list[str]:
    """The header's names as written (pandas renames a repeated name ``item.1``), blanks stripped."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for rec in csv.reader(fh, delimiter=sep):
            if rec and not (len(rec) == 1 and not rec[0].strip()):
                return [c.strip() for c in rec]
    return []


def check_header(names, where: str) -> None:
    """One line when the header names a column twice: which of the two would be read is a guess."""
    names = [str(c).strip() for c in names]
    seen: dict[str, int] = {}
    for j, name in enumerate(names, 1):
        if name in seen:
            raise ValueError(f"{where}: the header names the column {name!r} twice (fields {seen[name]} and {j}); "
                             f"give every column its own name")
        seen[name] = j


# ---------------------------------------------------------------- columns
def resolve_time_column(columns, time: str | None) -> str | None:
    if time is not None:
        return time
    return next((c for c in TIME_COLUMNS if c in columns), None)


def require_columns(df: pd.DataFrame, where: RowPlace, wanted: dict[str, str | None]) -> None:
    """Every named column is in ``df``; else one line naming the missing one and the columns found."""
    for role, col in wanted.items():
        if col is None and role == "time":
            raise ValueError(f"{where.header()}: no time column: neither 'timestamp' nor 'time' is among the "
                             f"columns found, {list(df.columns)} (name it with time=...)")
        if col is not None and col not in df.columns:
            raise ValueError(f"{where.header()}: no column {col!r} (the {role} column); the columns found are "
                             f"{list(df.columns)}")


def is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        text = value.strip()
        return not text or text in MISSING_MARKERS
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):                                # list-like cells
        return False


def _missing_error(where: RowPlace, pos: int, col: str, role: str, value) -> ValueError:
    return ValueError(f"{where.row(pos)}: missing {role} value in column {col!r} (got {plain_value(value)!r})")


def _refuse_missing(series: pd.Series, col: str, role: str, where: RowPlace) -> None:
    """The one-line error of the column's first missing (NaN/None/NaT) value, if it has one."""
    miss = series.isna().to_numpy()
    if miss.any():
        pos = first_true(miss)
        raise _missing_error(where, pos, col, role, series.iloc[pos])


def id_column(series: pd.Series, col: str, role: str, where: RowPlace) -> np.ndarray:
    """The column as an object array of id strings (see the module doc: ids are text)."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise ValueError(f"{where.row(0)}: column {col!r} holds True/False values, not {role} ids "
                         f"(got {plain_value(series.iloc[0])!r})")
    if pd.api.types.is_integer_dtype(dtype):
        _refuse_missing(series, col, role, where)
        # tolist() gives exact Python ints (a uint64 above 2**63 stays positive; astype int64 would wrap it)
        return np.array([str(int(v)) for v in series.tolist()], dtype=object)
    if pd.api.types.is_float_dtype(dtype):
        _refuse_missing(series, col, role, where)
        raise ValueError(f"{where.row(0)}: column {col!r} holds floats (got {plain_value(series.iloc[0])!r}); "
                         f"{role} ids are compared as text, so 12.0 would not match '12': cast the column to int "
                         f"or str")
    values = series.to_numpy(dtype=object)
    out = np.empty(len(values), dtype=object)
    for pos, v in enumerate(values):
        if isinstance(v, str):
            text = v.strip()
            if not text or text in MISSING_MARKERS:
                raise _missing_error(where, pos, col, role, v)
            if _CONTROL.search(text):
                char = _CONTROL.search(text).group()
                raise ValueError(f"{where.row(pos)}: column {col!r}: the {role} id {text!r} holds the control "
                                 f"character {char!r} (a NUL byte or another invisible character would make an id "
                                 f"no one can type); clean the file")
            out[pos] = text
        elif isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
            out[pos] = str(int(v))
        elif is_missing(v):
            raise _missing_error(where, pos, col, role, v)
        else:
            raise ValueError(f"{where.row(pos)}: column {col!r}: a {role} id must be a string or an integer, "
                             f"got {type(v).__name__} {plain_value(v)!r}")
    return out


def time_column(series: pd.Series, col: str, where: RowPlace, time_format: str | None) -> tuple[pd.Series, str]:
    """The time column as numbers or UTC datetimes, and which (``"number"``/``"date"``); see the module doc."""
    dtype = series.dtype
    series = series.reset_index(drop=True)
    if pd.api.types.is_bool_dtype(dtype):
        raise ValueError(f"{where.row(0)}: column {col!r} holds True/False values, not times "
                         f"(got {plain_value(series.iloc[0])!r})")
    if pd.api.types.is_datetime64_any_dtype(dtype):
        _refuse_missing(series, col, "time", where)
        if getattr(dtype, "tz", None) is not None:
            series = series.dt.tz_convert("UTC")
        return series, "date"
    if pd.api.types.is_numeric_dtype(dtype) and time_format is None:
        _refuse_missing(series, col, "time", where)
        values = series.to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            pos = first_true(~np.isfinite(values))
            raise ValueError(f"{where.row(pos)}: column {col!r}: time {plain_value(series.iloc[pos])!r} "
                             f"is not a finite number")
        return series, "number"
    raw = series.to_numpy(dtype=object)
    text = np.empty(len(raw), dtype=object)
    for pos, v in enumerate(raw):
        if is_missing(v):
            raise _missing_error(where, pos, col, "time", v)
        text[pos] = v.strip() if isinstance(v, str) else str(v)
    text = pd.Series(text, dtype=object)
    if time_format is None:
        numbers = pd.to_numeric(text, errors="coerce")
        is_num = numbers.notna().to_numpy()
        if is_num.all():
            finite = np.isfinite(numbers.to_numpy(dtype=np.float64))
            if not finite.all():
                pos = first_true(~finite)
                raise ValueError(f"{where.row(pos)}: column {col!r}: time {plain_value(raw[pos])!r} "
                                 f"is not a finite number")
            return numbers, "number"
        if 2 * int(is_num.sum()) >= len(text):                     # mostly numbers: the first text is the error
            pos, ex = first_true(~is_num), first_true(is_num)
            raise ValueError(f"{where.row(pos)}: column {col!r}: time {plain_value(raw[pos])!r} is not a number "
                             f"(the column holds numbers, e.g. {plain_value(raw[ex])!r} on {where.ref(ex)})")
    dates = pd.to_datetime(text, format=time_format or "ISO8601", errors="coerce", utc=True)
    bad = dates.isna().to_numpy()
    if bad.any():
        pos = first_true(bad)
        if time_format:
            raise ValueError(f"{where.row(pos)}: column {col!r}: time {plain_value(raw[pos])!r} is not a date "
                             f"in the format {time_format!r}")
        raise ValueError(f"{where.row(pos)}: column {col!r}: time {plain_value(raw[pos])!r} is neither a number nor an "
                         f"ISO 8601 date/time (pass time_format=... for another date format)")
    return dates, "date"


# ---------------------------------------------------------------- labels
def label_cell(value, sep: str, where: RowPlace, pos: int, col: str) -> tuple[str, ...] | None:
    """Labels of one cell: ``None`` when empty, else the names (split on ``sep``, stripped, de-duplicated)."""
    if isinstance(value, str):
        if not value.strip() or value.strip() in MISSING_MARKERS:
            return None
        parts = value.split(sep)
    elif isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        parts = list(value)
        bad = [x for x in parts if not isinstance(x, str)]
        if bad:
            raise ValueError(f"{where.row(pos)}: column {col!r}: labels must be strings, got {bad[0]!r} in "
                             f"{list(parts)!r:.80}")
        if not parts:
            return ()
    elif is_missing(value):
        return None
    else:
        raise ValueError(f"{where.row(pos)}: column {col!r}: labels must be a {sep!r}-separated string or a list "
                         f"of strings, got {type(value).__name__} {plain_value(value)!r}")
    return tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))


# ---------------------------------------------------------------- duplicates
def duplicate_rows(table: pd.DataFrame, where: RowPlace) -> tuple[np.ndarray, str]:
    """Rows repeating an earlier row's user, item and time (after parsing), and one line describing them.

    ``table`` has columns ``user``, ``item`` and ``time``, in source order with a 0-based range
    index. The mask marks every row but the first of each group of equal rows; the text is
    empty when there is none, else it gives their count and the first repeat with the row it
    repeats (the caller adds what it does with them).
    """
    dup = table.duplicated(["user", "item", "time"], keep="first").to_numpy()
    n_dup = int(dup.sum())
    if not n_dup:
        return dup, ""
    users, items = table["user"].to_numpy(dtype=object), table["item"].to_numpy(dtype=object)
    pos = first_true(dup)
    same = (users == users[pos]) & (items == items[pos]) & (table["time"] == table["time"].iloc[pos]).to_numpy()
    first = first_true(same)
    return dup, (f"{where.source}: {n_dup} exact duplicate interaction(s) (same user, item and time), e.g. "
                 f"{where.ref(pos)} repeats {where.ref(first)} (user {users[pos]!r}, item {items[pos]!r})")
