"""The thread policy (srsupm_lab.threads) on hand-made machines: cores, load, environment, explicit settings."""
import os

import pytest
import torch

from srsupm_lab import threads


@pytest.fixture
def machine(monkeypatch):
    """A quiet 4-CPU machine with torch on its default of 4 threads, no thread variables, no policy yet;
    torch's real thread count is restored afterwards."""
    before = torch.get_num_threads()
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


def test_own_recent_cpu_time_is_not_counted_as_other_processes_load(machine):
    machine.undo()                                                   # real _own_load, patched clocks instead
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
