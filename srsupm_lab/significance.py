"""Is one model really better than another on the same users? A paired bootstrap (method.md §10).

Two runs evaluated on the same test users give, per user, a 0-based rank of the target for
model A and for model B (:func:`srsupm_lab.experiment.user_ranks`). A metric such as Recall@10
is a mean of per-user values, so the gain of B over A is the mean of the per-user differences
``d_u = m_B(u) − m_A(u)``. The **paired bootstrap** resamples users with replacement (the same
users for both models, which keeps the pairing) and recomputes the mean difference each time;
the 2.5 % and 97.5 % quantiles of those means are a 95 % confidence interval of the gain, and
the share of resampled gains on the other side of zero (doubled) is a two-sided p-value.

Everything is vectorised: the resamples are drawn as a ``(n_boot, U)`` index matrix in chunks,
so memory stays bounded for large user sets.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from .evaluate import metric_names, metrics_from_ranks

__all__ = ["paired_bootstrap", "compare_runs"]


def _as_ranks(ranks, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.array(ranks))                                    # a copy: inputs may be read-only
    if t.dim() != 1 or t.numel() == 0 or t.dtype.is_floating_point or bool((t < 0).any()):
        raise ValueError(f"paired_bootstrap: {name} must be a non-empty 1-D array of 0-based integer ranks")
    return t.long()


def paired_bootstrap(ranks_a, ranks_b, ks: Sequence[int] = (10, 20), n_boot: int = 2000, seed: int = 0,
                     chunk: int = 100, confidence: float = 0.95) -> pd.DataFrame:
    """Gain of B over A per metric with a paired-bootstrap confidence interval.

    Parameters
    ----------
    ranks_a, ranks_b : 1-D integer arrays (U,) of 0-based ranks, user ``u`` at the same position in both.
    ks : cut-offs of Recall@k and NDCG@k.
    n_boot : number of resamples; ``seed`` makes them reproducible.
    confidence : level of the percentile interval.

    Returns
    -------
    DataFrame, one row per metric: ``a``, ``b`` (means), ``gain`` (b − a), ``relative`` (gain / a),
    ``ci_low``, ``ci_high`` (percentile interval of the gain), ``p_value`` (two-sided), ``users``.
    """
    a, b = _as_ranks(ranks_a, "ranks_a"), _as_ranks(ranks_b, "ranks_b")
    if a.shape != b.shape:
        raise ValueError(f"paired_bootstrap: the two runs must rank the same users, got {a.numel()} and {b.numel()}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ValueError(f"paired_bootstrap: n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"paired_bootstrap: confidence must lie in (0, 1), got {confidence!r}")
    names = metric_names(ks)
    ma, mb = metrics_from_ranks(a, ks), metrics_from_ranks(b, ks)
    diff = torch.stack([(mb[m] - ma[m]).double() for m in names])          # (M, U) per-user differences
    U = diff.shape[1]
    gen = torch.Generator().manual_seed(int(seed))
    boots = []
    for start in range(0, n_boot, chunk):
        n = min(chunk, n_boot - start)
        idx = torch.randint(0, U, (n, U), generator=gen)                   # (n, U) resampled users
        boots.append(diff[:, idx].mean(dim=2))                             # (M, n)
    boots = torch.cat(boots, dim=1).numpy()                                # (M, n_boot)
    tail = (1.0 - confidence) / 2.0
    rows = []
    for i, m in enumerate(names):
        mean_a, mean_b = float(ma[m].double().mean()), float(mb[m].double().mean())
        gain = float(diff[i].mean())
        low, high = np.quantile(boots[i], [tail, 1.0 - tail])
        other_side = np.mean(boots[i] <= 0) if gain > 0 else np.mean(boots[i] >= 0) if gain < 0 else 1.0
        rows.append({"metric": m, "a": mean_a, "b": mean_b, "gain": gain,
                     "relative": gain / mean_a if mean_a else float("nan"), "ci_low": float(low),
                     "ci_high": float(high), "p_value": float(min(1.0, 2.0 * other_side)), "users": U})
    return pd.DataFrame(rows)


def compare_runs(run_a, run_b, device="cpu", **options) -> pd.DataFrame:
    """:func:`paired_bootstrap` of two run folders (B against A), overall, from their per-user test ranks
    (:func:`srsupm_lab.experiment.user_ranks`: ``test_ranks.csv``, else the best checkpoint re-scored).

    Both runs must evaluate the same test users in the same order (same dataset and ``max_len``).
    """
    from .experiment import user_ranks
    ra, rb = user_ranks(run_a, device=device), user_ranks(run_b, device=device)
    if not np.array_equal(ra["user"].to_numpy(), rb["user"].to_numpy()):
        raise ValueError(f"compare_runs: {run_a} and {run_b} do not evaluate the same test users")
    return paired_bootstrap(ra["rank"].to_numpy(), rb["rank"].to_numpy(), **options)
