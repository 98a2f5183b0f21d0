"""The MTRec experiment (MTRec §5, Table 1): its configs, its plan kind and its report from hand-made run folders."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from srsupm_lab.__main__ import main
from srsupm_lab.reproduce.mtrec import BASES, MODELS, mtrec_configs, mtrec_report
from srsupm_lab.run_folder import POLICY_FILE, RANKS_FILE

U = 30


def approx(x):
    """The CSVs keep 6 significant digits."""
    return pytest.approx(x, rel=2e-5, abs=1e-9)


def test_configs_per_model_and_seed_pair_beauty_with_the_decisive_sasrec(tmp_path):
    from srsupm_lab.config import TrainConfig
    from srsupm_lab.reproduce.decisive import arm_configs
    configs = mtrec_configs("beauty", [1, 2], tmp_path)
    names = ["sasrec", "sasrec+mtrec", "sasrec+irl", "gru4rec", "gru4rec+mtrec", "gru4rec+irl"]
    assert [c["out_dir"] for c in configs] == [str(tmp_path / "beauty" / m / f"seed{s}") for s in (1, 2) for m in names]
    drop = ("out_dir", "progress", "resume")
    decisive = {k: v for k, v in arm_configs([1], tmp_path, ["sasrec"], lr=0.001)[0].items() if k not in drop}
    assert {k: v for k, v in configs[0].items() if k != "out_dir"} == decisive
    assert decisive["lr"] == 0.001 and decisive["batch_size"] == 128 and decisive["dim"] == 64
    by_name = {c["out_dir"].split("/")[-2]: c for c in configs[:6]}
    assert by_name["gru4rec+irl"]["backbone"] == "gru4rec" and by_name["gru4rec+irl"]["method"] == "mtrec"
    users = {"reward_batches": "users"}                                   # Beauty's stage 1: batches of whole users
    assert by_name["sasrec+irl"]["method_options"] == {"reward": "irl", **users}
    assert by_name["sasrec+mtrec"]["method_options"] == users and "method_options" not in by_name["gru4rec"]
    for c in configs:                                                      # valid TrainConfigs
        TrainConfig.from_dict({k: v for k, v in c.items() if k != "out_dir"})
    world = mtrec_configs("synthetic-clickbait", [3], tmp_path)
    assert [c["out_dir"].split("/")[-2] for c in world] == list(MODELS)        # +oracle on the world only
    world_by_name = {c["out_dir"].split("/")[-2]: c for c in world}
    assert world_by_name["sasrec+oracle"]["method_options"] == {"reward": "oracle"} and "method_options" not in world[1]
    assert world_by_name["sasrec+oracle-listwise"]["method_options"] == {
        "reward": "oracle", "oracle_outside": "mean", "response": "listwise", "n_negatives": 10}
    assert world[0]["epochs"] == BASES["synthetic-clickbait"]["epochs"]
    with pytest.raises(ValueError, match="unknown model"):
        mtrec_configs("beauty", [1], tmp_path, ["sasrec+oracle"])
    with pytest.raises(ValueError, match="no base protocol"):
        mtrec_configs("yelp", [1], tmp_path)


def test_the_plan_declares_the_mtrec_kind(tmp_path):
    from srsupm_lab.reproduce.plan import load_plan
    plan = tmp_path / "p.toml"
    plan.write_text('[[grid]]\nname = "m"\ngrid = "mtrec"\ndatasets = ["beauty"]\nmodels = ["sasrec", "sasrec+irl"]\n'
                    'seeds = [1, 2]\nruns = "r"\nreports = "rep"\n')
    (grid,) = load_plan(plan)
    specs = grid.specs()
    assert [s.name for s in specs] == ["beauty/sasrec/seed1", "beauty/sasrec+irl/seed1", "beauty/sasrec/seed2",
                                       "beauty/sasrec+irl/seed2"]
    assert specs[1].overrides["method_options"] == {"reward": "irl", "reward_batches": "users"}
    assert specs[0].overrides["lr"] == 0.001


def _write_run(runs, dataset, model, seed, rng, truth=False, policy=True):
    folder = runs / dataset / model / f"seed{seed}"
    folder.mkdir(parents=True)
    ranks = rng.integers(0, 40, U)
    test = {"level": "all", "users": U, "recall@10": float(np.mean(ranks < 10)), "ndcg@10": float(rng.random()),
            "recall@20": float(np.mean(ranks < 20)), "ndcg@20": float(rng.random())}
    (folder / "results.json").write_text(json.dumps({"config": {"seed": seed}, "test": [test], "best_epoch": 2,
                                                     "epochs_run": 4}))
    pd.DataFrame({"user": np.arange(U), "level": 0, "rank": ranks}).to_csv(folder / RANKS_FILE, index=False)
    pol = pd.DataFrame({"user": np.arange(U), "n_candidates": 100, "rank": ranks, "auc": rng.random(U),
                        "auc_sampled": rng.random(U), "steps": 2, "log_w": rng.normal(2, 3, U),
                        "log_w_untrained": rng.normal(0, 1, U)})
    if truth:
        pol["reward"] = rng.random(U)
        pol["satisfaction@10"] = rng.random(U)
        pol["clickbait@10"] = rng.integers(0, 11, U) / 10
    if policy:
        pol.to_csv(folder / POLICY_FILE, index=False)
    return {"ranks": ranks, "test": test, "policy": pol}


def _weights(log_w, cap=100.0):
    return np.array([min(cap, math.exp(x)) if x < 700 else cap for x in log_w])


def test_the_report_from_finished_run_folders_by_hand(tmp_path, capsys):
    rng = np.random.default_rng(0)
    runs = tmp_path / "runs"
    made = {}
    for model, seeds in (("sasrec", (1, 2)), ("sasrec+mtrec", (1, 2)), ("sasrec+irl", (2, 3))):
        for s in seeds:
            made["beauty", model, s] = _write_run(runs, "beauty", model, s, rng)
    for model in ("sasrec", "sasrec+oracle"):
        made["synthetic-clickbait", model, 1] = _write_run(runs, "synthetic-clickbait", model, 1, rng, truth=True)
    _write_run(runs, "beauty", "gru4rec", 1, rng, policy=False)           # no policy metrics, no checkpoint
    md = mtrec_report(runs, tmp_path / "rep", n_boot=200)
    text = md.read_text()
    summary = pd.read_csv(tmp_path / "rep" / "mtrec.csv").set_index(["dataset", "model"])
    row = summary.loc[("beauty", "sasrec+mtrec")]
    assert row["seeds"] == 2
    r10 = [made["beauty", "sasrec+mtrec", s]["test"]["recall@10"] for s in (1, 2)]
    assert row["recall@10 mean"] == approx(np.mean(r10)) and row["recall@10 sd"] == approx(np.std(r10, ddof=1))
    pols = [made["beauty", "sasrec+mtrec", s]["policy"] for s in (1, 2)]
    gains = [_weights(p["log_w"]).mean() - _weights(p["log_w_untrained"]).mean() for p in pols]
    assert row["ncis_gain mean"] == approx(np.mean(gains)) and row["auc mean"] == approx(
        np.mean([p["auc"].mean() for p in pols]))
    world = made["synthetic-clickbait", "sasrec+oracle", 1]["policy"]
    w = _weights(world["log_w"])
    assert summary.loc[("synthetic-clickbait", "sasrec+oracle"), "ncis mean"] == approx(
        (w * world["reward"]).sum() / w.sum())
    assert summary.loc[("synthetic-clickbait", "sasrec+oracle"), "satisfaction@10 mean"] == approx(
        world["satisfaction@10"].mean())
    assert ("beauty", "gru4rec") not in summary.index and "beauty/gru4rec/seed1" in text        # left out, said so
    assert len(pd.read_csv(tmp_path / "rep" / "mtrec_runs.csv")) == 8

    sig = pd.read_csv(tmp_path / "rep" / "mtrec_significance.csv", dtype={"seeds": str})
    assert set(zip(sig["dataset"], sig["model_b"])) == {("beauty", "sasrec+mtrec"), ("beauty", "sasrec+irl"),
                                                        ("synthetic-clickbait", "sasrec+oracle")}
    assert (sig["model_a"] == "sasrec").all()
    irl = sig[sig["model_b"] == "sasrec+irl"].set_index("metric")
    assert set(irl["seeds"]) == {"2"}                                   # the one seed both finished
    assert set(irl.index) == {"recall@10", "ndcg@10", "auc", "auc_sampled", "weight"}
    a, b = made["beauty", "sasrec", 2], made["beauty", "sasrec+irl", 2]
    assert irl.loc["recall@10", "gain"] == approx(np.mean(b["ranks"] < 10) - np.mean(a["ranks"] < 10))
    assert irl.loc["auc", "gain"] == approx(b["policy"]["auc"].mean() - a["policy"]["auc"].mean())
    pooled = sig[(sig["model_b"] == "sasrec+mtrec") & (sig["metric"] == "weight")].iloc[0]
    wa = np.mean([_weights(made["beauty", "sasrec", s]["policy"]["log_w"]) for s in (1, 2)], axis=0)
    wb = np.mean([_weights(made["beauty", "sasrec+mtrec", s]["policy"]["log_w"]) for s in (1, 2)], axis=0)
    assert pooled["seeds"] == "1 2" and pooled["gain"] == approx((wb - wa).mean())
    assert set(sig[sig["model_b"] == "sasrec+oracle"]["metric"]) >= {"satisfaction@10", "clickbait@10"}

    assert "No cell matches" in text and "0.8325" in text and "3.4634" in text
    # the committed kind through the command line: --report-only writes the same report
    plan = tmp_path / "p.toml"
    plan.write_text('[[grid]]\nname = "m"\ngrid = "mtrec"\ndatasets = ["beauty"]\nruns = "runs"\nreports = "rep2"\n')
    assert main(["reproduce", "--plan", str(plan), "--only", "m", "--report-only"]) == 0
    assert (tmp_path / "rep2" / "mtrec.csv").read_text() == (tmp_path / "rep" / "mtrec.csv").read_text()


def test_no_finished_run_writes_nothing_and_says_so_in_one_line(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="no finished run with its policy metrics"):
        mtrec_report(tmp_path / "runs", tmp_path / "rep")
    plan = tmp_path / "p.toml"
    plan.write_text('[[grid]]\nname = "m"\ngrid = "mtrec"\ndatasets = ["beauty"]\nruns = "runs"\nreports = "rep"\n')
    assert main(["reproduce", "--plan", str(plan), "--only", "m", "--report-only"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: mtrec: no finished run") and err.count("\n") == 1
    assert not (tmp_path / "rep").exists()


def test_a_finished_run_is_measured_once_against_the_weights_it_started_from(tmp_path, one_thread, capsys):
    """lr 1e-30: the best weights are the initial ones, so the trained and untrained log weights agree; the
    ranks are the evaluation's (test_ranks.csv); the file is kept and read back without the checkpoint."""
    from srsupm_lab.experiment import run_experiment
    from srsupm_lab.reproduce.mtrec import measure_policy
    folder = tmp_path / "synthetic" / "sasrec" / "seed1"
    run_experiment(dict(dataset="synthetic", dataset_options={"n_users": 60, "n_items": 150}, epochs=1, dim=8,
                        max_len=6, lr=1e-30, seed=1, device="cpu", progress=False, out_dir=str(folder)))
    path = measure_policy(folder, n_negatives=20)
    table = pd.read_csv(path)
    assert table["log_w"].to_numpy() == pytest.approx(table["log_w_untrained"].to_numpy(), abs=1e-5)
    ranks = pd.read_csv(folder / RANKS_FILE)
    assert table["user"].tolist() == ranks["user"].tolist() and table["rank"].tolist() == ranks["rank"].tolist()
    assert (table["auc"] == (table["n_candidates"] - 1 - table["rank"]) / (table["n_candidates"] - 1)).all()
    (folder / "checkpoint.pt").unlink()
    assert main(["policy-metrics", str(folder), "--negatives", "20", "--cap", "10"]) == 0   # the file kept
    out = capsys.readouterr().out
    assert "ncis_gain" in out and "cap 10" in out
