"""Stage-1 objectives: offline IQ-Learn (MTRec Problem 6, "IRL" ablation) and QR-IQL (Algorithm 1; mtrec_method.md §4).

Pure functions of tensors, one row per logged transition ``(s, a, s')`` (``T`` rows): the atoms
``λ_j(s, a)`` of the *taken* action (or their mean ``Q(s, a)``), the soft values ``V*(s)`` and
``V*(s')`` (computed from the same network, so the gradient reaches every atom through them unless
``stop_grad`` says otherwise) and a terminal mask (``V*(s') := 0`` there, IQ-Learn's convention).
Both return a LOSS to minimise: the mean over the ``T`` rows.

**IQ-Learn, offline, χ² regulariser** (mtrec_method.md §4). With ``ψ(x) = x − x²/(4α)`` and
``V' = (1 − terminal) · V*(s')`` the objective of one row is ``ψ(Q − γV') − (V − γV')``; the loss
is its negative, which expands exactly to::

    ℓ_IQ = −(Q − V) + (Q − γV')² / (4α)          (log-likelihood of a, plus a reward penalty)

**QR-IQL** (Algorithm 1). For each head ``j``: ``u1_j = λ_j − V`` and ``u2_j = λ_j − γV'``, and::

    ℓ_QR = Σ_j [ p_τj(σ·u1_j) + w · p_τj(σ·u2_j) ]

with ``p`` the pinball loss (or, option ``u2_form="squared"``, its squared form ``e`` on the
second term), ``σ = −1`` for ``sign="target_minus_pred"`` (QR-DQN's residual, so head ``j``
estimates the ``τ_j``-quantile; default) and ``σ = +1`` for ``"pred_minus_target"`` (the residuals
as written; the midpoint levels are symmetric, ``p_τ(−u) = p_{1−τ}(u)``, so this gives the same
loss with the heads in reverse order), and ``w = 1/(4α)`` (``u2_weight="alpha"``, default) or 1.

**The reduction** (``N = 1``, ``u2_form="squared"``, ``u2_weight="alpha"``): ``τ_1 = 1/2`` and
``λ_1 = Q``. ``V = logsumexp_a Q(s, a) > Q(s, a)``, so ``u1 < 0`` and ``p_{1/2}(σ·u1) =
|u1|/2 = −(Q − V)/2`` for either sign; ``e_{1/2}(σ·u2) = u2²/2 = (Q − γV')²/2``. Hence::

    ℓ_QR = −(Q − V)/2 + (1/(4α)) · (Q − γV')²/2 = ℓ_IQ / 2

exactly (no additive constant; the factor 1/2 is the pinball's ``τ = 1/2``), for the value and
for the gradient with respect to every atom. It needs ``V ≥ Q`` (true for soft values computed by
:meth:`RewardModel.soft_value`, not for arbitrary inputs). With ``u2_weight="one"`` the same
identity holds for ``α = 1/4``.
"""
from __future__ import annotations

import torch

from .quantiles import pinball, quantile_levels, squared

#: the χ² regulariser's α (stated by the paper)
ALPHA = 0.5
#: the discount (the paper does not say; IQ-Learn's default)
GAMMA = 0.99
SIGNS = ("target_minus_pred", "pred_minus_target")
U2_FORMS = ("pinball", "squared")
U2_WEIGHTS = ("alpha", "one")
STOP_GRADS = ("none", "next", "both")


def chi2(x: torch.Tensor, alpha: float = ALPHA) -> torch.Tensor:
    """The χ² regulariser ``ψ(x) = x − x² / (4α)`` (IQ-Learn, as MTRec uses it)."""
    return x - x * x / (4 * alpha)


def _values(v: torch.Tensor, v_next: torch.Tensor, terminal: torch.Tensor, stop_grad: str):
    """``(V, V')`` with the stop-gradient choice applied and ``V' = 0`` at terminal rows."""
    if stop_grad not in STOP_GRADS:
        raise ValueError(f"stop_grad must be one of {STOP_GRADS}, got {stop_grad!r}")
    if stop_grad in ("next", "both"):
        v_next = v_next.detach()
    if stop_grad == "both":
        v = v.detach()
    v_next = torch.where(terminal.bool(), torch.zeros_like(v_next), v_next)  # (T,)
    return v, v_next


def iq_learn_loss(q: torch.Tensor, v: torch.Tensor, v_next: torch.Tensor, terminal: torch.Tensor,
                  gamma: float = GAMMA, alpha: float = ALPHA, stop_grad: str = "none") -> torch.Tensor:
    """Offline IQ-Learn with χ² regulariser, as a loss: mean of ``−ψ(Q − γV') + (V − γV')``.

    ``q [T]``: ``Q(s, a)`` of the taken action; ``v [T]``: ``V*(s)``; ``v_next [T]``: ``V*(s')``;
    ``terminal [T]`` bool: ``V*(s')`` is replaced by 0 there. The paper's "IRL" ablation.
    """
    v, v_next = _values(v, v_next, terminal, stop_grad)                     # (T,), (T,)
    target = gamma * v_next                                                 # (T,)
    return (-chi2(q - target, alpha) + (v - target)).mean()


def qr_iql_loss(atoms: torch.Tensor, v: torch.Tensor, v_next: torch.Tensor, terminal: torch.Tensor,
                gamma: float = GAMMA, alpha: float = ALPHA, sign: str = "target_minus_pred",
                u2_form: str = "pinball", u2_weight: str | float = "alpha",
                stop_grad: str = "none") -> torch.Tensor:
    """QR-IQL's loss (Algorithm 1): mean over rows of ``Σ_j [p_τj(σ·u1_j) + w·p_τj(σ·u2_j)]``.

    ``atoms [T, N]``: ``λ_j(s, a)`` of the taken action; ``v, v_next, terminal [T]`` as in
    :func:`iq_learn_loss`. Options: see the module docstring.
    """
    if sign not in SIGNS:
        raise ValueError(f"sign must be one of {SIGNS}, got {sign!r}")
    if u2_form not in U2_FORMS:
        raise ValueError(f"u2_form must be one of {U2_FORMS}, got {u2_form!r}")
    if isinstance(u2_weight, str):
        if u2_weight not in U2_WEIGHTS:
            raise ValueError(f"u2_weight must be one of {U2_WEIGHTS} or a number, got {u2_weight!r}")
        w = 1.0 / (4 * alpha) if u2_weight == "alpha" else 1.0
    else:
        w = float(u2_weight)
    v, v_next = _values(v, v_next, terminal, stop_grad)                     # (T,), (T,)
    tau = quantile_levels(atoms.shape[-1], dtype=atoms.dtype, device=atoms.device)  # (N,)
    s = -1.0 if sign == "target_minus_pred" else 1.0
    u1 = atoms - v[:, None]                                                 # (T, N)
    u2 = atoms - gamma * v_next[:, None]                                    # (T, N)
    second = squared if u2_form == "squared" else pinball
    per_head = pinball(s * u1, tau) + w * second(s * u2, tau)               # (T, N)
    return per_head.sum(dim=1).mean()
