"""Options that contradict each other are one line, and Ctrl-C ends a command with one line and the command that
resumes it, exit status 130, no traceback (srsupm_lab/cli/train.py, srsupm_lab/cli/interrupt.py).

From the user's side: ``python -m srsupm_lab ...`` through ``main(argv)``, and as a child process that is sent
SIGINT (what Ctrl-C sends) once its first epoch is on disk.
"""
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from srsupm_lab.__main__ import main

from faultkit import one_line_error, snapshot  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--dataset-option", "n_users=60", "--dataset-option", "n_items=30", "--backbone", "gru4rec", "--dim", "8",
        "--max-len", "6", "--device", "cpu", "--no-progress"]


# ============================================================================ options that contradict
@pytest.mark.parametrize("argv, words", [
    (["--srsupm", "--method", "mtrec"], "--srsupm and --method mtrec name different methods"),
    (["--method", "mtrec", "--srsupm"], "--srsupm and --method mtrec name different methods"),
    (["--srsupm", "--oracle"], "--srsupm and --oracle name different methods"),
    (["--method", "srsupm", "--lambda1", "0.3", "--method-option", "lambda1=0.2"],
     "['lambda1'] given both as --lambda1 and with --method-option"),
    (["--srsupm", "--method-option", "lambda1=0.3", "--lambda1", "0.3"],             # even with one value
     "['lambda1'] given both as --lambda1 and with --method-option"),
])
def test_contradicting_options_are_one_line_and_leave_no_folder(tmp_path, capsys, argv, words):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", *argv, "--out", str(out)]) == 2
    err = one_line_error(capsys)
    assert words in err, err
    assert not out.exists()


def test_a_shorthand_that_agrees_with_method_is_accepted(tmp_path):
    from srsupm_lab.cli.train import add_train_arguments, config_from_args
    import argparse
    parser = add_train_arguments(argparse.ArgumentParser())
    assert config_from_args(parser.parse_args(["--srsupm", "--method", "srsupm"])).method == "srsupm"
    assert config_from_args(parser.parse_args(["--oracle"])).method == "oracle"
    config = config_from_args(parser.parse_args(["--srsupm", "--lambda1", "0.25", "--method-option", "gamma=0.5"]))
    assert config.method_options["lambda1"] == 0.25 and config.method_options["gamma"] == 0.5


def test_resume_into_a_missing_folder_is_one_line(tmp_path, capsys):
    out = tmp_path / "typo"
    assert main(["train", *TINY, "--epochs", "1", "--resume", "--out", str(out)]) == 2
    err = one_line_error(capsys)
    assert f"{out} does not exist, so there is no run to continue" in err, err
    assert not out.exists()


def test_resume_into_an_empty_folder_is_one_line(tmp_path, capsys):
    out = tmp_path / "empty"
    out.mkdir()
    assert main(["train", *TINY, "--epochs", "1", "--resume", "--out", str(out)]) == 2
    err = one_line_error(capsys)
    assert f"{out} is empty" in err, err
    assert list(out.iterdir()) == []


# ============================================================================ Ctrl-C
def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _interrupt_when(argv: list[str], ready, cwd: Path, limit: float = 240.0) -> subprocess.CompletedProcess:
    """Run ``python -m srsupm_lab argv``; send SIGINT once ``ready()`` holds; its exit status, stdout, stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "srsupm_lab", *argv], cwd=cwd, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    start = time.monotonic()
    try:
        while not ready():
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"it ended (status {proc.returncode}) before the point to interrupt: {err[-800:]}")
            if time.monotonic() - start > limit:
                pytest.fail("the point to interrupt never came")
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _one_interrupt_line(err: str, command: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith(f"interrupted: {command} stopped (Ctrl-C)"), err
    return lines[0].split("to continue: ", 1)[1]


def test_ctrl_c_in_train_is_one_line_and_its_command_resumes(tmp_path):
    out = tmp_path / "run"
    argv = ["train", *TINY, "--epochs", "40", "--patience", "40", "--out", str(out)]
    done = _interrupt_when(argv, lambda: (out / "checkpoint.pt").exists(), tmp_path)
    assert done.returncode == 130
    resume = _one_interrupt_line(done.stderr, "train")
    assert shlex.split(resume)[:3] == ["python", "-m", "srsupm_lab"] and shlex.split(resume)[-1] == "--resume"
    assert shlex.split(resume)[3:-1] == argv
    assert (out / "checkpoint.pt").exists() and not (out / "results.json").exists()
    # the printed command continues the run (two more epochs instead of forty, to keep the test short)
    again = [*shlex.split(resume)[3:], "--epochs", "2"]
    finished = subprocess.run([sys.executable, "-m", "srsupm_lab", *again], cwd=tmp_path, env=_env(),
                              capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert (out / "results.json").exists()


def test_ctrl_c_in_reproduce_is_one_line_and_names_the_same_command(tmp_path):
    runs = tmp_path / "runs"
    argv = ["reproduce", "--grid", "table1", "--datasets", "synthetic", "--backbones", "gru4rec", "--seeds", "1",
            "--epochs", "40", "--patience", "40", "--device", "cpu", "--set",
            'dataset_options={"n_users": 60, "n_items": 30}', "--set", "dim=8", "--set", "max_len=6",
            "--set", "progress=false", "--runs", str(runs), "--reports", str(tmp_path / "reports")]
    done = _interrupt_when(argv, lambda: any(runs.rglob("checkpoint.pt")), tmp_path)
    assert done.returncode == 130
    resume = _one_interrupt_line(done.stderr, "reproduce")
    assert shlex.split(resume)[3:] == argv
    assert not (tmp_path / "reports").exists()                     # no half report


def test_ctrl_c_before_any_work_is_one_line_too(tmp_path):
    from srsupm_lab.cli.interrupt import interrupted_line
    line = interrupted_line("stats", ["stats", "--dataset", "my data.csv"])
    assert line == ("interrupted: stats stopped (Ctrl-C); finished work is kept, to continue: "
                    "python -m srsupm_lab stats --dataset 'my data.csv'")
    line = interrupted_line("train", ["train", "--out", "r", "--overwrite"])
    assert line.endswith("python -m srsupm_lab train --out r --resume")       # --overwrite would start over


def test_reproduce_takes_the_interaction_table_that_train_takes(tmp_path, capsys):
    """A user's own user,item,timestamp CSV: train reads it, so a grid over it is planned, not refused."""
    from srsupm_lab.__main__ import main
    rows = ["user,item,timestamp"] + [f"{u},{(u * 7 + t) % 30 + 1},{t}" for u in range(1, 41) for t in range(8)]
    table = tmp_path / "mine.csv"
    table.write_text("\n".join(rows) + "\n")
    code = main(["reproduce", "--grid", "table1", "--datasets", str(table), "--backbones", "gru4rec", "--seeds", "1",
                 "--runs", str(tmp_path / "runs"), "--reports", str(tmp_path / "reports"), "--dry-run"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "todo" in out.out and not (tmp_path / "runs").exists()
