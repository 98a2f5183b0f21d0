"""Reward against satisfaction (srsupm_lab/analysis/reward_satisfaction.py): the measures against hand computations and
brute force, and on a tiny low-noise world the oracle's correlation is high while random scores give about 0."""
import math

import numpy as np
import pandas as pd
import pytest

from srsupm_lab.analysis.reward_satisfaction import (auc, reward_satisfaction_table, satisfaction_scores, spearman,
                                                     write_reward_satisfaction_report)

#: a tiny world with little noise: item qualities spread widely, realised satisfaction close to its expectation
WORLD = {"n_users": 300, "n_items": 40, "n_labels": 6, "n_motivations": 3, "cats_per_motivation": 2,
         "concentration": 1000.0, "quality": 0.3}
TINY = {"world": WORLD, "dim": 16, "max_len": 8, "reward_epochs": 15, "reward_lr": 3e-3, "batch_size": 128}


def _hand_ranks(x):
    """Average ranks (1-based), ties sharing the mean of their positions: brute force over pairs."""
    return [sum(1 for b in x if b < a) + (sum(1 for b in x if b == a) + 1) / 2 for a in x]


def test_spearman_is_the_pearson_correlation_of_hand_made_ranks():
    x, y = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0], [2.0, 7.0, 1.0, 8.0, 2.0, 8.0, 1.0]
    rx, ry = _hand_ranks(x), _hand_ranks(y)
    assert rx == [4.0, 1.5, 5.0, 1.5, 6.0, 7.0, 3.0]                     # by hand
    mx, my = sum(rx) / 7, sum(ry) / 7
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    want = cov / math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    assert spearman(x, y) == pytest.approx(want, abs=1e-12)
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)


def test_auc_counts_pairs_with_ties_half():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 40).astype(float)                        # many ties
    pos = rng.random(40) < 0.4
    pairs = [(1.0 if a > b else 0.5 if a == b else 0.0) for a in scores[pos] for b in scores[~pos]]
    assert auc(scores, pos) == pytest.approx(sum(pairs) / len(pairs), abs=1e-12)
    assert auc([0.1, 0.9, 0.8], [False, True, True]) == 1.0 and math.isnan(auc([1.0, 2.0], [True, True]))


def test_the_measures_split_clickbait_from_normal_interactions():
    sat = np.array([0.9, 0.8, 0.1, 0.2, 0.7, 0.15])
    cb = np.array([False, False, True, True, False, True])
    out = satisfaction_scores(sat * 2 + 1, sat, cb)                      # a monotone map of the truth
    assert out["spearman"] == pytest.approx(1.0) and out["auc_clickbait"] == 1.0
    assert out["spearman_clickbait"] == pytest.approx(1.0) and (out["n_eval"], out["n_clickbait"]) == (6, 3)
    with pytest.raises(ValueError, match="one length"):
        satisfaction_scores(sat[:5], sat, cb)


def test_the_oracle_correlates_highly_and_random_scores_do_not(tmp_path, one_thread):
    df = reward_satisfaction_table(seeds=(1, 2), backbone="gru4rec", models=("oracle", "random", "ceiling"), **TINY)
    assert list(df.columns[:3]) == ["model", "backbone", "seed"] and len(df) == 6
    oracle, rand = df[df.model == "oracle"], df[df.model == "random"]
    assert (oracle.spearman > 0.8).all() and (oracle.auc_clickbait > 0.9).all()
    for row in rand.itertuples():                                        # independent scores: rho ~ N(0, 1/(n-1))
        assert abs(row.spearman) < 4 / math.sqrt(row.n_eval - 1)
    paths = write_reward_satisfaction_report(df, tmp_path / "out")
    back = pd.read_csv(paths["csv"])
    assert len(back) == 6 and back.spearman.tolist() == pytest.approx(df.spearman.tolist(), rel=1e-5)
    md = paths["md"].read_text(encoding="utf-8")
    assert "oracle regressor" in md and "## gru4rec" in md and "reward_epochs=15" in md
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["reward_satisfaction.csv", "reward_satisfaction.md"]


def test_bad_budget_and_models_are_one_line_errors():
    for kwargs, word in (({"epochs": 3}, "unknown budget key"), ({"models": ("clicks",)}, "unknown model"),
                         ({"heldout": 1.0}, "heldout")):
        with pytest.raises(ValueError, match=word) as err:
            reward_satisfaction_table(seeds=(1,), **kwargs)
        assert "\n" not in str(err.value)
