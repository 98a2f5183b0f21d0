"""Lesson 09's exercise, solved (teachers only: not part of the handout).

``tests/test_serve_lesson.py`` runs its hidden cases on this file, or on a student's file named by the
``SRSUPM_LESSON09`` environment variable (``SRSUPM_LESSON09=their_file.py pytest tests/test_serve_lesson.py``).
"""
from __future__ import annotations

import torch


def top_k_unseen(scores: torch.Tensor, seen: torch.Tensor, k: int) -> torch.Tensor:
    """Exercise 9.1: the ``k`` best items of each row of ``scores [B, N+1]``, best first, as ``[B, k]`` item ids.

    Never column 0 (padding), never an item of the row's ``seen [B, H]`` (0-padded), never an item whose
    score is NaN or -inf; ties go to the smaller item id; a row with fewer than ``k`` such items ends in 0.
    """
    s = scores.float().nan_to_num(nan=float("-inf"), neginf=float("-inf"))   # (B, N+1), a copy
    s[:, 0] = float("-inf")
    s.scatter_(1, seen.long(), float("-inf"))                                 # seen items leave the ranking
    values, order = torch.sort(s, dim=1, descending=True, stable=True)        # stable: ties by item id
    width = min(k, s.shape[1])
    items = order[:, :width].clone()
    items[values[:, :width] == float("-inf")] = 0
    if width < k:                                                              # a catalogue smaller than k
        items = torch.cat([items, items.new_zeros(items.shape[0], k - width)], dim=1)
    return items
