"""One encoder pass per user: every training window of a causal backbone at once (method.md §2).

Leave-one-out training windows (:mod:`.windows`) are the prefixes of each user's training part:
for targets ``v_2 .. v_{n-2}`` the inputs are ``v_1``, ``v_1 v_2``, ..., each encoded on its own.
For a backbone whose output at column ``t`` depends only on the items up to ``t`` and whose
position ids do not depend on what follows (``Backbone.causal_prefixes``: GRU4Rec; SASRec with
``positions="from_start"``), one pass over the user's longest prefix gives the representation of
every shorter prefix at its last column: the same ``h`` as encoding each window (up to float
rounding), with a fraction of the encoder's work. Kang & McAuley train SASRec this way.

:func:`prefix_rows` turns training :class:`~.windows.Windows` into **rows**: left-padded inputs
``[R, L]`` with a target matrix ``[R, L]`` (0 = no prediction at that column). Each user's
longest window (its *anchor*) becomes one row whose columns carry the targets of every window of
that user that is a prefix of it; any window that is not (those that slid past ``L`` items, or
windows that were not built as prefixes) keeps a row of its own, with its target in the last
column. Every training window sits at exactly one (row, column); ``window`` says which, so
nothing is lost and nothing is counted twice.

What changes for training is the batching only: a batch is a set of rows holding about
``batch_size`` targets, so a user's windows are updated together (as in Kang & McAuley's
SASRec) rather than scattered over the epoch, and with dropout on, a user's prefixes share one
dropout mask where each window drew its own. The loss of a batch is still the mean over its
windows' targets.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .windows import Windows

__all__ = ["PrefixRows", "prefix_rows"]


@dataclass
class PrefixRows:
    """Training rows for one-pass encoding.

    inputs  : LongTensor [R, L], left-padded (the anchor window, or a window alone)
    targets : LongTensor [R, L], the target predicted from the prefix ending at each column; 0 = none
    users   : LongTensor [R]
    window  : LongTensor [R, L], the training window whose (prefix, target) sits there; -1 = none
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    users: torch.Tensor
    window: torch.Tensor

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def n_targets(self) -> int:
        return int((self.targets != 0).sum())

    def as_batch_data(self) -> dict[str, torch.Tensor]:
        """The tensors a trainer batches over (rows)."""
        return {"inputs": self.inputs, "targets": self.targets, "users": self.users}


def prefix_rows(windows: Windows) -> PrefixRows:
    """Group ``windows`` (left-padded training windows) into one-pass rows (see the module doc).

    Vectorised over all windows (NumPy index arithmetic, no loop over users or windows).
    """
    inputs = windows.inputs.cpu().numpy()                                   # (M, L)
    targets = windows.targets.cpu().numpy()                                 # (M,)
    users = windows.users.cpu().numpy()                                     # (M,)
    M, L = inputs.shape
    if M == 0:
        raise ValueError("prefix_rows: there are no training windows")
    n = (inputs != 0).sum(axis=1)                                           # (M,) items per window
    index = np.arange(M)

    # the anchor of each user: its longest window. Ties (several windows of L items, one the true
    # prefix, the others slid past it): prefer a window that starts with the first item of the
    # user's shortest window (the sequence's start), then the first in index order, which is the
    # true prefix in leave_one_out's order
    first_item = inputs[index, L - n]                                       # (M,) each window's oldest item
    by_len = np.lexsort((index, n, users))                                  # by user, shortest first
    head = np.ones(M, dtype=bool)
    head[1:] = users[by_len][1:] != users[by_len][:-1]
    user_ids, user_start = users[by_len][head], first_item[by_len][head]   # (U,) sorted users, their start
    starts_right = first_item == user_start[np.searchsorted(user_ids, users)]
    order = np.lexsort((index, ~starts_right, -n, users))                   # by user, longest first
    first = np.ones(M, dtype=bool)
    first[1:] = users[order][1:] != users[order][:-1]
    anchors = order[first]                                                  # (U,) one window per user
    user_slot = np.searchsorted(users[anchors], users)                      # (M,) users[anchors] is sorted
    anchor = anchors[user_slot]                                             # (M,) each window's anchor

    # window i is a prefix of its anchor a iff its n_i items equal the anchor's first n_i items
    cols = np.arange(L)
    mine = np.clip(L - n[:, None] + cols, 0, L - 1)                         # (M, L) left-aligned columns
    theirs = np.clip(L - n[anchor][:, None] + cols, 0, L - 1)
    left_mine = np.take_along_axis(inputs, mine, axis=1)
    left_anchor = np.take_along_axis(inputs[anchor], theirs, axis=1)
    within = cols[None, :] < n[:, None]
    is_prefix = ((left_mine == left_anchor) | ~within).all(axis=1)          # (M,)
    # two windows on the same prefix (a custom set): the first takes the column, the other its own row
    key = user_slot.astype(np.int64) * (L + 1) + n
    _, first_of_key = np.unique(np.where(is_prefix, key, -1 - index), return_index=True)
    on_anchor = np.zeros(M, dtype=bool)
    on_anchor[first_of_key] = True
    on_anchor &= is_prefix

    alone = np.flatnonzero(~on_anchor)                                      # windows with a row of their own
    U, R = anchors.size, anchors.size + alone.size
    row_inputs = np.concatenate([inputs[anchors], inputs[alone]])           # (R, L)
    row_users = np.concatenate([users[anchors], users[alone]])              # (R,)
    row_targets = np.zeros((R, L), dtype=np.int64)
    row_window = np.full((R, L), -1, dtype=np.int64)
    placed = np.flatnonzero(on_anchor)
    row = user_slot[placed]                                                 # the anchor row of each
    col = L - n[anchor[placed]] + n[placed] - 1                             # the column of its last item
    row_targets[row, col] = targets[placed]
    row_window[row, col] = placed
    row_targets[U + np.arange(alone.size), L - 1] = targets[alone]
    row_window[U + np.arange(alone.size), L - 1] = alone
    return PrefixRows(inputs=torch.from_numpy(row_inputs), targets=torch.from_numpy(row_targets),
                      users=torch.from_numpy(row_users), window=torch.from_numpy(row_window))
