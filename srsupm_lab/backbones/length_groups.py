"""Encode a batch in groups of similar window length: an exact speed-up, not a model change.

Leave-one-out training windows are mostly short (on Beauty the median window holds 4 items
and the mean 8.4, out of ``max_len`` = 50), yet a random batch nearly always contains one
full-length window, so a ``[B, 50]`` batch is about 85 % padding. Every backbone here ignores
leading padding exactly (positions right-aligned or counted from the first item, masked padding
keys, a GRU state that padding leaves at zero; ``tests/test_backbones.py::test_left_padding_is_invisible``), so the
encoder may run on each window with its leading padding cut off and give the same ``h``.

:func:`length_groups` sorts the rows of a batch by length and cuts them into ``groups``
equal parts; :func:`encode_by_length` encodes each part trimmed to its own longest window and
puts the rows back in their order. The batch, the loss and the gradient are those of the
untrimmed batch (up to float rounding); only the work on padding is skipped. On Beauty,
eight groups cut the encoder's positions per epoch from 6.57M to 1.54M (1.10M real items).
Dropout masks are drawn group by group, so with dropout on, a seed gives another (equally
distributed) sequence of masks for each number of groups: rerun with the same setting to get
the same numbers.
"""
from __future__ import annotations

from typing import Callable

import torch

#: groups per batch when a backbone's ``length_groups`` is None, on the CPU. Measured there
#: (Beauty, batch 256, 2 cores, s per SASRec training step): 1 group 0.204, 4 groups 0.096,
#: 8 groups 0.094, 16 groups 0.124. Other devices keep the padded batch (one group) unless
#: told otherwise: more, smaller kernels may not pay off there, and that is not measured yet.
CPU_GROUPS = 8
#: the same default for one-pass rows of prefixes (srsupm_lab/data/prefix_rows.py), whose batches
#: hold ~B/6 rows on Beauty: s per SASRec step (batch of ~256 targets, 2 threads, quiet): 1 group
#: 0.043, 2 groups 0.035, 4 groups 0.035, 8 groups 0.044
CPU_ROW_GROUPS = 4


def groups_for(item_seq: torch.Tensor, length_groups: int | None, cpu_default: int = CPU_GROUPS) -> int:
    """The number of length groups to use for ``item_seq``: ``length_groups``, or the device's default."""
    if length_groups is not None:
        return int(length_groups)
    return cpu_default if item_seq.device.type == "cpu" else 1


def length_groups(item_seq: torch.Tensor, groups: int) -> list[tuple[torch.Tensor, int]]:
    """``[(rows, width), ...]``: the rows of each length group and its longest window.

    ``item_seq`` is a left-padded ``[B, L]`` batch. Rows are sorted by their number of items
    and split into at most ``groups`` parts of near-equal size; ``width`` is the longest
    window of a part, so ``item_seq[rows, -width:]`` drops only padding. One device sync.
    """
    lengths = (item_seq != 0).sum(dim=1)                                    # (B,)
    sorted_lengths, order = lengths.sort(stable=True)                       # (B,), (B,)
    parts = order.tensor_split(min(groups, item_seq.shape[0]))              # <= groups x (b_g,)
    ends = torch.cumsum(torch.tensor([len(p) for p in parts]), 0) - 1       # last row of each part
    widths = sorted_lengths[ends.to(item_seq.device)].clamp(min=1).tolist()  # one sync
    return list(zip(parts, widths))


def encode_by_length(encode: Callable, item_seq: torch.Tensor, user_ids: torch.Tensor | None,
                     groups: int) -> torch.Tensor:
    """``encode(item_seq, user_ids)`` computed group by group on trimmed windows: ``[B, d]``.

    ``encode(seq [b, l], users [b] or None) -> [b, d]`` must ignore leading padding.
    """
    pieces, rows = [], []
    for part, width in length_groups(item_seq, groups):
        users = None if user_ids is None else user_ids[part]
        pieces.append(encode(item_seq[part, -width:], users))               # (b_g, d)
        rows.append(part)
    h = torch.cat(pieces)                                                   # (B, d) in sorted order
    return torch.empty_like(h).index_copy_(0, torch.cat(rows), h)           # (B, d) in batch order
