"""A report folder is written as a whole or not at all, never over the report of other runs, and never averages
runs trained with different settings (srsupm_lab/reproduce/report_folder.py).

From the user's side: ``python -m srsupm_lab reproduce`` on tiny grids of the synthetic world (two seeds, the
backbone alone and +SRSUPM, one epoch), then what must remain on disk.
"""
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from srsupm_lab.__main__ import main

from faultkit import one_line_error, snapshot  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")          # tests/conftest.py

TINY = ["--datasets", "synthetic", "--backbones", "gru4rec", "--device", "cpu",
        "--set", 'dataset_options={"n_users": 60, "n_items": 30}', "--set", "dim=8", "--set", "max_len=6",
        "--set", "progress=false"]


def reproduce(runs, reports, *extra, epochs="1"):
    return main(["reproduce", "--grid", "table1", *TINY, "--epochs", epochs, "--runs", str(runs),
                 "--reports", str(reports), *extra])


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """Runs of the backbone alone and +SRSUPM, seeds 1 and 2, and their report."""
    root = tmp_path_factory.mktemp("reports")
    assert reproduce(root / "runs", root / "reports", "--seeds", "1", "2") == 0
    return root


def copy_of(grid, tmp_path) -> tuple[Path, Path]:
    shutil.copytree(grid / "runs", tmp_path / "runs")
    shutil.copytree(grid / "reports", tmp_path / "reports")
    return tmp_path / "runs", tmp_path / "reports"


def runs_listed(reports: Path) -> set:
    return set(pd.read_csv(reports / "runs.csv")["run"])


def test_the_report_lists_the_grid_it_was_built_from(grid):
    names = {f"{v}/seed{s}" for v in ("synthetic/gru4rec", "synthetic/gru4rec+srsupm") for s in (1, 2)}
    assert runs_listed(grid / "reports") == names
    assert (grid / "reports" / "significance.csv").exists() and (grid / "reports" / "table1.csv").exists()
    assert not list((grid / "reports").glob(".report-staging-*"))        # no staging folder left


def test_another_grid_is_refused_and_the_folder_left_byte_identical(grid, tmp_path, capsys):
    runs, reports = copy_of(grid, tmp_path)
    before = snapshot(reports)
    capsys.readouterr()
    # another runs folder, one seed: the report would drop most of the runs listed (the 588 -> 13 lines)
    assert reproduce(tmp_path / "other-runs", reports, "--seeds", "1", "--variants", "backbone") == 2
    err = one_line_error(capsys)
    assert "--replace-reports" in err and str(reports) in err and "4 runs" in err, err
    assert snapshot(reports) == before
    assert not (tmp_path / "other-runs").exists()                       # refused before any training


def test_report_only_from_fewer_runs_is_refused_too(grid, tmp_path, capsys):
    runs, reports = copy_of(grid, tmp_path)
    shutil.rmtree(runs / "synthetic" / "gru4rec" / "seed2")               # a run folder moved away
    before = snapshot(reports)
    capsys.readouterr()
    assert reproduce(runs, reports, "--seeds", "1", "--report-only") == 2
    err = one_line_error(capsys)
    assert "synthetic/gru4rec/seed2" in err and "do not give" in err, err
    assert snapshot(reports) == before


def test_a_run_trained_again_counts_as_another_run(grid, tmp_path, capsys):
    runs, reports = copy_of(grid, tmp_path)
    res = runs / "synthetic" / "gru4rec" / "seed1" / "results.json"
    data = json.loads(res.read_text())
    next(r for r in data["test"] if str(r.get("level")) == "all")["recall@10"] += 0.125   # another result
    res.write_text(json.dumps(data))
    before = snapshot(reports)
    capsys.readouterr()
    assert reproduce(runs, reports, "--seeds", "1", "2", "--report-only") == 2
    err = one_line_error(capsys)
    assert "differ now" in err and "synthetic/gru4rec/seed1" in err, err
    assert snapshot(reports) == before


def test_replace_reports_replaces_the_whole_folder_and_no_stale_table_stays(grid, tmp_path, capsys):
    runs, reports = copy_of(grid, tmp_path)
    (reports / "notes.txt").write_text("mine")                           # not a report file: kept
    (reports / "table2.md").write_text("## Table 2\n")                   # the timing's file: kept, and read
    # only the backbone alone: no pair, so no significance.csv; the old one must not stay beside the new tables
    shutil.rmtree(runs / "synthetic" / "gru4rec+srsupm")
    assert reproduce(runs, reports, "--seeds", "1", "2", "--variants", "backbone", "--report-only",
                     "--replace-reports") == 0
    assert runs_listed(reports) == {"synthetic/gru4rec/seed1", "synthetic/gru4rec/seed2"}
    assert not (reports / "significance.csv").exists()
    table1 = pd.read_csv(reports / "table1.csv")
    assert set(table1["srsupm"]) == {False} and set(table1["seeds"]) == {2}
    assert (reports / "notes.txt").read_text() == "mine" and "## Table 2" in (reports / "reproduction.md").read_text()
    assert not list(reports.glob(".report-staging-*"))


def test_a_grid_that_grows_writes_its_report_without_asking(grid, tmp_path):
    runs, reports = copy_of(grid, tmp_path)
    assert reproduce(runs, reports, "--seeds", "3", "--variants", "backbone") == 0
    assert runs_listed(reports) == runs_listed(grid / "reports") | {"synthetic/gru4rec/seed3"}
    table1 = pd.read_csv(reports / "table1.csv")
    assert set(table1.loc[~table1["srsupm"], "seeds"]) == {3} and set(table1.loc[table1["srsupm"], "seeds"]) == {2}
    # the mean over three seeds, recomputed from the runs' own results.json
    recalls = [next(r for r in json.loads((runs / "synthetic" / "gru4rec" / f"seed{s}" / "results.json").read_text())
                    ["test"] if str(r.get("level")) == "all")["recall@10"] for s in (1, 2, 3)]
    row = table1[(~table1["srsupm"]) & (table1["metric"] == "recall@10")].iloc[0]
    assert row["mean"] == pytest.approx(sum(recalls) / 3, abs=1e-12)


def test_a_failure_half_way_leaves_the_folder_as_it_was(grid, tmp_path, capsys):
    runs, reports = copy_of(grid, tmp_path)
    # the paired comparison reads each run's per-user ranks after Table 1 is written: a broken file there
    (runs / "synthetic" / "gru4rec+srsupm" / "seed2" / "test_ranks.csv").write_text("user,level\n1,2\n")
    before = snapshot(reports)
    capsys.readouterr()
    assert reproduce(runs, reports, "--seeds", "1", "2", "--report-only") == 2
    one_line_error(capsys)
    assert snapshot(reports) == before
    assert not list(reports.glob(".report-staging-*"))


def test_a_new_reports_folder_that_fails_is_not_left_behind(grid, tmp_path, capsys):
    runs, _ = copy_of(grid, tmp_path)
    (runs / "synthetic" / "gru4rec+srsupm" / "seed2" / "test_ranks.csv").write_text("user,level\n1,2\n")
    capsys.readouterr()
    assert reproduce(runs, tmp_path / "fresh", "--seeds", "1", "2", "--report-only") == 2
    one_line_error(capsys)
    assert not (tmp_path / "fresh").exists()


def test_runs_of_one_cell_with_different_settings_are_refused_naming_the_keys(grid, tmp_path, capsys):
    runs, _ = copy_of(grid, tmp_path)
    # seed 3 of the backbone trained for two epochs: the same table cell as seeds 1 and 2 (one epoch)
    assert reproduce(runs, tmp_path / "r3", "--seeds", "3", "--variants", "backbone", epochs="2") == 2
    err = one_line_error(capsys)
    assert "epochs" in err and "'backbone': 'gru4rec'" in err and "different settings" in err, err
    assert not (tmp_path / "r3").exists()
    assert (runs / "synthetic" / "gru4rec" / "seed3" / "results.json").exists()  # the run itself is kept


def test_plan_datasets_resolve_against_the_plan_file(tmp_path, monkeypatch, capsys):
    from srsupm_lab.data import make_synthetic
    from srsupm_lab.data.s3rec_layout import save_s3rec_layout
    plans = tmp_path / "plans"
    save_s3rec_layout(make_synthetic(n_users=60, n_items=30), plans / "data" / "mine")
    (plans / "plan.toml").write_text('[[grid]]\nname = "g"\ngrid = "table1"\ndatasets = ["data/mine"]\n'
                                     'backbones = ["gru4rec"]\nseeds = [1]\nruns = "runs"\nreports = "rep"\n')
    monkeypatch.chdir(tmp_path)                     # not the plan's folder: the path is the plan's, not ours
    assert main(["reproduce", "--plan", "plans/plan.toml", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 runs: 2 todo" in out, out
    (plans / "plan.toml").write_text((plans / "plan.toml").read_text().replace("data/mine", "data/missing"))
    assert main(["reproduce", "--plan", "plans/plan.toml", "--dry-run"]) == 2
    err = one_line_error(capsys)
    assert "relative to the plan file" in err and str(Path("plans") / "data" / "missing") in err, err
