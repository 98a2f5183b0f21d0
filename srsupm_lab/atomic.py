"""Atomic file writes: a crash, a kill or a full disk leaves the old file or the new one, never a partial one.

Every file a run, a report or a figure writes goes through :func:`atomic_write` (one file) or
:func:`atomic_write_all` (a set of files that must change together: a run's final tables with
``results.json`` last, method.md §10–11): the new content goes to a temporary file next to the
target (``.<name>.<random>.tmp``, synced, with the umask's mode), then ``os.replace`` moves it
into place. A process killed mid-write cannot clean up; :func:`remove_stale_temps` removes what
it left when the run next starts. A failed write is one ``OSError`` naming the file (and saying
when the disk is full).
"""
from __future__ import annotations

import errno
import glob
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Sequence

__all__ = ["atomic_write", "atomic_write_all", "remove_stale_temps"]

_UMASK = os.umask(0o022)
os.umask(_UMASK)                                                           # read the process umask once


def _write_failure(path: Path, err: BaseException) -> OSError:
    """One-line ``OSError`` for a failed write of ``path``: what failed and, when it is so, that the disk is full.

    ``torch.save`` reports a full disk as a ``RuntimeError`` (``[enforce fail at inline_container.cc]``,
    ``file write failed``) without the path; a plain write raises ``OSError(ENOSPC)``.
    """
    reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
    if getattr(err, "errno", None) == errno.ENOSPC:
        reason = "the disk is full"
    elif isinstance(err, RuntimeError):
        try:
            free = shutil.disk_usage(path.parent).free
        except OSError:
            free = None
        reason = f"{reason[:160]}; the disk is probably full" + (f" ({free / 2**20:.0f} MiB free there)"
                                                                  if free is not None else "")
    out = OSError(f"cannot write {path}: {reason}; the previous file, if any, is kept")
    out.errno = getattr(err, "errno", None)
    return out


def _stage(path: Path, write: Callable[[str], None]) -> str:
    """Write ``path``'s new content to a temporary file next to it (synced, with the umask's mode); return it.

    On failure the temporary is removed; an ``OSError``/``RuntimeError`` becomes one ``OSError`` naming ``path``.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise _write_failure(path, err) from err
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)                                      # mkstemp made it 0600
    except BaseException as err:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, (OSError, RuntimeError)):
            raise _write_failure(path, err) from err
        raise
    return tmp


def atomic_write_all(writes: Sequence[tuple[str | os.PathLike, Callable[[str], None]]]) -> None:
    """Write several files so that a failure while writing any of them changes none of them.

    Every ``write(tmp_path)`` runs first, each on a temporary file next to its path; only when all
    have succeeded are they moved into place with ``os.replace``, in the order given (put the file
    that marks the set as complete last). A failure (a full disk, a kill) while writing leaves
    every old file as it was and no temporary behind; only a crash between two ``os.replace``
    calls, microseconds apart, can leave some files new and the later ones old.
    """
    staged: list[tuple[Path, str]] = []
    try:
        for path, write in writes:
            staged.append((Path(path), _stage(Path(path), write)))
        for i, (path, tmp) in enumerate(staged):
            try:
                os.replace(tmp, path)
            except OSError as err:
                raise _write_failure(path, err) from err
            staged[i] = (path, "")
    finally:
        for _, tmp in staged:
            if tmp and os.path.exists(tmp):
                os.remove(tmp)


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` on a temporary file next to ``path``, then ``os.replace`` it.

    A crash at any moment leaves either the old file or the new one, never a partial file;
    the temporary file (``.<name>.<random>.tmp``) is removed when ``write`` fails. A write that
    fails with ``OSError``/``RuntimeError`` (a full disk, a failed ``os.replace``) is raised as one
    ``OSError`` naming ``path`` (see :func:`remove_stale_temps` for a process killed mid-write).
    """
    atomic_write_all([(path, write)])


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files a killed :func:`atomic_write` of ``path`` left (``.<name>.*.tmp``).

    A process killed mid-write (SIGKILL, power loss) cannot clean up; the next start of the run
    calls this. Returns the files removed.
    """
    path = Path(path)
    stale = sorted(path.parent.glob(f".{glob.escape(path.name)}.*.tmp")) if path.parent.is_dir() else []
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return stale
