"""Shift information construction and level priors (method.md §3 / Eqs. 5–7 and §4 / Eq. 8).

From one user representation ``h`` (the backbone's output, §2) build ``K`` shift
representations, one per PMSA level ``k = 0..K-1``:

    z_k = LayerNorm_k( h + Dropout( W_k2 · GELU(W_k1 · h + b_k1) + b_k2 ) )      (§3)
    ẑ_k = z_k + p_k                                                              (§4)

The ``K`` blocks are independent (own weights, own LayerNorm scale and shift) but are run as
one batched computation: the weights are stacked along a leading ``K`` axis and applied with
``einsum``, so there is no Python loop over levels.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...backbones.base import Dropout


class ShiftInformationConstruction(nn.Module):
    """``K`` independent residual feed-forward blocks, batched (method.md §3, Eqs. 5–7).

    Parameters
    ----------
    dim : int
        ``d``, the size of ``h`` and of every ``z_k``.
    K : int
        Number of shift levels (one block per level).
    hidden : int or None
        ``d'``, the inner width of each block (default ``d``).
    dropout : float
        Dropout on the block's output before the residual sum.
    """

    def __init__(self, dim: int, K: int, hidden: int | None = None, dropout: float = 0.1) -> None:
        super().__init__()
        hidden = dim if hidden is None else hidden
        for name, value in (("dim", dim), ("K", K), ("hidden", hidden)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ShiftInformationConstruction: {name} must be a positive integer, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"ShiftInformationConstruction: dropout must be in [0, 1), got {dropout!r}")
        self.dim, self.K, self.hidden = dim, K, hidden
        self.w1 = nn.Parameter(torch.empty(K, dim, hidden))    # (K, d, d')
        self.b1 = nn.Parameter(torch.empty(K, hidden))         # (K, d')
        self.w2 = nn.Parameter(torch.empty(K, hidden, dim))    # (K, d', d)
        self.b2 = nn.Parameter(torch.empty(K, dim))            # (K, d)
        self.ln_weight = nn.Parameter(torch.ones(K, dim))      # (K, d) LayerNorm_k scale
        self.ln_bias = nn.Parameter(torch.zeros(K, dim))       # (K, d) LayerNorm_k shift
        self.dropout = Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Each block initialised like an ``nn.Linear`` of its own (uniform ±1/√fan_in)."""
        for w, b, fan_in in ((self.w1, self.b1, self.dim), (self.w2, self.b2, self.hidden)):
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(w, -bound, bound)
            nn.init.uniform_(b, -bound, bound)
        nn.init.ones_(self.ln_weight)
        nn.init.zeros_(self.ln_bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``h`` (B, d) -> ``z`` (B, K, d)."""
        if h.dim() != 2 or h.shape[1] != self.dim:
            raise ValueError(f"ShiftInformationConstruction: expected h of shape (B, {self.dim}), got {tuple(h.shape)}")
        inner = F.gelu(torch.einsum("bd,kdh->bkh", h, self.w1) + self.b1)       # (B, K, d')
        out = torch.einsum("bkh,khd->bkd", inner, self.w2) + self.b2            # (B, K, d)
        x = h.unsqueeze(1) + self.dropout(out)                                  # (B, K, d) residual
        z = F.layer_norm(x, (self.dim,))                                        # (B, K, d) normalised
        return z * self.ln_weight + self.ln_bias                                # (B, K, d) per-level affine


class LevelPriors(nn.Module):
    """Learnable shift-level priors ``p_k`` added to each ``z_k`` (method.md §4, Eq. 8).

    Initialised distinct: the ``K`` rows are orthogonal (``nn.init.orthogonal_``; when
    ``K > d`` the rows cannot all be orthogonal and are merely distinct) and scaled to norm
    ``scale`` (default 1, i.e. about 1/√d per coordinate against the unit-variance
    coordinates of the LayerNorm output). With ``enabled=False`` the priors are switched off
    (the "w/o priors" variant) and ``forward`` returns ``z`` unchanged.
    """

    def __init__(self, dim: int, K: int, enabled: bool = True, scale: float = 1.0) -> None:
        super().__init__()
        self.enabled = bool(enabled)
        self.priors = None
        if self.enabled:
            self.priors = nn.Parameter(torch.empty(K, dim))    # (K, d)
            nn.init.orthogonal_(self.priors)
            with torch.no_grad():
                self.priors.mul_(scale / self.priors.norm(dim=1, keepdim=True).clamp_min(1e-12))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` (B, K, d) -> ``ẑ`` (B, K, d)."""
        if self.priors is None:
            return z
        return z + self.priors                                                   # (B, K, d)
