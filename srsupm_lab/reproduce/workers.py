"""The ``--jobs`` worker pool's processes and signals: how a grid trains several runs at once and stops cleanly.

Each worker is a spawned process with ``cores // jobs`` torch threads. A stop (Ctrl-C, SIGTERM,
or the grid's process killed outright, even with SIGKILL) reaches every worker: it unwinds its
run (whose files are written atomically, so its folder keeps the last finished epoch) and exits,
and the next call of the same grid resumes the run from its checkpoint.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import Callable

__all__ = ["usable_cores", "init_worker", "run_in_worker", "sigterm_raises", "BROKEN_POOL_HINT"]


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                                             # not on Linux
        return os.cpu_count() or 1


class _GridStopped(BaseException):
    """Raised inside a ``--jobs`` worker when its grid is stopped (SIGTERM, or its parent is gone)."""


_WORKER_BUSY = False                  # a worker is inside a run: SIGTERM unwinds it instead of exiting at once
WATCH_SECONDS = 0.5                   # how often a worker checks that its parent is still there


def _stop_worker(signum, frame) -> None:
    if _WORKER_BUSY:
        raise _GridStopped(signum)
    os._exit(128 + signum)


def _watch_parent(parent: int) -> None:
    """Send this worker SIGTERM once the process that started it has gone (killed, even with SIGKILL):
    an orphaned worker would otherwise go on training, and a later grid would write the same run
    folder at the same time."""
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)


def init_worker(threads: int, parent: int) -> None:
    """A ``--jobs`` worker: its runs (and a papermill kernel it starts) use ``threads`` CPU threads;
    it stops its run (SIGTERM) and exits when the grid that started it stops or dies."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch
    torch.set_num_threads(threads)
    signal.signal(signal.SIGTERM, _stop_worker)
    signal.signal(signal.SIGINT, _stop_worker)                        # Ctrl-C reaches the whole process group
    threading.Thread(target=_watch_parent, args=(parent,), name="watch-grid", daemon=True).start()


def run_in_worker(execute: Callable[..., float], *args, announce: str | None = None) -> float:
    """``execute(*args)`` in a ``--jobs`` worker, printing ``announce`` (if given) when it starts. A
    stop unwinds the run first (papermill shuts its kernel down), then the worker exits."""
    global _WORKER_BUSY
    _WORKER_BUSY = True
    if announce:
        print(announce, flush=True)
    try:
        return execute(*args)
    except _GridStopped as stop:
        os._exit(128 + stop.args[0])
    finally:
        _WORKER_BUSY = False


#: what a worker that died before its run usually means (spawn re-imports the caller's script)
BROKEN_POOL_HINT = ("a --jobs worker process died. Called from a script? Worker processes are spawned and "
                    "re-import it: put the run_grid call under `if __name__ == \"__main__\":`")


def _raise_system_exit(signum, frame) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def sigterm_raises():
    """While a ``--jobs`` grid runs in the main thread, SIGTERM to its process raises SystemExit,
    so that the grid stops its workers before it exits, as on Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():     # signals go to the main thread only
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_system_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
