"""Full-ranking evaluation: Recall@k, NDCG@k, per-level breakdown (method.md §10).

Every item ``1..N`` is ranked for every user (no sampled negatives). Column 0 of a score
matrix is the padding id and is never ranked. With ``history`` given, the items the user has
already seen are removed from the ranking, except the target itself (S3-Rec protocol).

Ties count against the model::

    rank = #{ i ≠ target, i ranked : s_i ≥ s_target }        (0 = top of the list)
    Recall@k = [rank < k]            NDCG@k = [rank < k] / log2(rank + 2)

so a model that gives every item the same score gets rank ``N − 1 − #masked`` and scores 0.
NaN scores are treated as ``-inf`` (the worst possible), so a diverged model cannot look good.

Two layers:
* :func:`rank_metrics` — the pure core on a score matrix; any device, float32/bf16 input
  (compared in float32);
* :func:`evaluate` — batches a :class:`~srsupm_lab.data.windows.Windows` through
  ``model.score(batch)`` and returns a tidy table, overall and per PMSA level when levels are given
  (paper Fig. 7).
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd
import torch

from . import distributed as ddp
from .families.protocol import scoring_batch

__all__ = ["rank_metrics", "target_ranks", "metrics_from_ranks", "evaluate", "metric_names"]


def _check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    ks = tuple(ks)
    if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
        raise ValueError(f"ks must be a non-empty sequence of positive integers, got {ks!r}")
    return ks


def metric_names(ks: Sequence[int] = (10, 20)) -> list[str]:
    """Column names in the order the tables use: ``recall@k`` for every k, then ``ndcg@k``."""
    ks = _check_ks(ks)
    return [f"recall@{k}" for k in ks] + [f"ndcg@{k}" for k in ks]


def target_ranks(scores: torch.Tensor, targets: torch.Tensor, history: torch.Tensor | None = None) -> torch.Tensor:
    """0-based rank of each target among the ranked items, ties against the model.

    Parameters
    ----------
    scores : Tensor [U, N+1]; column 0 is padding and never ranked.
    targets : LongTensor [U], ids in ``1..N``.
    history : LongTensor [U, H] or None; 0-padded ids of items to leave out of the ranking
        (the target is kept even when it appears there; repeats are harmless).

    Returns
    -------
    LongTensor [U] on the device of ``scores``.
    """
    if scores.ndim != 2:
        raise ValueError(f"rank_metrics: scores must be [U, N+1], got shape {tuple(scores.shape)}")
    n_users, n_cols = scores.shape
    if n_cols < 2:
        raise ValueError(f"rank_metrics: scores need a padding column and at least one item, got {n_cols} columns")
    targets = torch.as_tensor(targets, device=scores.device).long()
    if targets.shape != (n_users,):
        raise ValueError(f"rank_metrics: targets must be [U]={n_users}, got shape {tuple(targets.shape)}")
    if n_users and (int(targets.min()) < 1 or int(targets.max()) >= n_cols):
        raise ValueError(f"rank_metrics: target ids must lie in 1..{n_cols - 1} (0 is padding)")

    s = scores.float().nan_to_num(nan=float("-inf"))                      # (U, N+1)
    rows = torch.arange(n_users, device=s.device)
    ranked = torch.ones_like(s, dtype=torch.bool)                         # (U, N+1) items in the ranking
    ranked[:, 0] = False                                                  # padding is never ranked
    if history is not None:
        history = torch.as_tensor(history, device=s.device).long()
        if history.ndim != 2 or history.shape[0] != n_users:
            raise ValueError(f"rank_metrics: history must be [U={n_users}, H], got shape {tuple(history.shape)}")
        if history.numel() and (int(history.min()) < 0 or int(history.max()) >= n_cols):
            raise ValueError(f"rank_metrics: history ids must lie in 0..{n_cols - 1} (0 = padding)")
        ranked.scatter_(1, history, False)                                # seen items leave the ranking
    ranked[rows, targets] = False                                         # i ≠ target
    s_target = s[rows, targets]                                           # (U,)
    return ((s >= s_target[:, None]) & ranked).sum(dim=1)                 # (U,)


def metrics_from_ranks(ranks: torch.Tensor, ks: Sequence[int] = (10, 20)) -> dict[str, torch.Tensor]:
    """Per-user Recall@k and NDCG@k (float32 tensors [U]) from 0-based ranks."""
    ks = _check_ks(ks)
    r = ranks.float()                                                     # (U,)
    gain = 1.0 / torch.log2(r + 2.0)                                      # (U,)
    out = {f"recall@{k}": (ranks < k).float() for k in ks}
    out.update({f"ndcg@{k}": torch.where(ranks < k, gain, torch.zeros_like(gain)) for k in ks})
    return out


def rank_metrics(scores: torch.Tensor, targets: torch.Tensor, history: torch.Tensor | None = None,
                 ks: Sequence[int] = (10, 20), per_user: bool = False) -> dict:
    """Recall@k and NDCG@k of one score matrix (method.md §10).

    Returns ``{"recall@10": float, ..., "ndcg@20": float}`` averaged over users, or with
    ``per_user=True`` the per-user tensors [U] plus ``"rank"`` (LongTensor [U]).
    """
    ranks = target_ranks(scores, targets, history)
    per = metrics_from_ranks(ranks, ks)
    if per_user:
        return {"rank": ranks, **per}
    if ranks.numel() == 0:
        raise ValueError("rank_metrics: no user to average over (U = 0)")
    return {name: float(v.mean()) for name, v in per.items()}


def _model_device(model: torch.nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


@torch.no_grad()
def evaluate(model, windows, levels: torch.Tensor | None = None, mask_history: bool = True,
             ks: Sequence[int] = (10, 20), batch_size: int = 1024, device=None, return_ranks: bool = False):
    """Full-ranking metrics of ``model`` on ``windows``, overall and per PMSA level.

    Parameters
    ----------
    model : follows the Recommender protocol (:mod:`srsupm_lab.families.protocol`: ``model.score(batch) -> [B, N+1]``,
        the batch holding every column of ``windows`` but the targets and the history).
        Put in eval mode for the call; its previous mode is restored afterwards. No autocast:
        scores are computed in the model's own precision (bf16 would create ties).
    windows : Windows with ``history`` when ``mask_history`` is True.
    levels : LongTensor [U] or None — the PMSA level of each window; adds one row per level.
    device : where to score; default the model's device.
        In a multi-process run (``torchrun``, see :mod:`srsupm_lab.distributed`) each process
        ranks a contiguous chunk of the users and the ranks are all-gathered: every process
        returns the same table.
    return_ranks : also return the per-user 0-based ranks (LongTensor [U], on CPU).

    Returns
    -------
    DataFrame with columns ``level`` ("all", then each level id present), ``users`` and the
    metrics of :func:`metric_names`; or ``(table, ranks)`` with ``return_ranks=True``.
    """
    ks = _check_ks(ks)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"evaluate: batch_size must be a positive integer, got {batch_size!r}")
    n = len(windows)
    if n == 0:
        raise ValueError("evaluate: the windows hold no user")
    if mask_history and windows.history is None:
        raise ValueError("evaluate: mask_history=True but windows.history is None; build the windows with "
                         "leave_one_out(..., history=True) or pass mask_history=False")
    if levels is not None:
        levels = torch.as_tensor(levels).long().cpu()
        if levels.shape != (n,):
            raise ValueError(f"evaluate: levels must be [U]={n}, got shape {tuple(levels.shape)}")
    device = torch.device(device) if device is not None else _model_device(model)

    lo, hi = ddp.chunk_bounds(n)[ddp.rank()]                   # one process: (0, n); DDP: this rank's users
    was_training = model.training
    model.eval()
    try:
        ranks = [torch.zeros(0, dtype=torch.long)]
        for start in range(lo, hi, batch_size):
            part = windows.subset(slice(start, min(start + batch_size, hi))).to(device)
            scores = model.score(scoring_batch(part))                                         # (B, N+1)
            ranks.append(target_ranks(scores, part.targets, part.history if mask_history else None).cpu())
        ranks = torch.cat(ranks)                                                              # (hi - lo,)
    finally:
        model.train(was_training)
    if ddp.is_distributed():                                   # every rank gets all users' ranks
        ranks = ddp.gather_chunks(ranks.to(device), n).cpu()                                 # (U,)

    per = metrics_from_ranks(ranks, ks)
    names = metric_names(ks)
    rows = [{"level": "all", "users": n, **{m: float(per[m].mean()) for m in names}}]
    if levels is not None:
        for lvl in torch.unique(levels).tolist():
            sel = levels == lvl
            rows.append({"level": int(lvl), "users": int(sel.sum()), **{m: float(per[m][sel].mean()) for m in names}})
    table = pd.DataFrame(rows, columns=["level", "users", *names])
    return (table, ranks) if return_ranks else table
