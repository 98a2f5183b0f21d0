"""The scales of SRSUPM's two softmaxes over levels: α (Eq. 9) and β (Eqs. 19–20).

The paper divides both by √d:

    α_k         = softmax_k( ⟨e_v, ẑ_k⟩ · a )      a = 1/√d    (PMSID, §5; PMSIM confidences, §7)
    β_{u,i,k}   = softmax_k( ⟨e_i, ẑ_k⟩ · b )      b = 1/√d    (mixed prediction, §8)

``mode="fixed"`` is exactly that (no parameter). The paper says only "normalized attention
scores", so the scale is **a choice the paper does not make**: ``mode="unit"`` uses ``a = b = 1``
(plain dot products, no parameter; with LayerNorm'd ẑ of length ≈ √d the logits then span a
useful range at initialisation). ``mode="learned"`` is **a departure from the paper**, offered for study: ``a = exp(θ_α)/√d`` and ``b = exp(θ_β)/√d`` with two learnable
scalars initialised at 0, so training starts from the paper's model. Why: on Beauty the /√d
logits of Eq. 9 are far too flat (the best post-hoc rescaling of α is ×6, see
``reports/README.md``); the only way the paper's model can sharpen α is to stretch the item
embeddings, which also rank the items, so the decomposition is learned at the ranking's
expense. A scale of its own lets L_PMSID sharpen α, and L_rec sharpen or flatten β, without
touching the embeddings. θ is clamped to ``±MAX_LOG_SCALE`` (scales ×1/148 … ×148).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

__all__ = ["LevelTemperatures", "TEMPERATURE_MODES", "MAX_LOG_SCALE"]

TEMPERATURE_MODES = ("fixed", "unit", "learned")
MAX_LOG_SCALE = 5.0


class LevelTemperatures(nn.Module):
    """Scales ``alpha`` (Eq. 9) and ``beta`` (Eq. 19) multiplying the level logits ⟨e, ẑ_k⟩.

    Parameters
    ----------
    dim : int
        ``d``; both scales start at ``1/√d``.
    mode : str
        ``"fixed"`` (1/√d: plain floats, no parameter), ``"unit"`` (1, no parameter) or
        ``"learned"`` (two scalars starting at 1/√d).
    """

    def __init__(self, dim: int, mode: str = "fixed") -> None:
        super().__init__()
        if mode not in TEMPERATURE_MODES:
            raise ValueError(f"LevelTemperatures: mode must be one of {list(TEMPERATURE_MODES)}, got {mode!r}")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"LevelTemperatures: dim must be a positive integer, got {dim!r}")
        self.mode, self.base = mode, (1.0 if mode == "unit" else 1.0 / math.sqrt(dim))
        self.log_alpha = self.log_beta = None
        if mode == "learned":
            self.log_alpha = nn.Parameter(torch.zeros(()))             # θ_α, Eq. 9
            self.log_beta = nn.Parameter(torch.zeros(()))              # θ_β, Eq. 19

    def _scale(self, theta: torch.Tensor | None) -> float | torch.Tensor:
        if theta is None:
            return self.base
        return self.base * theta.clamp(-MAX_LOG_SCALE, MAX_LOG_SCALE).exp()

    @property
    def alpha(self) -> float | torch.Tensor:
        """Scale of the shift distribution's logits (Eq. 9): a float, or a 0-dim tensor with grad."""
        return self._scale(self.log_alpha)

    @property
    def beta(self) -> float | torch.Tensor:
        """Scale of the per-item mixture's logits (Eq. 19): a float, or a 0-dim tensor with grad."""
        return self._scale(self.log_beta)

    def scales(self) -> dict[str, float]:
        """``{"alpha": a, "beta": b}`` as plain floats (what a run records in ``results.json``)."""
        return {name: float(torch.as_tensor(getattr(self, name)).detach()) for name in ("alpha", "beta")}

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, base=" + ("1" if self.mode == "unit" else f"1/√{round(1 / self.base ** 2)}")
