"""One writer per run folder (srsupm_lab.run_lock): a second run on a busy ``out_dir`` fails before it changes anything.

The holder is another process (``subprocess``: a tiny script that takes the lock, says so on
stdout and waits for its stdin to close), so the lock is tested across processes as two
commands would meet; a holder killed with SIGKILL leaves the folder lockable.
"""
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from srsupm_lab.__main__ import main
from srsupm_lab.config import TrainConfig
from srsupm_lab.experiment import run_experiment
from srsupm_lab.run_folder import OUTPUT_FILES, start_run_files
from srsupm_lab.run_lock import LOCK_FILE, RunFolderBusy, lock_holder, run_lock

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.usefixtures("one_thread"),                 # tests/conftest.py
              pytest.mark.skipif(sys.platform == "win32", reason="no fcntl: run folders are not locked")]

HOLDER = """
import sys
from srsupm_lab.run_lock import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()                      # holds the lock until the test closes stdin (or kills it)
"""

TINY = ["--dataset-option", "n_users=60", "--dataset-option", "n_items=30", "--backbone", "gru4rec", "--dim", "8",
        "--max-len", "6", "--device", "cpu", "--no-progress"]


def tiny(out: Path, **changes) -> TrainConfig:
    return TrainConfig(**{**dict(dataset="synthetic", dataset_options={"n_users": 60, "n_items": 30},
                                 backbone="gru4rec", dim=8, max_len=6, epochs=1, device="cpu", progress=False,
                                 out_dir=str(out)), **changes})


def snapshot(folder: Path) -> dict:
    """Every file below ``folder`` (hidden ones included) -> its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


class Holder:
    """Another process holding the lock of ``out``: ``release()`` lets it exit normally, ``kill()`` SIGKILLs it."""

    def __init__(self, out: Path):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        line = self.proc.stdout.readline()
        if line.strip() != "locked":
            self.proc.kill()
            raise AssertionError(f"the holder did not take the lock: {line!r} {self.proc.stderr.read()}")
        self.pid = self.proc.pid

    def release(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=60) == 0, self.proc.stderr.read()

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=60)
        for fh in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if not fh.closed:
                fh.close()


@pytest.fixture
def holder_of():
    holders = []

    def start(out):
        holders.append(Holder(out))
        return holders[-1]
    yield start
    for h in holders:
        h.close()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished one-epoch run, copied by each test that changes it."""
    out = tmp_path_factory.mktemp("lock") / "run"
    run_experiment(tiny(out))
    return snapshot(out)


def restore(files: dict, out: Path) -> Path:
    out.mkdir(parents=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    return out


# ============================================================================ the lock itself
def test_the_lock_records_its_holder_and_leaves_nothing(tmp_path):
    out = tmp_path / "a" / "b" / "run"
    with run_lock(out):
        assert out.is_dir() and sorted(os.listdir(out)) == [LOCK_FILE]
        holder = lock_holder(out)
        assert holder["pid"] == os.getpid() and holder["command"] == sys.argv and "T" in holder["since"]
        with pytest.raises(RunFolderBusy) as info:                      # a second taker, even in this process
            with run_lock(out):
                pass
        assert isinstance(info.value, OSError) and info.value.holder["pid"] == os.getpid()
        again = pickle.loads(pickle.dumps(info.value))                  # as a process pool returns it
        assert type(again) is RunFolderBusy and str(again) == str(info.value) and again.holder == info.value.holder
    assert not (tmp_path / "a").exists()                                 # made for the lock, empty: removed


def test_the_lock_is_released_on_an_exception_and_keeps_a_folder_with_files(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(KeyError):
        with run_lock(out):
            raise KeyError("boom")
    assert sorted(os.listdir(out)) == ["notes.txt"]
    with run_lock(out):
        pass


def test_the_lock_file_is_no_output(tmp_path):
    out = tmp_path / "run"
    assert LOCK_FILE not in OUTPUT_FILES
    with run_lock(out):
        start_run_files(out, tiny(out), overwrite=True)                 # removes outputs and stale temporaries
        assert (out / LOCK_FILE).exists() and lock_holder(out)["pid"] == os.getpid()


def test_without_fcntl_nothing_is_locked_and_one_warning_says_so(tmp_path, monkeypatch):
    import srsupm_lab.run_lock as module
    monkeypatch.setattr(module, "fcntl", None)
    monkeypatch.setattr(module, "_WARNED", False)
    with pytest.warns(RuntimeWarning, match="not locked"):
        with run_lock(tmp_path / "run"):
            with run_lock(tmp_path / "run"):                            # no lock: both go through
                pass
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with run_lock(tmp_path / "run"):                                # warned once only
            pass


# ============================================================================ another process holds it
def test_a_second_run_fails_before_changing_anything(tmp_path, finished_run, holder_of):
    out = restore(finished_run, tmp_path / "run")
    holder = holder_of(out)
    before = snapshot(out)
    assert LOCK_FILE in before
    for kwargs in ({}, {"overwrite": True}):
        with pytest.raises(RunFolderBusy) as info:
            run_experiment(tiny(out, epochs=2, resume=not kwargs), **kwargs)
        msg = str(info.value)
        assert msg.startswith(f"{out} is being written by another run (pid {holder.pid} on ") and "\n" not in msg
        assert msg.endswith("; wait for it or choose another --out") and "command: " in msg and "since 20" in msg
    assert snapshot(out) == before                                      # byte for byte
    holder.release()
    assert not (out / LOCK_FILE).exists()
    res = run_experiment(tiny(out, epochs=2, resume=True))              # the holder gone: it goes on
    assert res["epochs_run"] == 2 and LOCK_FILE not in os.listdir(out)


def test_a_new_folder_busy_from_the_start_is_left_alone(tmp_path, holder_of):
    out = tmp_path / "new"
    holder = holder_of(out)
    with pytest.raises(RunFolderBusy, match=rf"pid {holder.pid} "):
        run_experiment(tiny(out))
    assert sorted(os.listdir(out)) == [LOCK_FILE]
    holder.release()
    assert not out.exists()                                              # the holder made it and removed it


def test_a_killed_holder_leaves_the_folder_lockable(tmp_path, finished_run, holder_of):
    out = restore(finished_run, tmp_path / "run")
    holder = holder_of(out)
    holder.kill()
    assert lock_holder(out)["pid"] == holder.pid                         # its stale record is still there
    res = run_experiment(tiny(out, epochs=2, resume=True))
    assert res["epochs_run"] == 2 and not (out / LOCK_FILE).exists()


def test_the_cli_says_busy_in_one_line_and_returns_2(tmp_path, capsys, holder_of):
    out = tmp_path / "run"
    holder = holder_of(out)
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and err.count("\n") == 0, err
    assert err.startswith(f"error: {out} is being written by another run (pid {holder.pid} on "), err
    assert sorted(os.listdir(out)) == [LOCK_FILE]
    holder.release()
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 0
    assert (out / "results.json").exists() and not (out / LOCK_FILE).exists()
