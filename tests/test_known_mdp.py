"""Stage 1 on an MDP with a known answer: the expert, its transitions and the recovery measures against
independent references (a float64 loop of the soft Bellman equation, exact shaping, sampling frequencies)."""
import math

import numpy as np
import pytest
import torch

from srsupm_lab.analysis.known_mdp import (expert_transitions, fit_stage1, random_mdp, recovery,
                                           shaping_residual, soft_optimal)


def test_soft_optimal_satisfies_the_soft_bellman_equation_elementwise():
    mdp = random_mdp(n_states=4, n_actions=3, gamma=0.8, seed=5)
    Q, V, pi = soft_optimal(mdp)
    P, r = mdp.P.numpy(), mdp.r.numpy()
    for s in range(4):
        assert V[s].item() == pytest.approx(math.log(sum(math.exp(Q[s, a].item()) for a in range(3))), abs=1e-10)
        for a in range(3):
            expected = r[s, a] + 0.8 * sum(P[s, a, t] * V[t].item() for t in range(4))
            assert Q[s, a].item() == pytest.approx(expected, abs=1e-9)
            assert pi[s, a].item() == pytest.approx(math.exp(Q[s, a].item() - V[s].item()), abs=1e-12)


def test_expert_transitions_follow_the_policy_and_the_dynamics():
    mdp = random_mdp(n_states=3, n_actions=2, seed=1)
    _, _, pi = soft_optimal(mdp)
    data = expert_transitions(mdp, pi, n_episodes=4000, horizon=10, seed=0)
    assert len(data["s"]) == 40_000 and not data["terminal"].any()
    for s in range(3):
        at_s = data["s"] == s
        freq = torch.bincount(data["a"][at_s], minlength=2).double() / at_s.sum()
        assert torch.allclose(freq, pi[s], atol=0.02)
        moved = (data["s"] == s) & (data["a"] == 0)
        freq_next = torch.bincount(data["s_next"][moved], minlength=3).double() / moved.sum()
        assert torch.allclose(freq_next, mdp.P[s, 0], atol=0.03)


def test_shaping_residual_is_zero_for_a_shaped_reward_only():
    mdp = random_mdp(n_states=5, n_actions=3, gamma=0.9, seed=2)
    c = torch.from_numpy(np.random.default_rng(0).normal(size=5))
    shaped = mdp.r + c[:, None] - 0.9 * mdp.P @ c                # r + c(s) − γ E[c(s')]
    w = torch.ones(5, 3, dtype=torch.float64)
    assert shaping_residual(shaped, mdp.r, mdp, w) < 1e-10
    other = mdp.r.clone()
    other[0, 0] += 1.0                                           # one pair's reward changed: no potential explains it
    assert shaping_residual(other, mdp.r, mdp, w) > 0.05


@pytest.fixture(scope="module")
def small():
    mdp = random_mdp(n_states=5, n_actions=3, gamma=0.9, seed=3)
    _, _, pi = soft_optimal(mdp)
    return mdp, pi, expert_transitions(mdp, pi, n_episodes=600, horizon=10, seed=3)


def test_iq_learn_with_a_weak_penalty_recovers_the_expert_and_the_reward_up_to_shaping(small):
    mdp, pi, data = small
    Q = fit_stage1(data, 5, 3, mdp.gamma, "iq", alpha=1000.0, steps=1500)
    rec = recovery(Q, mdp, pi, data)
    assert rec["kl"] < 0.05 * rec["kl_uniform"]                  # the sample's own noise is the floor
    assert rec["shaping_residual"] < 0.15 * rec["reward_sd"]


def test_the_chi2_penalty_at_the_papers_alpha_shrinks_the_policy(small):
    mdp, pi, data = small
    weak = recovery(fit_stage1(data, 5, 3, mdp.gamma, "iq", alpha=1000.0, steps=1500), mdp, pi, data)
    paper = recovery(fit_stage1(data, 5, 3, mdp.gamma, "iq", alpha=0.5, steps=1500), mdp, pi, data)
    assert weak["kl"] < paper["kl"] < paper["kl_uniform"]


def test_qr_iql_with_one_squared_atom_lands_where_iq_learn_does(small):
    """ℓ_QR = ℓ_IQ / 2 in that setting (mtrec_method.md §4), so both reach the same table."""
    mdp, pi, data = small
    q_iq = fit_stage1(data, 5, 3, mdp.gamma, "iq", alpha=0.5, steps=1500)
    q_qr = fit_stage1(data, 5, 3, mdp.gamma, "qr", n_quantiles=1, u2_form="squared", alpha=0.5, steps=1500)
    assert torch.allclose(torch.softmax(q_iq, 1), torch.softmax(q_qr, 1), atol=2e-3)


def test_bad_settings_get_one_line():
    with pytest.raises(ValueError, match="gamma"):
        random_mdp(gamma=1.0)
    with pytest.raises(ValueError, match="objective"):
        fit_stage1({}, 2, 2, 0.9, "bc")
