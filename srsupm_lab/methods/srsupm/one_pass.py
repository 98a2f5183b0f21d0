"""SRSUPM on one encoder pass per user: a batch of one-pass rows checked and read as its windows (method.md §2, §7).

A batch of one-pass rows (``SRSUPM.training_data``) holds ``inputs``, ``targets`` and ``window``
``[B, L]``: each target cell stands for the training window ending there, ``window`` its row in
the prepared training ``Windows`` (so that PMSID's levels, PMSIM's partners and its confidence
cache address the same windows as the per-window path). :func:`one_pass_windows` checks such a
batch and returns its target cells in the order of :mod:`srsupm_lab.backbones.prefixes`.
"""
from __future__ import annotations

import torch

from ...backbones.prefixes import prefix_parts, target_cells

__all__ = ["one_pass_windows"]


def one_pass_windows(model, batch: dict[str, torch.Tensor]) -> tuple[list, torch.Tensor, torch.Tensor]:
    """Check a batch of one-pass rows of ``model`` (an SRSUPM); ``(parts, targets [T], index [T])`` of its target
    cells, ``index`` their windows' rows in the prepared training Windows."""
    where = "SRSUPM.loss (one-pass rows)"
    if not model.one_pass:
        raise ValueError(f"{where}: a [B, L] target matrix needs SRSUPM(one_pass=True) "
                         f"(a backbone with causal_prefixes)")
    if "window" not in batch:
        raise KeyError(f"{where}: batch lacks 'window' (each cell's row in the training Windows; "
                       f"SRSUPM.training_data gives it); has {sorted(batch)}")
    inputs, targets, users, window = batch["inputs"], batch["targets"], batch["users"], batch["window"]
    for name, value in (("targets", targets), ("window", window)):
        if tuple(value.shape) != tuple(inputs.shape):
            raise ValueError(f"{where}: {name} must have the inputs' shape {tuple(inputs.shape)}, "
                             f"got {tuple(value.shape)}")
    model.backbone._check_input(inputs, users)
    parts = prefix_parts(model.backbone, inputs, targets)
    cell_targets, index = target_cells(targets, parts), target_cells(window, parts).long()
    levels = model.train_levels if model.matching is None else model.matching.levels
    if (model.use_pmsid or model.use_pmsim) and levels is None:
        raise RuntimeError(f"{where}: call prepare(train, levels) first (the windows' PMSA levels are unknown)")
    if model.backbone.check_inputs and cell_targets.numel():
        bad = torch.stack([((cell_targets < 1) | (cell_targets > model.n_items)).any(), (index < 0).any(),
                           ((targets != 0) & (inputs == 0)).any()]).tolist()
        if bad[0] or bad[2]:
            raise ValueError(f"{where}: targets must be item ids in 1..{model.n_items} at item columns (0 = none)")
        if bad[1]:
            raise ValueError(f"{where}: a target cell has no window (window = -1)")
        if levels is not None and int(index.max()) >= levels.shape[0]:
            raise ValueError(f"{where}: window indices must lie in 0..{levels.shape[0] - 1} "
                             f"(rows of the prepared training windows)")
    return parts, cell_targets, index
