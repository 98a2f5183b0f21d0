"""Checkers of lessons 1–2: next-item prediction and behaviour encoders.

See :mod:`srsupm_lab.course.checks` for what a checker prints and returns."""
from __future__ import annotations

import math

import numpy as np
import torch

from ._common import as_list, checker, as_int, is_near, as_number, say_correct, is_pending, as_float64, say_wrong


# ----------------------------------------------------------------------------- lesson 01
@checker
def check_training_windows(answer, sequence) -> None:
    """Ex 1.1: the number of training windows one user gives (the package's leave-one-out split)."""
    import warnings

    from srsupm_lab.data import SequenceDataset, leave_one_out

    if is_pending(answer):
        return
    seq = [int(i) for i in as_list(sequence)]
    ds = SequenceDataset("one user", [np.array(seq)], [frozenset()] * (max(seq) + 1), [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = len(leave_one_out(ds, max_len=len(seq)).train) if len(seq) >= 3 else 0
    got = as_int(answer, "training windows")
    if got == expected:
        return say_correct(f"{expected} training windows")
    if got > expected:
        hint = ("too many. Which items can be a training target? The first has no history before it, and the "
                "last two are held out (validation, test).")
    else:
        hint = "too few. Every item that has a history and is not held out for validation or test is a target."
    return say_wrong("training windows", hint, expected)


@checker
def check_rank(answer, scores, target, history) -> None:
    """Ex 1.2: 0-based rank of the target, ties against the model, seen items removed."""
    from srsupm_lab.evaluate import target_ranks

    if is_pending(answer):
        return
    s = torch.as_tensor(np.asarray(as_list(scores), dtype=np.float64))[None]
    t = torch.tensor([int(target)])
    h = torch.as_tensor(np.asarray(as_list(history), dtype=np.int64)).reshape(1, -1)
    expected = int(target_ranks(s, t, h)[0])
    got = as_int(answer, "rank")
    if got == expected:
        return say_correct(f"rank {expected}")
    if got < 0:
        hint = "a rank is never negative: it counts the items placed above the target."
    elif got == int(target_ranks(s, t)[0]):
        hint = "the items the user has already seen (the history) are removed from the ranking first."
    elif got == expected + 1:
        hint = "ranks here are 0-based: a target at the very top has rank 0."
    else:
        strictly = s[0, 1:] > s[0, int(target)]
        if got < expected and strictly.any():
            hint = ("ties count against the model: an unseen item scoring exactly as high as the target is "
                    "placed above it. Column 0 is padding and never ranked.")
        else:
            hint = ("count the unseen items (not padding 0, not the target) whose score is at least the "
                    "target's.")
    return say_wrong("rank", hint, expected)


@checker
def check_ndcg(answer, ranks, k: int = 10) -> None:
    """Ex 1.3: mean NDCG@k over users from 0-based ranks."""
    from srsupm_lab.evaluate import metrics_from_ranks

    if is_pending(answer):
        return
    r = torch.as_tensor(np.asarray(as_list(ranks), dtype=np.int64))
    expected = float(metrics_from_ranks(r, ks=(k,))[f"ndcg@{k}"].double().mean())
    got = as_number(answer, f"NDCG@{k}")
    if is_near(got, expected):
        return say_correct(f"NDCG@{k}")
    rd = r.double()
    one_based = float(torch.where(r < k, 1.0 / torch.log2(rd + 1.0).clamp_min(1e-300), 0.0).mean()) \
        if bool((r > 0).all()) else None
    if not 0.0 <= got <= 1.0:
        hint = f"NDCG@{k} is a mean of discounts between 0 and 1, so it lies in [0, 1]."
    elif is_near(got, float((r < k).double().mean())):
        hint = f"that counts hits (Recall@{k}); NDCG weights each hit by its discount 1/log2(rank + 2)."
    elif one_based is not None and is_near(got, one_based):
        hint = "ranks are 0-based: the top item (rank 0) has discount 1/log2(0 + 2) = 1."
    elif is_near(got, float(torch.where(r <= k, 1.0 / torch.log2(rd + 2.0), 0.0).mean())):
        hint = f"a hit is a rank below {k} (0-based): rank {k} itself is outside the top {k}."
    else:
        hint = f"per user: 1/log2(rank + 2) when rank < {k}, else 0; then the mean over all users."
    return say_wrong(f"NDCG@{k}", hint, f"{expected:.6f}")


# ----------------------------------------------------------------------------- lesson 02
def _changed_positions(j: int, length: int) -> set[int]:
    """Positions whose output changes when input j changes, measured on a random causal GRU."""
    gen = torch.Generator().manual_seed(0)
    gru = torch.nn.GRU(4, 4, batch_first=True).double()
    with torch.no_grad():
        for p in gru.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
        x = torch.randn(1, length, 4, generator=gen, dtype=torch.float64)
        y = x.clone()
        y[0, j] += 1.0
        diff = (gru(x)[0] - gru(y)[0]).abs().sum(dim=2)[0]
    return {int(t) for t in torch.nonzero(diff > 1e-12).flatten()}


@checker
def check_causal_positions(answer, j: int, length: int) -> None:
    """Ex 2.1: positions of a causal encoder whose output changes when the item at ``j`` changes."""
    if is_pending(answer):
        return
    j, length = int(j), int(length)
    expected = _changed_positions(j, length)
    try:
        got = {int(x) for x in answer}
    except (TypeError, ValueError):
        return say_wrong("causal positions", "the answer should be a collection of positions (ints)")
    if got == expected:
        return say_correct(f"positions {j}..{length - 1}")
    if any(t < 0 or t >= length for t in got):
        hint = f"positions run from 0 to L − 1 = {length - 1}."
    elif any(t < j for t in got):
        hint = "position t of a causal encoder sees only the items at positions 0..t: can an earlier output change?"
    elif j not in got:
        hint = "the item at position j is also seen by position j itself."
    else:
        hint = "every later position sees the item at j too (through the recurrence or the attention)."
    return say_wrong("causal positions", hint, sorted(expected))


def _gru4rec_count(n_items: int, dim: int, hidden: int) -> int:
    from srsupm_lab.backbones import build_backbone

    model = build_backbone("gru4rec", int(n_items), dim=int(dim), hidden_size=int(hidden))
    return sum(p.numel() for p in model.parameters())


def _gru4rec_hint(gap: int, dim: int, hidden: int) -> str:
    hints = {
        -dim: "one piece of d parameters is missing: the item table's padding row (id 0), or the dense layer's bias.",
        dim: "the item table has n_items + 1 rows (padding included), not more.",
        -hidden * dim - dim: "the dense layer back to d (weights and bias) is part of the model.",
        6 * hidden: "this GRU has no bias (bias=False): count its weights only.",
        3 * hidden: "this GRU has no bias (bias=False): count its weights only.",
        -2 * hidden * dim - 2 * hidden * hidden: "a GRU has three gates, not one: each has input and recurrent weights.",
        hidden * dim + hidden * hidden: "a GRU has three gates (an LSTM has four).",
    }
    return hints.get(gap, "count, part by part: the item table (padding row included), the GRU (three gates, each "
                          "with input and recurrent weights, no bias) and the dense layer (weights and bias).")


#: the sizes a counting function given as the answer of exercise 2.2 is tried on, after the lesson's own
GRU4REC_TRIAL_SIZES = ((37, 5, 11), (1000, 64, 32), (12, 3, 3))


@checker
def check_gru4rec_parameters(answer, n_items: int, dim: int, hidden: int) -> None:
    """Ex 2.2: parameters of GRU4Rec, compared with the package's model of that size.

    ``answer`` is a count, or a function ``(n_items, dim, hidden) -> count``: a function is tried on
    the lesson's size and on :data:`GRU4REC_TRIAL_SIZES`, so a formula that fits one size by chance
    does not pass.
    """
    if is_pending(answer):
        return
    sizes = [(int(n_items), int(dim), int(hidden))] + (list(GRU4REC_TRIAL_SIZES) if callable(answer) else [])
    for size in sizes:
        expected = _gru4rec_count(*size)
        if callable(answer):
            try:
                value = answer(*size)
            except Exception as error:                                  # a student's function may fail anywhere
                return say_wrong("parameters", f"your function failed on (n_items, d, hidden) = {size}: "
                                            f"{type(error).__name__}: {error}")
            got = as_int(value, "parameters")
        else:
            got = as_int(answer, "parameters")
        if got != expected:
            where = f" (at n_items, d, hidden = {size})" if callable(answer) else ""
            return say_wrong("parameters", _gru4rec_hint(got - expected, size[1], size[2]) + where, expected)
    return say_correct(f"{'the formula, on ' + str(len(sizes)) + ' sizes' if callable(answer) else str(expected) + ' parameters'}")


@checker
def check_dot_score(answer, h, e) -> None:
    """Ex 2.3: the score <h_u, e_i>."""
    if is_pending(answer):
        return
    hv, ev = as_float64(h), as_float64(e)
    expected = float(torch.dot(hv, ev))
    got = as_number(answer, "score")
    if is_near(got, expected, rel=1e-4):
        return say_correct("score")
    cosine = expected / float(hv.norm() * ev.norm())
    if is_near(got, cosine, rel=1e-4):
        hint = "the score is the plain inner product, not the cosine: no division by the norms."
    elif is_near(got, -expected, rel=1e-4):
        hint = "check the sign: the score is Σ h_j e_j."
    elif is_near(got, expected / math.sqrt(len(ev)), rel=1e-4):
        hint = "no 1/√d scaling in this score."
    else:
        hint = "the score is Σ_j h_j · e_j over the d coordinates (use the user vector h and the item row e)."
    return say_wrong("score", hint, f"{expected:.6f}")
