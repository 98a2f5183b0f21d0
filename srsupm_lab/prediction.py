"""Mixed prediction over shift representations (method.md §8 / Eqs. 19–22) and the w/o-PMI mean pooling.

For every candidate item ``i`` (embedding ``e_i``), in parallel over all items:

    β_{u,i,k} = softmax_k( ⟨e_i, ẑ_k⟩ / √d )
    s_{u,i}   = Σ_k β_{u,i,k} ⟨ẑ_k, e_i⟩

Only the (B, K, N) matrix ``Ẑ Eᵀ`` is formed; the (B, N, d) tensor ``r_{u,i}`` of Eq. 21 never is.
"""
from __future__ import annotations

import math

import torch


def _check(Z: torch.Tensor, E: torch.Tensor, who: str) -> None:
    if Z.dim() != 3 or E.dim() != 2 or Z.shape[2] != E.shape[1]:
        raise ValueError(f"{who}: expected Z (B, K, d) and E (N, d), got {tuple(Z.shape)} and {tuple(E.shape)}")


def mixed_scores(Z: torch.Tensor, E: torch.Tensor) -> torch.Tensor:
    """PMI scores ``s`` (B, N) from shift representations ``Z`` (B, K, d) and item table ``E`` (N, d)."""
    _check(Z, E, "mixed_scores")
    logits = torch.einsum("bkd,nd->bkn", Z, E)                          # (B, K, N) = Ẑ Eᵀ
    beta = torch.softmax(logits / math.sqrt(Z.shape[2]), dim=1)         # (B, K, N) over levels
    return (beta * logits).sum(dim=1)                                   # (B, N)


def mean_scores(Z: torch.Tensor, E: torch.Tensor) -> torch.Tensor:
    """w/o PMI: ``s = ⟨mean_k ẑ_k, e_i⟩`` (B, N)."""
    _check(Z, E, "mean_scores")
    return Z.mean(dim=1) @ E.t()                                        # (B, N)
