"""The numbers that say whether SRSUPM's K branches separate and how much α knows of the level (method.md §3–§5).

Pure functions of tensors, used by the per-epoch engagement measure (:mod:`.engagement`) and, above the
methods, by the analysis (:mod:`srsupm_lab.analysis.branches`, which presents them).

=============================  =====================================================================
:func:`check_levels`            PMSA levels as an (M,) long tensor in 0..K−1, checked
:func:`branch_similarity`       mean cosine between the K branches ẑ_k (collapse without PMSID)
:func:`level_information`       nats of the PMSA level that α carries, beyond the level frequencies
=============================  =====================================================================
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["check_levels", "branch_similarity", "level_information"]


def check_levels(levels, M: int, K: int) -> torch.Tensor:
    """``levels`` as an (M,) long tensor on the CPU, each in 0..K−1 (raises with the shape or range otherwise)."""
    lv = torch.as_tensor(levels).long().cpu()
    if lv.shape != (M,):
        raise ValueError(f"levels must have shape ({M},) (one PMSA level per window), got {tuple(lv.shape)}")
    if M and (int(lv.min()) < 0 or int(lv.max()) >= K):
        raise ValueError(f"levels must lie in 0..{K - 1}, got {int(lv.min())}..{int(lv.max())}")
    return lv


def branch_similarity(Z) -> np.ndarray:
    """Mean cosine similarity between branches: (K, K) with entry (k, m) = mean_b cos(ẑ_bk, ẑ_bm).

    ``Z`` is (M, K, d) (:func:`srsupm_lab.analysis.shift.shift_representations`). Near 1 off the diagonal: the K branches
    say the same thing (collapse), as expected when nothing (no PMSID, method.md §5) separates
    them. Computed in float64 with one batched Gram product.
    """
    z = torch.as_tensor(Z).detach().cpu().double()
    if z.dim() != 3:
        raise ValueError(f"Z must be (M, K, d), got shape {tuple(z.shape)}")
    u = torch.nn.functional.normalize(z, dim=2)                                 # (M, K, d)
    return torch.einsum("bkd,bmd->km", u, u).div(z.shape[0]).numpy()          # (K, K)


def level_information(alpha, levels, max_iter: int = 200) -> dict:
    """How many nats of the PMSA level the shift distributions α carry (method.md §5, Eq. 9).

    ``alpha`` (M, K) from :func:`srsupm_lab.analysis.shift.shift_distributions`, ``levels`` (M,) the windows' PMSA levels.
    L_PMSID alone mixes two things: the *scale* of the logits ⟨e_v, ẑ_k⟩/√d and what they *say*.
    This separates them by recalibrating α the way a temperature-and-bias fit does: with
    ``a = log α`` (equal to the logits up to a per-window constant, which a softmax ignores),

    * ``loss`` — L_PMSID as trained, −mean log α_l;
    * ``entropy`` — H of the level frequencies: the loss of a model that knows only how common
      each level is (what α = the frequencies would score);
    * ``calibrated`` — min over a scale s ≥ 0 and a bias b ∈ R^K of −mean log softmax(s·a + b)_l
      (convex; float64 L-BFGS); ``best_scale`` is that s (> 1: α is too flat for what it knows;
      0: α says nothing the frequencies do not);
    * ``information`` — ``entropy − calibrated`` ≥ 0: nats about the level beyond its frequencies
      (0: α is no better than the frequencies; ``entropy``: α determines the level);
    * ``accuracy`` — share of windows whose argmax α is their level; ``majority`` — that of always
      answering the most common level.
    """
    a = torch.as_tensor(alpha).detach().cpu().double()
    if a.dim() != 2 or a.shape[0] == 0:
        raise ValueError(f"alpha must be (M, K) with M >= 1, got shape {tuple(a.shape)}")
    M, K = a.shape
    lv = check_levels(levels, M, K)
    a = a.clamp_min(torch.finfo(torch.float32).tiny).log()                     # (M, K) log α
    freq = torch.bincount(lv, minlength=K).double() / M                         # (K,)
    entropy = float(-(freq[freq > 0] * freq[freq > 0].log()).sum())
    scale = torch.ones((), dtype=torch.float64, requires_grad=True)
    bias = freq.clamp_min(1e-12).log().clone().requires_grad_(True)            # start at the frequencies
    opt = torch.optim.LBFGS([scale, bias], max_iter=max_iter, line_search_fn="strong_wolfe")

    def objective():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(a * scale + bias, lv)
        loss.backward()
        return loss

    opt.step(objective)                               # convex in (s, b): L-BFGS finds the optimum
    with torch.no_grad():
        calibrated = float(torch.nn.functional.cross_entropy(a * scale + bias, lv))
    best_scale = float(scale.detach())
    if best_scale <= 0 or calibrated > entropy:       # s = 0 with b = log freq scores the entropy
        calibrated, best_scale = entropy, 0.0
    return {"loss": float(-a.gather(1, lv.unsqueeze(1)).mean()), "entropy": entropy, "calibrated": calibrated,
            "information": entropy - calibrated, "best_scale": best_scale,
            "accuracy": float((a.argmax(dim=1) == lv).double().mean()), "majority": float(freq.max())}
