"""One encoder pass per user: the encoding of every prefix with a target in one-pass rows (method.md §2).

A causal backbone (``Backbone.causal_prefixes``: GRU4Rec, SASRec with positions from the start)
gives at column t of a row the encoding of the row's prefix ending at t, which is exactly the ``h``
of the training window ending there. One-pass rows (:mod:`srsupm_lab.data.prefix_rows`) carry a
``[B, L]`` target matrix (0 = no target); these helpers encode the rows once per length group
(:mod:`.length_groups`, each group trimmed to its longest row) and pick the ``T`` target cells, in
one fixed order (group by group) that every caller shares:

    parts = prefix_parts(backbone, inputs, targets)        # [(rows, width, keep [b, width])]
    h = prefix_encodings(backbone, inputs, parts)          # (T, d)
    y = target_cells(targets, parts)                       # (T,) any [B, L] matrix, in the same order
"""
from __future__ import annotations

import torch

from .length_groups import CPU_ROW_GROUPS, length_groups

__all__ = ["prefix_parts", "target_cells", "prefix_encodings", "check_one_pass_backbone"]


def prefix_parts(backbone, inputs: torch.Tensor, targets: torch.Tensor) -> list:
    """``[(rows, width, keep)]``: the length groups of rows ``inputs [B, L]`` and, per group, the cells
    ``keep [b, width]`` that hold a target in ``targets [B, L]``."""
    groups = backbone.groups(inputs, cpu_default=CPU_ROW_GROUPS)
    parts = length_groups(inputs, groups) if groups > 1 else [(slice(None), inputs.shape[1])]
    return [(rows, width, targets[rows, -width:] != 0) for rows, width in parts]


def target_cells(matrix: torch.Tensor, parts: list) -> torch.Tensor:
    """The entries of ``matrix [B, L]`` at the target cells, in the order of :func:`prefix_parts`: ``[T]``."""
    return torch.cat([matrix[rows, -width:][keep] for rows, width, keep in parts])


def prefix_encodings(backbone, inputs: torch.Tensor, parts: list) -> torch.Tensor:
    """``h [T, d]`` of every prefix with a target: one ``sequence_output`` pass per length group."""
    return torch.cat([backbone.sequence_output(inputs[rows, -width:])[keep] for rows, width, keep in parts])


def check_one_pass_backbone(backbone, who: str) -> None:
    """One-line ValueError (naming ``who``) unless ``backbone`` can train one pass per user: causal prefixes,
    and no auxiliary loss a one-pass batch would leave out."""
    from .base import Backbone
    if not (isinstance(backbone, Backbone) and backbone.causal_prefixes):
        raise ValueError(f"{who}: one_pass needs a backbone whose outputs are its prefixes' encodings (GRU4Rec, or "
                         f"SASRec with positions='from_start'); {type(backbone).__name__} with these options is not")
    if type(backbone).auxiliary_loss is not Backbone.auxiliary_loss:
        raise ValueError(f"{who}: one_pass trains the next-item loss alone; {type(backbone).__name__} has an "
                         f"auxiliary loss it would leave out")
