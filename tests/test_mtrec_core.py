"""MTRec's core (srsupm_lab/methods/mtrec): each function against an independent reference.

References are plain-Python floats (``math``) or per-sample loops written here, never the
module's own functions; the behavioural test trains a tiny reward model on a toy log.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from srsupm_lab.backbones import build_backbone
from srsupm_lab.data.dataset import SequenceDataset
from srsupm_lab.data.windows import leave_one_out
from srsupm_lab.methods.mtrec import (A_N, A_P, RewardModel, align_loss, iq_learn_loss, next_window_index,
                                     normalise_rewards, pinball, qr_iql_loss, quantile_levels,
                                     response_probability, reward_stats, squared, train_reward_model)

pytestmark = pytest.mark.usefixtures("one_thread")


def _windows(sequences, n_items=7, max_len=5):
    ds = SequenceDataset("toy", [np.asarray(s) for s in sequences], [frozenset()] * (n_items + 1), [])
    return leave_one_out(ds, max_len=max_len, history=False).train


def _model(seed=0, **options):
    torch.manual_seed(seed)
    bb = build_backbone("gru4rec", n_items=7, dim=8, max_len=5)
    bb.length_groups = 1                                    # tiny batches: one padded group is fastest
    return RewardModel(bb, **options)


# ---------------------------------------------------------------- quantiles
def test_quantile_levels_are_the_midpoints():
    assert quantile_levels(4).tolist() == [0.125, 0.375, 0.625, 0.875]
    assert quantile_levels(1).tolist() == [0.5]
    with pytest.raises(ValueError):
        quantile_levels(0)


def test_pinball_and_squared_against_hand_values():
    u = torch.tensor([2.0, -2.0, 0.0, -0.5], dtype=torch.float64)
    tau = torch.tensor(0.25, dtype=torch.float64)
    assert pinball(u, tau).tolist() == [0.5, 1.5, 0.0, 0.375]            # 2·.25, −2·(−.75), 0, −.5·(−.75)
    assert squared(u, tau).tolist() == [1.0, 3.0, 0.0, 0.1875]           # .25·4, .75·4, 0, .75·.25
    half = torch.tensor(0.5, dtype=torch.float64)
    assert pinball(u, half).tolist() == [1.0, 1.0, 0.0, 0.25]            # |u|/2
    assert squared(u, half).tolist() == [2.0, 2.0, 0.0, 0.125]           # u²/2


def test_pinball_minimiser_is_the_quantile():
    y = torch.arange(1, 101, dtype=torch.float64)                        # 1..100
    grid = torch.linspace(0, 101, 1011, dtype=torch.float64)
    risk = pinball(y[None, :] - grid[:, None], torch.tensor(0.1, dtype=torch.float64)).mean(1)
    assert 10.0 <= float(grid[risk.argmin()]) <= 11.0                   # the 10 % quantile


# ---------------------------------------------------------------- objectives
def _hand_iq(x, y, act, term, gamma, alpha):
    """Plain-float IQ-Learn loss ℓ = mean[−(Q_a − V) + (Q_a − γV')²/(4α)] and its gradients."""
    B = len(x)
    loss, gx, gy = 0.0, [[0.0, 0.0] for _ in x], [[0.0, 0.0] for _ in x]
    for b in range(B):
        a, o = act[b], 1 - act[b]
        V = math.log(math.exp(x[b][0]) + math.exp(x[b][1]))
        Vn = math.log(math.exp(y[b][0]) + math.exp(y[b][1]))
        m = 0.0 if term[b] else 1.0
        R = x[b][a] - gamma * m * Vn
        loss += (-(x[b][a] - V) + R * R / (4 * alpha)) / B
        gx[b][a] = (-1 + math.exp(x[b][a] - V) + 2 * R / (4 * alpha)) / B
        gx[b][o] = math.exp(x[b][o] - V) / B
        for c in range(2):
            gy[b][c] = -2 * R / (4 * alpha) * gamma * m * math.exp(y[b][c] - Vn) / B
    return loss, gx, gy


X = [[0.3, -1.2], [1.5, 0.4], [-0.7, 0.9], [0.2, 0.2]]
Y = [[0.8, -0.3], [-1.0, 2.0], [0.5, 0.1], [1.1, -0.6]]
ACT, TERM = [0, 1, 0, 1], [False, False, True, False]


def _tensors():
    x = torch.tensor(X, dtype=torch.float64)[..., None].requires_grad_()   # (B, 2, 1) atoms at s
    y = torch.tensor(Y, dtype=torch.float64)[..., None].requires_grad_()   # (B, 2, 1) atoms at s'
    v = torch.logsumexp(x.mean(-1), -1)
    vn = torch.logsumexp(y.mean(-1), -1)
    taken = x[torch.arange(4), torch.tensor(ACT)]                          # (B, 1)
    return x, y, taken, v, vn, torch.tensor(TERM)


def test_iq_learn_loss_matches_the_hand_computation():
    x, y, taken, v, vn, term = _tensors()
    loss = iq_learn_loss(taken[:, 0], v, vn, term, gamma=0.9, alpha=0.5)
    loss.backward()
    ref, gx, gy = _hand_iq(X, Y, ACT, TERM, 0.9, 0.5)
    assert float(loss.detach()) == pytest.approx(ref, abs=1e-12)
    assert torch.allclose(x.grad[..., 0], torch.tensor(gx, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(y.grad[..., 0], torch.tensor(gy, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("sign", ["target_minus_pred", "pred_minus_target"])
def test_qr_iql_with_one_quantile_and_squared_form_is_half_iq_learn(sign):
    """The reduction: N = 1, u2 squared, w = 1/(4α)  =>  ℓ_QR = ℓ_IQ / 2 (value and gradient)."""
    x, y, taken, v, vn, term = _tensors()
    loss = qr_iql_loss(taken, v, vn, term, gamma=0.9, alpha=0.5, sign=sign, u2_form="squared", u2_weight="alpha")
    loss.backward()
    ref, gx, gy = _hand_iq(X, Y, ACT, TERM, 0.9, 0.5)
    assert float(loss.detach()) == pytest.approx(ref / 2, abs=1e-12)
    assert torch.allclose(x.grad[..., 0], torch.tensor(gx, dtype=torch.float64) / 2, atol=1e-12)
    assert torch.allclose(y.grad[..., 0], torch.tensor(gy, dtype=torch.float64) / 2, atol=1e-12)


def test_unit_u2_weight_is_the_reduction_at_alpha_a_quarter():
    x, y, taken, v, vn, term = _tensors()
    loss = qr_iql_loss(taken, v, vn, term, gamma=0.9, u2_form="squared", u2_weight="one")
    assert float(loss.detach()) == pytest.approx(_hand_iq(X, Y, ACT, TERM, 0.9, 0.25)[0] / 2, abs=1e-12)


def test_sign_only_reverses_the_heads():
    g = torch.Generator().manual_seed(0)
    atoms = torch.randn(5, 4, generator=g, dtype=torch.float64)
    v, vn = torch.randn(5, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64)
    term = torch.tensor([False, True, False, False, True])
    a = qr_iql_loss(atoms, v, vn, term, sign="pred_minus_target")
    b = qr_iql_loss(atoms.flip(-1), v, vn, term, sign="target_minus_pred")
    assert float(a) == pytest.approx(float(b), abs=1e-12)


def test_terminal_rows_ignore_the_next_value():
    atoms = torch.tensor([[0.1, 0.4], [0.3, -0.2]], dtype=torch.float64)
    v = torch.tensor([1.0, 0.9], dtype=torch.float64)
    term = torch.tensor([True, False])
    for fn, arg in ((qr_iql_loss, atoms), (iq_learn_loss, atoms.mean(-1))):
        vn = torch.tensor([5.0, 0.7], dtype=torch.float64, requires_grad=True)
        loss = fn(arg, v, vn, term, gamma=0.9)
        loss.backward()
        assert vn.grad[0] == 0 and vn.grad[1] != 0
        other = fn(arg, v, torch.tensor([-3.0, 0.7], dtype=torch.float64), term, gamma=0.9)
        assert float(loss.detach()) == float(other)


def test_stop_gradient_both_keeps_the_values_out_of_the_gradient():
    x, y, taken, v, vn, term = _tensors()
    qr_iql_loss(taken, v, vn, term, stop_grad="both").backward()
    assert y.grad is None                                                 # V*(s') detached: no path to s'
    other = torch.tensor([1 - a for a in ACT])
    assert float(x.grad[torch.arange(4), other].abs().sum()) == 0.0      # reached only through V*(s)


# ---------------------------------------------------------------- the reward network
@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_soft_value_is_log_sum_exp(temperature):
    m = _model(temperature=temperature).double()
    q = torch.tensor([[0.3, -1.2], [40.0, 39.0], [-2.0, 3.5]], dtype=torch.float64)
    ref = [temperature * math.log(sum(math.exp(a / temperature) for a in row)) for row in q.tolist()]
    assert torch.allclose(m.soft_value(q), torch.tensor(ref, dtype=torch.float64), atol=1e-12)


def test_monotone_heads_ascend():
    m = _model(n_quantiles=5, monotone=True)
    atoms = m(torch.tensor([[0, 0, 1, 2, 3]]), torch.tensor([[4, 5, 6]]))
    assert atoms.shape == (1, 3, 2, 5) and bool((atoms.diff(dim=-1) > 0).all())


def test_next_window_index_on_leave_one_out_windows():
    w = _windows([[1, 2, 3, 4, 5, 6], [7, 6, 5, 4, 3], [2, 4, 6]])     # 3 + 2 + 0 windows
    nxt = next_window_index(w.inputs, w.targets, w.users)
    assert nxt.tolist() == [1, 2, -1, 4, -1]
    with pytest.raises(ValueError):
        order = torch.tensor([1, 0, 2, 3, 4])
        next_window_index(w.inputs[order], w.targets[order], w.users[order])


def _loop_rewards(model, w, negatives, nxt):
    """r*(s, a) one (window, candidate) at a time, V* by math.log(sum(exp)), readings spelled out."""
    def q_of(m, item):
        atoms = model(w.inputs[m:m + 1], torch.tensor([[item]]), w.users[m:m + 1])[0, 0]   # (2, N)
        return atoms.mean(-1).tolist()

    def v_of(m, item):
        return math.log(sum(math.exp(q) for q in q_of(m, item)))

    out = []
    for m in range(len(w)):
        row = []
        t = int(w.targets[m])
        if nxt[m] >= 0:
            pos_next = v_of(int(nxt[m]), int(w.targets[nxt[m]]))
        else:
            pos_next = 0.0 if model.terminal == "zero" else v_of(m, t)
        for c, item in enumerate([t] + negatives[m].tolist()):
            if c == 0 or model.negative_next == "logged_next":
                v_next = pos_next
            elif model.negative_next == "positive":
                v_next = v_of(m, t)
            else:
                v_next = 0.0
            row.append([q - model.gamma * v_next for q in q_of(m, item)])
        out.append(row)
    return torch.tensor(out)


@pytest.mark.parametrize("options", [dict(), dict(negative_next="logged_next", terminal="self"),
                                     dict(negative_next="terminal", state="append")])
def test_rewards_equal_a_per_sample_recomputation(options):
    w = _windows([[1, 2, 3, 4, 5, 6, 7], [7, 6, 5, 4, 3], [2, 4, 6, 1]])
    model = _model(n_quantiles=3, gamma=0.9, **options)
    negatives = torch.tensor([[3, 7], [1, 2], [5, 6], [4, 6], [1, 1], [7, 3], [2, 5]])[:len(w)]
    r = model.rewards(w, negatives=negatives, batch_size=3)
    assert r.shape == (len(w), 3, 2) and model.training               # eval inside, mode restored
    model.eval()
    with torch.no_grad():
        ref = _loop_rewards(model, w, negatives, next_window_index(w.inputs, w.targets, w.users))
    assert torch.allclose(r, ref, atol=1e-5)


def test_terminal_reward_is_q():
    w = _windows([[1, 2, 3, 4, 5]])                                        # 2 windows; the second is terminal
    model = _model(gamma=0.9)
    r = model.rewards(w)
    model.eval()
    with torch.no_grad():
        q = model(w.inputs[1:], w.targets[1:, None], w.users[1:]).mean(-1)[0, 0]   # (2,)
    assert torch.allclose(r[1, 0], q, atol=1e-6)


def test_stage_one_learns_that_item_5_is_taken_and_item_3_skipped():
    g = np.random.default_rng(0)
    pool = np.array([1, 2, 4, 6, 7])
    seqs = [np.where(g.random(9) < 0.5, 5, g.choice(pool, 9)) for _ in range(12)]   # 5 often taken, 3 never
    w = _windows(seqs)
    negatives = torch.full((len(w), 1), 3)                                # 3 is always the skipped item
    model = _model(n_quantiles=4, gamma=0.9)
    losses = train_reward_model(model, w, epochs=60, batch_size=16, lr=1e-2, negatives=negatives, seed=0)   # 300 steps
    assert losses[-1] < losses[0]
    r = model.rewards(w, negatives=torch.tensor([[5, 3]]).expand(len(w), 2))
    r5, r3 = r[:, 1, A_P], r[:, 2, A_P]
    assert float(r5.mean()) > float(r3.mean()) and float((r5 > r3).float().mean()) > 0.9
    assert float(r[:, 2, A_N].mean()) > float(r3.mean())                 # on 3, a skip is worth more


def test_training_is_deterministic_under_a_seed():
    w = _windows([[1, 2, 3, 4, 5, 6, 7], [7, 6, 5, 4, 3]])
    a, b = _model(), None
    b = copy.deepcopy(a)
    la = train_reward_model(a, w, epochs=2, batch_size=2, lr=1e-2, n_negatives=2, seed=3)
    lb = train_reward_model(b, w, epochs=2, batch_size=2, lr=1e-2, n_negatives=2, seed=3)
    assert la == lb and len(la) == 2
    li = train_reward_model(_model(n_quantiles=1), w, epochs=1, batch_size=4, objective="iq_learn")
    assert len(li) == 1 and math.isfinite(li[0])


# ---------------------------------------------------------------- alignment
def test_raising_f_where_taking_is_worth_more_lowers_the_loss():
    rewards = torch.tensor([[[1.0, -0.5], [0.2, 0.8]]])                   # (1, 2, 2): r_P > r_N, then r_P < r_N
    logits = torch.zeros(1, 2, requires_grad=True)
    loss = align_loss(torch.sigmoid(logits), rewards, beta=1.0)
    loss.backward()
    assert logits.grad[0, 0] < 0 < logits.grad[0, 1]
    step = torch.tensor([[0.5, 0.0]])
    assert float(align_loss(torch.sigmoid(logits.detach() + step), rewards)) < float(loss.detach())
    # value: −mean(F r_P + (1 − F) r_N) with F = 1/2
    assert float(loss.detach()) == pytest.approx(-(0.5 * 1.0 + 0.5 * -0.5 + 0.5 * 0.2 + 0.5 * 0.8) / 2)


def test_response_probability_forms():
    scores = torch.tensor([[9.0, 1.0, 2.0, 0.0]])                          # column 0 = padding
    items = torch.tensor([[2, 3]])
    assert torch.allclose(response_probability(scores, items), torch.tensor([[1 / (1 + math.exp(-2.0)), 0.5]]))
    z = math.exp(1.0) + math.exp(2.0) + 1.0
    ref = torch.tensor([[math.exp(2.0) / z, 1.0 / z]])
    assert torch.allclose(response_probability(scores, items, "softmax"), ref)
    listwise = response_probability(scores, items, "listwise")             # softmax over the candidates 2, 3
    assert torch.allclose(listwise, torch.tensor([[math.exp(2.0) / (math.exp(2.0) + 1.0), 1.0 / (math.exp(2.0) + 1.0)]]))


def test_listwise_alignment_ignores_a_per_user_shift_and_the_sigmoid_does_not():
    """The failed positive control's cause: with r_P − r_N > 0 for every candidate, raising every score lowers
    the sigmoid form's L_align; the listwise form is unchanged by it, and only reordering lowers it."""
    scores = torch.tensor([[0.0, 0.5, -0.2, 0.1], [0.0, 1.0, 0.3, -0.4]])
    items = torch.tensor([[1, 2, 3], [1, 2, 3]])
    rewards = torch.tensor([[[0.9, 0.0], [0.2, 0.0], [0.5, 0.0]]] * 2)    # every r_P − r_N > 0
    shift = torch.tensor([[0.0], [3.0]])                                   # user 2's scores all raised
    for form, moves in (("sigmoid", True), ("listwise", False)):
        before = float(align_loss(response_probability(scores, items, form), rewards))
        after = float(align_loss(response_probability(scores + shift, items, form), rewards))
        assert (after < before - 1e-6) is moves
    better = scores.clone()
    better[:, 1] += 1.0                                                    # the best candidate raised alone
    assert float(align_loss(response_probability(better, items, "listwise"), rewards)) < \
        float(align_loss(response_probability(scores, items, "listwise"), rewards))


def test_zscore_only_rescales_the_alignment_gradient():
    r = torch.tensor([[[2.0, 1.0], [0.0, 4.0]], [[3.0, -1.0], [1.0, 1.0]]])
    shift, scale = reward_stats(r, "zscore")
    assert shift == pytest.approx(float(np.mean(r.numpy()))) and scale == pytest.approx(float(np.std(r.numpy(), ddof=1)))
    assert reward_stats(r, "none") == (0.0, 1.0)
    grads = []
    for rr in (r, normalise_rewards(r, (shift, scale))):
        p = torch.full((2, 2), 0.3, requires_grad=True)
        align_loss(p, rr).backward()
        grads.append(p.grad)
    assert torch.allclose(grads[1] * scale, grads[0], atol=1e-6)
