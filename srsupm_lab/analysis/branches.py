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

from ..methods.srsupm.branch_stats import branch_similarity, check_levels, level_information
from .shift import shift_representations

__all__ = ["branch_similarity", "branch_diagnostics", "level_information"]


# ----------------------------------------------------------------------------- branch collapse
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
