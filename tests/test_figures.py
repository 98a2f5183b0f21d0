"""srsupm_lab.reproduce.figures: the paper's Figs. 6-8 from tiny finished runs, checked against the runs' own files."""
import numpy as np
import pandas as pd
import pytest

from srsupm_lab.reproduce import figures as F
from srsupm_lab import reproduce as R
from srsupm_lab.experiment import load_trained

TINY = {"dataset_options": {"n_users": 40, "n_items": 30, "n_labels": 6, "n_motivations": 3,
                            "cats_per_motivation": 2},
        "dim": 8, "max_len": 10, "epochs": 1, "batch_size": 64, "device": "cpu"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    specs = [R.run_spec("synthetic", "gru4rec", False, 1), R.run_spec("synthetic", "gru4rec", True, 1),
             R.run_spec("synthetic", "gru4rec", True, 1, pmsid=False), R.run_spec("synthetic", "gru4rec", True, 1, pmsim=False),
             R.run_spec("synthetic", "gru4rec", True, 2)]                  # a second seed: figures use the lowest
    R.run_grid(specs, root, engine="inline", common=TINY, verbose=False)
    return root, R.collect(root)


def test_fig7_holds_the_runs_own_level_tables(runs):
    root, df = runs
    t = F.fig7_table(df, root)
    assert set(t["seed"]) == {1} and set(t["backbone"]) == {"gru4rec"}
    for col, run in (("alone", "gru4rec"), ("srsupm", "gru4rec+srsupm")):
        stored = pd.read_csv(root / f"synthetic/{run}/seed1/test_levels.csv", dtype={"level": str})
        for _, row in t[t["metric"] == "ndcg@10"].iterrows():
            assert row[col] == pytest.approx(stored.loc[stored["level"] == str(row["level"]), "ndcg@10"].iloc[0])
    assert F.fig7_table(df[~df["srsupm"]], root).empty                     # no pair: nothing


def test_write_figures_writes_figs_6_7_8_for_the_full_model_and_its_ablations(runs, tmp_path):
    root, df = runs
    written, md = F.write_figures(df, root, tmp_path, backbones=["gru4rec"], max_pairs=None)
    assert {"fig7", "fig6", "fig8", "fig7_synthetic", "fig6_synthetic_gru4rec", "fig8_synthetic_gru4rec"} <= set(written)
    assert all(p.stat().st_size > 1000 for k, p in written.items() if k.startswith("fig") and "synthetic" in k)
    assert any("Fig. 6" in part for part in md) and any("Fig. 8" in part for part in md)
    # Fig. 6: each level's mean α is a distribution; the window counts are the evaluation's users per level
    f6 = pd.read_csv(written["fig6"])
    assert set(f6["backbone"]) == {"gru4rec"} and set(f6["model"]) == {"SRSUPM", "w/o PMSID"} and set(f6["run"]) == {
        "synthetic/gru4rec+srsupm/seed1", "synthetic/gru4rec+srsupm-wo-pmsid/seed1"}
    present = f6[f6["windows"] > 0]
    np.testing.assert_allclose(present.groupby(["model", "level"])["alpha"].sum(), 1.0, atol=1e-6)
    stored = pd.read_csv(root / "synthetic/gru4rec+srsupm/seed1/test_levels.csv", dtype={"level": str})
    users = dict(zip(stored["level"], stored["users"]))
    for lvl, n in f6[f6["model"] == "SRSUPM"].groupby("level")["windows"].first().items():
        assert n == users.get(str(lvl), 0)
    # Fig. 8: every same-target pair of training windows, split by level (brute-force count)
    f8 = pd.read_csv(written["fig8"]).set_index("model")
    assert set(f8.index) == {"SRSUPM", "w/o PMSIM"}
    targets = load_trained(root / "synthetic/gru4rec+srsupm/seed1").data.split.train.targets.numpy()
    counts = np.bincount(targets)
    assert (f8["total_pairs"] == int((counts * (counts - 1) // 2).sum())).all()
    assert (f8["same_level_pairs"] + f8["target_only_pairs"] == f8["total_pairs"]).all()
    assert f8["separation"].between(0, 1).all()


def test_figs_6_and_8_compare_the_full_model_and_its_ablation_of_one_seed(runs, tmp_path):
    """Seed 1 has the full model and both ablations, seed 2 the full model only: the panels are
    seed 1's; without seed 1's full model no seed is shared, and the full model (seed 2) stands alone."""
    root, df = runs
    written = F.write_figures(df, root, tmp_path / "a", backbones=["gru4rec"], max_pairs=None)[0]
    for name in ("fig6", "fig8"):
        assert set(pd.read_csv(written[name])["run"].str.rsplit("/", n=1).str[1]) == {"seed1"}
    full = df["srsupm"] & df[list(R.SWITCHES)].all(axis=1)
    written = F.write_figures(df[~(full & (df["seed"] == 1))], root, tmp_path / "b", backbones=["gru4rec"],
                              max_pairs=None)[0]
    for name in ("fig6", "fig8"):
        assert set(pd.read_csv(written[name])["run"]) == {"synthetic/gru4rec+srsupm/seed2"}


def test_write_reports_includes_the_figures(runs, tmp_path):
    root, df = runs
    written = R.write_reports(df, tmp_path, runs_dir=root, n_boot=20)
    assert "fig7_synthetic" in written and "Fig. 7" in written["markdown"].read_text()
    # Figs. 6 and 8: SASRec's (none here) and those of every backbone with an ablation run (GRU4Rec)
    assert {"fig6_synthetic_gru4rec", "fig8_synthetic_gru4rec"} <= set(written)
    no_ablations = df[df[list(R.SWITCHES)].all(axis=1)]
    assert "fig6" not in R.write_reports(no_ablations, tmp_path / "t1", runs_dir=root, n_boot=20)
    assert "fig7" not in R.write_reports(df, tmp_path / "plain", runs_dir=root, n_boot=20, figures=False)


def test_figures_come_back_from_run_folders_without_checkpoints(runs, tmp_path):
    """Figs. 6 and 8 store what they measured in the run folders; a copy without checkpoints draws the same."""
    import shutil

    from srsupm_lab.analysis import shift as analysis
    root, df = runs
    first = F.write_figures(df, root, tmp_path / "a", backbones=["gru4rec"], max_pairs=None)[0]
    full = root / "synthetic/gru4rec+srsupm/seed1"
    assert (full / F.FIG6_FILE).exists() and (full / F.FIG8_FILE).exists()
    # the stored Fig. 8 summary against the exact distances of the checkpoint
    run = load_trained(full)
    exact = analysis.view_distances(run.model, run.data.split.train, run.data.train_levels, max_pairs=None)
    summary = F.fig8_table(root, "synthetic/gru4rec+srsupm/seed1", max_pairs=None)
    for name in (analysis.SAME_LEVEL, analysis.TARGET_ONLY):
        assert summary["pairs"][name] == exact[name].size
        if exact[name].size:
            assert summary[name][0] == exact[name].min() and summary[name][-1] == exact[name].max()
            assert np.median(summary[name]) == pytest.approx(np.median(exact[name]), rel=1e-12)
    assert summary["separation"] == pytest.approx(analysis.separation(exact), abs=1e-12)

    kept = tmp_path / "kept"
    shutil.copytree(root, kept, ignore=shutil.ignore_patterns("checkpoint.pt"))
    assert not list(kept.rglob("checkpoint.pt"))
    again = F.write_figures(df, kept, tmp_path / "b", backbones=["gru4rec"], max_pairs=None)[0]
    assert set(again) == set(first)
    for name in ("fig6", "fig7", "fig8"):
        pd.testing.assert_frame_equal(pd.read_csv(first[name]), pd.read_csv(again[name]))
    with pytest.raises(FileNotFoundError, match="checkpoint.pt"):           # another sample needs the weights
        F.fig8_table(kept, "synthetic/gru4rec+srsupm/seed1", max_pairs=5)
    # neither stored nor measurable (an older run kept without its checkpoint): only Fig. 7 is drawn
    for path in [*kept.rglob(F.FIG6_FILE), *kept.rglob(F.FIG8_FILE)]:
        path.unlink()
    bare = F.write_figures(df, kept, tmp_path / "c", backbones=["gru4rec"], max_pairs=None)[0]
    assert "fig7" in bare and not {"fig6", "fig8"} & set(bare)


def test_a_run_that_trains_again_drops_its_older_measurements(tmp_path):
    """Fig. 6/8 measurements and test ranks describe the best weights: a longer budget makes them stale."""
    import json

    from srsupm_lab.experiment import user_ranks
    spec = [R.run_spec("synthetic", "gru4rec", True, 1)]
    R.run_grid(spec, tmp_path, engine="inline", common=TINY, verbose=False)
    out = tmp_path / spec[0].name
    F.fig6_table(tmp_path, spec[0].name)
    F.fig8_table(tmp_path, spec[0].name, max_pairs=None)
    assert (out / F.FIG6_FILE).exists() and (out / F.FIG8_FILE).exists()
    R.run_grid(spec, tmp_path, engine="inline", common={**TINY, "epochs": 2}, verbose=False)
    assert not (out / F.FIG6_FILE).exists() and not (out / F.FIG8_FILE).exists()
    results = json.loads((out / "results.json").read_text())
    assert results["epochs_run"] == 2
    ranks = user_ranks(out)["rank"].to_numpy()                  # rewritten by the longer run
    assert (ranks < 10).mean() == pytest.approx(results["test"][0]["recall@10"], abs=1e-6)
