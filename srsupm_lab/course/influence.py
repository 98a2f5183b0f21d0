"""Which outputs of a sequence encoder an input position can move: the influence map of lesson 2.

``influence[j, t]`` is True when replacing the item at input position ``j`` (row) changes the
encoder's output at position ``t`` (column). A **causal** encoder (SASRec, GRU4Rec: output ``t``
reads only the items ``0 … t``) moves every output at or after ``j`` and none before it, so its
map is True exactly on and above the diagonal (``t ≥ j``); a bidirectional one (BERT4Rec) moves
every output from every position (tutorial map: conventional behaviour modelling, attention
encoders; Kang & McAuley 2018, Sun et al. 2019).
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["influence_map", "is_causal", "reads_both_ways"]


def influence_map(encoder, window: torch.Tensor, n_items: int, tol: float = 1e-6) -> np.ndarray:
    """``influence [L, L]`` (bool) of one window ``[1, L]`` through ``encoder.sequence_output``.

    Row ``j`` replaces the item at position ``j`` by another real item (``item % n_items + 1``); all
    ``L`` changed windows go through the encoder in one batch, in eval mode (no dropout), and an
    output counts as moved when some coordinate changes by more than ``tol``.
    """
    if window.dim() != 2 or window.shape[0] != 1:
        raise ValueError(f"influence_map: expected one window of shape (1, L), got {tuple(window.shape)}")
    L = window.shape[1]
    changed = window.repeat(L, 1)                                       # (L, L): row j will differ at j
    pos = torch.arange(L)
    changed[pos, pos] = window[0] % int(n_items) + 1
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            base = encoder.sequence_output(window)                      # (1, L, d)
            moved = encoder.sequence_output(changed)                    # (L, L, d)
    finally:
        encoder.train(was_training)
    return ((moved - base).abs().amax(dim=2) > tol).numpy()             # (L, L) [j, t]


def is_causal(influence: np.ndarray) -> bool:
    """True when every input moves every output at or after it and none before it (True on and above the diagonal)."""
    m = np.asarray(influence, dtype=bool)
    L = m.shape[0]
    return bool(m[np.triu_indices(L)].all() and not m[np.tril_indices(L, -1)].any())


def reads_both_ways(influence: np.ndarray) -> bool:
    """True when every input moves every output, earlier ones included (a bidirectional encoder)."""
    return bool(np.asarray(influence, dtype=bool).all())
