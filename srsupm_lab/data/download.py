"""Download one raw data file safely (the public originals behind method.md's datasets).

``fetch`` streams a URL to disk with a progress bar, checks its sha256 when one is known and
only then moves it into place (``os.replace`` of a temporary file in the same folder), so a
crash, a lost connection or a bad checksum never leaves a half-written file under the final
name. A file already present (and matching the checksum, when one is given) is not fetched
again. ``file://`` URLs work too (urllib supports them), which the tests use.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

CHUNK = 1 << 20  # bytes read per step


class ChecksumError(ValueError):
    """A file's sha256 is not the expected one."""


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, dest: str | os.PathLike, sha256: str | None = None, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` and return ``dest`` as a Path.

    Parameters
    ----------
    sha256 : str or None
        Expected hex digest. ``None`` means unknown: the download is not checked, and an
        existing ``dest`` is trusted as it is.
    progress : bool
        Show a tqdm progress bar (sized from Content-Length when the server sends it).

    Raises
    ------
    ChecksumError
        The downloaded bytes do not match ``sha256`` (the message names the file and both
        hashes); nothing is written under ``dest``.
    ConnectionError
        The URL cannot be reached (offline, DNS failure, HTTP error, missing ``file://`` path).
    """
    dest = Path(dest)
    expected = sha256.lower() if sha256 else None
    if dest.is_file():
        if expected is None:
            return dest
        actual = sha256_of(dest)
        if actual == expected:
            return dest
        tqdm.write(f"{dest}: sha256 {actual} does not match the expected {expected}; downloading it again")
    dest.parent.mkdir(parents=True, exist_ok=True)

    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        try:
            response = urllib.request.urlopen(url, timeout=60)
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise ConnectionError(
                f"could not download {url} to {dest}: {reason}. If this machine is offline, download the "
                f"file elsewhere and put it at {dest}") from err
        with response, os.fdopen(fd, "wb") as out:
            fd = None
            size = response.headers.get("Content-Length")
            total = int(size) if size and size.isdigit() else None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
                      disable=not progress) as bar:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    h.update(block)
                    bar.update(len(block))
        actual = h.hexdigest()
        if expected is not None and actual != expected:
            raise ChecksumError(f"checksum mismatch for {dest.name} (from {url}): expected sha256 {expected}, "
                                f"got {actual}; the file was not saved")
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files
        os.replace(tmp, dest)
    except BaseException:
        if fd is not None:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    return dest
