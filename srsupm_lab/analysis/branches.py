"""Do the K shift branches say different things, and how much does α know of the level? (method.md §3–§5)

A model trained without PMSID (§5) has nothing that separates its K branches: they may collapse
onto one representation, and α then says nothing about the window's PMSA level. These numbers
tell the two apart from a trained SRSUPM model (:mod:`srsupm_lab.analysis.shift` runs it on windows).

=============================  =====================================================================
:func:`branch_similarity`       mean cosine between the K branches ẑ_k (collapse without PMSID)
:func:`branch_diagnostics`      one row of collapse / decomposition numbers per model
:func:`level_information`       nats of the PMSA level that α carries, beyond the level frequencies
=============================  =====================================================================
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .shift import check_levels, shift_representations

__all__ = ["branch_similarity", "branch_diagnostics", "level_information"]


# ----------------------------------------------------------------------------- branch collapse
def branch_similarity(Z) -> np.ndarray:
    """Mean cosine similarity between branches: (K, K) with entry (k, m) = mean_b cos(ẑ_bk, ẑ_bm).

    ``Z`` is (M, K, d) (:func:`shift_representations`). Near 1 off the diagonal: the K branches
    say the same thing (collapse), as expected when nothing (no PMSID, method.md §5) separates
    them. Computed in float64 with one batched Gram product.
    """
    z = torch.as_tensor(Z).detach().cpu().double()
    if z.dim() != 3:
        raise ValueError(f"Z must be (M, K, d), got shape {tuple(z.shape)}")
    u = torch.nn.functional.normalize(z, dim=2)                                 # (M, K, d)
    return torch.einsum("bkd,bmd->km", u, u).div(z.shape[0]).numpy()          # (K, K)


def branch_diagnostics(model, windows, levels=None, batch_size: int = 1024) -> dict:
    """Collapse and decomposition numbers of one SRSUPM model on ``windows`` (method.md §3–§5).

    * ``cosine`` — mean off-diagonal cosine between branches (:func:`branch_similarity`);
    * ``spread`` — mean_k ‖ẑ_k − z̄‖ / mean_k ‖ẑ_k‖ with z̄ = mean_k ẑ_k (0 = identical branches);
    * ``alpha_entropy`` — mean entropy of α over windows divided by log K (1 = uniform α);
    * ``alpha_max`` — mean of max_k α_k;
    * with ``levels``: ``level_accuracy`` (share of windows whose argmax α is their PMSA level)
      and ``alpha_own`` (mean α at the own level; chance 1/K).
    The matrix itself is under ``similarity``.
    """
    Z = shift_representations(model, windows, batch_size).double()            # (M, K, d)
    E = model.backbone.item_table().detach().cpu().double()
    e_v = E[windows.targets.cpu()]                                             # (M, d)
    scale = model.temperatures.scales()["alpha"] if hasattr(model, "temperatures") else 1 / math.sqrt(Z.shape[2])
    logits = torch.einsum("bkd,bd->bk", Z, e_v) * scale                        # (M, K) Eq. 9, the model's scale
    alpha = torch.softmax(logits, dim=1)
    K = Z.shape[1]
    sim = branch_similarity(Z)
    off = sim[~np.eye(K, dtype=bool)]
    mean = Z.mean(dim=1, keepdim=True)
    spread = (Z - mean).norm(dim=2).mean() / Z.norm(dim=2).mean()
    entropy = -(alpha * alpha.clamp_min(1e-300).log()).sum(dim=1).mean() / math.log(K)
    out = {"cosine": float(off.mean()), "spread": float(spread), "alpha_entropy": float(entropy),
           "alpha_max": float(alpha.max(dim=1).values.mean()), "similarity": sim}
    if levels is not None:
        lv = check_levels(levels, Z.shape[0], K)
        out["level_accuracy"] = float((alpha.argmax(dim=1) == lv).double().mean())
        out["alpha_own"] = float(alpha.gather(1, lv.unsqueeze(1)).mean())
    return out


# ----------------------------------------------------------------------------- how much α knows
def level_information(alpha, levels, max_iter: int = 200) -> dict:
    """How many nats of the PMSA level the shift distributions α carry (method.md §5, Eq. 9).

    ``alpha`` (M, K) from :func:`shift_distributions`, ``levels`` (M,) the windows' PMSA levels.
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
