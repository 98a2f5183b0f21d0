"""Stage 1 in batches of whole users (``reward_batches="users"``): one encoder pass gives V*(s) and V*(s').

References: the batches against a plain-Python loop over the same shuffled users; the loss and every
gradient against the two-pass path (the next windows encoded again) in float64, on the same windows.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from srsupm_lab.methods.mtrec import A_N, A_P, next_window_index, train_reward_model
from srsupm_lab.methods.mtrec.reward_model import _window_tensors, stage1_loss, user_batches
from tests.test_mtrec_core import _model, _windows

pytestmark = pytest.mark.usefixtures("one_thread")

SEQS = [[1, 2, 3, 4, 5, 6, 7], [7, 6, 5, 4, 3], [2, 4, 6, 1], [3, 3, 5], [6, 1, 2, 7, 4, 5]]


@pytest.mark.parametrize("batch_size", [1, 3, 7, 100])
def test_batches_are_whole_shuffled_users_cut_where_their_first_window_falls(batch_size):
    users = torch.tensor([0, 0, 0, 1, 2, 2, 2, 2, 3, 4, 4])
    got = user_batches(users, batch_size, torch.Generator().manual_seed(5))
    runs = {}                                                        # user -> her window indices, in order
    for m, u in enumerate(users.tolist()):
        runs.setdefault(u, []).append(m)
    order = torch.randperm(len(runs), generator=torch.Generator().manual_seed(5)).tolist()
    ref, slot = {}, 0
    for k in order:
        ref.setdefault(slot // batch_size, []).extend(runs[list(runs)[k]])
        slot += len(runs[list(runs)[k]])
    assert [b.tolist() for b in got] == [ref[b] for b in sorted(ref)]
    assert sorted(torch.cat(got).tolist()) == list(range(len(users)))


def _float64(model):
    model.double()
    model.eval()                                                     # no dropout: both paths see one function
    return model


@pytest.mark.parametrize("options,objective", [
    (dict(), "qr_iql"), (dict(negative_next="logged_next", terminal="self"), "qr_iql"),
    (dict(negative_next="terminal", state="append"), "qr_iql"), (dict(n_quantiles=1), "iq_learn")])
def test_one_pass_loss_and_gradients_equal_the_two_pass_path(options, objective):
    w = _windows(SEQS)
    data = _window_tensors(w)
    idx = torch.cat([b for b in user_batches(w.users, 6, torch.Generator().manual_seed(1))][:2])   # whole users
    negatives = torch.randint(1, 8, (len(idx), 2), generator=torch.Generator().manual_seed(2))
    grads, losses = [], []
    for next_values in ("encode", "in_batch"):
        model = _float64(_model(gamma=0.9, **{"n_quantiles": 3, **options}))
        loss = stage1_loss(model, data, idx, negatives, objective, next_values, alpha=0.5)
        loss.backward()
        losses.append(loss.item())
        grads.append([p.grad.clone() for p in model.parameters()])
    assert losses[0] == pytest.approx(losses[1], rel=1e-12)
    assert all(torch.allclose(a, b, rtol=1e-10, atol=1e-12) for a, b in zip(*grads))


def test_a_batch_that_splits_a_user_is_refused_in_one_line():
    w = _windows(SEQS)
    data = _window_tensors(w)
    with pytest.raises(ValueError, match="whole users"):
        stage1_loss(_model(), data, torch.tensor([0, 1]), torch.tensor([[3], [3]]), next_values="in_batch")


def test_user_batches_learn_that_item_5_is_taken_and_item_3_skipped():
    g = np.random.default_rng(0)
    pool = np.array([1, 2, 4, 6, 7])
    seqs = [np.where(g.random(9) < 0.5, 5, g.choice(pool, 9)) for _ in range(12)]   # 5 often taken, 3 never
    w = _windows(seqs)
    negatives = torch.full((len(w), 1), 3)
    model = _model(n_quantiles=4, gamma=0.9)
    losses = train_reward_model(model, w, epochs=60, batch_size=16, lr=1e-2, negatives=negatives, seed=0,
                                batches="users")
    assert losses[-1] < losses[0]
    r = model.rewards(w, negatives=torch.tensor([[5, 3]]).expand(len(w), 2))
    r5, r3 = r[:, 1, A_P], r[:, 2, A_P]
    assert float(r5.mean()) > float(r3.mean()) and float((r5 > r3).float().mean()) > 0.9
    assert float(r[:, 2, A_N].mean()) > float(r3.mean())


def test_users_batches_need_users_and_a_known_name():
    w = _windows(SEQS)
    data = {"inputs": w.inputs, "targets": w.targets, "users": None,
            "next_index": next_window_index(w.inputs, w.targets, w.users)}
    with pytest.raises(ValueError, match="needs the windows' users"):
        train_reward_model(_model(), data, batches="users")
    with pytest.raises(ValueError, match="batches must be one of"):
        train_reward_model(_model(), w, batches="rows")
