"""Is one model really better than another on the same users? A paired bootstrap (method.md §10).

Two runs evaluated on the same test users give, per user, a 0-based rank of the target for
model A and for model B (:func:`srsupm_lab.experiment.user_ranks`). A metric such as Recall@10
is a mean of per-user values, so the gain of B over A is the mean of the per-user differences
``d_u = m_B(u) − m_A(u)``. The **paired bootstrap** resamples users with replacement (the same
users for both models, which keeps the pairing) and recomputes the mean difference each time;
the 2.5 % and 97.5 % quantiles of those means are a 95 % confidence interval of the gain, and
the share of resampled gains on the other side of zero (doubled) is a two-sided p-value.

Several seeds: with the ranks of S runs per model (one per training seed, the same users), each
user's metric is first averaged over that model's runs, then the users are resampled as above.
The gain is then the mean of the per-seed gains, and its interval is narrower than one seed's
because each model's training noise is averaged over its seeds. That interval resamples users
only; every table also carries the seed-aware one beside it (``seed_ci_low``, ``seed_ci_high``,
``seed_p_value``): the two-level bootstrap of :mod:`srsupm_lab.analysis.seed_uncertainty`, which
resamples each model's runs as well as the users, so a gain that one lucky seed carries is not
read as established.

Everything is vectorised: the resamples are drawn as a ``(n_boot, U)`` index matrix in chunks,
so memory stays bounded for large user sets.

Why not :func:`scipy.stats.bootstrap`: it does the same job (``paired=True`` on the two models'
per-user metrics, or one sample of the per-user differences, which is the same resampling;
``vectorized``, percentile interval), but it is slower on the sizes the reports use (Beauty's paired
test users, four metrics: ``benchmarks/bench_bootstrap.py`` prints the table of both). It also keeps the reports' intervals and p-values reproducible from the committed run folders
(the resamples come from torch's generator, seeded).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ..evaluate import metric_names, metrics_from_ranks

__all__ = ["paired_bootstrap", "paired_bootstrap_values", "compare_runs"]


def _as_ranks(ranks, name: str) -> torch.Tensor:
    """(S, U) long ranks: one row per run (a 1-D input is one run)."""
    t = torch.as_tensor(np.array(ranks))                                    # a copy: inputs may be read-only
    if t.dim() not in (1, 2) or t.numel() == 0 or t.dtype.is_floating_point or bool((t < 0).any()):
        raise ValueError(f"paired_bootstrap: {name} must be a non-empty array of 0-based integer ranks, "
                         f"1-D (users) or 2-D (runs × users)")
    return t.long().reshape(-1, t.shape[-1])


def _user_metrics(ranks: torch.Tensor, ks) -> dict[str, torch.Tensor]:
    """Each user's metrics (float64 [U]), averaged over the runs (rows) of ``ranks``."""
    per = metrics_from_ranks(ranks.reshape(-1), ks)
    return {m: v.double().reshape(ranks.shape).mean(dim=0) for m, v in per.items()}


def paired_bootstrap(ranks_a, ranks_b, ks: Sequence[int] = (10, 20), n_boot: int = 2000, seed: int = 0,
                     chunk: int = 100, confidence: float = 0.95) -> pd.DataFrame:
    """Gain of B over A per metric with a paired-bootstrap confidence interval.

    Parameters
    ----------
    ranks_a, ranks_b : integer arrays of 0-based ranks, user ``u`` at the same position in both: 1-D
        (U,) for one run, or 2-D (S, U) for S runs of the model (seeds), whose per-user metrics are
        averaged over the runs before resampling (module docstring). S may differ between A and B.
    ks : cut-offs of Recall@k and NDCG@k.
    n_boot : number of resamples; ``seed`` makes them reproducible.
    confidence : level of the percentile interval.

    Returns
    -------
    DataFrame, one row per metric: ``a``, ``b`` (means), ``gain`` (b − a), ``relative`` (gain / a),
    ``ci_low``, ``ci_high`` (percentile interval of the gain), ``p_value`` (two-sided), ``users``, then
    ``seeds_a``, ``seeds_b`` and the interval over runs and users: ``seed_ci_low``, ``seed_ci_high``,
    ``seed_p_value`` (module docstring).
    """
    a, b = _as_ranks(ranks_a, "ranks_a"), _as_ranks(ranks_b, "ranks_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"paired_bootstrap: the two runs must rank the same users, got {a.shape[1]} and {b.shape[1]}")
    names = metric_names(ks)
    ma, mb = _user_metrics(a, ks), _user_metrics(b, ks)
    table = _bootstrap([ma[m] for m in names], [mb[m] for m in names], names, n_boot, seed, chunk, confidence)
    ra, rb = metrics_from_ranks(a.reshape(-1), ks), metrics_from_ranks(b.reshape(-1), ks)
    return _with_seed_interval(table, {m: ra[m].double().reshape(a.shape) for m in names},
                               {m: rb[m].double().reshape(b.shape) for m in names}, n_boot, seed, chunk, confidence)


def _with_seed_interval(table: pd.DataFrame, runs_a: dict, runs_b: dict, n_boot: int, seed: int, chunk: int,
                        confidence: float) -> pd.DataFrame:
    """``table`` with the two-level (runs and users) bootstrap's interval and p-value beside the user-level
    ones; ``runs_a``/``runs_b``: ``{metric: (S, U)}`` per-run, per-user values."""
    from .seed_uncertainty import seed_user_bootstrap_values
    two = seed_user_bootstrap_values(runs_a, runs_b, n_boot=n_boot, seed=seed, chunk=chunk, confidence=confidence)
    out = table.copy()
    out["seeds_a"], out["seeds_b"] = two["seeds_a"].to_numpy(), two["seeds_b"].to_numpy()
    out["seed_ci_low"] = two["seed_user_ci_low"].to_numpy()
    out["seed_ci_high"] = two["seed_user_ci_high"].to_numpy()
    out["seed_p_value"] = two["seed_user_p_value"].to_numpy()
    return out


def _bootstrap(ma: list, mb: list, names: list, n_boot, seed: int, chunk: int, confidence: float) -> pd.DataFrame:
    """The resampling of :func:`paired_bootstrap` on per-user values (float64 [U] per metric, runs averaged)."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ValueError(f"paired_bootstrap: n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"paired_bootstrap: confidence must lie in (0, 1), got {confidence!r}")
    diff = torch.stack([y - x for x, y in zip(ma, mb)])                    # (M, U) per-user differences
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
        mean_a, mean_b = float(ma[i].mean()), float(mb[i].mean())
        gain = float(diff[i].mean())
        low, high = np.quantile(boots[i], [tail, 1.0 - tail])
        other_side = np.mean(boots[i] <= 0) if gain > 0 else np.mean(boots[i] >= 0) if gain < 0 else 1.0
        rows.append({"metric": m, "a": mean_a, "b": mean_b, "gain": gain,
                     "relative": gain / mean_a if mean_a else float("nan"), "ci_low": float(low),
                     "ci_high": float(high), "p_value": float(min(1.0, 2.0 * other_side)), "users": U})
    return pd.DataFrame(rows)


def paired_bootstrap_values(values_a: dict, values_b: dict, n_boot: int = 2000, seed: int = 0, chunk: int = 100,
                            confidence: float = 0.95) -> pd.DataFrame:
    """:func:`paired_bootstrap` of per-user values that are not ranks (an AUC, a capped weight, a satisfaction).

    ``values_a``, ``values_b``: ``{metric: array}``, each 1-D (U,) or 2-D (S, U) (runs averaged per user
    first, as for ranks); the same metrics on both sides, user ``u`` at the same position. The same
    table as :func:`paired_bootstrap` (the gain of B over A is a difference of means).
    """
    if set(values_a) != set(values_b) or not values_a:
        raise ValueError(f"paired_bootstrap_values: the same metrics on both sides, got {sorted(values_a)} and "
                         f"{sorted(values_b)}")
    names = list(values_a)

    def runs(value, name):
        t = torch.as_tensor(np.array(value, dtype=np.float64))
        if t.dim() not in (1, 2) or t.numel() == 0 or bool(torch.isnan(t).any()):
            raise ValueError(f"paired_bootstrap_values: {name} must be a non-empty 1-D or 2-D array without NaN")
        return t.reshape(-1, t.shape[-1])                                   # (S, U)

    ra = {m: runs(values_a[m], m) for m in names}
    rb = {m: runs(values_b[m], m) for m in names}
    if any(ra[m].shape[1] != rb[m].shape[1] for m in names):
        raise ValueError("paired_bootstrap_values: the two sides must hold the same users")
    table = _bootstrap([ra[m].mean(dim=0) for m in names], [rb[m].mean(dim=0) for m in names], names, n_boot,
                       seed, chunk, confidence)
    return _with_seed_interval(table, ra, rb, n_boot, seed, chunk, confidence)


def compare_runs(run_a, run_b, device="cpu", split: str = "test", **options) -> pd.DataFrame:
    """:func:`paired_bootstrap` of two run folders (B against A), overall, from their per-user ranks on
    ``split`` (:func:`srsupm_lab.experiment.user_ranks`: ``test_ranks.csv`` / ``valid_ranks.csv``, else the
    best checkpoint re-scored; ``split="valid"`` compares two settings without looking at test data).

    ``run_a`` and ``run_b`` may each be a list of run folders (one model's seeds): each user's metric
    is then averaged over that model's runs. Every run must evaluate the same test users in the same
    order (same dataset and ``max_len``).
    """
    from ..experiment import user_ranks
    runs_a = list(run_a) if isinstance(run_a, (list, tuple)) else [run_a]
    runs_b = list(run_b) if isinstance(run_b, (list, tuple)) else [run_b]
    if not runs_a or not runs_b:
        raise ValueError("compare_runs: each side needs at least one run folder")
    ranks = {run: user_ranks(run, device=device, split=split) for run in dict.fromkeys(runs_a + runs_b)}
    users = ranks[runs_a[0]]["user"].to_numpy()
    for run, r in ranks.items():
        if not np.array_equal(r["user"].to_numpy(), users):
            raise ValueError(f"compare_runs: {runs_a[0]} and {run} do not evaluate the same {split} users")
    return paired_bootstrap(np.stack([ranks[r]["rank"].to_numpy() for r in runs_a]),
                            np.stack([ranks[r]["rank"].to_numpy() for r in runs_b]), **options)
