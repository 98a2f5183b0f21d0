"""Does stage 1 recover a reward it could know? IQ-Learn and QR-IQL on a small MDP with a known answer.

MTRec's stage 1 (mtrec_method.md §4; :mod:`srsupm_lab.methods.mtrec.iql`) learns ``Q`` from logged
transitions of an expert, reads the policy ``π_Q = softmax(Q)`` and the reward
``r̂(s, a) = Q(s, a) − γ E_{s'}[V(s')]``. On a recommendation log nothing says what the right
reward was. Here everything is known: a random tabular MDP (``S`` states, ``A`` actions,
transitions ``P[s, a, s']``, reward ``r[s, a]``), its soft-optimal expert (soft value iteration,
temperature 1: ``Q_E = r + γ P V_E``, ``V_E = logsumexp_a Q_E``, ``π_E = softmax_a Q_E``), and
transitions sampled from that expert. Stage 1 is fitted on a table of atoms ``λ_j(s, a)`` with
``V(s) = logsumexp_a Q(s, a)``, exactly as :class:`~srsupm_lab.methods.mtrec.reward_model.RewardModel`
combines its atoms, and its losses come from :mod:`~srsupm_lab.methods.mtrec.iql` unchanged.

What "recovered" means. ``π_Q`` determines ``Q`` only up to a per-state constant ``c(s)``, and
then ``r̂ = r + c − γ P c``: the reward up to potential-based shaping (Ng et al., 1999). So the
checks are the visitation-weighted ``KL(π_E ‖ π_Q)`` and the part of ``r̂ − r`` that no potential
explains (:func:`shaping_residual`, a least-squares fit of ``c``), on the state–action pairs the
expert visits.

The χ² regulariser ``ψ(x) = x − x²/(4α)`` adds ``(Q − γV')²/(4α)`` to the loss: a pull of the
implied reward towards 0, so at the paper's ``α = 0.5`` the recovered policy is the expert's
shrunk towards uniform; as ``α`` grows, offline IQ-Learn approaches the maximum-likelihood
policy, which is ``π_E`` on visited states. :func:`ablation` measures the 2 × 2 of MTRec's
distributional choice (``N`` ∈ {1, 10} atoms) × the penalty's form (the pinball form, an L1
penalty on ``u2``; the squared form, IQ-Learn's L2), which "MTRec against IRL" changes at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..methods.mtrec.iql import iq_learn_loss, qr_iql_loss

__all__ = ["KnownMDP", "random_mdp", "soft_optimal", "expert_transitions", "fit_stage1", "recovery",
           "shaping_residual", "ablation"]


@dataclass(frozen=True)
class KnownMDP:
    """A tabular MDP: ``P [S, A, S]`` (rows sum to 1), ``r [S, A]``, discount ``gamma``, start ``rho [S]``."""
    P: torch.Tensor
    r: torch.Tensor
    gamma: float
    rho: torch.Tensor

    @property
    def n_states(self) -> int:
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        return self.P.shape[1]


def random_mdp(n_states: int = 8, n_actions: int = 3, gamma: float = 0.9, seed: int = 0,
               concentration: float = 0.5, reward_scale: float = 1.0) -> KnownMDP:
    """A random MDP: Dirichlet(``concentration``) transitions, N(0, ``reward_scale``²) rewards, uniform start."""
    if n_states < 1 or n_actions < 2 or not 0.0 <= gamma < 1.0:
        raise ValueError(f"random_mdp: needs n_states >= 1, n_actions >= 2 and 0 <= gamma < 1, got "
                         f"{n_states}, {n_actions}, {gamma}")
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.full(n_states, concentration), size=(n_states, n_actions))
    r = rng.normal(0.0, reward_scale, size=(n_states, n_actions))
    return KnownMDP(torch.from_numpy(P), torch.from_numpy(r), float(gamma),
                    torch.full((n_states,), 1.0 / n_states, dtype=torch.float64))


def soft_optimal(mdp: KnownMDP, tol: float = 1e-12, max_iter: int = 100_000):
    """Soft value iteration (temperature 1): ``(Q_E [S, A], V_E [S], π_E [S, A])``, float64."""
    V = torch.zeros(mdp.n_states, dtype=torch.float64)
    for _ in range(max_iter):                                  # a contraction: |ΔV| shrinks by γ each sweep
        Q = mdp.r + mdp.gamma * mdp.P @ V                      # (S, A)
        V_new = torch.logsumexp(Q, dim=1)                      # (S,)
        if float((V_new - V).abs().max()) < tol:
            V = V_new
            break
        V = V_new
    Q = mdp.r + mdp.gamma * mdp.P @ V
    return Q, V, torch.softmax(Q, dim=1)


def expert_transitions(mdp: KnownMDP, policy: torch.Tensor, n_episodes: int = 2000, horizon: int = 20,
                       seed: int = 0) -> dict[str, torch.Tensor]:
    """``n_episodes`` rollouts of ``policy`` from ``rho``, ``horizon`` steps each, all episodes at once.

    Returns ``{"s", "a", "s_next", "terminal"}`` (``T = n_episodes · horizon`` rows); the last step of
    each episode is a truncation, not an end, so ``terminal`` is all False (``V(s')`` stays).
    """
    gen = torch.Generator().manual_seed(int(seed))
    s = torch.multinomial(mdp.rho, n_episodes, replacement=True, generator=gen)          # (E,)
    rows = []
    for _ in range(horizon):                                                              # loop over time, not episodes
        a = torch.multinomial(policy[s], 1, generator=gen).squeeze(1)                     # (E,)
        s_next = torch.multinomial(mdp.P[s, a], 1, generator=gen).squeeze(1)              # (E,)
        rows.append((s, a, s_next))
        s = s_next
    s, a, s_next = (torch.cat(x) for x in zip(*rows))
    return {"s": s, "a": a, "s_next": s_next, "terminal": torch.zeros_like(s, dtype=torch.bool)}


def fit_stage1(data: dict, n_states: int, n_actions: int, gamma: float, objective: str = "iq",
               n_quantiles: int = 1, u2_form: str = "pinball", alpha: float = 0.5, steps: int = 3000,
               lr: float = 0.05, seed: int = 0) -> torch.Tensor:
    """Fit a table of atoms ``λ [S, A, N]`` by full-batch Adam on the stage-1 loss; returns ``Q [S, A]``.

    ``objective="iq"``: :func:`~srsupm_lab.methods.mtrec.iql.iq_learn_loss` on ``Q`` (the "IRL" ablation);
    ``"qr"``: :func:`~srsupm_lab.methods.mtrec.iql.qr_iql_loss` on the atoms with ``u2_form``.
    """
    if objective not in ("iq", "qr"):
        raise ValueError(f"fit_stage1: objective must be 'iq' or 'qr', got {objective!r}")
    gen = torch.Generator().manual_seed(int(seed))
    atoms = (0.01 * torch.randn(n_states, n_actions, n_quantiles, generator=gen, dtype=torch.float64)
             ).requires_grad_()
    opt = torch.optim.Adam([atoms], lr=lr)
    s, a, s2, term = data["s"], data["a"], data["s_next"], data["terminal"]
    for _ in range(steps):
        opt.zero_grad()
        Q = atoms.mean(dim=2)                                   # (S, A)
        V = torch.logsumexp(Q, dim=1)                           # (S,)
        if objective == "iq":
            loss = iq_learn_loss(Q[s, a], V[s], V[s2], term, gamma=gamma, alpha=alpha)
        else:
            loss = qr_iql_loss(atoms[s, a], V[s], V[s2], term, gamma=gamma, alpha=alpha, u2_form=u2_form)
        loss.backward()
        opt.step()
    return atoms.detach().mean(dim=2)


def shaping_residual(r_hat: torch.Tensor, r: torch.Tensor, mdp: KnownMDP, weights: torch.Tensor) -> float:
    """The weighted RMS of ``r̂ − r`` that no potential explains: ``min_c ‖(r̂ − r) − (c − γ P c)‖_w``.

    ``c [S]`` is fitted by weighted least squares (``weights [S, A]``, e.g. the expert's visits), so 0
    means ``r̂`` equals ``r`` up to potential-based shaping on the weighted pairs.
    """
    S, A = r.shape
    # (c − γ P c)[s, a] = c[s] − γ Σ_s' P[s, a, s'] c[s'] is linear in c: one row of M per (s, a)
    M = torch.eye(S, dtype=torch.float64)[:, None, :].expand(S, A, S) - mdp.gamma * mdp.P    # (S, A, S)
    w = weights.reshape(-1).sqrt()                                                          # (S·A,)
    X = M.reshape(S * A, S) * w[:, None]
    y = (r_hat - r).reshape(-1) * w
    c = torch.linalg.lstsq(X, y[:, None]).solution                                          # (S, 1)
    resid = y - (X @ c).squeeze(1)
    return float((resid.pow(2).sum() / weights.sum()).sqrt())


def recovery(Q: torch.Tensor, mdp: KnownMDP, pi_expert: torch.Tensor, data: dict) -> dict:
    """How well a fitted ``Q`` recovers the expert: visitation-weighted KL, shaping residual, reward correlation."""
    V = torch.logsumexp(Q, dim=1)
    pi_q = torch.softmax(Q, dim=1)
    S, A = Q.shape
    state_visits = torch.bincount(data["s"], minlength=S).double()
    pair_visits = torch.bincount(data["s"] * A + data["a"], minlength=S * A).double().reshape(S, A)
    kl_s = (pi_expert * (pi_expert.log() - pi_q.log())).sum(dim=1)                          # (S,)
    kl = float((kl_s * state_visits).sum() / state_visits.sum())
    kl_uniform_s = (pi_expert * (pi_expert.log() + np.log(A))).sum(dim=1)
    kl_uniform = float((kl_uniform_s * state_visits).sum() / state_visits.sum())
    r_hat = Q - mdp.gamma * mdp.P @ V                                                       # (S, A)
    seen = pair_visits > 0
    corr = float(np.corrcoef(r_hat[seen].numpy(), mdp.r[seen].numpy())[0, 1])
    return {"kl": kl, "kl_uniform": kl_uniform, "shaping_residual": shaping_residual(r_hat, mdp.r, mdp, pair_visits),
            "reward_sd": float(mdp.r[seen].std()), "reward_corr": corr}


def ablation(seeds=(0, 1, 2), n_states: int = 8, n_actions: int = 3, gamma: float = 0.9,
             n_episodes: int = 2000, horizon: int = 20, alphas=(0.5,), steps: int = 3000) -> pd.DataFrame:
    """The 2 × 2 of atoms (``N`` 1 or 10) × penalty form (pinball = L1, squared = L2), plus IQ-Learn,
    per MDP seed and ``α``: one row each with :func:`recovery`'s columns."""
    rows = []
    for seed in seeds:
        mdp = random_mdp(n_states, n_actions, gamma, seed=seed)
        _, _, pi_e = soft_optimal(mdp)
        data = expert_transitions(mdp, pi_e, n_episodes, horizon, seed=seed)
        for alpha in alphas:
            settings = [("IQ-Learn (N 1, L2)", "iq", 1, "squared")] + [
                (f"QR-IQL (N {n}, {'L1' if form == 'pinball' else 'L2'})", "qr", n, form)
                for n in (1, 10) for form in ("pinball", "squared")]
            for name, objective, n, form in settings:
                Q = fit_stage1(data, n_states, n_actions, gamma, objective, n, form, alpha, steps=steps, seed=seed)
                rows.append({"mdp_seed": seed, "alpha": alpha, "stage1": name, **recovery(Q, mdp, pi_e, data)})
    return pd.DataFrame(rows)
