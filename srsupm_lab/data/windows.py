"""Leave-one-out split and sliding training windows (method.md, "Split and training windows").

Every window is a left-padded row of length ``L``: the most recent input item sits in the
last column, padding (id 0) fills the front. Test: target ``v_n``, input ``v_1..v_{n-1}``;
validation: target ``v_{n-1}``, input ``v_1..v_{n-2}``; training: for ``t = 2..n-2``, input
``v_{max(1,t-L)}..v_{t-1}`` and target ``v_t``. Built with index arithmetic over one flat
array of all interactions: no Python loop over users or windows.

Users with fewer than 3 interactions cannot give a training, a validation and a test target;
they are **dropped**, counted in ``Split.dropped_users`` and reported with a warning.

:func:`batch_slices` cuts an epoch's permutation of windows (or of one-pass rows of prefixes) into
the trainer's batches.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from .dataset import SequenceDataset


@dataclass
class Windows:
    """A batch-able set of (input window, target) pairs.

    inputs  : LongTensor [M, L], left-padded with 0
    targets : LongTensor [M]
    users   : LongTensor [M], index into ``dataset.sequences``
    history : LongTensor [M, H] or None: every item the user saw before the target (not
              truncated to L, 0-padded). Used to mask seen items at evaluation (S3-Rec protocol).
    context : LongTensor [M] or None: ground truth about each target step that a generator
              knows and a recommender does not; for the synthetic world, 1 where the user's
              motivation switched just before the target (``meta["switch"]``), else 0. Only an
              oracle model reads it (:mod:`srsupm_lab.methods.srsupm.oracle`).
    times, behaviours : LongTensor [M, L] or None: the time and the behaviour type of each input event,
              aligned with ``inputs`` (0 under padding), for a model that requires them; no loader
              fills them yet.
    long_history : LongTensor [M, H] or None: the items before the window, for a long-sequence model.

    The fields are the columns of a batch (:data:`srsupm_lab.families.protocol.COLUMNS`, same names): the
    trainer and evaluation pass a model the ones it ``requires``.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    users: torch.Tensor
    history: torch.Tensor | None = None
    context: torch.Tensor | None = None
    times: torch.Tensor | None = None
    behaviours: torch.Tensor | None = None
    long_history: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def to(self, device) -> "Windows":
        return replace(self, **{f.name: (getattr(self, f.name).to(device) if getattr(self, f.name) is not None else None)
                                for f in fields(self)})

    def subset(self, index) -> "Windows":
        """Rows ``index`` (a slice, bool mask or index tensor) of every field."""
        return replace(self, **{f.name: (getattr(self, f.name)[index] if getattr(self, f.name) is not None else None)
                                for f in fields(self)})


@dataclass
class Split:
    """The three leave-one-out parts of a dataset."""

    train: Windows
    valid: Windows
    test: Windows
    max_len: int
    dropped_users: int = 0

    def __repr__(self) -> str:
        return (f"Split(train={len(self.train)}, valid={len(self.valid)}, test={len(self.test)}, "
                f"max_len={self.max_len}, dropped_users={self.dropped_users})")


def _gather_windows(flat: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int) -> np.ndarray:
    """Rows ``flat[max(start, end-width):end]``, left-padded with 0 to ``width`` columns.

    ``starts``/``ends`` are absolute offsets into ``flat`` (the user's first item and one past
    the window's last input item).
    """
    cols = np.arange(width, dtype=np.int64) - width                    # (-width .. -1)
    pos = ends[:, None] + cols[None, :]                                # (M, width) absolute
    valid = pos >= starts[:, None]
    out = np.where(valid, flat[np.clip(pos, 0, max(len(flat) - 1, 0))], 0)
    return out.astype(np.int64, copy=False)


def leave_one_out(ds: SequenceDataset, max_len: int = 50, history: bool = True) -> Split:
    """Split ``ds`` into training windows, validation and test windows (see module doc).

    Parameters
    ----------
    max_len : int
        ``L``, the input length; longer inputs keep their last ``L`` items.
    history : bool
        Also build the full seen-item history of validation and test users (for masking).
    """
    if not isinstance(max_len, (int, np.integer)) or max_len < 1:
        raise ValueError(f"max_len must be a positive integer, got {max_len!r}")
    lens_all = ds.lengths()
    keep = lens_all >= 3
    dropped = int((~keep).sum())
    if dropped:
        warnings.warn(f"leave_one_out({ds.name!r}): dropped {dropped} user(s) with fewer than 3 "
                      f"interactions (they cannot give train, validation and test targets)", stacklevel=2)
    users = np.flatnonzero(keep).astype(np.int64)
    if users.size == 0:
        raise ValueError(f"leave_one_out({ds.name!r}): no user has 3 or more interactions")
    lens = lens_all[users]
    flat = np.concatenate([ds.sequences[u] for u in users]).astype(np.int64)
    switch = ds.meta.get("switch") if isinstance(getattr(ds, "meta", None), dict) else None
    truth = None if switch is None else np.concatenate([np.asarray(switch[u]) for u in users]).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)

    # training targets at 0-based positions 1..n-3 of each user
    n_train = lens - 3
    tr_user_rep = np.repeat(np.arange(users.size), n_train)
    tr_offset = np.arange(n_train.sum()) - np.repeat(np.cumsum(n_train) - n_train, n_train)
    tr_target_pos = starts[tr_user_rep] + 1 + tr_offset                # absolute position in flat
    train = _make(flat, starts[tr_user_rep], tr_target_pos, users[tr_user_rep], max_len, None, truth)

    valid_pos = starts + lens - 2
    test_pos = starts + lens - 1
    width_v = int(lens.max()) - 2
    width_t = int(lens.max()) - 1
    valid = _make(flat, starts, valid_pos, users, max_len, width_v if history else None, truth)
    test = _make(flat, starts, test_pos, users, max_len, width_t if history else None, truth)
    return Split(train=train, valid=valid, test=test, max_len=int(max_len), dropped_users=dropped)


def _make(flat, starts, target_pos, users, max_len, hist_width, truth=None) -> Windows:
    inputs = _gather_windows(flat, starts, target_pos, max_len)
    hist = None
    if hist_width is not None:
        hist = torch.from_numpy(_gather_windows(flat, starts, target_pos, hist_width))
    return Windows(inputs=torch.from_numpy(inputs), targets=torch.from_numpy(flat[target_pos].copy()),
                   users=torch.from_numpy(np.ascontiguousarray(users)), history=hist,
                   context=None if truth is None else torch.from_numpy(truth[target_pos].copy()))


def target_steps(windows: Windows, ds: SequenceDataset) -> torch.Tensor:
    """The 0-based position of each window's target in its user's sequence of ``ds``: ``[M]`` (method.md, Split).

    For the windows :func:`leave_one_out` makes of ``ds``: a window with ``history`` (validation, test)
    has as many items before its target as its history holds; training windows (no history) are
    grouped by user in time order, so a user's first one targets step 1, the next step 2, ... (a
    subset of whole users keeps that). Checked, vectorised: every window's target and input row
    must be the sequence's item at that step and the ``L`` items before it; the first window that is
    not is one ValueError naming it.
    """
    users = windows.users.cpu().numpy().astype(np.int64)
    M = users.shape[0]
    if windows.history is not None:
        steps = (windows.history != 0).sum(dim=1).cpu().numpy().astype(np.int64)
    else:
        idx = np.arange(M, dtype=np.int64)
        new = np.ones(M, dtype=bool)
        new[1:] = users[1:] != users[:-1]
        steps = idx - np.maximum.accumulate(np.where(new, idx, 0)) + 1
    lens = ds.lengths()
    if M and (users.min() < 0 or users.max() >= lens.size):
        raise ValueError(f"target_steps: window users index {ds.n_users} sequences of dataset {ds.name!r}, "
                         f"found user {int(users.max())}")
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    flat = np.concatenate(ds.sequences).astype(np.int64)
    inside = (steps >= 1) & (steps < lens[users])
    pos = starts[users] + np.where(inside, steps, 1)                               # (M,) absolute target positions
    expected = _gather_windows(flat, starts[users], pos, windows.inputs.shape[1])  # (M, L)
    ok = inside & (flat[pos] == windows.targets.cpu().numpy()) & (expected == windows.inputs.cpu().numpy()).all(1)
    if not ok.all():
        m = int(np.flatnonzero(~ok)[0])
        raise ValueError(f"target_steps: window {m} (user {users[m]}, step {steps[m]}) is not that step of dataset "
                         f"{ds.name!r}: windows must come from leave_one_out of this dataset (a user's training "
                         f"windows together, in time order)")
    return torch.from_numpy(steps)


def batch_slices(targets: torch.Tensor, perm: torch.Tensor, batch_size: int) -> list[slice]:
    """Slices of ``perm`` that make the epoch's batches.

    ``targets [M]`` (one per window): slices of ``batch_size`` rows. ``targets [R, L]`` (one-pass
    rows, 0 = no target): runs of rows holding about ``batch_size`` targets each; a batch ends at
    the first row that brings the epoch's running count of targets to a multiple of
    ``batch_size``, so every batch but the last holds ``batch_size - L + 1`` to
    ``batch_size + L - 1`` targets and the epoch has as many batches as with windows (one fewer
    where a row alone crosses two multiples). One device sync.
    """
    m = perm.shape[0]
    if targets.dim() == 1:
        return [slice(start, start + batch_size) for start in range(0, m, batch_size)]
    counts = (targets[perm] != 0).sum(dim=1).cumsum(dim=0).cpu()           # (R,) targets up to each row
    total = int(counts[-1])
    marks = torch.arange(batch_size, total, batch_size)                     # (n_batches - 1,)
    ends = (torch.searchsorted(counts, marks) + 1).unique().tolist()        # a row closes each batch
    bounds = [0] + [e for e in ends if e < m] + [m]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
