"""The package's one thread policy: how many intra-op threads torch uses on the CPU.

    from srsupm_lab.threads import apply_thread_policy
    apply_thread_policy("small")          # a notebook's toy model: one thread
    apply_thread_policy("large")          # Beauty-sized training: the cores that are really free
    apply_thread_policy(step_work(256, 12101, 64, 50, K=5))   # decide from the work of one step

Why: torch starts one OpenMP thread per core and every thread spins until the others finish each
operation, so on a shared machine (a JupyterHub, a laptop compiling something, the reproduction's
other runs) a thread without a free core stalls all the others, at every operation. Small problems
gain nothing from a second thread either: their operations are too short to split.

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
3. **Large work uses the cores that are free**, the *smallest* of these estimates, each clipped to
   ``1..cores`` where ``cores`` is :func:`usable_cores` (the CPUs this process may run on):

   a. *the load average* (:func:`free_cores`): ``cores`` minus the 1-minute load average that other
      processes make, rounded. The load average counts this process too; its own share is
      estimated from its CPU time since the previous decision (or since import) and taken off, so
      that a notebook's or the demo's second training is not starved by the first. Being a
      1-minute average, it has not yet seen a neighbour that started a moment ago; hence b and c.
   b. *the tasks runnable now* (:func:`runnable_besides`): the 4th field of ``/proc/loadavg``
      ("running/total": tasks running or waiting for a CPU at this instant) minus this process's
      own threads in state R (``/proc/self/task/*/stat``); read :data:`RUNNABLE_SAMPLES` times
      spread over the sample window, the median counts (one task passing at one instant does not
      take a core). ``cores`` minus those tasks. The count is machine-wide: where this process may
      use fewer CPUs than the machine has, tasks on the others count too (the cautious side).
   c. *the idle time now* (:func:`idle_cores`): two reads of ``/proc/stat``
      :data:`SAMPLE_SECONDS` apart; the idle share (idle + iowait ticks over all ticks, steal
      counting as busy) of the CPUs this process may run on, times their number, plus this
      process's own CPU use in the window (its own threads are not neighbours). A core counts as
      taken once neighbours keep more than :data:`IDLE_SLACK` of a core busy:
      ``⌊idle + own + IDLE_SLACK⌋``.

   b and c (:func:`free_cores_now`) need Linux's ``/proc``; where it is missing or unreadable
   (macOS, Windows) the load average alone decides, and a reading that fails is left out. Taking
   the smallest prefers the slower but safe choice: a thread left without a core stalls every
   operation, a core left unused costs at most that core's share. Every large-work decision reads
   the machine afresh (nothing is cached, so a second training re-decides) and sleeps about
   :data:`SAMPLE_SECONDS`; small work, an explicit setting, one usable core and a load average
   that already gives one thread read nothing.
"""
from __future__ import annotations

import glob
import math
import os
import time

import torch

__all__ = ["apply_thread_policy", "free_cores", "free_cores_now", "runnable_besides", "idle_cores",
           "explicit_threads", "step_work", "usable_cores", "LARGE_WORK"]

#: Multiply-adds of one training step (or one scored batch) from which work counts as large: about
#: 40 ms of one core's float32 arithmetic (~50 GFLOP/s), where splitting each operation over cores
#: starts to pay for the threads' wake-up and barrier per operation. The demo's +SRSUPM steps
#: (batch 256, L 20, d 64: 4.5e9 by :func:`step_work`) and Beauty's are above it; the notebooks' toy
#: models (L 20, d 32: 1.1e9) are below it.
LARGE_WORK = 2e9

#: Where the readings of the present come from (Linux); module constants so that they can be pointed elsewhere
LOADAVG_PATH = "/proc/loadavg"
STAT_PATH = "/proc/stat"
OWN_TASKS_PATH = "/proc/self/task"
#: Seconds between the two ``/proc/stat`` reads of one large-work decision (at 100 ticks a second,
#: 8 ticks a CPU: an idle share to within one eighth of a core per CPU)
SAMPLE_SECONDS = 0.08
#: How much of one core neighbours may keep busy in the sample before that core counts as taken;
#: above the tick rounding of a quiet machine's reads (at most 1/8 of a core per CPU and read)
IDLE_SLACK = 0.35
#: Reads of the runnable tasks spread over the sample window (their median counts)
RUNNABLE_SAMPLES = 3

_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
_sleep = time.sleep


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


def _affinity() -> set[int] | None:
    """The CPU numbers this process may run on, or None where the OS does not say."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, else ``os.cpu_count()``)."""
    cpus = _affinity()
    return max(1, len(cpus)) if cpus is not None else max(1, os.cpu_count() or 1)


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
    """Cores not taken by other processes by the load average (rule 3a):
    ``round(cores − (load − own))`` clipped to ``1..cores``.

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


def _read_text(path: str) -> str:
    with open(path) as f:
        return f.read()


def _own_running_threads() -> int:
    """This process's threads in state R (running or waiting for a CPU) now, at least 1: the one asking."""
    running = 0
    for tid in os.listdir(OWN_TASKS_PATH):
        try:
            stat = _read_text(os.path.join(OWN_TASKS_PATH, tid, "stat"))
        except OSError:                                          # the thread ended meanwhile
            continue
        running += stat[stat.rfind(")") + 1:].split()[:1] == ["R"]   # "tid (name) state ...": name may hold ")"
    return max(1, running)


def runnable_besides(loadavg_text: str, own_running: int = 1) -> int:
    """Tasks running or waiting for a CPU at the instant of ``loadavg_text`` (a ``/proc/loadavg`` text:
    its 4th field, "running/total", is machine-wide) besides this process's ``own_running`` threads;
    at least 0 (rule 3b). ValueError on a text that is not one."""
    fields = loadavg_text.split()
    try:
        running = int(fields[3].split("/")[0])
    except (IndexError, ValueError):
        raise ValueError(f"not a /proc/loadavg text: {loadavg_text.strip()[:80]!r}") from None
    return max(0, running - max(0, int(own_running)))


def _cpu_ticks(stat_text: str, cpus: set[int] | None) -> tuple[int, int, int]:
    """(idle ticks, all ticks, number of CPUs) of a ``/proc/stat`` text, summed over the lines of the CPUs
    numbered ``cpus``, or from the all-CPU ``cpu`` line (and the count of ``cpuN`` lines) when None."""
    idle = total = n = n_lines = 0
    for line in stat_text.splitlines():
        fields = line.split()
        if not fields or not fields[0].startswith("cpu"):
            continue
        name = fields[0][3:]
        n_lines += name.isdigit()
        if (name != "") if cpus is None else (not name.isdigit() or int(name) not in cpus):
            continue
        # user nice system idle iowait irq softirq steal (guest, guest_nice are within user, nice)
        ticks = [int(v) for v in fields[1:9]] + [0] * max(0, 9 - len(fields))
        idle += ticks[3] + ticks[4]
        total += sum(ticks)
        n += 1
    return idle, total, (n if cpus is not None else n_lines if n else 0)


def idle_cores(stat_before: str, stat_after: str, cpus=None) -> float:
    """Cores that stayed idle between two ``/proc/stat`` texts (rule 3c): the idle share (idle + iowait
    ticks over all ticks) of the CPUs numbered ``cpus`` (all CPUs when None) times their number.
    ValueError when the texts hold none of those CPUs or no time passed between them."""
    cpus = None if cpus is None else {int(c) for c in cpus}
    idle0, total0, n0 = _cpu_ticks(stat_before, cpus)
    idle1, total1, n1 = _cpu_ticks(stat_after, cpus)
    if n0 == 0 or n0 != n1:
        raise ValueError("idle_cores: the /proc/stat texts do not hold the same CPU lines for the CPUs asked")
    if total1 <= total0:
        raise ValueError("idle_cores: no time passed between the two /proc/stat texts")
    return n0 * min(1.0, max(0.0, (idle1 - idle0) / (total1 - total0)))


def free_cores_now(cores: int | None = None, window: float = SAMPLE_SECONDS) -> int | None:
    """Cores free at present by rules 3b and 3c of the module doc, the smaller of the two, clipped to
    ``1..cores`` (:func:`usable_cores` when None); None where neither reading can be had (no ``/proc``).

    Sleeps ``window`` seconds between the two ``/proc/stat`` reads, with :data:`RUNNABLE_SAMPLES`
    reads of ``/proc/loadavg`` spread over it; it returns at once where the first reads fail.
    """
    cores = usable_cores() if cores is None else int(cores)
    cpus = _affinity()
    runnable: list[int] = []

    def read_runnable():
        try:
            runnable.append(runnable_besides(_read_text(LOADAVG_PATH), _own_running_threads()))
        except (OSError, ValueError):
            pass

    try:
        stat_before = _read_text(STAT_PATH)
    except OSError:
        stat_before = None
    wall0, own0 = time.monotonic(), time.process_time()
    read_runnable()
    if stat_before is None and not runnable:
        return None                                              # no /proc: nothing to wait for
    reads = max(1, RUNNABLE_SAMPLES)
    for _ in range(reads - 1):
        _sleep(window / (reads - 1))
        read_runnable()
    if reads == 1:
        _sleep(window)
    estimates = []
    if runnable:                                                 # the median; of two, the higher
        estimates.append(cores - sorted(runnable)[len(runnable) // 2])
    if stat_before is not None:
        try:
            idle = idle_cores(stat_before, _read_text(STAT_PATH), cpus)
            own = max(0.0, time.process_time() - own0) / max(time.monotonic() - wall0, window, 1e-3)
            estimates.append(math.floor(idle + min(own, cores) + IDLE_SLACK))
        except (OSError, ValueError):
            pass
    if not estimates:
        return None
    return max(1, min(cores, *estimates))


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
    Large work is decided from fresh readings at every call (:func:`free_cores`, :func:`free_cores_now`).
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
    threads = 1
    if large:
        cores = usable_cores()
        threads = free_cores(own=own, cores=cores)
        if threads > 1:                                          # the load average leaves more: ask the present
            present = free_cores_now(cores)
            if present is not None:
                threads = min(threads, present)
    torch.set_num_threads(threads)
    _POLICY_SET = threads
    return threads
