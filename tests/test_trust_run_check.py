"""Every command that reads a finished run checks first that its data is the data it was trained on
(srsupm_lab/run_check.py), and policy-metrics keys its cache by its options.

From the user's side: ``train`` on a CSV of interactions, then ``cold-start``, ``policy-metrics`` and ``diagnose``
on the run folder after the CSV changed (same users, items and counts) or after a checkpoint was copied in from a
run on other data; what the folder holds afterwards.
"""
import random
import shutil
from pathlib import Path

import pandas as pd
import pytest

from srsupm_lab.__main__ import main

from faultkit import one_line_error, snapshot  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")          # tests/conftest.py

SMALL = ["--backbone", "gru4rec", "--dim", "8", "--max-len", "6", "--device", "cpu", "--no-progress",
         "--epochs", "1", "--K", "3"]


def write_log(path: Path, seed: int) -> Path:
    """40 users x 8 interactions over 150 items (4 categories); ``seed`` picks the items."""
    rng = random.Random(seed)
    rows = ["user,item,timestamp,genres"]
    for u in range(40):
        for t in range(8):
            i = rng.randrange(150)
            rows.append(f"u{u},i{i},{t},g{i % 4}")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished run trained on log.csv (its folder), and a second one on other data of the same shape."""
    root = tmp_path_factory.mktemp("runcheck")
    opts = ["--dataset-option", "label_column=genres", "--dataset-option", "k=1"]
    write_log(root / "a.csv", 1)
    other = pd.read_csv(root / "a.csv", dtype=str)
    order = pd.Series(range(len(other))).sample(frac=1.0, random_state=2).to_numpy()
    other[["item", "genres"]] = other[["item", "genres"]].iloc[order].to_numpy()    # same items, other histories
    other.to_csv(root / "b.csv", index=False)
    for name in ("a", "b"):
        log = root / f"{name}.csv"
        assert main(["train", "--dataset", str(log), *opts, *SMALL, "--out", str(root / f"run-{name}")]) == 0
    return root


def fresh(trained, tmp_path) -> tuple[Path, Path]:
    """A copy of run a (and its data file) in ``tmp_path``, the config pointing at the copied data."""
    log = tmp_path / "a.csv"
    shutil.copy(trained / "a.csv", log)
    run = tmp_path / "run-a"
    shutil.copytree(trained / "run-a", run)
    config = (run / "config.json").read_text().replace(str((trained / "a.csv").resolve()), str(log.resolve()))
    (run / "config.json").write_text(config)
    return run, log


COMMANDS = [["cold-start", "--ks", "1", "2", "--negatives", "5"], ["policy-metrics", "--negatives", "5"],
            ["diagnose"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_the_unchanged_run_is_read(trained, tmp_path, command, capsys):
    run, _ = fresh(trained, tmp_path)
    assert main([command[0], str(run), *command[1:]]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_data_changed_since_training_is_one_line_and_nothing_is_written(trained, tmp_path, command, capsys):
    run, log = fresh(trained, tmp_path)
    table = pd.read_csv(log, dtype=str)
    for col in ("item", "genres"):                                  # same users, items and counts; other sequences
        table[col] = table[col].iloc[::-1].to_numpy()
    table.to_csv(log, index=False)
    before = snapshot(run)
    capsys.readouterr()
    assert main([command[0], str(run), *command[1:]]) == 2
    err = one_line_error(capsys)
    assert str(run) in err and "not the data checkpoint.pt was trained on" in err and "training windows" in err, err
    assert snapshot(run) == before                                  # no policy_metrics file written into it


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_checkpoint_copied_from_a_run_on_other_data_is_refused(trained, tmp_path, command, capsys):
    run, _ = fresh(trained, tmp_path)
    shutil.copy(trained / "run-b" / "checkpoint.pt", run / "checkpoint.pt")    # same shapes, other data
    before = snapshot(run)
    capsys.readouterr()
    assert main([command[0], str(run), *command[1:]]) == 2
    err = one_line_error(capsys)
    assert "trained on" in err and "sha256" in err, err
    assert snapshot(run) == before


def test_policy_metrics_keeps_one_cache_per_number_of_negatives(trained, tmp_path, capsys):
    run, _ = fresh(trained, tmp_path)
    assert main(["policy-metrics", str(run)]) == 0
    default = (run / "policy_metrics.csv").read_bytes()
    assert main(["policy-metrics", str(run), "--negatives", "3", "--out", str(tmp_path / "three.csv")]) == 0
    assert (run / "policy_metrics_negatives3.csv").exists()
    assert (run / "policy_metrics.csv").read_bytes() == default        # the default's cache is not touched
    three = pd.read_csv(tmp_path / "three.csv")
    hundred = pd.read_csv(run / "policy_metrics.csv")
    # 3 sampled negatives: a user's sampled AUC is a multiple of 1/3 (ties count 1/2: of 1/6), never the
    # finer values 100 negatives give; the other answer's cache would not be
    sampled = [c for c in three.columns if "sampled" in c and "auc" in c.lower()]
    assert sampled, list(three.columns)
    assert ((three[sampled[0]] * 6).round(9) % 1 == 0).all()
    assert not ((hundred[sampled[0]] * 6).round(9) % 1 == 0).all()


@pytest.mark.parametrize("value", ["0", "-3"])
@pytest.mark.parametrize("command", ["policy-metrics", "cold-start"])
def test_zero_or_negative_negatives_are_one_line(trained, tmp_path, command, value, capsys):
    run, _ = fresh(trained, tmp_path)
    before = snapshot(run)
    capsys.readouterr()
    assert main([command, str(run), "--negatives", value]) == 2
    err = one_line_error(capsys)
    assert f"{command} --negatives must be a positive integer, got {value}" in err, err
    assert snapshot(run) == before


def test_an_out_that_is_a_folder_names_the_option(trained, tmp_path, capsys):
    run, _ = fresh(trained, tmp_path)
    (tmp_path / "dir").mkdir()
    assert main(["cold-start", str(run), "--ks", "1", "--out", str(tmp_path / "dir")]) == 2
    err = one_line_error(capsys)
    assert "cold-start --out" in err and "is a folder" in err, err


def test_check_run_is_one_function_a_serving_command_can_call(trained, tmp_path):
    from srsupm_lab.run_check import check_run, load_checked
    run, log = fresh(trained, tmp_path)
    check_run(run)                                                  # unchanged: passes
    loaded = load_checked(run)
    assert loaded.config.method == "none"
    table = pd.read_csv(log, dtype=str)
    table.loc[table["user"] == "u0", "timestamp"] = table.loc[table["user"] == "u0", "timestamp"].iloc[::-1].to_numpy()
    table.to_csv(log, index=False)                                  # one user's history in another order
    with pytest.raises(ValueError, match="not the data checkpoint.pt was trained on"):
        check_run(run)
