"""Cold-start evaluation: the test target predicted from a user's first k items only, two protocols side by side.

M-LLM³Rec's claim is about users with few interactions (cold start: fewer than 3). The lab measures
it on the leave-one-out split without retraining anything: for each test user with at least k
items before her test target, the model sees only her **first k items** (the oldest, as if she had
just arrived), and ranks her test target:

* ``full``: full ranking over every item, the k seen items masked (the lab's protocol, method.md §10);
* ``sampled``: the target among ``n_negatives`` (100) items drawn uniformly, per user and seeded, from
  the items she has not seen and that are not the target; ties count against the model. This is the
  protocol the paper's HR@10 ≈ .7 on Beauty points to (``docs/profiles_method.md``): the gap
  between the two columns is the gap between the two protocols, not between models.

``k = "all"`` is the usual test window (every item before the target, the last ``max_len``).
:func:`cold_start_table` gives one row per (k, protocol) with Recall@10/20 and NDCG@10/20, and
:func:`cold_start_ranks` the per-user ranks that paired comparisons between two runs need
(:func:`srsupm_lab.analysis.significance.paired_bootstrap`). Everything is batched over users.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ..data.windows import Windows
from ..evaluate import metric_names, metrics_from_ranks, target_ranks
from ..families.protocol import scoring_batch

__all__ = ["first_items_windows", "sampled_ranks", "cold_start_ranks", "cold_start_table", "COLD_KS", "PROTOCOLS"]

#: the history lengths of the cold-start curve (the paper's cold start: fewer than 3 interactions)
COLD_KS = (1, 2, 3, 5)
PROTOCOLS = ("full", "sampled")


def first_items_windows(dataset, test: Windows, k: int, max_len: int) -> Windows:
    """The test windows of the users with at least ``k`` items before their target, each cut to the user's
    first ``k`` items (left-padded to ``max_len``); ``history`` is those k items (what is masked)."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= max_len:
        raise ValueError(f"cold start: k must be an integer in 1..max_len={max_len}, got {k!r}")
    users = test.users.numpy()
    seen = np.array([len(dataset.sequences[u]) - 1 for u in users])          # items before the test target
    keep = np.flatnonzero(seen >= k)
    first = np.stack([dataset.sequences[u][:k] for u in users[keep]]) if keep.size else np.zeros((0, k), np.int64)
    inputs = np.zeros((keep.size, max_len), dtype=np.int64)
    inputs[:, max_len - k:] = first                                          # left-padded, oldest first
    return Windows(torch.from_numpy(inputs), test.targets[keep], test.users[keep],
                   history=torch.from_numpy(first.astype(np.int64)),
                   context=None if test.context is None else test.context[keep])


def sampled_ranks(scores: torch.Tensor, targets: torch.Tensor, history: torch.Tensor, n_negatives: int,
                  generator: torch.Generator, return_negatives: bool = False):
    """0-based rank of each target among ``n_negatives`` distinct items drawn uniformly from those neither
    seen (``history``, 0-padded) nor the target, ties against the model; with ``return_negatives`` also
    the drawn items ``[U, n]``."""
    n_users, n_cols = scores.shape
    n_items = n_cols - 1
    blocked = torch.zeros(n_users, n_cols, dtype=torch.bool)
    blocked[:, 0] = True
    blocked.scatter_(1, history.clamp_min(0), True)
    blocked[torch.arange(n_users), targets] = True
    free = (~blocked).sum(dim=1)
    if int(free.min()) < n_negatives:
        raise ValueError(f"cold start: a user has only {int(free.min())} unseen items, fewer than n_negatives="
                         f"{n_negatives}")
    # Gumbel-top-n over the free items: n distinct uniform draws per user, vectorised
    keys = torch.rand(n_users, n_cols, generator=generator).masked_fill(blocked, -1.0)
    negatives = keys.topk(n_negatives, dim=1).indices                        # (U, n)
    s = scores.float().nan_to_num(nan=float("-inf"))
    s_target = s[torch.arange(n_users), targets]                             # (U,)
    ranks = (s.gather(1, negatives) >= s_target[:, None]).sum(dim=1)         # (U,)
    return (ranks, negatives) if return_negatives else ranks


@torch.no_grad()
def cold_start_ranks(model, dataset, split, ks: Sequence = COLD_KS, max_len: int | None = None,
                     n_negatives: int = 100, seed: int = 0, batch_size: int = 1024) -> pd.DataFrame:
    """Per-user ranks: ``k`` (an int or "all"), ``protocol`` ("full" or "sampled"), ``user``, ``rank``."""
    max_len = split.test.inputs.shape[1] if max_len is None else max_len
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    rows = []
    try:
        for k in [*ks, "all"]:
            windows = split.test if k == "all" else first_items_windows(dataset, split.test, k, max_len)
            g = torch.Generator().manual_seed(seed)
            for start in range(0, len(windows), batch_size):
                part = windows.subset(slice(start, start + batch_size))
                scores = model.score(scoring_batch(part.to(device))).cpu()                 # (B, N+1)
                full = target_ranks(scores, part.targets, part.history)
                sampled = sampled_ranks(scores, part.targets, part.history, n_negatives, g)
                users = part.users.numpy()
                rows.append(pd.DataFrame({"k": str(k), "protocol": "full", "user": users, "rank": full.numpy()}))
                rows.append(pd.DataFrame({"k": str(k), "protocol": "sampled", "user": users,
                                          "rank": sampled.numpy()}))
    finally:
        model.train(was_training)
    return pd.concat(rows, ignore_index=True)


def cold_start_table(ranks: pd.DataFrame, ks: Sequence[int] = (10, 20)) -> pd.DataFrame:
    """One row per (k, protocol): users, Recall@k and NDCG@k (sampled: HR@k and NDCG@k among 1 + n items)."""
    out = []
    for (k, protocol), g in ranks.groupby(["k", "protocol"], sort=False):
        per = metrics_from_ranks(torch.as_tensor(g["rank"].to_numpy().copy()), ks)
        out.append({"k": k, "protocol": protocol, "users": len(g),
                    **{m: float(per[m].mean()) for m in metric_names(ks)}})
    return pd.DataFrame(out)
