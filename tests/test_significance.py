"""Paired bootstrap of two runs' per-user ranks, and bringing a finished run back (load_trained, user_ranks)."""
import math

import numpy as np
import pandas as pd
import pytest

from srsupm_lab.analysis.significance import paired_bootstrap


def _recall(r, k):
    return (np.asarray(r) < k).astype(np.float64)


def _ndcg(r, k):
    r = np.asarray(r, dtype=np.float64)
    return np.where(r < k, 1.0 / np.log2(r + 2.0), 0.0)


def test_gain_is_the_mean_per_user_difference():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 40, 500), rng.integers(0, 30, 500)
    table = paired_bootstrap(a, b, n_boot=200).set_index("metric")
    for k in (10, 20):
        assert table.loc[f"recall@{k}", "gain"] == pytest.approx(np.mean(_recall(b, k) - _recall(a, k)), abs=1e-12)
        assert table.loc[f"ndcg@{k}", "gain"] == pytest.approx(np.mean(_ndcg(b, k) - _ndcg(a, k)), abs=1e-7)
        assert table.loc[f"recall@{k}", "a"] == pytest.approx(_recall(a, k).mean())
    assert (table["users"] == 500).all()


def test_identical_and_dominating_runs():
    r = np.arange(100) % 30
    same = paired_bootstrap(r, r, n_boot=100).set_index("metric")
    assert (same["gain"] == 0).all() and (same["ci_low"] == 0).all() and (same["ci_high"] == 0).all()
    assert (same["p_value"] == 1).all()
    better = paired_bootstrap(np.full(100, 50), np.zeros(100, dtype=int), n_boot=100).set_index("metric")
    assert better.loc["recall@10", "gain"] == 1 and better.loc["recall@10", "ci_low"] == 1
    assert better.loc["recall@10", "p_value"] == 0


def test_interval_matches_the_normal_approximation():
    """For a mean of i.i.d. differences the bootstrap sd is the sample sd / sqrt(U) (float64 reference)."""
    rng = np.random.default_rng(1)
    U = 4000
    a = np.where(rng.random(U) < 0.30, 3, 50)                   # hit@10 with prob .30
    b = np.where(rng.random(U) < 0.33, 3, 50)                   # independent, prob .33
    d = _recall(b, 10) - _recall(a, 10)
    se = d.std(ddof=1) / math.sqrt(U)
    row = paired_bootstrap(a, b, ks=(10,), n_boot=2000, seed=3).set_index("metric").loc["recall@10"]
    assert (row["ci_high"] - row["ci_low"]) / (2 * 1.959964) == pytest.approx(se, rel=0.1)
    assert row["ci_low"] < d.mean() < row["ci_high"]
    # the two-sided p-value agrees with the normal test to within bootstrap noise
    z = abs(d.mean()) / se
    p_normal = math.erfc(z / math.sqrt(2))
    assert row["p_value"] == pytest.approx(p_normal, abs=0.03)


def test_several_seeds_average_each_users_metric_before_resampling():
    """(S, U) ranks: the gain is the mean of the per-seed gains; the interval is that of the per-user
    seed-averaged differences (float64 normal reference), narrower than one seed's."""
    rng = np.random.default_rng(5)
    U = 3000
    skill = rng.random(U)                                        # a user's ease, shared by every run
    def runs(p, seeds):                                          # hit@10 with prob p·(.5 + ease), per seed
        return np.stack([np.where(rng.random(U) < p * (0.5 + skill), 2, 60) for _ in range(seeds)])
    a, b = runs(0.25, 2), runs(0.28, 3)                          # S may differ between the models
    pooled = paired_bootstrap(a, b, ks=(10,), n_boot=2000, seed=4).set_index("metric").loc["recall@10"]
    d = _recall(b, 10).mean(axis=0) - _recall(a, 10).mean(axis=0)              # per-user, over seeds
    assert pooled["gain"] == pytest.approx(d.mean(), abs=1e-12)
    assert pooled["a"] == pytest.approx(_recall(a, 10).mean(), abs=1e-12)
    assert pooled["b"] == pytest.approx(_recall(b, 10).mean(), abs=1e-12)
    se = d.std(ddof=1) / math.sqrt(U)
    assert (pooled["ci_high"] - pooled["ci_low"]) / (2 * 1.959964) == pytest.approx(se, rel=0.1)
    one = paired_bootstrap(a[0], b[0], ks=(10,), n_boot=2000, seed=4).set_index("metric").loc["recall@10"]
    assert pooled["ci_high"] - pooled["ci_low"] < one["ci_high"] - one["ci_low"]
    # with equally many seeds the pooled gain is the mean of the per-seed gains
    gains = [paired_bootstrap(a[s], b[s], n_boot=10)["gain"].to_numpy() for s in range(2)]
    both = paired_bootstrap(a, b[:2], n_boot=10)["gain"].to_numpy()
    assert both == pytest.approx(np.mean(gains, axis=0), abs=1e-12)
    # one run given as a (1, U) matrix is that run
    pd.testing.assert_frame_equal(paired_bootstrap(a[:1], b[:1], n_boot=50, seed=1),
                                  paired_bootstrap(a[0], b[0], n_boot=50, seed=1))
    with pytest.raises(ValueError, match="same users"):
        paired_bootstrap(a, b[:, :-1])
    with pytest.raises(ValueError, match="runs × users"):
        paired_bootstrap(a[None], b[None])


def test_bad_input():
    with pytest.raises(ValueError, match="same users"):
        paired_bootstrap([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="0-based integer ranks"):
        paired_bootstrap([1.5, 2.0], [1, 2])
    with pytest.raises(ValueError, match="0-based integer ranks"):
        paired_bootstrap([-1, 2], [1, 2])
    with pytest.raises(ValueError, match="n_boot"):
        paired_bootstrap([1, 2], [1, 2], n_boot=0)


def test_a_finished_run_comes_back(tmp_path):
    from srsupm_lab.experiment import load_trained, run_experiment, user_ranks
    from srsupm_lab.analysis.significance import compare_runs
    tiny = {"dataset": "synthetic", "dataset_options": {"n_users": 80, "n_items": 40, "seed": 2}, "dim": 8,
            "max_len": 10, "epochs": 2, "batch_size": 64, "device": "cpu", "progress": False}
    res_a = run_experiment({**tiny, "backbone": "gru4rec", "out_dir": str(tmp_path / "a")})
    run_experiment({**tiny, "backbone": "gru4rec", "srsupm": True, "K": 3, "out_dir": str(tmp_path / "b")})
    run = load_trained(tmp_path / "a")
    assert run.best_epoch == res_a["best_epoch"] and not run.model.training
    ranks = user_ranks(tmp_path / "a")
    assert len(ranks) == res_a["data"]["test_users"]
    overall = res_a["test"][0]
    assert _recall(ranks["rank"], 10).mean() == pytest.approx(overall["recall@10"], abs=1e-6)
    assert _ndcg(ranks["rank"], 20).mean() == pytest.approx(overall["ndcg@20"], abs=1e-6)
    # the per-level counts of the reloaded levels are the run's
    levels = [r for r in res_a["test"] if r["level"] != "all"]
    assert {int(r["level"]): r["users"] for r in levels} == ranks["level"].value_counts().to_dict()
    table = compare_runs(tmp_path / "a", tmp_path / "b", n_boot=50)
    assert list(table["metric"]) == ["recall@10", "recall@20", "ndcg@10", "ndcg@20"]
    # the run stored its ranks (test_ranks.csv): equal to a re-scoring of the best checkpoint, and
    # enough to compare the runs once their checkpoints are gone (a folder copied to reports/runs)
    stored = pd.read_csv(tmp_path / "a" / "test_ranks.csv")
    (tmp_path / "a" / "test_ranks.csv").unlink()
    rescored = user_ranks(tmp_path / "a")
    pd.testing.assert_frame_equal(stored, rescored, check_dtype=False)
    assert (tmp_path / "a" / "test_ranks.csv").exists()            # written back for the next time
    for run in ("a", "b"):
        (tmp_path / run / "checkpoint.pt").unlink()
    again = compare_runs(tmp_path / "a", tmp_path / "b", n_boot=50)
    pd.testing.assert_frame_equal(table, again)
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_trained(tmp_path / "nowhere")


def test_validation_ranks_compare_two_settings_without_test_data(tmp_path):
    """``split="valid"``: each validation user's rank of the best weights, equal to the run's own validation
    table (computed by the trainer at its best epoch), stored once so the comparison outlives the checkpoint."""
    from srsupm_lab.experiment import run_experiment, user_ranks
    from srsupm_lab.analysis.significance import compare_runs
    tiny = {"dataset": "synthetic", "dataset_options": {"n_users": 80, "n_items": 40, "seed": 2}, "dim": 8,
            "max_len": 10, "epochs": 2, "batch_size": 64, "device": "cpu", "progress": False, "backbone": "gru4rec"}
    res = {name: run_experiment({**tiny, "seed": seed, "out_dir": str(tmp_path / name)})
           for name, seed in (("a", 1), ("b", 2))}
    valid = user_ranks(tmp_path / "a", split="valid")
    overall = res["a"]["valid"][0]
    assert overall["level"] == "all" and len(valid) == overall["users"]
    assert _recall(valid["rank"], 10).mean() == pytest.approx(overall["recall@10"], abs=1e-6)
    assert _ndcg(valid["rank"], 20).mean() == pytest.approx(overall["ndcg@20"], abs=1e-6)
    table = compare_runs(tmp_path / "a", tmp_path / "b", split="valid", n_boot=50)
    assert table.loc[table["metric"] == "recall@10", "b"].item() == pytest.approx(res["b"]["valid"][0]["recall@10"],
                                                                                 abs=1e-6)
    for run in ("a", "b"):
        assert (tmp_path / run / "valid_ranks.csv").exists()
        (tmp_path / run / "checkpoint.pt").unlink()
    pd.testing.assert_frame_equal(table, compare_runs(tmp_path / "a", tmp_path / "b", split="valid", n_boot=50))
    with pytest.raises(ValueError, match="split must be one of"):
        user_ranks(tmp_path / "a", split="train")


def test_every_comparison_carries_the_interval_over_seeds_too():
    """Two seeds of B that disagree: the seed-aware interval is wider than the user-level one, and with one
    run a side it is the user-level bootstrap again (the same width up to resampling noise)."""
    rng = np.random.default_rng(7)
    U = 400
    a = np.stack([rng.integers(0, 30, U), rng.integers(0, 30, U)])
    b = np.stack([np.where(rng.random(U) < 0.4, 0, a[0]), np.where(rng.random(U) < 0.4, 29, a[1])])
    row = paired_bootstrap(a, b, ks=(10,), n_boot=2000).set_index("metric").loc["recall@10"]
    assert row["seeds_a"] == 2 and row["seeds_b"] == 2
    assert row["seed_ci_high"] - row["seed_ci_low"] > 1.5 * (row["ci_high"] - row["ci_low"])
    one = paired_bootstrap(a[0], b[0], ks=(10,), n_boot=4000).set_index("metric").loc["recall@10"]
    assert one["seed_ci_high"] - one["seed_ci_low"] == pytest.approx(one["ci_high"] - one["ci_low"], rel=0.1)


def test_values_carry_the_interval_over_seeds_too():
    from srsupm_lab.analysis.significance import paired_bootstrap_values
    rng = np.random.default_rng(8)
    va = {"auc": rng.random((3, 200))}
    vb = {"auc": rng.random((2, 200)) + 0.05}
    row = paired_bootstrap_values(va, vb, n_boot=500).iloc[0]
    assert row["seeds_a"] == 3 and row["seeds_b"] == 2
    assert row["seed_ci_low"] <= row["gain"] <= row["seed_ci_high"]
