"""Shift-driven information decomposition (method.md §5 / Eq. 9) and shift-consistency regularisation (§6 / Eq. 10).

For a training window with target ``v`` (embedding ``e_v``) and shift representations ``ẑ_k``:

    α_k      = softmax_k( ⟨e_v, ẑ_k⟩ / √d )                        shift distribution (§5)
    L_PMSID  = − mean_batch log α_l        (l = the window's PMSA level)
    L_reg    = mean_batch 1/(K-1) · Σ_{k=0}^{K-2} ‖ẑ_k − ẑ_{k+1}‖²  (§6)

The paper says only "minimizing their pairwise distance" for L_reg; the form is a **choice the
paper does not make** (``REG_FORMS``): ``"raw_mean"`` (above, on raw ẑ of length ≈ √d, the
package's reading since the start), ``"raw_sum"`` (the K−1 gaps summed, not averaged) and
``"normalised_mean"`` / ``"normalised_sum"`` (each ẑ_k scaled to unit length first, so a gap lies
in [0, 4] and the term cannot outgrow the decomposition just because the vectors are long).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

REG_FORMS = ("raw_mean", "raw_sum", "normalised_mean", "normalised_sum")


def shift_logits(Z: torch.Tensor, e_v: torch.Tensor, scale: float | torch.Tensor | None = None) -> torch.Tensor:
    """Scaled scores ``⟨e_v, ẑ_k⟩ · scale``: ``Z`` (B, K, d), ``e_v`` (B, d) -> (B, K).

    ``scale`` is the paper's ``1/√d`` unless given (a float or a 0-dim tensor, see
    :mod:`srsupm_lab.methods.srsupm.temperature`).
    """
    if Z.dim() != 3 or e_v.dim() != 2 or Z.shape[0] != e_v.shape[0] or Z.shape[2] != e_v.shape[1]:
        raise ValueError(f"shift_logits: expected Z (B, K, d) and e_v (B, d), got {tuple(Z.shape)} and {tuple(e_v.shape)}")
    scale = 1.0 / math.sqrt(Z.shape[2]) if scale is None else scale
    return torch.einsum("bkd,bd->bk", Z, e_v) * scale                  # (B, K)


def shift_distribution(Z: torch.Tensor, e_v: torch.Tensor, scale: float | torch.Tensor | None = None) -> torch.Tensor:
    """``α`` (B, K): softmax over levels of :func:`shift_logits` (Eq. 9)."""
    return torch.softmax(shift_logits(Z, e_v, scale), dim=1)           # (B, K)


def _check_levels(levels: torch.Tensor, B: int, K: int) -> None:
    if levels.shape != (B,):
        raise ValueError(f"PMSID: levels must have shape ({B},), got {tuple(levels.shape)}")
    if levels.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"PMSID: levels must be an integer tensor, got {levels.dtype}")
    if B and (int(levels.min()) < 0 or int(levels.max()) >= K):
        raise ValueError(f"PMSID: levels must lie in 0..{K - 1}, got range "
                         f"{int(levels.min())}..{int(levels.max())}")


def decomposition_loss(logits: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """``L_PMSID = − mean log α_level`` from the (B, K) :func:`shift_logits` (Eq. 9)."""
    B, K = logits.shape
    _check_levels(levels, B, K)
    log_alpha = torch.log_softmax(logits, dim=1)                         # (B, K)
    return -log_alpha.gather(1, levels.long().unsqueeze(1)).mean()


def level_confidence(logits: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """``α_level`` (B,), the probability each window's distribution gives its own level (§7, Eq. 12)."""
    B, K = logits.shape
    _check_levels(levels, B, K)
    return torch.softmax(logits, dim=1).gather(1, levels.long().unsqueeze(1)).squeeze(1)   # (B,)


def consistency_regulariser(Z: torch.Tensor, form: str = "raw_mean") -> torch.Tensor:
    """``L_reg`` (Eq. 10): mean over the batch of the squared L2 gaps between adjacent levels.

    ``form`` (one of ``REG_FORMS``, see the module doc): raw or unit-normalised ẑ, the K−1 gaps
    averaged (``*_mean``) or summed (``*_sum``).
    """
    if Z.dim() != 3 or Z.shape[1] < 2:
        raise ValueError(f"consistency_regulariser: expected Z of shape (B, K>=2, d), got {tuple(Z.shape)}")
    if form not in REG_FORMS:
        raise ValueError(f"consistency_regulariser: form must be one of {list(REG_FORMS)}, got {form!r}")
    if form.startswith("normalised"):
        Z = F.normalize(Z, dim=2)                                        # (B, K, d) unit rows
    gaps = (Z[:, 1:] - Z[:, :-1]).pow(2).sum(dim=2)                      # (B, K-1)
    per_window = gaps.sum(dim=1) if form.endswith("sum") else gaps.mean(dim=1)
    return per_window.mean()
