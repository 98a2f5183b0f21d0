"""One writer per run folder: :func:`run_lock` holds an exclusive lock on ``out_dir`` while a run writes it.

Two runs given the same ``--out`` would otherwise both "succeed" and leave a folder whose config
is one run's and whose results and checkpoint are the other's. :func:`srsupm_lab.experiment.run_experiment`
therefore takes the lock before it looks at the folder and keeps it until its last write; a
second run on the same folder fails at once, before it changes anything, with one line naming
the holder::

    runs/x is being written by another run (pid 1234 on gpu1, since 2026-03-01T10:00:00+01:00,
    command: python -m srsupm_lab train --out runs/x); wait for it or choose another --out

How. ``fcntl.flock(LOCK_EX | LOCK_NB)`` on the file ``out_dir/.lock``, which then holds the
holder as JSON (pid, host, command line ``sys.argv``, start time ISO 8601). The operating system
releases a flock when the process holding it ends, however it ends: a run killed by SIGKILL,
the OOM killer or a power loss leaves no stale lock, the next run takes it (no pid file to
clean up by hand). The lock lives on one machine's kernel: runs on two hosts writing one
folder over NFS are not guaranteed to see each other's lock.

On release (normal exit or exception) the lock file is **removed**, while still locked, so
that a finished run folder holds only the run's outputs; a folder (and parents) that
:func:`run_lock` created and that is left empty is removed too, so a run that fails early leaves
nothing behind. Removing a lock file is safe because a taker checks, once locked, that the file
it locked is still the one named ``.lock`` (same inode), and tries again if not. A lock file left
by a killed run is harmless: it is taken over and removed by the next run. ``.lock`` is none of
the run's outputs (:data:`srsupm_lab.run_folder.OUTPUT_FILES`). A child forked while the lock is
held (a DataLoader worker) shares it until it exits too.

Where ``fcntl`` does not exist (Windows) nothing is locked: one warning says so, once.
"""
from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path

try:
    import fcntl
except ImportError:                                    # Windows
    fcntl = None

__all__ = ["LOCK_FILE", "RunFolderBusy", "run_lock", "lock_holder"]

#: the lock file's name inside the run folder
LOCK_FILE = ".lock"
_WARNED = False
_ATTEMPTS = 20                                         # a lock file removed under us: try again, so often


class RunFolderBusy(OSError):
    """The run folder is locked by another run; ``str()`` is one line naming the holder (``holder``: its record)."""

    def __init__(self, out_dir, holder: dict | None = None):
        self.out_dir, self.holder = Path(out_dir), holder
        super().__init__(f"{out_dir} is being written by another run ({_describe(holder)}); wait for it or choose "
                         f"another --out")

    def __reduce__(self):                              # crosses a process pool whole (OSError's would lose holder)
        return type(self), (str(self.out_dir), self.holder)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _describe(holder: dict | None) -> str:
    if not holder:
        return "its holder is not recorded yet"
    command = holder.get("command")
    if isinstance(command, list):
        command = shlex.join(str(c) for c in command)
    return _one_line(f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, since {holder.get('since', '?')}, "
                     f"command: {command or '?'}")


def lock_holder(out_dir) -> dict | None:
    """The record in ``out_dir/.lock`` (pid, host, command, since), or None when there is none or it is
    unreadable. It describes the current holder only while the file is locked: after a kill it is stale."""
    try:
        value = json.loads((Path(out_dir) / LOCK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _read_holder(fd: int) -> dict | None:
    """The holder's record through our own descriptor; a holder between its lock and its write has none yet."""
    for _ in range(10):
        try:
            text = os.pread(fd, 1 << 16, 0).decode("utf-8")
            value = json.loads(text) if text.strip() else None
        except (OSError, ValueError):
            value = None
        if isinstance(value, dict):
            return value
        time.sleep(0.02)
    return None


def _missing_dirs(out: Path) -> list[Path]:
    """``out`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    for p in (out, *out.parents):
        if p.exists():
            break
        missing.append(p)
    return missing


def _remove_if_empty(dirs: list[Path]) -> None:
    for d in dirs:                                     # deepest first; stop at the first one in use
        try:
            d.rmdir()
        except OSError:
            return


def _take(out: Path) -> tuple[int, list[Path]]:
    """Lock ``out/.lock``: its descriptor, and the folders made for it; RunFolderBusy when another run holds it."""
    path = out / LOCK_FILE
    made: list[Path] = []
    for _ in range(_ATTEMPTS):
        missing = _missing_dirs(out)
        out.mkdir(parents=True, exist_ok=True)
        made = made or missing
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:                      # the folder went away under us (an empty one removed)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            _remove_if_empty(made)
            raise RunFolderBusy(out, holder) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd, made
        os.close(fd)                                   # locked a file its holder had just removed: again
    raise OSError(f"{out}: could not lock {path}: it was replaced {_ATTEMPTS} times in a row")


@contextlib.contextmanager
def run_lock(out_dir):
    """Hold the exclusive lock of run folder ``out_dir`` (created if missing, parents included) for the block.

    Raises :class:`RunFolderBusy` (an ``OSError``, one line naming the holder's pid, host, start
    and command) when another process holds it; nothing in the folder is changed then. Released
    on exit, also on an exception; see the module doc for the lock file's life and a killed holder.
    Re-entering it for the same folder in one process fails like a second run would.
    """
    global _WARNED
    out = Path(out_dir)
    if fcntl is None:
        if not _WARNED:
            _WARNED = True
            warnings.warn("run_lock: fcntl is not available on this system, so run folders are not locked: two "
                          "runs given the same out_dir would mix their files", RuntimeWarning, stacklevel=3)
        missing = _missing_dirs(out)
        out.mkdir(parents=True, exist_ok=True)
        try:
            yield out
        finally:
            _remove_if_empty(missing)
        return
    fd, made = _take(out)
    try:
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": list(sys.argv),
                  "since": datetime.now().astimezone().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode("utf-8"), 0)
        yield out
    finally:
        try:
            path = out / LOCK_FILE
            with contextlib.suppress(FileNotFoundError):
                if os.stat(path).st_ino == os.fstat(fd).st_ino:   # ours (not one made after a hand deletion)
                    path.unlink()                      # still locked: nobody can take this inode any more
        finally:
            os.close(fd)                               # releases the flock
            _remove_if_empty(made)
