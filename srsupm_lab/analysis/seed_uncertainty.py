"""How sure is a gain when the seeds disagree? Uncertainty over training seeds and users (method.md §10).

:func:`srsupm_lab.analysis.significance.paired_bootstrap` averages each user's metric over a
model's seeds and then resamples users: its interval says how much the gain would move with
other test users, not with another training run. When SASRec's own Recall@10 moves by as much
between two seeds as the effect being read, that interval is too narrow for the question "is B
better than A?". This module gives the two seed-aware answers a report puts beside it:

**A two-level (hierarchical) bootstrap.** Each resample draws, independently,
``S_A`` of model A's runs with replacement, ``S_B`` of model B's runs with replacement, and ``U``
test users with replacement (the same users for both models, which keeps the pairing). The
resampled gain is

    g* = (1/U) Σ_u* [ (1/S_B) Σ_j m_B(s_j, u*) − (1/S_A) Σ_i m_A(s_i, u*) ]

and the 2.5 % / 97.5 % quantiles of ``g*`` are the interval, the doubled share of ``g*`` on the
other side of zero the two-sided p-value (the conventions of ``paired_bootstrap``). The seeds of
A and B are not paired: seed 1 of one model shares nothing with seed 1 of another but a number.
With one run per model it reduces to the user-level paired bootstrap; with two seeds a model's
resampled seed mean takes three values, which is why two seeds give a coarse, honest interval.

**A seed-level Welch interval.** Each run's overall metric (its mean over users) is one
observation; the gain's interval is Welch's t interval on the difference of the two models' seed
means (unequal variances, Welch–Satterthwaite degrees of freedom). It needs at least two seeds
per model; with fewer the columns are NaN.

Both are vectorised: the resampled seeds and users enter as count weights, so one chunk of
resamples is two matrix products (no loop over users or seeds).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats

from ..evaluate import metric_names, metrics_from_ranks

__all__ = ["seed_user_bootstrap", "seed_user_bootstrap_values", "welch_seed_interval", "seed_uncertainty"]


def _runs_by_users(ranks, name: str) -> torch.Tensor:
    """(S, U) long ranks, one row per run; a one-line ValueError on anything else."""
    t = torch.as_tensor(np.array(ranks))
    if t.dim() != 2 or t.numel() == 0 or t.dtype.is_floating_point or bool((t < 0).any()):
        raise ValueError(f"seed_uncertainty: {name} must be a non-empty 2-D array (runs × users) of 0-based "
                         f"integer ranks, got shape {tuple(t.shape)} and dtype {t.dtype}")
    return t.long()


def _per_run_metrics(ranks: torch.Tensor, ks) -> dict[str, torch.Tensor]:
    """Each run's per-user metrics, float64 (S, U)."""
    per = metrics_from_ranks(ranks.reshape(-1), ks)
    return {m: v.double().reshape(ranks.shape) for m, v in per.items()}


def _check(n_boot, confidence) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ValueError(f"seed_uncertainty: n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"seed_uncertainty: confidence must lie in (0, 1), got {confidence!r}")


def _count_weights(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """(n, size) float64: how often each of ``size`` units is drawn in each of n resamples, over ``size``."""
    idx = torch.randint(0, size, (n, size), generator=gen)                       # (n, size) draws
    counts = torch.zeros(n, size, dtype=torch.float64)
    counts.scatter_add_(1, idx, torch.ones(n, size, dtype=torch.float64))
    return counts / size


def seed_user_bootstrap_values(values_a: dict, values_b: dict, n_boot: int = 2000, seed: int = 0,
                               chunk: int = 100, confidence: float = 0.95) -> pd.DataFrame:
    """The two-level bootstrap (module docstring) of per-run, per-user values ``{metric: (S, U)}``."""
    _check(n_boot, confidence)
    names = list(values_a)
    if not names or set(values_a) != set(values_b):
        raise ValueError(f"seed_uncertainty: the same metrics on both sides, got {sorted(values_a)} and "
                         f"{sorted(values_b)}")
    ma = torch.stack([torch.as_tensor(np.asarray(values_a[m], dtype=np.float64)) for m in names])  # (M, S_A, U)
    mb = torch.stack([torch.as_tensor(np.asarray(values_b[m], dtype=np.float64)) for m in names])  # (M, S_B, U)
    if ma.dim() != 3 or mb.dim() != 3 or ma.shape[2] != mb.shape[2]:
        raise ValueError(f"seed_uncertainty: values must be (runs × users) with the same users on both sides, "
                         f"got {tuple(ma.shape[1:])} and {tuple(mb.shape[1:])}")
    S_A, U = ma.shape[1:]
    S_B = mb.shape[1]
    gen = torch.Generator().manual_seed(int(seed))
    boots = []
    for start in range(0, n_boot, chunk):
        n = min(chunk, n_boot - start)
        w_a, w_b = _count_weights(n, S_A, gen), _count_weights(n, S_B, gen)    # (n, S_A), (n, S_B)
        w_u = _count_weights(n, U, gen)                                        # (n, U)
        per_a = torch.einsum("msu,nu->mns", ma, w_u)                           # (M, n, S_A) user-resampled run means
        per_b = torch.einsum("msu,nu->mns", mb, w_u)                           # (M, n, S_B)
        boots.append((per_b * w_b).sum(-1) - (per_a * w_a).sum(-1))            # (M, n)
    boots = torch.cat(boots, dim=1).numpy()
    tail = (1.0 - confidence) / 2.0
    rows = []
    for i, m in enumerate(names):
        a, b = float(ma[i].mean()), float(mb[i].mean())
        gain = b - a
        low, high = np.quantile(boots[i], [tail, 1.0 - tail])
        other = np.mean(boots[i] <= 0) if gain > 0 else np.mean(boots[i] >= 0) if gain < 0 else 1.0
        rows.append({"metric": m, "a": a, "b": b, "gain": gain, "seeds_a": S_A, "seeds_b": S_B, "users": U,
                     "seed_user_ci_low": float(low), "seed_user_ci_high": float(high),
                     "seed_user_p_value": float(min(1.0, 2.0 * other))})
    return pd.DataFrame(rows)


def seed_user_bootstrap(ranks_a, ranks_b, ks: Sequence[int] = (10, 20), n_boot: int = 2000, seed: int = 0,
                        chunk: int = 100, confidence: float = 0.95) -> pd.DataFrame:
    """Gain of B over A with the two-level bootstrap over seeds and users (module docstring).

    ``ranks_a`` (S_A, U) and ``ranks_b`` (S_B, U): 0-based ranks of the same test users, one row per
    training seed. One row per metric: ``a``, ``b`` (means over runs and users), ``gain``, the seed
    and user counts, ``seed_user_ci_low``/``_high`` and ``seed_user_p_value``.
    """
    a, b = _runs_by_users(ranks_a, "ranks_a"), _runs_by_users(ranks_b, "ranks_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"seed_uncertainty: the two models must rank the same users, got {a.shape[1]} and "
                         f"{b.shape[1]}")
    return seed_user_bootstrap_values(_per_run_metrics(a, ks), _per_run_metrics(b, ks), n_boot, seed, chunk,
                                      confidence)


def welch_seed_interval(run_means_a, run_means_b, confidence: float = 0.95) -> dict:
    """Welch's t interval and p-value of ``mean(b) − mean(a)``, one observation per seed (module docstring).

    Returns ``{"welch_ci_low", "welch_ci_high", "welch_p_value", "seed_sd_a", "seed_sd_b"}``; the first
    three are NaN when a side has fewer than two seeds, or when both sides have no spread at all.
    """
    _check(1, confidence)
    a = np.asarray(run_means_a, dtype=np.float64).ravel()
    b = np.asarray(run_means_b, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("welch_seed_interval: each side needs at least one finite per-seed value")
    out = {"seed_sd_a": float(a.std(ddof=1)) if a.size > 1 else float("nan"),
           "seed_sd_b": float(b.std(ddof=1)) if b.size > 1 else float("nan"),
           "welch_ci_low": float("nan"), "welch_ci_high": float("nan"), "welch_p_value": float("nan")}
    if a.size < 2 or b.size < 2:
        return out
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = np.sqrt(va + vb)
    if se == 0.0:
        return out
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    gain = b.mean() - a.mean()
    half = stats.t.ppf(0.5 + confidence / 2.0, df) * se
    out.update(welch_ci_low=float(gain - half), welch_ci_high=float(gain + half),
               welch_p_value=float(2.0 * stats.t.sf(abs(gain) / se, df)))
    return out


def seed_uncertainty(ranks_a, ranks_b, ks: Sequence[int] = (10, 20), n_boot: int = 2000, seed: int = 0,
                     confidence: float = 0.95) -> pd.DataFrame:
    """Both seed-aware answers for B against A, one row per metric: :func:`seed_user_bootstrap`'s
    columns plus :func:`welch_seed_interval`'s on each run's overall metric."""
    table = seed_user_bootstrap(ranks_a, ranks_b, ks=ks, n_boot=n_boot, seed=seed, confidence=confidence)
    ma = _per_run_metrics(_runs_by_users(ranks_a, "ranks_a"), ks)
    mb = _per_run_metrics(_runs_by_users(ranks_b, "ranks_b"), ks)
    welch = pd.DataFrame([welch_seed_interval(ma[m].mean(dim=1).numpy(), mb[m].mean(dim=1).numpy(), confidence)
                          for m in metric_names(ks)])
    return pd.concat([table, welch], axis=1)
