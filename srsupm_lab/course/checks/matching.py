"""Checkers of lessons 5–6: PMSIM matching (Eqs. 11–18) and reading results.

See :mod:`srsupm_lab.course.checks` for what a checker prints and returns."""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import torch

from ._common import as_list, checker, as_int, is_near, as_number, say_correct, is_pending, as_float64, say_wrong


# ----------------------------------------------------------------------------- lesson 05
@checker
def check_group_size(answer, targets, levels, window: int) -> None:
    """Ex 5.1: |N(u)| (Eq. 11): the other training windows with the same target and level."""
    from srsupm_lab.methods.srsupm import pmsim

    if is_pending(answer):
        return
    t = torch.as_tensor(np.asarray(as_list(targets), dtype=np.int64))
    lv = torch.as_tensor(np.asarray(as_list(levels), dtype=np.int64))
    window = int(window)
    K = int(lv.max()) + 1
    groups = pmsim.build_groups(t, lv, K)
    g = int(groups["group"][window])
    expected = int(groups["offsets"][g + 1] - groups["offsets"][g]) - 1
    got = as_int(answer, "|N(u)|")
    if got == expected:
        return say_correct(f"|N(u)| = {expected}")
    if got == expected + 1:
        hint = "N(u) holds the OTHER windows: leave the window itself out."
    elif got > expected:
        hint = "a partner shares the target AND the shift level, not just one of them."
    else:
        hint = "count every other training window (any user) with the same target item and the same level."
    return say_wrong("|N(u)|", hint, expected)


@checker
def check_sampling_probabilities(answer, confidences, own: int) -> None:
    """Ex 5.2: P(u' = j) = c_j / Σ_{N(u)} c over the group without ``own`` (Eq. 14)."""
    if is_pending(answer):
        return
    c = as_float64(confidences)
    keep = torch.ones_like(c, dtype=torch.bool)
    keep[int(own)] = False
    expected = torch.where(keep, c, torch.zeros_like(c))
    expected = expected / expected.sum()
    try:
        got = as_float64(answer).flatten()
    except (TypeError, ValueError):
        return say_wrong("sampling probabilities", "the answer should be one probability per group member")
    if got.shape == expected.shape and torch.allclose(got, expected, atol=1e-6, rtol=0):
        return say_correct("sampling probabilities")
    if got.shape != expected.shape:
        hint = f"one probability per member of the group ({c.numel()}), the anchor included (with 0)."
    elif abs(float(got[int(own)])) > 1e-9:
        hint = "the anchor is never its own partner: its probability is 0."
    elif abs(float(got.sum()) - 1.0) > 1e-6:
        hint = "probabilities over the partners sum to 1."
    elif torch.allclose(got[keep], torch.full_like(got[keep], 1.0 / int(keep.sum())), atol=1e-6):
        hint = "not uniform: a partner is drawn in proportion to its confidence c_j."
    else:
        hint = "divide each partner's confidence by the sum of the partners' confidences (the anchor's left out)."
    return say_wrong("sampling probabilities", hint, [round(float(p), 5) for p in expected])


@checker
def check_info_nce(answer, anchor, positive, tau: float) -> None:
    """Ex 5.3: InfoNCE (Eqs. 16–18) with cosine similarity."""
    from srsupm_lab.methods.srsupm import pmsim

    if is_pending(answer):
        return
    A, P = as_float64(anchor), as_float64(positive)
    expected = float(pmsim.info_nce(A, P, float(tau)))
    got = as_number(answer, "InfoNCE")
    if is_near(got, expected, rel=1e-4):
        return say_correct("InfoNCE")
    labels = torch.arange(A.shape[0])
    dot = float(torch.nn.functional.cross_entropy(A @ P.t() / float(tau), labels))
    no_tau = float(pmsim.info_nce(A, P, 1.0))
    if got < 0:
        hint = "InfoNCE is a mean of cross-entropies, never negative."
    elif is_near(got, dot, rel=1e-4):
        hint = "the similarity is the cosine: normalise both views before the inner product."
    elif float(tau) != 1.0 and is_near(got, no_tau, rel=1e-4):
        hint = "divide the similarities by the temperature τ."
    elif is_near(got, expected * A.shape[0], rel=1e-4):
        hint = "average over the batch rows instead of summing."
    else:
        hint = ("row b of the anchors must pick row b of the positives among all positives: cosine / τ, "
                "a log-softmax over the row, minus its diagonal entry, averaged over rows.")
    return say_wrong("InfoNCE", hint, f"{expected:.6f}")


@checker
def check_match_probability(answer, anchor, positive, tau: float, row: int) -> None:
    """Ex 5.3: the probability InfoNCE gives anchor ``row`` of picking its own positive (Eqs. 16–18).

    ``softmax_j(cos(anchor_row, positive_j) / τ)`` at ``j = row``: the term whose −log is that row's
    share of L_PMSIM (the package's ``pmsim.info_nce`` averages it over the rows).
    """
    from srsupm_lab.methods.srsupm import pmsim

    if is_pending(answer):
        return
    A, P = as_float64(anchor), as_float64(positive)
    row, tau = int(row), float(tau)
    keep = torch.zeros(A.shape[0], dtype=torch.bool)
    keep[row] = True                                                          # only this anchor enters the mean
    expected = float(torch.exp(-pmsim.info_nce(A, P, tau, keep=keep)))       # the package's loss of that row
    cos = torch.nn.functional.normalize(A, dim=1) @ torch.nn.functional.normalize(P, dim=1).t()     # (B, B)
    got = as_number(answer, "match probability")
    if is_near(got, expected, rel=1e-4):
        return say_correct("probability of the right match")
    dot = A @ P.t()
    if not 0.0 <= got <= 1.0:
        hint = ("a probability lies in [0, 1]: that looks like a loss or a logit; take the softmax entry (exp of "
                "minus the row's cross-entropy).")
    elif is_near(got, float(torch.softmax(dot[row] / tau, dim=0)[row]), rel=1e-4):
        hint = "the similarity is the cosine: normalise both views before the inner product."
    elif tau != 1.0 and is_near(got, float(torch.softmax(cos[row], dim=0)[row]), rel=1e-4):
        hint = "divide the similarities by the temperature τ before the softmax."
    elif is_near(got, float(torch.softmax(cos[:, row] / tau, dim=0)[row]), rel=1e-4):
        hint = "the softmax runs over the positives for one anchor (a row of the similarity matrix), not a column."
    elif is_near(got, float(torch.exp(-pmsim.info_nce(A, P, tau))), rel=1e-4):
        hint = "that is exp(−L) of the whole batch; the question is about one anchor's row only."
    else:
        hint = ("cosine of the anchor with every positive, divided by τ, a softmax over the positives; the entry "
                "of its own positive.")
    return say_wrong("match probability", hint, f"{expected:.6f}")


# ----------------------------------------------------------------------------- lesson 06
@checker
def check_recall_from_ranks(answer, ranks, k: int = 10) -> None:
    """Ex 6.1: Recall@k from 0-based ranks."""
    from srsupm_lab.evaluate import metrics_from_ranks

    if is_pending(answer):
        return
    r = torch.as_tensor(np.asarray(as_list(ranks), dtype=np.int64))
    expected = float(metrics_from_ranks(r, ks=(k,))[f"recall@{k}"].double().mean())
    got = as_number(answer, f"Recall@{k}")
    if is_near(got, expected, rel=1e-6):
        return say_correct(f"Recall@{k}")
    if not 0.0 <= got <= 1.0:
        hint = f"Recall@{k} is a share of users, in [0, 1]: divide the hits by the number of users."
    elif is_near(got, float((r <= k).double().mean()), rel=1e-6):
        hint = f"ranks are 0-based: a hit is rank < {k}, so rank {k} is the eleventh place."
    else:
        hint = f"the share of users whose target has rank < {k}."
    return say_wrong(f"Recall@{k}", hint, f"{expected:.6f}")


@checker
def check_interval(answer, per_user_values, level: float = 0.95) -> None:
    """Ex 6.2: a ``level`` (95 %) confidence interval for a mean over users.

    A bootstrap interval is random, so it is judged against the normal approximation
    ``mean ± z·se`` (``se = sd/√n``, ``z`` the level's normal quantile): it must contain the
    sample mean and each end must lie within ``0.25·se`` of that approximation's end. That is
    about three Monte-Carlo standard errors of a percentile bootstrap with 1,000 resamples (the
    2.5 % quantile of the resampled means moves by about 0.085·se), and less than the gap to the
    ends of a 90 % (0.32·se) or 99 % (0.62·se) interval, so only the asked level passes.
    """
    if is_pending(answer):
        return
    x = as_float64(per_user_values)
    n = x.numel()
    mean, se = float(x.mean()), float(x.std(unbiased=True)) / math.sqrt(n)
    normal = NormalDist()
    z = normal.inv_cdf(0.5 + level / 2)
    lo_ref, hi_ref = mean - z * se, mean + z * se
    try:
        lo, hi = (float(v) for v in answer)
    except (TypeError, ValueError):
        return say_wrong("interval", "the answer should be a pair (low, high)")
    tolerance = 0.25 * se
    if lo <= mean <= hi and abs(lo - lo_ref) <= tolerance and abs(hi - hi_ref) <= tolerance:
        return say_correct(f"{level * 100:g} % interval")
    half = (hi - lo) / 2
    covered = 2 * normal.cdf(half / se) - 1 if se > 0 and half > 0 else None   # what a normal interval that wide covers
    lower = f"{(1 - level) / 2 * 100:g} %"
    upper = f"{(1 + level) / 2 * 100:g} %"
    if lo > hi:
        hint = "give (low, high) with low ≤ high."
    elif not lo <= mean <= hi:
        hint = "an interval for the mean must contain the sample mean of the per-user values."
    elif half > 3 * z * se:
        hint = ("much wider than the spread of a mean: the quantiles are of the resampled MEANS, not of the "
                "per-user values themselves.")
    elif half < 0.3 * z * se:
        hint = ("much narrower than the spread of a mean over n users: resample n users with replacement each "
                f"time, take the mean of each resample, and the {lower} and {upper} quantiles of those means.")
    elif covered is not None and abs(covered - level) > 0.02 and abs(half - z * se) > tolerance:
        hint = (f"that interval is as wide as a {round(covered * 100):g} % interval, not a {level * 100:g} % one: "
                f"take the {lower} and {upper} quantiles of the resampled means.")
    else:
        hint = f"it is off-centre: use the {lower} and {upper} quantiles of the resampled means."
    return say_wrong("interval", hint, f"about ({lo_ref:.4f}, {hi_ref:.4f}) (normal approximation)")


@checker
def check_discordant_share(answer, ranks_a, ranks_b, k: int = 10) -> None:
    """Ex 6.3: the share of users on whom two models disagree at k (one hits, the other misses)."""
    from srsupm_lab.evaluate import metrics_from_ranks

    if is_pending(answer):
        return
    a = torch.as_tensor(np.asarray(as_list(ranks_a), dtype=np.int64))
    b = torch.as_tensor(np.asarray(as_list(ranks_b), dtype=np.int64))
    if a.shape != b.shape:
        raise ValueError(f"check_discordant_share: the two rank lists must cover the same users, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    ha, hb = (metrics_from_ranks(r, ks=(k,))[f"recall@{k}"].double() for r in (a, b))   # per-user 0/1
    expected = float((ha != hb).double().mean())
    got = as_number(answer, "discordant share")
    if is_near(got, expected, rel=1e-6):
        return say_correct("share of users the two models disagree on")
    if not 0.0 <= got <= 1.0:
        hint = "a share of users lies in [0, 1]: divide the count by the number of users."
    elif is_near(got, abs(float((hb - ha).mean())), rel=1e-6):
        hint = ("that is the net difference of the two Recall@k; count instead the users where exactly one of the "
                "two models hits (wins of B and wins of A both count).")
    elif is_near(got, float(((hb == 1) & (ha == 0)).double().mean()), rel=1e-6) or \
            is_near(got, float(((ha == 1) & (hb == 0)).double().mean()), rel=1e-6):
        hint = "count both kinds of disagreement: B hits and A misses, and A hits and B misses."
    elif is_near(got, float((ha == hb).double().mean()), rel=1e-6):
        hint = "that is the share where they agree; the question is the share where they disagree."
    elif is_near(got, float(((a <= k) != (b <= k)).double().mean()), rel=1e-6):
        hint = f"ranks are 0-based: a hit is rank < {k}."
    else:
        hint = f"per user, hit@{k} of A and of B (rank < {k}); the share of users where the two differ."
    return say_wrong("discordant share", hint, f"{expected:.6f}")


@checker
def check_paired_difference(answer, ranks_a, ranks_b, k: int = 10) -> None:
    """Ex 6.3: mean over users of Recall@k(B) − Recall@k(A), user by user."""
    from srsupm_lab.evaluate import metrics_from_ranks

    if is_pending(answer):
        return
    a = torch.as_tensor(np.asarray(as_list(ranks_a), dtype=np.int64))
    b = torch.as_tensor(np.asarray(as_list(ranks_b), dtype=np.int64))
    assert a.shape == b.shape, "the two rank lists must cover the same users"
    ra, rb = metrics_from_ranks(a, ks=(k,))[f"recall@{k}"].double(), metrics_from_ranks(b, ks=(k,))[f"recall@{k}"].double()
    expected = float((rb - ra).mean())
    got = as_number(answer, "paired difference")
    if is_near(got, expected, rel=1e-6):
        return say_correct("paired difference")
    if expected != 0 and is_near(got, -expected, rel=1e-6):
        hint = "mind the order: SRSUPM (B) minus the ablation (A)."
    elif not -1.0 <= got <= 1.0:
        hint = "a difference of two shares lies in [−1, 1]: average over users."
    else:
        hint = f"per user, hit@{k} under B minus hit@{k} under A (1 or 0 each), then the mean over users."
    return say_wrong("paired difference", hint, f"{expected:.6f}")
