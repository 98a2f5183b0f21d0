"""Full-ranking metrics (method.md §10) against a plain brute-force reference."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from srsupm_lab.data.windows import Windows
from srsupm_lab.evaluate import evaluate, rank_metrics


def reference(scores, targets, history, ks):
    """Loop over users and items, float64, exactly as the protocol is worded."""
    scores = np.asarray(scores, dtype=np.float64)
    out = {f"recall@{k}": [] for k in ks} | {f"ndcg@{k}": [] for k in ks}
    ranks = []
    for u in range(scores.shape[0]):
        t = int(targets[u])
        seen = set() if history is None else {int(x) for x in history[u] if x != 0}
        st = scores[u, t]
        if np.isnan(st):
            st = -np.inf
        rank = 0
        for i in range(1, scores.shape[1]):
            if i == t or i in seen:
                continue
            si = scores[u, i]
            if np.isnan(si):
                si = -np.inf
            if si >= st:
                rank += 1
        ranks.append(rank)
        for k in ks:
            out[f"recall@{k}"].append(1.0 if rank < k else 0.0)
            out[f"ndcg@{k}"].append(1.0 / math.log2(rank + 2) if rank < k else 0.0)
    return {m: float(np.mean(v)) for m, v in out.items()}, np.array(ranks)


def random_case(U=40, N=60, H=12, seed=0, ties=False):
    g = np.random.default_rng(seed)
    scores = g.normal(size=(U, N + 1)).astype(np.float32)
    if ties:  # coarse scores -> many exact ties, including with the target
        scores = np.round(scores * 2) / 2
    targets = g.integers(1, N + 1, size=U)
    history = g.integers(0, N + 1, size=(U, H))  # repeats and padding zeros included
    history[::3, 0] = targets[::3]               # some histories contain the target
    history[1::4, :] = 0                         # some users have no history at all
    return scores, targets, history


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("ks", [(10, 20), (1, 5, 50)])
def test_matches_brute_force(ties, masked, ks):
    scores, targets, history = random_case(seed=3 + ties, ties=ties)
    hist = history if masked else None
    want, want_ranks = reference(scores, targets, hist, ks)
    got = rank_metrics(torch.tensor(scores), torch.tensor(targets), None if hist is None else torch.tensor(hist), ks=ks)
    assert set(got) == set(want)
    for m in want:
        assert got[m] == pytest.approx(want[m], abs=1e-6), m
    per = rank_metrics(torch.tensor(scores), torch.tensor(targets), None if hist is None else torch.tensor(hist),
                       ks=ks, per_user=True)
    np.testing.assert_array_equal(per["rank"].numpy(), want_ranks)


def test_hand_computed_case():
    # items 1..5, padding column 0 has a huge score that must be ignored
    scores = torch.tensor([[99.0, 0.5, 0.9, 0.5, 0.1, 0.7]])
    # target 3 (0.5): item 2 (0.9), item 5 (0.7) above, item 1 ties (0.5) -> rank 3
    got = rank_metrics(scores, torch.tensor([3]), ks=(1, 3, 4), per_user=True)
    assert got["rank"].tolist() == [3]
    assert got["recall@3"].item() == 0.0 and got["recall@4"].item() == 1.0
    assert got["ndcg@4"].item() == pytest.approx(1 / math.log2(5))
    # masking items 2 and 1 (and the target itself, which must stay) -> rank 1
    got = rank_metrics(scores, torch.tensor([3]), torch.tensor([[2, 1, 3, 0, 2]]), ks=(1, 2), per_user=True)
    assert got["rank"].tolist() == [1]
    assert got["ndcg@2"].item() == pytest.approx(1 / math.log2(3))


def test_constant_scorer_is_zero_and_nan_is_worst():
    U, N = 30, 50
    targets = torch.randint(1, N + 1, (U,))
    got = rank_metrics(torch.zeros(U, N + 1), targets, ks=(10, 20))
    assert all(v == 0.0 for v in got.values())
    scores = torch.randn(U, N + 1)
    scores[torch.arange(U), targets] = float("nan")
    per = rank_metrics(scores, targets, per_user=True)
    assert per["rank"].tolist() == [N - 1] * U


def test_bf16_input_is_compared_in_float32():
    scores, targets, history = random_case(seed=5)
    s16 = torch.tensor(scores).bfloat16()
    want, _ = reference(s16.float().numpy(), targets, history, (10, 20))
    got = rank_metrics(s16, torch.tensor(targets), torch.tensor(history))
    for m in want:
        assert got[m] == pytest.approx(want[m], abs=1e-6)


def test_bad_input_raises():
    s = torch.zeros(2, 6)
    with pytest.raises(ValueError, match="target ids"):
        rank_metrics(s, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="target ids"):
        rank_metrics(s, torch.tensor([1, 6]))
    with pytest.raises(ValueError, match="targets must be"):
        rank_metrics(s, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="history ids"):
        rank_metrics(s, torch.tensor([1, 2]), torch.tensor([[7], [0]]))
    with pytest.raises(ValueError, match="ks"):
        rank_metrics(s, torch.tensor([1, 2]), ks=(0,))


class TableScorer(torch.nn.Module):
    """Scores from a fixed per-user table; tracks the mode it was called in. Written without the protocol's
    base class: evaluation needs only ``score(batch)``."""

    def __init__(self, table):
        super().__init__()
        self.register_buffer("table", torch.as_tensor(table))
        self.n_items = self.table.shape[1] - 1
        self.modes = []

    def score(self, batch, items=None):
        self.modes.append(self.training)
        return self.table[batch["users"]]


def test_evaluate_batched_with_levels():
    scores, targets, history = random_case(U=37, N=45, seed=7, ties=True)
    U = len(targets)
    g = np.random.default_rng(1)
    levels = g.integers(0, 4, size=U)
    levels[levels == 2] = 3                                  # a level with no user must not appear
    windows = Windows(inputs=torch.zeros(U, 5, dtype=torch.long), targets=torch.tensor(targets),
                      users=torch.arange(U), history=torch.tensor(history))
    model = TableScorer(scores)
    model.train()
    table, ranks = evaluate(model, windows, levels=torch.tensor(levels), batch_size=8, ks=(5, 10), return_ranks=True)
    assert model.training and model.modes and not any(model.modes)   # scored in eval mode, mode restored
    assert list(table.columns) == ["level", "users", "recall@5", "recall@10", "ndcg@5", "ndcg@10"]
    assert table["level"].tolist() == ["all", 0, 1, 3]
    want_all, want_ranks = reference(scores, targets, history, (5, 10))
    np.testing.assert_array_equal(ranks.numpy(), want_ranks)
    row = table.iloc[0]
    assert row["users"] == U
    for m, v in want_all.items():
        assert row[m] == pytest.approx(v, abs=1e-6)
    for lvl in (0, 1, 3):
        sel = levels == lvl
        want, _ = reference(scores[sel], targets[sel], history[sel], (5, 10))
        row = table[table["level"] == lvl].iloc[0]
        assert row["users"] == sel.sum()
        for m, v in want.items():
            assert row[m] == pytest.approx(v, abs=1e-6)
    # unmasked evaluation follows the unmasked reference
    t2 = evaluate(model, windows, mask_history=False, batch_size=1000)
    want, _ = reference(scores, targets, None, (10, 20))
    assert isinstance(t2, pd.DataFrame) and len(t2) == 1
    for m, v in want.items():
        assert t2.iloc[0][m] == pytest.approx(v, abs=1e-6)


def test_evaluate_needs_history_to_mask():
    windows = Windows(inputs=torch.zeros(3, 4, dtype=torch.long), targets=torch.tensor([1, 2, 3]),
                      users=torch.arange(3), history=None)
    with pytest.raises(ValueError, match="history"):
        evaluate(TableScorer(torch.zeros(3, 5)), windows)
    with pytest.raises(ValueError, match="levels"):
        evaluate(TableScorer(torch.zeros(3, 5)), windows, levels=torch.zeros(2), mask_history=False)
