"""The β screen of MTRec (srsupm_lab/reproduce/mtrec_beta.py): its runs, its choice on validation only."""
import json

import pandas as pd
import pytest

from srsupm_lab.reproduce.mtrec_beta import beta_configs, beta_report, beta_table, choose_beta


def test_one_run_per_beta_model_and_seed_with_beta_in_the_options_and_the_folder(tmp_path):
    configs = beta_configs("synthetic-clickbait", [1, 2], tmp_path, ["sasrec+mtrec", "sasrec+irl"], [0.3, 1])
    assert len(configs) == 2 * 2 * 2
    names = {(c["out_dir"].split("/")[-2], c["out_dir"].split("/")[-1]) for c in configs}
    assert ("sasrec+irl-beta0.3", "seed2") in names and ("sasrec+mtrec-beta1", "seed1") in names
    irl = next(c for c in configs if c["out_dir"].endswith("sasrec+irl-beta0.3/seed1"))
    assert irl["method_options"] == {"reward": "irl", "beta": 0.3} and irl["method"] == "mtrec"


def test_models_without_an_alignment_loss_and_bad_betas_are_refused(tmp_path):
    with pytest.raises(ValueError, match="do not have one"):
        beta_configs("synthetic-clickbait", [1], tmp_path, ["sasrec"])
    with pytest.raises(ValueError, match="betas"):
        beta_configs("synthetic-clickbait", [1], tmp_path, ["sasrec+mtrec"], [-1.0])


def _finished(runs, model, beta, seed, valid, test):
    folder = runs / "world" / f"{model}-beta{beta:g}" / f"seed{seed}"
    folder.mkdir(parents=True)
    row = lambda r: [{"level": "all", "recall@10": r, "ndcg@10": r / 2}]
    (folder / "results.json").write_text(json.dumps({
        "config": {"seed": seed, "method_options": {"beta": beta}}, "best_epoch": 3,
        "valid": row(valid), "test": row(test)}))


def test_the_choice_is_the_best_mean_validation_recall_and_never_reads_test(tmp_path):
    # β 0.3: validation (.50 + .40) / 2 = .45; β 1: (.46 + .46) / 2 = .46 -> 1 wins on validation,
    # although 0.3's test figures are far better (a screen reading test would pick 0.3)
    for beta, seed, valid, test in [(0.3, 1, .50, .9), (0.3, 2, .40, .9), (1.0, 1, .46, .1), (1.0, 2, .46, .1)]:
        _finished(tmp_path, "sasrec+mtrec", beta, seed, valid, test)
    (tmp_path / "world" / "sasrec" / "seed1").mkdir(parents=True)          # not a screen folder: ignored
    table = beta_table(tmp_path)
    assert sorted(table["beta"].unique()) == [0.3, 1.0] and len(table) == 4
    screen = choose_beta(table)
    assert set(screen["chosen"]) == {1.0}
    assert screen.set_index("beta").loc[0.3, "valid_recall10"] == pytest.approx(0.45)


def test_ties_go_to_the_smaller_beta_and_the_report_is_written(tmp_path):
    for beta in (0.1, 3.0):
        _finished(tmp_path, "sasrec+irl", beta, 1, .30, .2)
    assert set(choose_beta(beta_table(tmp_path))["chosen"]) == {0.1}
    md = beta_report(tmp_path, tmp_path / "report")
    assert "## Chosen" in md.read_text() and len(pd.read_csv(tmp_path / "report" / "beta_screen.csv")) == 2


def test_no_finished_run_writes_nothing(tmp_path):
    with pytest.raises(FileNotFoundError, match="no finished screen run"):
        beta_report(tmp_path, tmp_path / "report")
    assert not (tmp_path / "report").exists()
