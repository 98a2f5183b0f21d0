"""Quantile levels and the pinball losses of QR-IQL (MTRec Algorithm 1, Appendix A.2; mtrec_method.md §2).

MTRec's reward network outputs ``N`` atoms per action, each a quantile of the return
distribution at a fixed level ``τ_j``; Algorithm 1 fits them with the pinball loss. The paper
does not give the levels: this module uses QR-DQN's midpoints ``τ_j = (2j − 1) / (2N)``.

``pinball(u, τ) = u · (τ − 1[u < 0])`` is the standard quantile (check) loss of a residual
``u``; ``squared(u, τ) = |τ − 1[u < 0]| · u²`` is its squared (expectile) counterpart, the form
that makes QR-IQL with ``N = 1`` equal the IQ-Learn objective (see :mod:`.iql`). At ``τ = 1/2``
the two are ``|u| / 2`` and ``u² / 2``.
"""
from __future__ import annotations

import torch


def quantile_levels(n: int, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """The midpoint levels ``τ_j = (2j − 1) / (2n)``, ``j = 1..n``: ``[n]`` (QR-DQN's choice)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"quantile_levels: n must be a positive integer, got {n!r}")
    j = torch.arange(1, n + 1, dtype=dtype, device=device)                  # (n,)
    return (2 * j - 1) / (2 * n)                                            # (n,)


def _weight(u: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """``τ − 1[u < 0]``, broadcast to ``u``'s shape (``tau`` broadcasts over the last axis)."""
    return tau - (u < 0).to(u.dtype)                                        # (..., n)


def pinball(u: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """Elementwise pinball loss ``u · (τ − 1[u < 0])`` (≥ 0) of residuals ``u`` at levels ``tau``.

    With ``u = target − prediction`` its minimiser over a constant prediction is the
    ``τ``-quantile of the targets.
    """
    return u * _weight(u, tau)                                              # (..., n)


def pinball_loss(u: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """The mean of :func:`pinball` over every element (a scalar)."""
    return pinball(u, tau).mean()


def squared(u: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """Elementwise squared (expectile) form ``|τ − 1[u < 0]| · u²`` of the pinball loss.

    The squared form used by the ``N = 1`` reduction: at ``τ = 1/2`` it is ``u² / 2``, half the
    plain square, as the pinball loss at ``τ = 1/2`` is half the absolute value.
    """
    return _weight(u, tau).abs() * u * u                                    # (..., n)


def squared_loss(u: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """The mean of :func:`squared` over every element (a scalar)."""
    return squared(u, tau).mean()
