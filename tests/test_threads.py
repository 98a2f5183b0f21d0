"""The thread policy (srsupm_lab.threads) on hand-made machines: cores, load, environment, explicit settings,
and the readings of the present (/proc/loadavg's runnable tasks, /proc/stat's idle time) from hand-written texts."""
import os
import subprocess
import sys
import time

import pytest
import torch

from srsupm_lab import threads


def no_proc(monkeypatch, tmp_path):
    """A machine without /proc (macOS, Windows): the readings of the present fail, the load average decides."""
    for name in ("LOADAVG_PATH", "STAT_PATH", "OWN_TASKS_PATH"):
        monkeypatch.setattr(threads, name, str(tmp_path / "no-proc" / name.lower()))


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A quiet 4-CPU machine with torch on its default of 4 threads, no thread variables, no policy yet,
    and no /proc (the load average alone decides); torch's real thread count is restored afterwards."""
    before = torch.get_num_threads()
    no_proc(monkeypatch, tmp_path)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(threads, "_physical_cores", lambda: 4)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(threads, "_own_load", lambda now, cpu: 0.0)
    monkeypatch.setattr(threads, "_POLICY_SET", None)
    torch.set_num_threads(4)
    monkeypatch.setattr(threads, "_IMPORT_THREADS", 4)
    yield monkeypatch
    torch.set_num_threads(before)


@pytest.mark.parametrize("load, own, cores, expected", [
    (0.0, 0.0, 2, 2),      # quiet 2-core machine: both cores
    (1.0, 0.0, 2, 1),      # one busy process beside us: one core left
    (0.4, 0.0, 2, 2),      # 2 - 0.4 = 1.6 rounds to 2
    (0.6, 0.0, 2, 1),      # 2 - 0.6 = 1.4 rounds to 1
    (7.5, 0.0, 2, 1),      # overloaded: never fewer than one
    (2.0, 1.0, 2, 1),      # half the load is our own: one other process
    (1.0, 1.0, 2, 2),      # all the load is our own previous work
    (1.0, 3.0, 2, 2),      # an overestimated own share does not give more cores than there are
    (2.2, 0.0, 16, 14),    # 16 - 2.2 = 13.8
])
def test_free_cores_by_hand(load, own, cores, expected):
    assert threads.free_cores(load=load, own=own, cores=cores) == expected


def test_small_work_runs_on_one_thread(machine):
    assert threads.apply_thread_policy("small") == 1
    assert torch.get_num_threads() == 1
    assert threads.apply_thread_policy(threads.LARGE_WORK / 10) == 1


def test_large_work_uses_the_cores_other_processes_leave(machine):
    assert threads.apply_thread_policy("large") == 4 and torch.get_num_threads() == 4
    machine.setattr(os, "getloadavg", lambda: (1.1, 0.5, 0.2))       # one CPU-bound process beside us
    assert threads.apply_thread_policy("large") == 3 and torch.get_num_threads() == 3
    machine.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)   # taskset to two CPUs
    assert threads.apply_thread_policy(threads.LARGE_WORK) == 1
    assert threads.apply_thread_policy("small") == 1                # the policy may change its own choice


def test_a_machine_without_a_load_average_counts_as_quiet(machine):
    def no_loadavg():
        raise OSError("no load average")
    machine.setattr(os, "getloadavg", no_loadavg)
    assert threads.apply_thread_policy("large") == 4


def test_own_recent_cpu_time_is_not_counted_as_other_processes_load(machine, tmp_path):
    machine.undo()                                                   # real _own_load, patched clocks instead
    no_proc(machine, tmp_path)                                       # the load-average rule alone
    machine.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    machine.setattr(os, "getloadavg", lambda: (2.0, 1.0, 0.5))
    machine.delenv("OMP_NUM_THREADS", raising=False)
    machine.delenv("MKL_NUM_THREADS", raising=False)
    machine.setattr(threads, "_POLICY_SET", torch.get_num_threads())
    machine.setattr(threads, "_LAST_SAMPLE", (100.0, 50.0))
    machine.setattr(threads.time, "monotonic", lambda: 130.0)        # 30 s later ...
    machine.setattr(threads, "_cpu_seconds", lambda: 80.0)           # ... 30 s of our CPU: one busy core of ours
    assert threads.apply_thread_policy("large") == 1                 # load 2 - own 1 = one other: 1 free
    assert threads._LAST_SAMPLE == (130.0, 80.0)
    machine.setattr(threads.time, "monotonic", lambda: 190.0)        # 60 s later, we idled: all 2.0 are others'
    assert threads.apply_thread_policy("large") == 1
    machine.setattr(os, "getloadavg", lambda: (1.0, 1.0, 0.5))
    machine.setattr(threads.time, "monotonic", lambda: 220.0)
    machine.setattr(threads, "_cpu_seconds", lambda: 110.0)          # we were the whole load
    assert threads.apply_thread_policy("large") == 2


@pytest.mark.parametrize("var", ["OMP_NUM_THREADS", "MKL_NUM_THREADS"])
def test_thread_variables_in_the_environment_win(machine, var):
    machine.setenv(var, "3")
    torch.set_num_threads(3)                                         # what torch made of it at start-up
    assert threads.apply_thread_policy("small") == 3
    assert threads.apply_thread_policy("large") == 3
    assert torch.get_num_threads() == 3


def test_set_num_threads_after_the_policy_wins(machine):
    threads.apply_thread_policy("small")
    torch.set_num_threads(2)                                         # the user's own choice
    assert threads.apply_thread_policy("large") == 2
    assert threads.apply_thread_policy("small") == 2 and torch.get_num_threads() == 2


def test_set_num_threads_before_the_policy_wins(machine):
    torch.set_num_threads(3)                                         # differs from the default found at import
    assert threads.explicit_threads() == 3
    assert threads.apply_thread_policy("small") == 3 and torch.get_num_threads() == 3


def test_set_num_threads_before_import_is_explicit_unless_it_is_a_default(machine):
    torch.set_num_threads(3)
    machine.setattr(threads, "_IMPORT_THREADS", 3)                   # seen at import: not a count torch picks here
    assert threads.apply_thread_policy("small") == 3
    torch.set_num_threads(4)
    machine.setattr(threads, "_IMPORT_THREADS", 4)                   # one of this machine's core counts: default
    assert threads.explicit_threads() is None
    assert threads.apply_thread_policy("small") == 1


@pytest.mark.parametrize("work", ["huge", -1, True, None, float("nan")])
def test_bad_work_is_refused_in_one_line(machine, work):
    with pytest.raises(ValueError, match="apply_thread_policy: work must be"):
        threads.apply_thread_policy(work)
    assert torch.get_num_threads() == 4


def test_step_work_by_hand():
    # scoring 3·B·K·N·d = 3·2·5·7·4 = 840; encoder 3·views·B·L·2·12·d² = 3·3·2·6·24·16 = 41472
    assert threads.step_work(2, 7, 4, 6, K=5) == 840 + 41472
    # the backbone alone: K = 1, one view: 3·2·1·7·4 = 168 and 3·1·2·6·24·16 = 13824
    assert threads.step_work(2, 7, 4, 6) == 168 + 13824


def test_physical_cores_of_this_machine_are_plausible():
    n = threads._physical_cores()
    assert n is None or 1 <= n <= (os.cpu_count() or n)


# ---- the readings of the present: hand-written /proc texts on a 2-CPU machine -------------------------------

STAT_BEFORE = """cpu  1000 0 500 8000 100 0 10 0 0 0
cpu0 500 0 250 4000 50 0 5 0 0 0
cpu1 500 0 250 4000 50 0 5 0 0 0
intr 12345 0 0
ctxt 67890
"""


def stat_after(*cpus):
    """A /proc/stat text 8 ticks (80 ms) after STAT_BEFORE: ``cpus`` gives each CPU's (user, idle) ticks added."""
    lines = [f"cpu  {1000 + sum(u for u, _ in cpus)} 0 500 {8000 + sum(i for _, i in cpus)} 100 0 10 0 0 0"]
    lines += [f"cpu{n} {500 + u} 0 250 {4000 + i} 50 0 5 0 0 0" for n, (u, i) in enumerate(cpus)]
    return "\n".join(lines + ["intr 12399 0 0", "ctxt 67999"]) + "\n"


QUIET = stat_after((1, 7), (0, 8))            # 15 of 16 ticks idle: 1.875 idle cores -> floor(1.875 + 0.35) = 2
ONE_BUSY = stat_after((8, 0), (0, 8))         # one core busy all along: 1.0 -> floor(1.35) = 1


def loadavg(running, load1=0.10):
    return f"{load1:.2f} 0.05 0.01 {running}/120 4567\n"


class FakeProc:
    """Serves hand-written /proc/loadavg and /proc/stat texts in turn (the last one repeats), wherever the
    module's paths point, and counts the reads; any other file is missing."""

    def __init__(self, loadavgs, stats, own_running=1):
        self.texts = {"loadavg": list(loadavgs), "stat": list(stats)}
        self.reads = {"loadavg": 0, "stat": 0}
        self.own_running = own_running

    def read(self, path):
        name = {threads.LOADAVG_PATH: "loadavg", threads.STAT_PATH: "stat"}.get(path)
        if name is None:
            raise FileNotFoundError(path)
        queue = self.texts[name]
        self.reads[name] += 1
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def two_cores(machine):
    """The machine fixture on 2 CPUs with the policy in charge (not explicit) and a quiet load average;
    returns ``use(proc)``, which puts a FakeProc in place of /proc. Sleeps are skipped."""
    machine.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    machine.setattr(os, "cpu_count", lambda: 2)
    machine.setattr(threads, "_physical_cores", lambda: 2)
    machine.setattr(os, "getloadavg", lambda: (0.10, 0.05, 0.01))
    machine.setattr(threads, "_POLICY_SET", torch.get_num_threads())
    machine.setattr(threads, "_sleep", lambda seconds: None)

    def use(proc):
        machine.setattr(threads, "_read_text", proc.read)
        machine.setattr(threads, "_own_running_threads", lambda: proc.own_running)
        return proc
    return use


@pytest.mark.parametrize("text, own, expected", [
    ("0.10 0.05 0.01 1/120 4567", 1, 0),      # only the reader itself runs
    ("0.10 0.05 0.01 3/120 4567", 1, 2),      # two tasks besides us
    ("2.00 1.00 0.50 3/120 4567", 3, 0),      # all three are our own threads
    ("0.00 0.00 0.00 1/80 99", 2, 0),         # a thread of ours went to sleep between the reads: never below 0
])
def test_runnable_besides_by_hand(text, own, expected):
    assert threads.runnable_besides(text, own) == expected


def test_runnable_besides_refuses_a_foreign_text():
    with pytest.raises(ValueError, match="not a /proc/loadavg text"):
        threads.runnable_besides("0.10 0.05 0.01")


def test_own_running_threads_from_a_task_folder(monkeypatch, tmp_path):
    for tid, stat in {"101": "101 (python) R 1 101 0", "102": "102 (odd) R name) S 1 101 0",  # a name holding ") R"
                      "103": "103 (python) S 1 101 0", "104": "104 (omp worker) R 1 101 0"}.items():
        (tmp_path / tid).mkdir()
        (tmp_path / tid / "stat").write_text(stat)
    monkeypatch.setattr(threads, "OWN_TASKS_PATH", str(tmp_path))
    assert threads._own_running_threads() == 2                        # 101 and 104
    for tid in ("101", "104"):
        (tmp_path / tid / "stat").write_text(f"{tid} (python) S 1 101 0")
    assert threads._own_running_threads() == 1                        # at least the thread asking


def test_idle_cores_by_hand():
    assert threads.idle_cores(STAT_BEFORE, QUIET, {0, 1}) == pytest.approx(2 * 15 / 16)
    assert threads.idle_cores(STAT_BEFORE, ONE_BUSY, {0, 1}) == pytest.approx(1.0)
    assert threads.idle_cores(STAT_BEFORE, ONE_BUSY, {1}) == pytest.approx(1.0)      # only CPU 1 is ours: idle
    assert threads.idle_cores(STAT_BEFORE, ONE_BUSY, {0}) == pytest.approx(0.0)      # only CPU 0: taken
    assert threads.idle_cores(STAT_BEFORE, ONE_BUSY) == pytest.approx(1.0)           # the all-CPU line, 2 CPUs
    # iowait is idle (the CPU is free), steal is not (the hypervisor gave it to someone else)
    before = "cpu0 0 0 0 100 0 0 0 0 0 0\ncpu1 0 0 0 100 0 0 0 0 0 0\n"
    after = "cpu0 0 0 0 104 4 0 0 0 0 0\ncpu1 0 0 0 102 0 0 0 6 0 0\n"
    assert threads.idle_cores(before, after, {0, 1}) == pytest.approx(2 * 10 / 16)


def test_idle_cores_refuses_texts_it_cannot_compare():
    with pytest.raises(ValueError, match="no time passed"):
        threads.idle_cores(STAT_BEFORE, STAT_BEFORE)
    with pytest.raises(ValueError, match="same CPU lines"):
        threads.idle_cores(STAT_BEFORE, QUIET, {5})


def test_a_quiet_machine_gets_both_cores(two_cores):
    proc = two_cores(FakeProc([loadavg(1)], [STAT_BEFORE, QUIET, STAT_BEFORE, QUIET]))
    assert threads.free_cores_now() == 2
    assert threads.apply_thread_policy("large") == 2 and torch.get_num_threads() == 2
    assert proc.reads == {"stat": 4, "loadavg": 2 * threads.RUNNABLE_SAMPLES}


def test_a_neighbour_that_just_started_is_seen_in_the_runnable_tasks(two_cores):
    # load average 0.10 (it has not seen them yet: 2 cores free by it), but 3 tasks run: us and two others
    two_cores(FakeProc([loadavg(3)], [STAT_BEFORE, QUIET]))
    assert threads.free_cores(own=0.0) == 2
    assert threads.apply_thread_policy("large") == 1 and torch.get_num_threads() == 1
    two_cores(FakeProc([loadavg(2)], [STAT_BEFORE, QUIET]))               # one other on 2 cores: one left
    assert threads.apply_thread_policy("large") == 1


def test_our_own_running_threads_are_not_neighbours(two_cores):
    two_cores(FakeProc([loadavg(3)], [STAT_BEFORE, QUIET], own_running=3))
    assert threads.apply_thread_policy("large") == 2


def test_a_busy_idle_sample_costs_a_thread(two_cores):
    two_cores(FakeProc([loadavg(1)], [STAT_BEFORE, ONE_BUSY]))            # nobody runnable at the reads, one core busy
    assert threads.apply_thread_policy("large") == 1
    two_cores(FakeProc([loadavg(1)], [STAT_BEFORE, stat_after((4, 4), (0, 8))]))   # half a core: 1.5 + 0.35 -> 1
    assert threads.apply_thread_policy("large") == 1
    two_cores(FakeProc([loadavg(1)], [STAT_BEFORE, stat_after((2, 6), (0, 8))]))   # a quarter: 1.75 + 0.35 -> 2
    assert threads.apply_thread_policy("large") == 2


def test_our_own_cpu_use_in_the_sample_is_not_a_neighbour(two_cores, monkeypatch):
    two_cores(FakeProc([loadavg(1)], [STAT_BEFORE, ONE_BUSY]))
    clock = iter([10.0, 10.0 + threads.SAMPLE_SECONDS])                   # one thread of ours busy all the window
    monkeypatch.setattr(threads.time, "process_time", lambda: next(clock))
    assert threads.free_cores_now() == 2


def test_one_passing_task_is_outvoted_by_the_median(two_cores):
    two_cores(FakeProc([loadavg(2), loadavg(1), loadavg(1)], [STAT_BEFORE, QUIET]))
    assert threads.apply_thread_policy("large") == 2
    two_cores(FakeProc([loadavg(2), loadavg(2), loadavg(1)], [STAT_BEFORE, QUIET]))
    assert threads.apply_thread_policy("large") == 1


def test_the_smallest_estimate_wins(two_cores, monkeypatch):
    two_cores(FakeProc([loadavg(1)], [STAT_BEFORE, QUIET]))               # the present looks quiet ...
    monkeypatch.setattr(os, "getloadavg", lambda: (1.1, 0.5, 0.2))      # ... the load average saw a neighbour
    assert threads.apply_thread_policy("large") == 1


def test_each_call_reads_the_machine_afresh(two_cores):
    proc = two_cores(FakeProc([loadavg(1)], [STAT_BEFORE, QUIET, STAT_BEFORE, ONE_BUSY, STAT_BEFORE, QUIET]))
    assert threads.apply_thread_policy("large") == 2
    assert threads.apply_thread_policy("large") == 1                     # a neighbour came between the trainings
    assert threads.apply_thread_policy("large") == 2                     # and went
    assert proc.reads["stat"] == 6


def test_without_proc_the_load_average_decides(two_cores, monkeypatch):
    slept = []
    monkeypatch.setattr(threads, "_sleep", slept.append)
    assert threads.free_cores_now() is None and slept == []               # the fixture's /proc is missing: no wait
    assert threads.apply_thread_policy("large") == 2


def test_a_failing_reading_is_left_out(two_cores):
    proc = two_cores(FakeProc([loadavg(3)], [STAT_BEFORE, QUIET]))
    proc.texts["stat"] = ["not a stat text"]                        # no CPU lines: the idle sample fails
    assert threads.free_cores_now() == 1                                  # the runnable tasks still count
    two_cores(FakeProc(["garbage"], [STAT_BEFORE, ONE_BUSY]))            # and the other way round
    assert threads.free_cores_now() == 1


def test_small_work_one_core_and_explicit_settings_read_nothing(two_cores, monkeypatch):
    def no_reading(path):
        raise AssertionError(f"read {path}")
    monkeypatch.setattr(threads, "_read_text", no_reading)
    assert threads.apply_thread_policy("small") == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {1}, raising=False)   # one usable core
    assert threads.apply_thread_policy("large") == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.6, 1.0, 0.5))      # the load average already says one
    assert threads.apply_thread_policy("large") == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    torch.set_num_threads(2)
    assert threads.apply_thread_policy("large") == 2


@pytest.mark.skipif(os.cpu_count() != 2 or not os.path.exists("/proc/loadavg") or not os.path.exists("/proc/stat"),
                    reason="needs a 2-CPU Linux machine")
def test_a_real_busy_neighbour_leaves_one_thread(monkeypatch):
    """A CPU-bound process started a second ago: the load average has barely seen it, the present readings do."""
    if threads.usable_cores() != 2:
        pytest.skip("this process may not use both CPUs")
    before = torch.get_num_threads()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(threads, "_POLICY_SET", before)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        assert threads.free_cores_now() == 1
        assert threads.apply_thread_policy("large") == 1
    finally:
        busy.kill()
        busy.wait()
        torch.set_num_threads(before)
