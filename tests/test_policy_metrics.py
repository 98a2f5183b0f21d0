"""Policy metrics (MTRec §5: AUC, NCIS; satisfaction@k) against a per-user float64 brute force on a hand-built world."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from srsupm_lab.analysis.policy_metrics import (full_auc, ncis, policy_metrics, policy_summary, popularity,
                                                trajectory_rows)
from srsupm_lab.data import SequenceDataset, leave_one_out
from srsupm_lab.families.protocol import Recommender

N = 8
SEQS = [[1, 2, 3, 4, 5, 6], [2, 3, 2, 7], [5, 1, 8], [4, 4], [6, 7, 1, 2, 3]]       # user 3 is dropped (2 items)
MOTIVATION = [[0, 0, 1, 1, 0, 1], [1, 1, 0, 0], [0, 1, 1], [0, 0], [1, 0, 0, 1, 0]]
TABLE = np.round(np.random.default_rng(0).random((2, N + 1)), 3)
BAIT = np.array([False, True, False, False, True, False, False, True, False])
SATISFACTION = [np.round(np.random.default_rng(u + 1).random(len(s)), 3) for u, s in enumerate(SEQS)]


class TableModel(Recommender):
    """score(u, window) = a[u, i] + b[last item of the window, i]: a hand-readable recommender."""

    def __init__(self, seed):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.a = nn.Parameter(torch.randn(len(SEQS), N + 1, generator=g))
        self.b = nn.Parameter(torch.randn(N + 1, N + 1, generator=g))

    def score_all(self, batch):
        return self.a[batch["users"]] + self.b[batch["inputs"][:, -1]]

    def by_hand(self, user, prefix):
        last = prefix[-1] if prefix else 0
        a, b = self.a.detach().double(), self.b.detach().double()
        return [float(a[user, i]) + float(b[last, i]) for i in range(N + 1)]


def _world(**meta):
    labels = [frozenset()] + [frozenset({i % 2}) for i in range(1, N + 1)]
    ds = SequenceDataset("tiny", SEQS, labels, ["x", "y"], meta)
    with pytest.warns(UserWarning, match="dropped 1 user"):
        split = leave_one_out(ds, max_len=3)
    return ds, split


def _truth():
    return {"satisfaction_table": TABLE, "motivation": [np.array(m) for m in MOTIVATION], "clickbait": BAIT}


def test_full_auc_counts_the_candidates_the_full_ranking_scores_and_is_the_mean_sampled_auc():
    scores = torch.tensor([[0.0, 0.3, 0.9, 0.1, 0.9, 0.5], [0.0, 2.0, 1.0, 3.0, 0.0, 1.0]], dtype=torch.float64)
    targets, history = torch.tensor([2, 5]), torch.tensor([[1, 2, 0], [3, 5, 5]])
    auc, n, rank = full_auc(scores, targets, history)
    # user 0: candidates 2 (target), 3, 4, 5 (1 seen); s_t = .9 beats .1, .5, ties .9 (against): 2/3
    # user 1: candidates 5 (target, also in history: kept), 1, 2, 4 (3 seen); s_t = 1 beats 0 only: 1/3
    assert n.tolist() == [4, 4] and rank.tolist() == [1, 2]
    assert auc.tolist() == pytest.approx([2 / 3, 1 / 3], abs=1e-15)
    assert auc.tolist() == pytest.approx([(4 - 2) / 3, (4 - 3) / 3])                   # (n − rank_1-based)/(n − 1)
    # the expectation of the one-negative sampled AUC: every candidate j equally likely
    from srsupm_lab.analysis.cold_start import sampled_ranks
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([sampled_ranks(scores, targets, history, 1, g) for _ in range(4000)]).double()
    assert (1 - draws.mean(dim=0)).tolist() == pytest.approx(auc.tolist(), abs=0.03)


def test_popularity_is_the_smoothed_training_target_frequency():
    mu = popularity(torch.tensor([1, 1, 3, 8]), 8)
    assert mu.tolist() == pytest.approx([0.0, 3 / 12, 1 / 12, 2 / 12] + [1 / 12] * 4 + [2 / 12], abs=1e-15)


def test_trajectory_rows_are_the_last_steps_with_their_true_prefixes():
    ds, split = _world()
    rows = trajectory_rows(ds, split.test.users.numpy(), 3, max_len=3)
    # test users 0, 1, 2, 4; user 2 has only 2 steps after her first item
    assert rows["row"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3]
    assert rows["position"].tolist() == [3, 4, 5, 1, 2, 3, 1, 2, 2, 3, 4]
    assert rows["targets"].tolist() == [4, 5, 6, 3, 2, 7, 1, 8, 1, 2, 3]
    assert rows["inputs"][:3].tolist() == [[1, 2, 3], [2, 3, 4], [3, 4, 5]]
    assert rows["inputs"][3].tolist() == [0, 0, 2] and rows["inputs"][7].tolist() == [0, 5, 1]


@pytest.mark.parametrize("mask_history", [True, False])
def test_policy_metrics_match_a_per_user_brute_force(mask_history):
    ds, split = _world(**_truth(), satisfaction=SATISFACTION)
    model, untrained = TableModel(1), TableModel(2)
    steps, k, n_neg = 2, 3, 2                               # user 0 has 2 unseen non-targets
    table = policy_metrics(model, ds, split, untrained, mask_history=mask_history, steps=steps, k=k,
                           n_negatives=n_neg, seed=5)
    assert table["user"].tolist() == [0, 1, 2, 4]
    train_targets = [s[t] for s in SEQS if len(s) >= 3 for t in range(1, len(s) - 2)]
    mu = [(train_targets.count(i) + 1) / (len(train_targets) + N) for i in range(N + 1)]
    for _, r in table.iterrows():
        u = int(r["user"])
        seq = SEQS[u]
        s = model.by_hand(u, seq[-4:-1])
        seen = set(seq[:-1]) if mask_history else set()
        cands = [i for i in range(1, N + 1) if i == seq[-1] or i not in seen]
        others = [i for i in cands if i != seq[-1]]
        assert r["n_candidates"] == len(cands)
        assert r["auc"] == pytest.approx(sum(s[j] < s[seq[-1]] for j in others) / len(others), abs=1e-12)
        logw = {}
        for name, m in (("log_w", model), ("log_w_untrained", untrained)):
            total = 0.0
            for t in range(len(seq) - steps, len(seq)):
                st = m.by_hand(u, seq[max(0, t - 3):t])
                log_z = math.log(sum(math.exp(x) for x in st[1:]))
                total += st[seq[t]] - log_z - math.log(mu[seq[t]])
            assert r[name] == pytest.approx(total, abs=1e-5)
            logw[name] = total
        assert r["reward"] == pytest.approx(np.mean(SATISFACTION[u][-steps:]), abs=1e-12)
        top = sorted((i for i in range(1, N + 1) if i not in seen), key=lambda i: -s[i])[:k]
        assert r[f"satisfaction@{k}"] == pytest.approx(np.mean([TABLE[MOTIVATION[u][-1], i] for i in top]), abs=1e-12)
        assert r[f"clickbait@{k}"] == pytest.approx(np.mean([BAIT[i] for i in top]), abs=1e-12)
    # the sampled AUC: with every candidate drawn it is the full AUC
    every = policy_metrics(model, ds, split, mask_history=False, steps=1, n_negatives=N - 1, k=3)
    assert every["auc_sampled"].to_numpy() == pytest.approx(every["auc"].to_numpy(), abs=1e-12)
    assert "log_w_untrained" not in every and (every["steps"] == 1).all()
    assert ((table["auc_sampled"] * n_neg).round(9) % 1 == 0).all()                   # multiples of 1/n


def test_ncis_by_hand_with_and_without_a_reward():
    log_w = [math.log(2.0), math.log(500.0), -1.0]
    w = [2.0, 100.0, math.exp(-1.0)]                                                  # capped at 100
    assert ncis(log_w) == pytest.approx(sum(w) / 3)
    assert ncis(log_w, [0.5, 0.1, 1.0]) == pytest.approx((2 * 0.5 + 100 * 0.1 + w[2]) / sum(w))
    assert ncis(log_w, cap=10.0) == pytest.approx((2 + 10 + w[2]) / 3)
    assert ncis([1e6]) == 100.0                                                       # no overflow
    with pytest.raises(ValueError, match="cap must be > 0"):
        ncis(log_w, cap=0)
    table = pd.DataFrame({"auc": [0.5, 1.0, 0.0], "auc_sampled": [0.4, 1.0, 0.1], "log_w": log_w,
                          "log_w_untrained": [0.0, 0.0, math.log(4.0)]})
    got = policy_summary(table)
    assert got["ncis_untrained"] == pytest.approx(2.0) and got["ncis_gain"] == pytest.approx(sum(w) / 3 - 2.0)
    assert got["capped"] == pytest.approx(1 / 3) and got["auc"] == pytest.approx(0.5)
    table["reward"] = [1.0, 1.0, 1.0]                                  # R ≡ 1: the self-normalised NCIS is 1
    assert policy_summary(table)["ncis"] == pytest.approx(1.0) and policy_summary(table)["ncis_gain"] == 0


def test_without_satisfaction_the_reward_is_the_tables_expected_one_and_beauty_like_data_get_none():
    ds, split = _world(**_truth())                                    # no per-step satisfaction
    table = policy_metrics(TableModel(1), ds, split, steps=2, k=3, n_negatives=2)
    for _, r in table.iterrows():
        u, seq = int(r["user"]), SEQS[int(r["user"])]
        want = np.mean([TABLE[MOTIVATION[u][t], seq[t]] for t in (len(seq) - 2, len(seq) - 1)])
        assert r["reward"] == pytest.approx(want, abs=1e-12)
    plain = policy_metrics(TableModel(1), *_world(), steps=2, n_negatives=2)
    assert not {"reward", "satisfaction@10", "clickbait@10"} & set(plain.columns)


def test_more_sampled_negatives_than_a_user_has_unseen_items_is_one_clear_error():
    ds, split = _world()
    with pytest.raises(ValueError, match=r"policy metrics \(sampled AUC\): a user has only 2 unseen items"):
        policy_metrics(TableModel(1), ds, split, n_negatives=3)
