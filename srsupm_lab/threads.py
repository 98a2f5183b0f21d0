"""The package's one thread policy: how many intra-op threads torch uses on the CPU.

    from srsupm_lab.threads import apply_thread_policy
    apply_thread_policy("small")          # a notebook's toy model: one thread
    apply_thread_policy("large")          # Beauty-sized training: the cores that are really free
    apply_thread_policy(step_work(256, 12101, 64, 50, K=5))   # decide from the work of one step

Why: torch starts one OpenMP thread per core and every thread spins until the others finish each
operation, so on a shared machine (a JupyterHub, a laptop compiling something, the reproduction's
other runs) a thread without a free core stalls all the others. On a 2-core machine with training
running beside it, notebook 02 took 544 s with torch's default threads and 52 s with one
(issue 20). Small problems gain nothing from a second thread either: their operations are too
short to split.

The rules, in this order (:func:`apply_thread_policy`):

1. **An explicit setting wins.** It is explicit when ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS``
   is set in the environment (torch reads them at start-up; so do ``reproduce --jobs`` workers), or
   when ``torch.get_num_threads()`` is not what this policy last set, nor (before the policy ever
   set anything) torch's own default. Torch's default cannot be asked for once changed, so it is
   recognised instead: the value found when this module was first imported, which must also be
   one torch would pick by itself (the number of physical cores, of logical CPUs, or of the CPUs
   this process may run on). A ``torch.set_num_threads(n)`` made *before* importing the package is
   thus seen as explicit unless ``n`` is one of those numbers; one that equals the default cannot
   be told apart from it, and for that case ``OMP_NUM_THREADS`` is the way to insist.
2. **Small work uses one thread** (``"small"``, or fewer than :data:`LARGE_WORK` multiply-adds a step).
3. **Large work uses the free cores**: the CPUs this process may run on (``os.sched_getaffinity``,
   else ``os.cpu_count()``) minus the 1-minute load average that other processes make, rounded,
   at least 1 (:func:`free_cores`). The load average counts this process too; its own share is
   estimated from its CPU time since the previous decision (or since import) and taken off, so
   that a notebook's or the demo's second training is not starved by the first.
"""
from __future__ import annotations

import glob
import math
import os
import time

import torch

__all__ = ["apply_thread_policy", "free_cores", "explicit_threads", "step_work", "usable_cores", "LARGE_WORK"]

#: Multiply-adds of one training step (or one scored batch) from which work counts as large: about
#: 40 ms of one core's float32 arithmetic (~50 GFLOP/s), where splitting each operation over cores
#: starts to pay for the threads' wake-up and barrier per operation. The demo's +SRSUPM steps
#: (batch 256, L 20, d 64: 4.5e9 by :func:`step_work`) and Beauty's are above it; the notebooks' toy
#: models (L 20, d 32: 1.1e9) are below it.
LARGE_WORK = 2e9

_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _physical_cores() -> int | None:
    """Physical cores of the machine from Linux's CPU topology (what torch's default counts), else None."""
    cores = set()
    for folder in glob.glob("/sys/devices/system/cpu/cpu[0-9]*/topology"):
        try:
            with open(os.path.join(folder, "physical_package_id")) as pkg, open(os.path.join(folder, "core_id")) as core:
                cores.add((pkg.read().strip(), core.read().strip()))
        except OSError:
            return None
    return len(cores) or None


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _torch_defaults() -> set[int]:
    """The thread counts torch can pick by itself on this machine."""
    return {n for n in (_physical_cores(), os.cpu_count(), usable_cores()) if n}


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


#: torch's thread count when the package first imported this module (before the policy set any)
_IMPORT_THREADS = torch.get_num_threads()
#: what apply_thread_policy last set (None: it never did)
_POLICY_SET: int | None = None
#: (wall clock, CPU seconds of this process) at import / at the last decision: its own recent load
_LAST_SAMPLE = (time.monotonic(), _cpu_seconds())


def explicit_threads() -> int | None:
    """The user's explicit thread count (rule 1 of the module doc), or None when torch runs on its default
    or on what this policy set."""
    current = torch.get_num_threads()
    if any(os.environ.get(var, "").strip() for var in _ENV_VARS):
        return current
    if _POLICY_SET is not None:
        return None if current == _POLICY_SET else current
    if current != _IMPORT_THREADS or _IMPORT_THREADS not in _torch_defaults():
        return current
    return None


def _own_load(now: float, cpu: float) -> float:
    """This process's average number of busy cores since the last sample (its share of the load average)."""
    wall0, cpu0 = _LAST_SAMPLE
    return max(0.0, (cpu - cpu0) / max(now - wall0, 1e-3))


def free_cores(load: float | None = None, own: float = 0.0, cores: int | None = None) -> int:
    """Cores not taken by other processes: ``round(cores − (load − own))`` clipped to ``1..cores``.

    ``load`` is the 1-minute load average (``os.getloadavg()[0]`` when None; 0 where the OS has
    none), ``own`` the share of it that this process made, ``cores`` :func:`usable_cores` when None.
    """
    cores = usable_cores() if cores is None else int(cores)
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):                        # e.g. Windows: no load average
            load = 0.0
    others = max(0.0, float(load) - max(0.0, float(own)))
    return max(1, min(cores, math.floor(cores - others + 0.5)))


def step_work(batch_size: int, n_items: int, dim: int, max_len: int, K: int = 1) -> float:
    """Multiply-adds of one training step, roughly: scoring ``K`` representations against every item
    (forward and two backward matmuls) plus a 2-layer encoder over the window (``12·d²`` per position
    and layer forward: attention projections ``4·d²``, a ``4·d``-wide feed-forward ``8·d²``; three times
    that with the backward), for ``batch_size`` windows (three views with SRSUPM, ``K > 1``: the
    windows, their partners, the augmented windows). An order of magnitude is all the policy needs."""
    views = 3 if K > 1 else 1
    scoring = 3 * batch_size * K * n_items * dim
    encoder = 3 * views * batch_size * max_len * 2 * 12 * dim * dim
    return float(scoring + encoder)


def apply_thread_policy(work: str | float = "small") -> int:
    """Set torch's intra-op threads for ``work`` by the rules of the module doc; returns the count in force.

    ``work`` is ``"small"``, ``"large"`` or a number of multiply-adds per step (:func:`step_work`),
    large from :data:`LARGE_WORK` on. An explicit setting (see :func:`explicit_threads`) is left as it is.
    """
    global _POLICY_SET, _LAST_SAMPLE
    if isinstance(work, str):
        if work not in ("small", "large"):
            raise ValueError(f"apply_thread_policy: work must be 'small', 'large' or a number of multiply-adds, "
                             f"got {work!r}")
        large = work == "large"
    elif isinstance(work, bool) or not isinstance(work, (int, float)) or not work >= 0:
        raise ValueError(f"apply_thread_policy: work must be 'small', 'large' or a number of multiply-adds >= 0, "
                         f"got {work!r}")
    else:
        large = work >= LARGE_WORK
    now, cpu = time.monotonic(), _cpu_seconds()
    own = _own_load(now, cpu)
    _LAST_SAMPLE = (now, cpu)
    explicit = explicit_threads()
    if explicit is not None:
        return explicit
    threads = free_cores(own=own) if large else 1
    torch.set_num_threads(threads)
    _POLICY_SET = threads
    return threads
