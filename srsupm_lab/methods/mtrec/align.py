"""The stage-2 alignment loss L_align = −E[F·r_P + (1−F)·r_N] (MTRec Algorithm 2, stage 2; mtrec_method.md §6).

``F = F_ζ(i | h)`` is the recommender's probability that the user responds positively to item
``i`` after history ``h``; ``r*`` the frozen reward model's precomputed rewards
(:meth:`.reward_model.RewardModel.rewards`, ``[M, 1 + K, 2]``: the target then ``K`` negatives,
``[a_P, a_N]`` on the last axis). Since ``∂L/∂F = −(r_P − r_N)``, raising ``F`` on a candidate
whose positive response is worth more than a skip lowers the loss.

A next-item recommender (SASRec-CE, GRU4Rec) has no ``F`` of its own; :func:`response_probability`
defines it from the scores ``s_i = <h, e_i>`` (the paper does not say; mtrec_method.md §6):

* ``"sigmoid"`` (default): ``F = σ(s_i)``, the score read as the logit of a positive response,
  as in BCE-with-sampled-negatives training (SASRec's own recipe);
* ``"softmax"``: ``F = softmax_i(s)`` over the items ``1..N``, the CE model's probability that
  ``i`` is the next item (small for every item when N is large, so L_align is weaker);
* ``"listwise"``: ``F = softmax_c(s)`` over the window's own candidates (the target and its
  negatives). Adding one constant to every score of a user leaves it unchanged, so L_align can
  only be lowered by ordering the candidates, not by raising the level of all scores: under a
  softmax-trained recommender the level of ``s`` is free, and with ``"sigmoid"`` a reward whose
  ``r_P − r_N`` is positive for every candidate is served by raising every score.

Normalising ``r*`` (the paper does not say): ``"none"`` or ``"zscore"`` (default): one mean and
one standard deviation over every entry of the training set's ``r*`` (both actions, all
candidates). A shared affine map only rescales ``∂L/∂F`` by ``1/σ`` (the mean cancels because
``F + (1 − F) = 1``), so it makes ``β`` independent of the rewards' arbitrary scale.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

RESPONSES = ("sigmoid", "softmax", "listwise")
NORMALISATIONS = ("none", "zscore")
#: the weight of L_align (the paper does not say)
BETA = 1.0


def response_probability(scores: torch.Tensor, items: torch.Tensor, form: str = "sigmoid") -> torch.Tensor:
    """``F(i | h)`` of the candidates ``items [B, C]`` from full scores ``[B, N+1]`` (column 0 = padding)."""
    if form not in RESPONSES:
        raise ValueError(f"response_probability: form must be one of {RESPONSES}, got {form!r}")
    if form == "sigmoid":
        return torch.sigmoid(scores.gather(1, items))                           # (B, C)
    if form == "listwise":
        return torch.softmax(scores.gather(1, items), dim=1)                    # (B, C), rows sum to 1
    log_p = F.log_softmax(scores[:, 1:], dim=1)                                  # (B, N), padding left out
    return log_p.gather(1, items - 1).exp()                                      # (B, C)


def reward_stats(rewards: torch.Tensor, mode: str = "zscore") -> tuple[float, float]:
    """``(shift, scale)`` for :func:`normalise_rewards` from the training set's ``r*`` (any shape)."""
    if mode not in NORMALISATIONS:
        raise ValueError(f"reward_stats: mode must be one of {NORMALISATIONS}, got {mode!r}")
    if mode == "none":
        return 0.0, 1.0
    return float(rewards.mean()), float(rewards.std().clamp_min(1e-12))


def normalise_rewards(rewards: torch.Tensor, stats: tuple[float, float]) -> torch.Tensor:
    """``(r* − shift) / scale`` with ``stats`` from :func:`reward_stats` on the training set."""
    shift, scale = stats
    return (rewards - shift) / scale


def align_loss(prob: torch.Tensor, rewards: torch.Tensor, beta: float = BETA) -> torch.Tensor:
    """``β · L_align = −β · mean(F · r_P + (1 − F) · r_N)``; ``prob [...]``, ``rewards [..., 2]``."""
    r_pos, r_neg = rewards[..., 0], rewards[..., 1]                              # (...), (...)
    return -beta * (prob * r_pos + (1 - prob) * r_neg).mean()
