"""srsupm_lab.reproduce: grid contents, resumable runner (inline and papermill), collection, report tables."""
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srsupm_lab.methods.srsupm import paper
from srsupm_lab import reproduce as R
from srsupm_lab.__main__ import main

TINY = {"dataset_options": {"n_users": 40, "n_items": 30, "n_labels": 6, "n_motivations": 3,
                            "cats_per_motivation": 2},
        "dim": 8, "max_len": 10, "epochs": 1, "batch_size": 64, "device": "cpu"}


# ----------------------------------------------------------------------------- grids
def test_table1_grid():
    specs = R.table1(["beauty"], ["sasrec", "gru4rec"], [1, 2])
    assert [s.name for s in specs] == [
        "beauty/sasrec/seed1", "beauty/sasrec/seed2", "beauty/sasrec+srsupm/seed1", "beauty/sasrec+srsupm/seed2",
        "beauty/gru4rec/seed1", "beauty/gru4rec/seed2", "beauty/gru4rec+srsupm/seed1", "beauty/gru4rec+srsupm/seed2"]
    assert specs[2].overrides == {"dataset": "beauty", "backbone": "sasrec", "method": "srsupm", "seed": 1}
    alone = R.table1(["beauty"], ["sasrec", "gru4rec"], [1], variants=["backbone"])
    assert [s.name for s in alone] == ["beauty/sasrec/seed1", "beauty/gru4rec/seed1"]
    plugged = R.build_grid("table1", ["beauty"], [1], backbones=["caser"], variants=["srsupm"])
    assert [s.name for s in plugged] == ["beauty/caser+srsupm/seed1"]


def test_table3_grid():
    specs = R.table3(["yelp"], [3])
    assert [s.name for s in specs] == [
        "yelp/sasrec/seed3", "yelp/sasrec+srsupm-wo-pmsid-pmsim/seed3", "yelp/sasrec+srsupm-wo-pmsim/seed3",
        "yelp/sasrec+srsupm-wo-pmsid/seed3", "yelp/sasrec+srsupm-wo-pmi/seed3", "yelp/sasrec+srsupm/seed3"]
    assert specs[0].overrides == {"dataset": "yelp", "backbone": "sasrec", "method": "none", "seed": 3}
    assert specs[1].overrides == {"dataset": "yelp", "backbone": "sasrec", "method": "srsupm", "seed": 3,
                                  "pmsid": False, "pmsim": False}
    assert specs[4].overrides["pmi"] is False
    # rows picked by their command-line names run in the order given
    picked = R.build_grid("table3", ["beauty"], [1, 2], rows=["wo-pmi", "sasrec"])
    assert [s.name for s in picked] == ["beauty/sasrec+srsupm-wo-pmi/seed1", "beauty/sasrec+srsupm-wo-pmi/seed2",
                                        "beauty/sasrec/seed1", "beauty/sasrec/seed2"]
    assert set(R.TABLE3_ROWS.values()) == set(paper.ABLATIONS) | set(R.CONTROL_ABLATIONS)
    # the control (not the paper's) runs only when asked for
    assert "wo-pmsid-pmsim-pmi" not in R.PAPER_TABLE3_ROWS and len(R.table3(["beauty"], [1])) == 6
    control = R.table3(["beauty"], [1], rows=["wo-pmsid-pmsim-pmi"], backbones=["gru4rec"])
    assert [s.name for s in control] == ["beauty/gru4rec+srsupm-wo-pmsid-pmsim-pmi/seed1"]
    assert control[0].overrides == {"dataset": "beauty", "backbone": "gru4rec", "method": "srsupm", "seed": 1,
                                    "pmsid": False, "pmsim": False, "pmi": False}


def test_table4_and_fig3_grids():
    t4 = R.table4(["sports"], [1], ps=(0, .1, .5))
    assert [s.name for s in t4] == ["sports/sasrec+srsupm/seed1", "sports/sasrec+srsupm-noise0.1/seed1",
                                    "sports/sasrec+srsupm-noise0.5/seed1"]
    assert [s.overrides["noise_p"] for s in t4] == [0.0, 0.1, 0.5]
    assert len(R.table4(["sports"], [1, 2])) == 12
    f3 = R.fig3(["beauty"], [1], Ks=(3, 5, 7))
    assert [s.name for s in f3] == ["beauty/sasrec+srsupm-K3/seed1", "beauty/sasrec+srsupm/seed1",
                                    "beauty/sasrec+srsupm-K7/seed1"]
    assert [s.overrides["K"] for s in f3] == [3, 5, 7]
    # the grids share runs: Table 1's SASRec+SRSUPM is Table 3's SRSUPM, Table 4's p=0, Fig. 3's K=5
    shared = "beauty/sasrec+srsupm/seed1"
    assert shared in {s.name for s in R.table1(["beauty"], ["sasrec"], [1])} & {s.name for s in R.table3(["beauty"], [1])}


def test_table3_table4_fig3_grids_on_other_backbones():
    """The paper runs Tables 3, 4 and Fig. 3 on SASRec (the default); --backbones runs them on others."""
    t3 = R.table3(["beauty"], [2], rows=["backbone", "wo-pmsim"], backbones=["gru4rec"])
    assert [s.name for s in t3] == ["beauty/gru4rec/seed2", "beauty/gru4rec+srsupm-wo-pmsim/seed2"]
    assert t3[1].overrides == {"dataset": "beauty", "backbone": "gru4rec", "method": "srsupm", "seed": 2, "pmsim": False}
    assert [s.name for s in R.build_grid("fig3", ["beauty"], [1], backbones=["gru4rec", "sasrec"], Ks=[3])] == \
        ["beauty/gru4rec+srsupm-K3/seed1", "beauty/sasrec+srsupm-K3/seed1"]
    assert [s.name for s in R.build_grid("table4", ["beauty"], [1], backbones=["caser"], ps=[0, 0.5])] == \
        ["beauty/caser+srsupm/seed1", "beauty/caser+srsupm-noise0.5/seed1"]
    # without backbones the sweeps stay on the paper's SASRec (Table 1 keeps all five)
    assert {s.overrides["backbone"] for g in ("table3", "table4", "fig3")
            for s in R.build_grid(g, ["beauty"], [1])} == {"sasrec"}
    assert len(R.build_grid("table4", ["beauty"], [1])) == len(R.TABLE4_PS)
    assert len(R.build_grid("fig3", ["beauty"], [1])) == len(R.FIG3_KS)
    with pytest.raises(ValueError, match="unknown backbone"):
        R.fig3(["beauty"], [1], backbones=["transformer"])


def test_run_names_are_filesystem_safe():
    grids = (R.table1(["beauty"], ["bert4rec"], [0]), R.table3(["beauty"], [0]),
             R.table4(["beauty"], [0]), R.fig3(["beauty"], [0]))
    names = [s.name for g in grids for s in g]
    assert all(all(c.isalnum() or c in "/+-._" for c in n) for n in names)
    assert all(len({s.name for s in g}) == len(g) for g in grids)     # one folder per run within a grid


@pytest.mark.parametrize("call,message", [
    (lambda: R.table1(["amazon"], ["sasrec"], [1]), "unknown dataset 'amazon'"),
    (lambda: R.table1(["beauty"], ["transformer"], [1]), "unknown backbone"),
    (lambda: R.build_grid("table2", ["beauty"], [1]), "unknown grid 'table2'"),
    (lambda: R.table1(["beauty"], ["sasrec"], [-1]), "seeds"),
    (lambda: R.fig3(["beauty"], [1], Ks=(2,)), "K values"),
    (lambda: R.table1(["beauty"], ["sasrec"], [1], variants=["plain"]), "variants must be among"),
    (lambda: R.build_grid("table3", ["beauty"], [1], variants=["backbone"]), "halves of table1 only"),
    (lambda: R.table3(["beauty"], [1], rows=["wo-pmi", "wo-priors"]), "table3 rows must be distinct names"),
    (lambda: R.table3(["beauty"], [1], rows=["wo-pmi", "wo-pmi"]), "table3 rows must be distinct names"),
    (lambda: R.build_grid("table1", ["beauty"], [1], rows=["wo-pmi"]), "rows of table3 only"),
    (lambda: R.build_grid("fig3", ["beauty"], [1], ps=[0.1]), "belong to table4 only"),
    (lambda: R.build_grid("table3", ["beauty"], [1], Ks=[3]), "belong to fig3 only"),
])
def test_unknown_names_fail_clearly(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_cli_errors_and_dry_run(tmp_path, capsys):
    assert main(["reproduce", "--grid", "nope", "--dry-run"]) == 2
    assert "unknown grid" in capsys.readouterr().err
    assert main(["reproduce", "--grid", "table1", "--datasets", "beauty", "--backbones", "sasrec", "--seeds", "1",
                 "--runs", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "beauty/sasrec+srsupm/seed1" in out and "2 todo" in out
    assert main(["reproduce", "--grid", "table3", "--ablations", "wo-pmsim", "wo-pmi", "--seeds", "1",
                 "--runs", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.index("sasrec+srsupm-wo-pmsim/") < out.index("sasrec+srsupm-wo-pmi/") and "2 todo" in out
    assert main(["reproduce", "--grid", "table3", "--ablations", "wo-everything", "--dry-run"]) == 2
    assert "table3 rows must be" in capsys.readouterr().err
    assert main(["reproduce", "--grid", "fig3", "--backbones", "gru4rec", "--Ks", "3", "7", "--seeds", "2",
                 "--runs", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "beauty/gru4rec+srsupm-K3/seed2" in out and "beauty/gru4rec+srsupm-K7/seed2" in out and "2 todo" in out


def test_common_may_not_override_the_grid(tmp_path):
    with pytest.raises(ValueError, match="common sets"):
        R.run_grid(R.table1(["synthetic"], ["gru4rec"], [1]), tmp_path, engine="inline", common={"seed": 3})


# ----------------------------------------------------------------------------- running
def test_inline_grid_skips_finished_and_resumes(tmp_path):
    specs = R.table1(["synthetic"], ["gru4rec"], [1])
    status = R.run_grid(specs, tmp_path, engine="inline", common=TINY, verbose=False)
    assert list(status["state"]) == ["ran", "ran"]
    done = tmp_path / "synthetic/gru4rec/seed1/results.json"
    stamp = done.stat().st_mtime_ns
    # an interrupted run: a checkpoint without results.json resumes (more epochs allowed)
    partial = tmp_path / "synthetic/gru4rec+srsupm/seed1"
    (partial / "results.json").unlink()
    assert list(R.grid_status(specs, tmp_path, common=TINY)["state"]) == ["done", "partial"]
    status = R.run_grid(specs, tmp_path, engine="inline", common=TINY, verbose=False)
    assert list(status["state"]) == ["skipped", "ran"]
    assert done.stat().st_mtime_ns == stamp
    # a larger budget: both runs (finished at their 1-epoch budget, not early-stopped) go on
    assert list(R.grid_status(specs, tmp_path, epochs=2, common=TINY)["state"]) == ["more epochs", "more epochs"]
    assert list(R.grid_status(specs, tmp_path, epochs=1, common=TINY)["state"]) == ["done", "done"]
    asked = R.grid_status(specs, tmp_path, common={**TINY, "lr": 0.5})         # what a run would refuse
    assert list(asked["state"]) == ["conflict", "conflict"] and "lr" in asked["note"][0]
    status = R.run_grid(specs, tmp_path, engine="inline", common={**TINY, "epochs": 2}, verbose=False)
    assert list(status["state"]) == ["ran", "ran"]
    for out in (done.parent, partial):
        res = json.loads((out / "results.json").read_text())
        assert res["epochs_run"] == 2 and res["config"]["epochs"] == 2      # continued from epoch 1
    status = R.run_grid(specs, tmp_path, engine="inline", common=TINY, verbose=False)
    assert list(status["state"]) == ["skipped", "skipped"]                 # fewer epochs asked: reused
    df = R.collect(tmp_path)
    assert len(df) == 2 and set(df["srsupm"]) == {False, True}
    assert df["device"].eq("cpu").all() and df["recall@10"].between(0, 1).all()
    # the paired comparison re-scores both checkpoints: its means are the runs' own test metrics
    written = R.write_reports(df, tmp_path / "reports", runs_dir=tmp_path, n_boot=50)
    sig = pd.read_csv(written["significance"]).set_index("metric")
    assert list(sig.index) == ["recall@10", "recall@20", "ndcg@10", "ndcg@20"]
    for m in sig.index:
        assert sig.loc[m, "a"] == pytest.approx(df.loc[~df["srsupm"], m].iloc[0], abs=1e-6)
        assert sig.loc[m, "b"] == pytest.approx(df.loc[df["srsupm"], m].iloc[0], abs=1e-6)
    text = written["markdown"].read_text()
    assert "Is the gain more than noise" in text and "Setting: lr 0.001" in text
    # run folders kept without their ranks and checkpoints: the last report's rows stay while they
    # still describe the runs' stored metrics, and are left out once a run's results differ
    for out in (done.parent, partial):
        (out / "checkpoint.pt").unlink()
        (out / "test_ranks.csv").unlink()
    again = R.write_reports(df, tmp_path / "reports", runs_dir=tmp_path, n_boot=50)
    pd.testing.assert_frame_equal(pd.read_csv(again["significance"]).set_index("metric"), sig)
    changed = df.copy()
    changed.loc[changed["srsupm"], "recall@10"] += 0.01
    assert R.significance_report(changed, tmp_path, previous=pd.read_csv(again["significance"])).empty
    assert R.significance_report(df, tmp_path).empty                       # nothing stored, nothing to re-score


def test_several_seeds_get_a_pooled_comparison(tmp_path):
    """Seeds 1 and 2 of a pair: a row per seed, then one pooled over both ("1+2"), whose means and
    gain are the averages of the seeds' own (each user's metric averaged over the seeds)."""
    R.run_grid(R.table1(["synthetic"], ["gru4rec"], [1, 2]), tmp_path, engine="inline", common=TINY,
               verbose=False)
    df = R.collect(tmp_path)
    sig = R.significance_report(df, tmp_path, n_boot=50)
    assert list(sig["seed"].drop_duplicates()) == ["1", "2", "1+2"] and len(sig) == 12
    runs = df.set_index(["srsupm", "seed"])
    for _, row in sig[sig["seed"] == "1+2"].iterrows():
        m = row["metric"]
        assert row["a"] == pytest.approx(np.mean([runs.loc[(False, s), m] for s in (1, 2)]), abs=1e-6)
        assert row["b"] == pytest.approx(np.mean([runs.loc[(True, s), m] for s in (1, 2)]), abs=1e-6)
        per_seed = sig[(sig["metric"] == m) & (sig["seed"] != "1+2")]
        assert row["gain"] == pytest.approx(per_seed["gain"].mean(), abs=1e-9)
    written = R.write_reports(df, tmp_path / "reports", runs_dir=tmp_path, n_boot=50)
    assert "| 1+2 |" in written["markdown"].read_text()
    # ranks gone: the stored pooled rows come back while they describe the runs' metrics
    for ranks in tmp_path.rglob("test_ranks.csv"):
        ranks.unlink()
    for ckpt in tmp_path.rglob("checkpoint.pt"):
        ckpt.unlink()
    kept = R.significance_report(df, tmp_path, previous=pd.read_csv(written["significance"]))
    assert list(kept["seed"]) == list(sig["seed"])
    assert kept["gain"].to_numpy() == pytest.approx(sig["gain"].to_numpy(), abs=1e-9)


def test_a_pooled_row_covers_the_seeds_whose_ranks_are_left(tmp_path):
    """Seed 1's ranks gone and no earlier pooled row: seed 1 keeps its stored row, the pooled row is
    over seeds 2 and 3 (their means averaged); with the earlier report, its 1+2+3 row stays."""
    R.run_grid(R.table1(["synthetic"], ["gru4rec"], [1, 2, 3]), tmp_path, engine="inline", common=TINY,
               verbose=False)
    df = R.collect(tmp_path)
    full = R.significance_report(df, tmp_path, n_boot=50)
    assert list(full["seed"].drop_duplicates()) == ["1", "2", "3", "1+2+3"]
    for seed1 in tmp_path.glob("synthetic/*/seed1"):
        (seed1 / "test_ranks.csv").unlink()
        (seed1 / "checkpoint.pt").unlink()
    per_seed = full[full["seed"].isin(["1", "2", "3"])]
    partial = R.significance_report(df, tmp_path, n_boot=50, previous=per_seed)
    assert list(partial["seed"].drop_duplicates()) == ["1", "2", "3", "2+3"]
    runs = df.set_index(["srsupm", "seed"])
    for _, row in partial[partial["seed"] == "2+3"].iterrows():
        assert row["a"] == pytest.approx(np.mean([runs.loc[(False, s), row["metric"]] for s in (2, 3)]), abs=1e-6)
        assert row["b"] == pytest.approx(np.mean([runs.loc[(True, s), row["metric"]] for s in (2, 3)]), abs=1e-6)
    again = R.significance_report(df, tmp_path, n_boot=50, previous=full)
    assert list(again["seed"].drop_duplicates()) == ["1", "2", "3", "1+2+3"]


def test_ablations_are_compared_with_the_full_model_and_the_backbone_of_their_seed(tmp_path):
    specs = [R.run_spec("synthetic", "gru4rec", True, 1), R.run_spec("synthetic", "gru4rec", True, 1, pmi=False),
             R.run_spec("synthetic", "gru4rec", True, 1, pmsid=False, pmsim=False),
             R.run_spec("synthetic", "gru4rec", False, 1),
             R.run_spec("synthetic", "gru4rec", True, 2, pmi=False)]          # seed 2: no full model, no backbone
    R.run_grid(specs, tmp_path, engine="inline", common=TINY, verbose=False)
    df = R.collect(tmp_path)
    sig = R.ablation_significance_report(df, tmp_path, n_boot=50)
    assert sorted(set(sig["variant"])) == ["w/o pmi", "w/o pmsid+pmsim"] and set(sig["seed"]) == {"1"}
    assert list(sig.columns[:5]) == ["dataset", "backbone", "variant", "seed", "metric"] and len(sig) == 8
    seed1 = df[df["seed"] == 1]
    full = seed1[seed1["srsupm"] & seed1[list(R.SWITCHES)].all(axis=1)].iloc[0]
    alone = seed1[~seed1["srsupm"]].iloc[0]

    def ablation(variant):
        return seed1[~seed1["pmi" if variant == "w/o pmi" else "pmsid"]].iloc[0]

    for _, row in sig.iterrows():                          # A: the ablation run's own test metric, B: the full one's
        assert row["a"] == pytest.approx(ablation(row["variant"])[row["metric"]], abs=1e-6)
        assert row["b"] == pytest.approx(full[row["metric"]], abs=1e-6)
        assert row["gain"] == pytest.approx(row["b"] - row["a"], abs=1e-9)
    vs = R.ablation_backbone_significance_report(df, tmp_path, n_boot=50)
    assert sorted(set(vs["variant"])) == ["w/o pmi", "w/o pmsid+pmsim"] and set(vs["seed"]) == {"1"} and len(vs) == 8
    for _, row in vs.iterrows():                           # A: the backbone alone, B: the ablation
        assert row["a"] == pytest.approx(alone[row["metric"]], abs=1e-6)
        assert row["b"] == pytest.approx(ablation(row["variant"])[row["metric"]], abs=1e-6)
    written = R.write_reports(df, tmp_path / "reports", runs_dir=tmp_path, n_boot=50)
    assert {"significance_ablations", "significance_ablations_vs_backbone"} <= set(written)
    text = written["markdown"].read_text()
    assert "What each part adds" in text and "Does a reduced model still beat the backbone?" in text
    without_full = df[~df[list(R.SWITCHES)].all(axis=1)]                    # no full model: nothing to pair
    assert R.ablation_significance_report(without_full, tmp_path).empty
    assert R.ablation_backbone_significance_report(df[df["srsupm"]], tmp_path).empty   # no backbone run


def test_a_departure_lives_beside_the_paper_model_and_is_compared_with_it(tmp_path):
    specs = R.table1(["synthetic"], ["gru4rec"], [1])
    R.run_grid(specs, tmp_path, engine="inline", common=TINY, verbose=False)
    learned = {**TINY, "level_temperature": "learned"}
    assert [s.name for s in R.departure_names(specs, learned)] == \
        ["synthetic/gru4rec/seed1", "synthetic/gru4rec+srsupm-temperature-learned/seed1"]
    assert R.departure_names(R.departure_names(specs, learned), learned) == R.departure_names(specs, learned)
    assert list(R.grid_status(specs, tmp_path, common=learned)["state"]) == ["done", "todo"]
    status = R.run_grid(specs, tmp_path, engine="inline", common=learned, verbose=False)
    assert list(status["state"]) == ["skipped", "ran"]                   # the backbone run is shared
    df = R.collect(tmp_path)
    assert sorted(df["run"]) == ["synthetic/gru4rec+srsupm-temperature-learned/seed1",
                                 "synthetic/gru4rec+srsupm/seed1", "synthetic/gru4rec/seed1"]
    res = json.loads((tmp_path / "synthetic/gru4rec+srsupm-temperature-learned/seed1/results.json").read_text())
    assert res["config"]["method_options"]["level_temperature"] == "learned" and set(res["level_scales"]) == {"alpha", "beta"}
    written = R.write_reports(df, tmp_path / "reports", runs_dir=tmp_path, n_boot=50)
    dep = pd.read_csv(written["significance_departures"])
    fixed = df.set_index("run").loc["synthetic/gru4rec+srsupm/seed1"]
    plugged = df.set_index("run").loc["synthetic/gru4rec+srsupm-temperature-learned/seed1"]
    assert set(dep["departure"]) == {"gru4rec+srsupm-temperature-learned"} and len(dep) == 4
    for _, row in dep.iterrows():                            # A: the paper's model, B: the departure
        assert row["a"] == pytest.approx(fixed[row["metric"]], abs=1e-6)
        assert row["b"] == pytest.approx(plugged[row["metric"]], abs=1e-6)
    assert written["fig6_departures"].read_bytes()[:4] == b"\x89PNG"     # its Fig. 6, apart from the paper's
    stored = json.loads((tmp_path / "synthetic/gru4rec+srsupm-temperature-learned/seed1/fig6_alpha.json").read_text())
    sums, seen = np.sum(stored["matrix"], axis=1), np.asarray(stored["windows"]) > 0
    assert seen.any() and np.allclose(sums[seen], 1.0) and np.isnan(sums[~seen]).all()   # mean α per level
    assert "fig6_departures.png" in written["markdown"].read_text()
    sig = pd.read_csv(written["significance"])                # Table 1's pair is the paper's model only
    assert sig["b"].tolist() == pytest.approx([fixed[m] for m in sig["metric"]], abs=1e-6)


def test_jobs_train_runs_in_parallel_processes_with_the_same_results(tmp_path, monkeypatch):
    """--jobs 2: two worker processes with one thread each give the runs a one-thread sequential grid gives."""
    import torch
    specs = [R.run_spec("synthetic", "gru4rec", False, 1), R.run_spec("synthetic", "gru4rec", True, 1),
             R.run_spec("synthetic", "gru4rec", True, 1, pmi=False)]
    monkeypatch.setattr(R.workers, "usable_cores", lambda: 2)                   # -> one thread per worker
    parallel = R.run_grid(specs, tmp_path / "parallel", engine="inline", common=TINY, verbose=False, jobs=2)
    assert list(parallel["name"]) == [s.name for s in specs] and (parallel["state"] == "ran").all()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        R.run_grid(specs, tmp_path / "sequential", engine="inline", common=TINY, verbose=False)
    finally:
        torch.set_num_threads(threads)
    for spec in specs:
        a = json.loads((tmp_path / "parallel" / spec.name / "results.json").read_text())
        b = json.loads((tmp_path / "sequential" / spec.name / "results.json").read_text())
        assert a["environment"]["torch_threads"] == 1
        assert a["test"] == b["test"] and a["valid"] == b["valid"]
    again = R.run_grid(specs, tmp_path / "parallel", engine="inline", common=TINY, verbose=False, jobs=2)
    assert (again["state"] == "skipped").all()
    # a run that fails inside its worker is reported (or raised) like a sequential one
    small = {k: v for k, v in TINY.items() if k != "dataset_options"}
    broken = [R.run_spec("synthetic", "gru4rec", False, 3, dataset_options=TINY["dataset_options"]),
              R.run_spec("beauty", "gru4rec", False, 3)]
    common = {**small, "data_root": str(tmp_path / "nowhere")}
    status = R.run_grid(broken, tmp_path / "broken", engine="inline", common=common, verbose=False, jobs=2,
                        on_error="continue")
    assert list(status["state"]) == ["ran", "failed"] and "nowhere" in status["error"].iloc[1]
    with pytest.raises(FileNotFoundError, match="nowhere"):
        R.run_grid(broken, tmp_path / "broken2", engine="inline", common=common, verbose=False, jobs=2)
    with pytest.raises(ValueError, match="jobs"):
        R.run_grid(specs, tmp_path, engine="inline", common=TINY, jobs=0)


_GRID_UNTIL_KILLED = """
import json, multiprocessing, sys, threading, time
from pathlib import Path
from srsupm_lab import reproduce as R
runs, common = Path(sys.argv[1]), json.loads(sys.argv[2])
specs = [R.run_spec("synthetic", "gru4rec", False, 1), R.run_spec("synthetic", "gru4rec", True, 1)]
def report():                                   # once both workers are training: their pids
    while not all((runs / s.name / "checkpoint.pt").exists() for s in specs):
        time.sleep(0.1)
    pids = [p.pid for p in multiprocessing.active_children()]
    (runs / "workers.json").write_text(json.dumps(pids))
threading.Thread(target=report, daemon=True).start()
R.run_grid(specs, runs, engine="inline", common=common, verbose=False, jobs=2)
"""


def _gone(pid: int) -> bool:
    """No such process, or only its exit status is left (a zombie nobody has reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc (Linux)")
@pytest.mark.parametrize("signame", ["SIGKILL", "SIGTERM"])
def test_workers_of_a_jobs_grid_stop_when_the_grid_is_killed(tmp_path, signame):
    """Killing only the grid's process (SIGKILL: no handler runs; SIGTERM: `kill <pid>`) stops its
    --jobs workers within seconds: nothing trains on, nothing writes the run folders afterwards."""
    import signal
    import subprocess
    import sys
    import time
    common = {**TINY, "epochs": 100_000, "patience": 100_000}          # runs that never finish by themselves
    grid = subprocess.Popen([sys.executable, "-c", _GRID_UNTIL_KILLED, str(tmp_path), json.dumps(common)],
                            stderr=subprocess.PIPE, text=True)
    pids_file, deadline = tmp_path / "workers.json", time.monotonic() + 120
    while not pids_file.exists():
        assert grid.poll() is None, grid.stderr.read()
        assert time.monotonic() < deadline, "the workers never started training"
        time.sleep(0.2)
    time.sleep(0.2)
    workers = json.loads(pids_file.read_text())
    assert len(workers) == 2 and not any(_gone(pid) for pid in workers)
    grid.send_signal(getattr(signal, signame))
    assert grid.wait(timeout=60) != 0                                   # SIGTERM: it stops, it does not finish
    deadline = time.monotonic() + 30
    while not all(_gone(pid) for pid in workers):
        assert time.monotonic() < deadline, f"workers {workers} still running after the grid was killed"
        time.sleep(0.1)
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    written = {p: p.stat().st_mtime_ns for p in files}
    time.sleep(1.5)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == written
    ckpt = [tmp_path / s / "checkpoint.pt" for s in ("synthetic/gru4rec/seed1", "synthetic/gru4rec+srsupm/seed1")]
    assert all(c.exists() for c in ckpt)                               # what was trained is kept, to resume


def test_a_larger_budget_continues_a_run_exactly_where_it_stopped(tmp_path):
    """Extending a finished 1-epoch run to 3 epochs gives the uninterrupted 3-epoch run (CPU)."""
    from srsupm_lab.experiment import run_experiment
    cfg = {**TINY, "backbone": "gru4rec", "srsupm": True, "seed": 4, "progress": False}
    straight = run_experiment({**cfg, "epochs": 3, "out_dir": str(tmp_path / "a")})
    run_experiment({**cfg, "epochs": 1, "out_dir": str(tmp_path / "b")})
    again = run_experiment({**cfg, "epochs": 1, "out_dir": str(tmp_path / "b"), "resume": True})
    assert again["epochs_run"] == 1                                        # same budget: the stored results
    extended = run_experiment({**cfg, "epochs": 3, "out_dir": str(tmp_path / "b"), "resume": True})
    assert extended["epochs_run"] == 3
    cols = [c for c in straight["history"] if not c.endswith("seconds")]
    pd.testing.assert_frame_equal(extended["history"][cols], straight["history"][cols])
    pd.testing.assert_frame_equal(extended["test_table"], straight["test_table"])
    # without its checkpoint a finished run cannot go on: a clear error, nothing lost
    (tmp_path / "b" / "checkpoint.pt").unlink()
    with pytest.raises(FileNotFoundError, match="checkpoint.pt is missing"):
        run_experiment({**cfg, "epochs": 5, "out_dir": str(tmp_path / "b"), "resume": True})
    assert json.loads((tmp_path / "b" / "results.json").read_text())["epochs_run"] == 3
    specs = [R.RunSpec("b", {"dataset": "synthetic", "backbone": "gru4rec", "srsupm": True, "seed": 4})]
    shutil.copytree(tmp_path / "b", tmp_path / "grid" / "b")
    status = R.run_grid(specs, tmp_path / "grid", engine="inline", common={**TINY, "epochs": 5},
                        on_error="continue", verbose=False)
    assert list(status["state"]) == ["failed"] and "checkpoint.pt is missing" in status["error"][0]
    # early stopping decided the end: more epochs change nothing
    from srsupm_lab.run_folder import wants_more_epochs
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "results.json").write_text(json.dumps({"stopped_early": True, "epochs_run": 2}))
    assert not wants_more_epochs(tmp_path / "c", 10)


def test_a_finished_run_with_another_setting_is_not_reused(tmp_path):
    specs = R.table1(["synthetic"], ["gru4rec"], [1])
    R.run_grid(specs, tmp_path, engine="inline", common=TINY, verbose=False)
    # the SRSUPM weights do not concern the backbone-alone run: it is reused, the SRSUPM run is refused
    status = R.run_grid(specs, tmp_path, engine="inline", common={**TINY, "gamma": 0.01}, on_error="continue",
                        verbose=False)
    assert list(status["state"]) == ["skipped", "failed"]
    assert "gamma" in status["error"][1] and "another runs folder" in status["error"][1]
    with pytest.raises(ValueError, match="another setting"):
        R.run_grid(specs, tmp_path, engine="inline", common={**TINY, "gamma": 0.01}, verbose=False)
    df = R.collect(tmp_path)
    alone, plugged = df[~df["srsupm"]].iloc[0], df[df["srsupm"]].iloc[0]
    assert math.isnan(alone["gamma"]) and plugged["gamma"] == 0.1 and plugged["lambda1"] == 0.4


def test_config_differences_ignore_srsupm_weights_for_backbone_runs():
    from srsupm_lab.config import TrainConfig
    from srsupm_lab.run_folder import config_differences
    flat = {k: v for k, v in TrainConfig().to_dict().items() if k not in ("method", "method_options")}
    a, b = {**flat, "srsupm": False, "gamma": 0.1}, {**flat, "srsupm": False, "gamma": 0.01, "epochs": 3}
    assert config_differences(a, b) == {}                         # epochs may change on resume; gamma never read
    a["srsupm"] = b["srsupm"] = True
    assert config_differences(a, b) == {"method_options.gamma": (0.1, 0.01)}
    b["lr"] = 0.5
    assert set(config_differences(a, b)) == {"method_options.gamma", "lr"}
    new = TrainConfig(method="srsupm", method_options=dict(gamma=0.01)).to_dict()   # the sectioned shape alike
    assert set(config_differences(new, {**new, "method": "none", "method_options": {}})) == {"method"}


def test_cli_set_passes_any_field(tmp_path, capsys):
    argv = ["reproduce", "--grid", "table1", "--datasets", "synthetic", "--backbones", "gru4rec", "--seeds", "1",
            "--runs", str(tmp_path), "--reports", str(tmp_path / "rep"), "--engine", "inline", "--epochs", "1",
            "--set", "gamma=0.02", "--set", "dim=8", "--set", "max_len=10", "--device", "cpu",
            "--set", 'dataset_options={"n_users": 40, "n_items": 30}']
    assert main(argv) == 0
    cfg = json.loads((tmp_path / "synthetic/gru4rec+srsupm/seed1/config.json").read_text())
    assert cfg["method_options"]["gamma"] == 0.02 and cfg["dim"] == 8 and cfg["dataset_options"]["n_users"] == 40
    alone = json.loads((tmp_path / "synthetic/gru4rec/seed1/config.json").read_text())
    assert alone["method_options"] == {}                          # SRSUPM's weight applies to SRSUPM's runs
    capsys.readouterr()
    assert main(argv + ["--set", "epochs=2"]) == 2
    assert "both" in capsys.readouterr().err


def test_papermill_engine_runs_the_experiment_notebook(tmp_path):
    from srsupm_lab.data import load_dataset
    from srsupm_lab.data.s3rec_layout import save_s3rec_layout

    folder = tmp_path / "tiny"
    save_s3rec_layout(load_dataset("synthetic", **TINY["dataset_options"]), folder)
    specs = R.table1([str(folder)], ["gru4rec"], [1])[:1]
    assert specs[0].name == "tiny/gru4rec/seed1"
    runs = tmp_path / "runs"
    status = R.run_grid(specs, runs, engine="papermill", common={"epochs": 1, "device": "cpu"}, verbose=False)
    assert list(status["state"]) == ["ran"]
    out = runs / "tiny/gru4rec/seed1"
    assert (out / "04_train.ipynb").exists() and (out / "results.json").exists()
    cfg = json.loads((out / "config.json").read_text())
    from srsupm_lab.config import TrainConfig
    default = TrainConfig()
    assert (cfg["lr"], cfg["batch_size"]) == (default.lr, default.batch_size)   # TrainConfig defaults reach the notebook
    with pytest.raises(ValueError, match="not parameters"):
        R.run_grid(R.table1([str(folder)], ["sasrec"], [1]), runs, engine="papermill", common={"weight_decay": 0.2})


# ----------------------------------------------------------------------------- reports
def _frame():
    rows = []
    for seed, (a, b) in enumerate([(0.10, 0.12), (0.20, 0.16), (0.30, 0.20)], 1):
        for plug, v in ((False, a), (True, b)):
            rows.append({"run": f"beauty/sasrec{'+srsupm' if plug else ''}/seed{seed}", "dataset": "beauty",
                         "backbone": "sasrec", "srsupm": plug, "pmsid": True, "pmsim": True, "pmi": True,
                         "priors": True, "K": 5, "noise_p": 0.0, "seed": seed, "recall@10": v, "recall@20": 2 * v,
                         "ndcg@10": v / 2, "ndcg@20": v / 4, "best_epoch": 1, "epochs_run": 1,
                         "seconds_per_epoch": 1.0, "device": "cpu"})
    extra = []
    for seed in (1, 2):
        extra.append({**rows[1], "seed": seed, "pmsim": False, "recall@10": 0.1 * seed, "ndcg@10": 0.05})
        for p, v in ((0.1, 0.05 * seed), (0.5, 0.01)):
            extra.append({**rows[1], "seed": seed, "noise_p": p, "recall@10": v})
        extra.append({**rows[1], "seed": seed, "K": 3, "recall@10": 0.3})
    return pd.DataFrame(rows + extra)


def test_table1_report_by_hand():
    t = R.table1_report(_frame())
    r10 = t[t["metric"] == "recall@10"].set_index("srsupm")
    # backbone: 0.1, 0.2, 0.3 -> mean 0.2, sd sqrt(((.1)^2 + 0 + (.1)^2) / 2) = 0.1
    assert r10.loc[False, "mean"] == pytest.approx(0.2) and r10.loc[False, "sd"] == pytest.approx(0.1)
    # +SRSUPM: 0.12, 0.16, 0.20 -> mean 0.16, sd sqrt((.04^2 + 0 + .04^2) / 2) = 0.04
    assert r10.loc[True, "mean"] == pytest.approx(0.16) and r10.loc[True, "sd"] == pytest.approx(0.04)
    assert r10.loc[True, "gain"] == pytest.approx((0.16 - 0.2) / 0.2) and math.isnan(r10.loc[False, "gain"])
    assert r10.loc[False, "paper"] == pytest.approx(.0860) and r10.loc[True, "paper"] == pytest.approx(.1042)
    assert r10.loc[True, "paper_gain"] == pytest.approx((.1042 - .0860) / .0860)
    assert (t["seeds"] == 3).all()


def test_table3_table4_fig3_reports_by_hand():
    df = _frame()
    t3 = R.table3_report(df).set_index("variant")
    assert list(t3.index) == ["SASRec", "w/o PMSIM", "SRSUPM"]
    assert t3.loc["w/o PMSIM", "recall@10_mean"] == pytest.approx(0.15)
    assert t3.loc["w/o PMSIM", "recall@10_sd"] == pytest.approx(np.std([0.1, 0.2], ddof=1))
    assert t3.loc["w/o PMSIM", "recall@10_paper"] == pytest.approx(.0983)
    t4 = R.table4_report(df).set_index("noise_p")
    assert list(t4.index) == [0.0, 0.1, 0.5]
    assert t4.loc[0.1, "recall@10_mean"] == pytest.approx(0.075) and t4.loc[0.1, "seeds"] == 2
    assert t4.loc[0.5, "recall@10_paper"] == pytest.approx(.0921)
    f3 = R.fig3_report(df).set_index("K")
    assert list(f3.index) == [3, 5] and f3.loc[3, "recall@10_mean"] == pytest.approx(0.3)
    assert f3.loc[3, "recall@10_sd"] == pytest.approx(0.0)


def test_reports_keep_each_backbone_apart_and_give_the_paper_value_to_sasrec_only():
    """GRU4Rec's ablation, noise and K runs beside SASRec's: their own rows, no paper value (the
    paper's Tables 3, 4 and Fig. 3 are SASRec's), means computed by hand."""
    df = _frame()
    gru = df[df["seed"] == 1].assign(backbone="gru4rec", run=lambda d: d["run"].str.replace("sasrec", "gru4rec"))
    gru.loc[~gru["srsupm"], "recall@10"] = 0.05             # GRU4Rec alone, then its +SRSUPM runs of seed 1
    gru.loc[gru["srsupm"] & ~gru["pmsim"], "recall@10"] = 0.07
    gru.loc[gru["srsupm"] & (gru["noise_p"] == 0.5), "recall@10"] = 0.02
    gru.loc[gru["srsupm"] & (gru["K"] == 3), "recall@10"] = 0.09
    control = {**gru[gru["srsupm"]].iloc[0].to_dict(), "pmsid": False, "pmsim": False, "pmi": False,
               "K": 5, "noise_p": 0.0, "recall@10": 0.08, "run": "beauty/gru4rec+srsupm-wo-pmsid-pmsim-pmi/seed1"}
    both = pd.concat([df, gru, pd.DataFrame([control])], ignore_index=True)
    t3 = R.table3_report(both).set_index(["backbone", "variant"])
    assert list(t3.loc["gru4rec"].index) == ["GRU4Rec", "w/o PMSIM", "SRSUPM", "w/o PMSID & PMSIM & PMI"]
    assert t3.loc[("gru4rec", "w/o PMSID & PMSIM & PMI"), "recall@10_mean"] == pytest.approx(0.08)
    assert t3.loc[("gru4rec", "GRU4Rec"), "recall@10_mean"] == pytest.approx(0.05)
    assert t3.loc[("gru4rec", "w/o PMSIM"), "recall@10_mean"] == pytest.approx(0.07)
    assert t3.loc["gru4rec", "recall@10_paper"].isna().all()
    assert t3.loc[("sasrec", "w/o PMSIM"), "recall@10_paper"] == pytest.approx(.0983)
    assert t3.loc[("sasrec", "w/o PMSIM"), "recall@10_mean"] == pytest.approx(0.15)    # unchanged by GRU4Rec
    t4 = R.table4_report(both).set_index(["backbone", "noise_p"])
    assert t4.loc[("gru4rec", 0.5), "recall@10_mean"] == pytest.approx(0.02)
    assert t4.loc[("gru4rec", 0.0), "recall@10_mean"] == pytest.approx(0.12) and t4.loc[("gru4rec", 0.0), "seeds"] == 1
    assert t4.loc["gru4rec", "recall@10_paper"].isna().all()
    assert t4.loc[("sasrec", 0.5), "recall@10_paper"] == pytest.approx(.0921)
    f3 = R.fig3_report(both).set_index(["backbone", "K"])
    assert f3.loc[("gru4rec", 3), "recall@10_mean"] == pytest.approx(0.09)
    assert f3.loc[("sasrec", 3), "recall@10_mean"] == pytest.approx(0.3)
    # a backbone with one K only has no Fig. 3 line
    assert "gru4rec" not in set(R.fig3_report(both[~((both["backbone"] == "gru4rec") & (both["K"] == 3))])["backbone"])


def test_sweep_runs_are_compared_with_k5_and_with_the_backbone_alone(tmp_path):
    specs = [R.run_spec("synthetic", "gru4rec", False, 1), R.run_spec("synthetic", "gru4rec", True, 1),
             R.run_spec("synthetic", "gru4rec", True, 1, K=3), R.run_spec("synthetic", "gru4rec", True, 1, noise_p=0.5),
             R.run_spec("synthetic", "gru4rec", True, 2, K=3)]      # seed 2 has no references: skipped
    R.run_grid(specs, tmp_path, engine="inline", common=TINY, verbose=False)
    df = R.collect(tmp_path)
    sig = R.sweep_significance_report(df, tmp_path, n_boot=50)
    assert list(sig.columns[:6]) == ["dataset", "backbone", "setting", "against", "seed", "metric"]
    assert set(sig["seed"]) == {"1"} and len(sig) == 2 * 2 * 4
    assert set(zip(sig["setting"], sig["against"])) == {("K=3", "K=5, p=0"), ("K=3", "backbone alone"),
                                                         ("p=0.5", "K=5, p=0"), ("p=0.5", "backbone alone")}
    runs = df.set_index(["srsupm", "K", "noise_p", "seed"])
    for _, row in sig.iterrows():                           # A: the reference's own metric, B: the sweep run's
        ref = runs.loc[(row["against"] == "K=5, p=0", 5, 0.0, 1)]
        run = runs.loc[(True, 3, 0.0, 1)] if row["setting"] == "K=3" else runs.loc[(True, 5, 0.5, 1)]
        assert row["a"] == pytest.approx(ref[row["metric"]], abs=1e-6)
        assert row["b"] == pytest.approx(run[row["metric"]], abs=1e-6)
    written = R.write_reports(df, tmp_path / "reports", runs_dir=tmp_path, n_boot=50)
    assert "significance_sweeps" in written and "Fig. 3 and Table 4 runs" in written["markdown"].read_text()
    assert not R.sweep_significance_report(df[df["K"] == 5], tmp_path).empty           # the p = 0.5 run stays
    assert R.sweep_significance_report(df[(df["K"] == 5) & (df["noise_p"] == 0)], tmp_path).empty


def test_write_reports(tmp_path):
    written = R.write_reports(_frame(), tmp_path)
    assert set(written) == {"runs", "table1", "table3", "table4", "fig3", "fig3_png", "markdown"}
    md = (tmp_path / "reproduction.md").read_text()
    assert "0.2000 ± 0.1000 (paper 0.0860)" in md and "0.1600 ± 0.0400 (paper 0.1042) [-20.0%; paper +21.2%]" in md
    assert (tmp_path / "fig3.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob(".*.tmp"))
    only_t1 = R.write_reports(_frame().iloc[:6], tmp_path / "t1")
    assert set(only_t1) == {"runs", "table1", "markdown"}


def test_runs_of_a_departure_stay_out_of_the_paper_tables(tmp_path):
    df = _frame().assign(level_temperature=lambda d: np.where(d["srsupm"], "fixed", None))
    learned = {**df.iloc[1].to_dict(), "run": "beauty/sasrec+srsupm/seed1", "level_temperature": "learned",
               "recall@10": 0.9}
    with_departure = pd.concat([df, pd.DataFrame([learned])], ignore_index=True)
    assert list(R.paper_model(with_departure)) == [True] * len(df) + [False]
    R.write_reports(with_departure, tmp_path / "a")
    R.write_reports(df, tmp_path / "b")
    for name in ("table1.csv", "table3.csv", "table4.csv", "fig3.csv"):    # the learned run's 0.9 is nowhere
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
    md = (tmp_path / "a" / "reproduction.md").read_text()
    assert "## Departures from the paper" in md and "| beauty/sasrec+srsupm/seed1 | 0.9 |" in md
    assert "Departures" not in (tmp_path / "b" / "reproduction.md").read_text()
    assert len(pd.read_csv(tmp_path / "a" / "runs.csv")) == len(df) + 1


# ----------------------------------------------------------------------------- checks before anything runs
@pytest.mark.parametrize("setting, named", [("K=2", "K=2"), ("foo=1", "foo=1"), ("tau=abc", "tau"),
                                            ("seed=3", "seed=3")])
def test_dry_run_rejects_a_setting_a_run_would_reject(tmp_path, capsys, setting, named):
    argv = ["reproduce", "--grid", "table1", "--backbones", "sasrec", "--seeds", "1", "--runs", str(tmp_path),
            "--engine", "inline", "--set", setting]
    assert main(argv + ["--dry-run"]) == 2
    dry = capsys.readouterr()
    assert dry.err.startswith("error: ") and named in dry.err and "todo" not in dry.out
    assert "Traceback" not in dry.err and len(dry.err.strip().splitlines()) == 1
    with pytest.raises(ValueError) as real:                              # the same words as a real run's
        R.run_grid(R.table1(["beauty"], ["sasrec"], [1]), tmp_path, engine="inline", common=dict([_kv(setting)]))
    assert str(real.value) in dry.err
    assert not any(tmp_path.iterdir())                                   # nothing written


def _kv(text):
    key, value = text.split("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def test_a_failed_run_reports_one_error_line(tmp_path, capsys):
    specs = R.table1(["beauty"], ["gru4rec"], [1], variants=["backbone"])
    status = R.run_grid(specs, tmp_path, engine="inline", on_error="continue",
                        common={**{k: v for k, v in TINY.items() if k != "dataset_options"},
                                "data_root": str(tmp_path / "nowhere")})
    err = capsys.readouterr().err
    assert list(status["state"]) == ["failed"] and "Traceback" not in err
    assert err.startswith("error: [1/1] beauty/gru4rec/seed1: FileNotFoundError") and "nowhere" in err


# ----------------------------------------------------------------------------- the experiments file
PLAN = Path(__file__).resolve().parents[1] / "reports" / "experiments.toml"


def test_the_committed_plan_lists_every_committed_run_as_done():
    """`reproduce --plan reports/experiments.toml --dry-run`: every grid's runs are there, finished with
    the plan's setting (the stored configs are compared as a real run compares them), and every run
    folder committed under reports/ belongs to a grid of the plan."""
    grids = R.load_plan(PLAN)
    status = R.plan_status(grids)
    assert (status["state"] == "done").all(), status[status["state"] != "done"].to_string()
    runs = {Path(d).resolve() for d in status.loc[~status["name"].str.startswith("table2"), "out_dir"]}
    committed = {p.parent.resolve() for g in grids for p in g.runs.rglob("results.json")}
    assert committed and committed == runs
    assert {"table1", "table2", "table3", "table4", "fig3", "decisive", "screening", "oracle-gap"} <= {g.grid for g in grids}


def test_plan_dry_run_from_the_command_line(capsys):
    assert main(["reproduce", "--plan", str(PLAN), "--dry-run", "--only", "gru4rec-20ep", "gpu-table2"]) == 0
    out = capsys.readouterr().out
    assert "beauty/gru4rec+srsupm-wo-pmsid-pmsim-pmi/seed2" in out and "3 runs: 3 done" in out
    assert main(["reproduce", "--plan", str(PLAN), "--dry-run", "--datasets", "sports"]) == 2
    assert "belong in the plan file" in capsys.readouterr().err
    assert main(["reproduce", "--plan", str(PLAN), "--only", "nope", "--dry-run"]) == 2
    assert "no grid named ['nope']" in capsys.readouterr().err
    assert main(["reproduce", "--dry-run"]) == 2
    assert "either --grid" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("[[grid]]\nname = 'a'\ngrid = 'table1'\nruns = 'r'\nreports = '.'\nseed = [1]\n", r"unknown key\(s\) \['seed'\]"),
    ("[[grid]]\nname = 'a'\ngrid = 'table1'\nruns = 'r'\nreports = '.'\nepochs = '6'\n", "epochs = '6' is not a int"),
    ("[[grid]]\nname = 'a'\ngrid = 'table9'\nruns = 'r'\nreports = '.'\n", "unknown grid 'table9'"),
    ("[[grid]]\nname = 'a'\ngrid = 'fig3'\nreports = '.'\n", "missing key 'runs'"),
    ("[defaults]\nruns = 'r'\nreports = '.'\n[[grid]]\nname = 'a'\ngrid = 'fig3'\n[[grid]]\nname = 'a'\n"
     "grid = 'fig3'\n", "used twice"),
    ("[[grid]]\nname = 'a'\ngrid = 'fig3'\nruns = 'r'\nreports = '.'\nengine = 'slurm'\n", "engine must be"),
    ("[grids]\nname = 'a'\n", r"unknown table\(s\) \['grids'\]"),
    ("[[grid]\n", "not a valid TOML file"),
    ("", "lists no"),
])
def test_a_bad_plan_file_fails_naming_the_file_and_the_key(tmp_path, text, message):
    path = tmp_path / "plan.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        R.load_plan(path)
    assert str(path) in str(err.value)


def test_a_plan_runs_resumes_and_reports(tmp_path, capsys):
    """A two-grid plan on the synthetic world: run, then listed as done, then reported again without training."""
    options = ", ".join(f"{k} = {json.dumps(v)}" for k, v in TINY.items() if k != "dataset_options")
    world = ", ".join(f"{k} = {v}" for k, v in TINY["dataset_options"].items())
    plan = tmp_path / "plan.toml"
    plan.write_text(f"""
[defaults]
datasets = ["synthetic"]
backbones = ["gru4rec"]
seeds = [1]
runs = "runs"
reports = "reports"
set = {{ {options.replace('epochs = 1, ', '').replace(', device = "cpu"', '')}, dataset_options = {{ {world} }} }}
epochs = 1
device = "cpu"

[[grid]]
name = "pair"
grid = "table1"

[[grid]]
name = "control"
grid = "table3"
ablations = ["backbone", "wo-pmsid-pmsim-pmi"]
""")
    assert main(["reproduce", "--plan", str(plan), "--dry-run"]) == 0
    assert "3 runs: 3 todo" in capsys.readouterr().out              # the backbone run is in both grids
    assert main(["reproduce", "--plan", str(plan)]) == 0
    results = sorted((tmp_path / "runs").rglob("results.json"))
    assert {p.parent.relative_to(tmp_path / "runs").as_posix() for p in results} == {
        "synthetic/gru4rec+srsupm-wo-pmsid-pmsim-pmi/seed1", "synthetic/gru4rec+srsupm/seed1",
        "synthetic/gru4rec/seed1"}
    capsys.readouterr()
    assert main(["reproduce", "--plan", str(plan), "--dry-run"]) == 0
    assert "3 runs: 3 done" in capsys.readouterr().out
    stamps = [p.stat().st_mtime_ns for p in results]
    report = tmp_path / "reports" / "reproduction.md"
    first = report.read_text()
    report.unlink()
    assert main(["reproduce", "--plan", str(plan), "--report-only"]) == 0
    assert report.read_text() == first and [p.stat().st_mtime_ns for p in results] == stamps
    assert len(pd.read_csv(tmp_path / "reports" / "runs.csv")) == 3


def test_an_unreadable_results_file_fails_its_run_only_and_is_left_alone(tmp_path):
    specs = R.table1(["synthetic"], ["gru4rec"], [1])
    R.run_grid(specs, tmp_path, engine="inline", common=TINY, verbose=False)
    broken = tmp_path / specs[1].name / "results.json"
    text = broken.read_text()[:40]
    broken.write_text(text)                                             # a truncated write
    status = R.grid_status(specs, tmp_path, common=TINY)
    assert list(status["state"]) == ["done", "conflict"] and str(broken) in status["note"][1]
    ran = R.run_grid(specs, tmp_path, engine="inline", common=TINY, verbose=False, on_error="continue")
    assert list(ran["state"]) == ["skipped", "failed"] and "not the results of a finished run" in ran["error"][1]
    assert broken.read_text() == text
    with pytest.raises(ValueError, match="results.json: not valid JSON"):
        R.collect(tmp_path)
