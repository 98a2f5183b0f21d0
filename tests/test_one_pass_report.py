"""The one-pass comparison grid (srsupm_lab/reproduce/one_pass.py): its three models differ only where they
should, and its report pairs them on validation users, in agreement with each run's own validation table."""
import json

import pandas as pd
import pytest

from srsupm_lab.reproduce.one_pass import MODELS, PAIRS, one_pass_configs, one_pass_report

TINY = {"dataset_options": {"n_users": 80, "n_items": 40, "seed": 2}, "dim": 8, "max_len": 10, "epochs": 2,
        "batch_size": 64, "device": "cpu", "K": 3}


def test_the_models_differ_only_in_path_and_positions(tmp_path):
    configs = {c["out_dir"].split("/")[-2]: c for c in one_pass_configs("synthetic", [1], tmp_path)}
    assert set(configs) == set(MODELS)
    same = lambda c: {k: v for k, v in c.items() if k not in ("one_pass", "backbone_options", "out_dir")}
    assert same(configs["srsupm-window"]) == same(configs["srsupm-onepass"]) == same(configs["srsupm-window-start"])
    assert configs["srsupm-onepass"]["one_pass"] and not configs["srsupm-window-start"]["one_pass"]
    assert configs["srsupm-window"].get("backbone_options", {}).get("positions", "from_end") == "from_end"
    assert configs["srsupm-window-start"]["backbone_options"] == {"positions": "from_start"}
    with pytest.raises(ValueError, match="unknown model"):
        one_pass_configs("synthetic", [1], tmp_path, ["srsupm-twopass"])
    with pytest.raises(ValueError, match="no base protocol"):
        one_pass_configs("yelp", [1], tmp_path)


def test_the_report_pairs_the_models_on_validation_users(tmp_path):
    from srsupm_lab.experiment import run_experiment
    runs = tmp_path / "runs"
    with pytest.raises(FileNotFoundError, match="no finished run"):
        one_pass_report(runs, tmp_path / "rep")
    assert not (tmp_path / "rep").exists()
    results = {}
    for config in one_pass_configs("synthetic", [1], runs, **TINY):
        results[config["out_dir"].split("/")[-2]] = run_experiment(config)
    md = one_pass_report(runs, tmp_path / "rep", n_boot=50)
    table = pd.read_csv(tmp_path / "rep" / "one_pass_srsupm.csv")
    sig = pd.read_csv(tmp_path / "rep" / "one_pass_srsupm_significance.csv")
    for model, res in results.items():
        row = table[table["model"] == model].iloc[0]
        stored = json.loads((runs / "synthetic" / model / "seed1" / "results.json").read_text())
        assert row["valid_recall@10"] == pytest.approx(stored["valid"][0]["recall@10"])
        assert row["epochs"] == len(res["history"]) and row["best_epoch"] == stored["best_epoch"]
    assert len(sig) == len(PAIRS) * 2 * 4                 # every pair, valid and test, four metrics
    for _, r in sig[sig["metric"] == "recall@10"].iterrows():
        for side in ("a", "b"):                          # the re-scored ranks give the trainer's own figures
            own = results[r[f"model_{side}"]][r["split"]][0]
            assert own["level"] == "all" and r[side] == pytest.approx(own["recall@10"], abs=1e-6)
    assert "validation" in md.read_text()
