"""Checkers of lesson 9: from an offline metric to an online service.

See :mod:`srsupm_lab.course.checks` for what a checker prints and returns. The expected values are
computed here in plain Python (a sort, set counts, one division), not by ``srsupm_lab.serve``, so a
checker cannot agree with a bug of the service it teaches.
"""
from __future__ import annotations

import math

from ._common import as_list, checker, is_near, as_number, say_correct, is_pending, say_wrong


def top_k_unseen_reference(scores, seen, k: int) -> list[list[int]]:
    """The rule of lesson 9, section 1, written out: per row, the ``k`` best item ids, best first.

    Never column 0 (padding), never an item of the row's ``seen`` (0-padded), never a NaN or ``-inf``
    score; ties go to the smaller item id; a row with fewer than ``k`` such items ends in 0.
    """
    out = []
    for row, history in zip(as_list(scores), as_list(seen)):
        banned = {int(i) for i in history} | {0}
        ranked = [(float(s), i) for i, s in enumerate(row)
                  if i not in banned and not math.isnan(s) and s != -math.inf]
        ranked.sort(key=lambda pair: (-pair[0], pair[1]))                   # best first, ties by item id
        items = [i for _, i in ranked[:k]]
        out.append(items + [0] * (k - len(items)))
    return out


@checker
def check_top_k_unseen(answer, scores, seen, k: int) -> None:
    """Ex 9.1: the ``[B, k]`` item ids of exact top-k with the seen items left out."""
    if is_pending(answer):
        return
    expected = top_k_unseen_reference(scores, seen, k)
    try:
        got = [[int(i) for i in row] for row in as_list(answer)]
    except (TypeError, ValueError):
        return say_wrong("top-k", "the answer should be a [B, k] table of item ids (a tensor or a list of lists)")
    if got == expected:
        return say_correct(f"the top-{k} unseen items of every row")
    if len(got) != len(expected) or any(len(row) != k for row in got):
        return say_wrong("top-k", f"the answer should have one row per user and exactly k = {k} items in each")
    seen_sets = [{int(i) for i in history} - {0} for history in as_list(seen)]
    scored = as_list(scores)
    if any(set(row) & banned for row, banned in zip(got, seen_sets)):
        hint = "an item the user has already seen is in a list: seen items leave the ranking first."
    elif any(row[0] == 0 and exp[0] != 0 for row, exp in zip(got, expected)) or \
            any(i == 0 for row, exp in zip(got, expected) for i in row if 0 not in exp):
        hint = "column 0 is padding, never an item: it is never recommended (0 only fills a row that runs out)."
    elif any(i != 0 and (math.isnan(s[i]) or s[i] == -math.inf) for row, s in zip(got, scored) for i in row):
        hint = "an item scored NaN or -inf is not rankable: a row that runs out of items ends in 0."
    elif [sorted(row) for row in got] == [sorted(row) for row in expected]:
        hint = "the right items in the wrong order: best first, and ties go to the smaller item id."
    else:
        hint = "take the k highest scores of each row after removing padding, seen and unscorable items."
    return say_wrong("top-k", hint, expected)


@checker
def check_users_per_second(answer, ms_per_request, batch: int) -> None:
    """Ex 9.2: users one core serves a second when each request of ``batch`` users takes ``ms_per_request``."""
    if is_pending(answer):
        return
    ms = float(ms_per_request)
    expected = int(batch) * 1000.0 / ms
    got = as_number(answer, "users a second")
    if is_near(got, expected, rel=1e-3):
        return say_correct("users a second = batch × 1000 / milliseconds per request")
    if is_near(got, 1000.0 / ms, rel=1e-3):
        hint = f"one request at batch {batch} answers {batch} users, not one."
    elif is_near(got, int(batch) / ms, rel=1e-3):
        hint = "the times are in milliseconds: a second has 1000 of them."
    elif is_near(got, 1000.0 / (ms * int(batch)), rel=1e-3):
        hint = "a bigger batch serves MORE users a second, not fewer: multiply by the batch."
    else:
        hint = "add the three stages of one request, then count requests a second times users a request."
    return say_wrong("users a second", hint, expected)


def recall_reference(approx, exact) -> float:
    """Share of the exact lists' items (0 = none, not counted) that the approximate lists also hold, pooled."""
    hits = total = 0
    for a_row, e_row in zip(as_list(approx), as_list(exact)):
        wanted = {int(i) for i in e_row} - {0}
        hits += len(wanted & {int(i) for i in a_row})
        total += len(wanted)
    return hits / max(total, 1)


@checker
def check_recall_against_exact(answer, approx, exact) -> None:
    """Ex 9.3: recall@k of approximate top-k lists against the exact ones (order inside a list ignored)."""
    if is_pending(answer):
        return
    expected = recall_reference(approx, exact)
    got = as_number(answer, "recall@k")
    if is_near(got, expected, rel=1e-6):
        return say_correct("recall@k of the approximate lists against the exact ones")
    a, e = as_list(approx), as_list(exact)
    positional = sum(x == y and y != 0 for ar, er in zip(a, e) for x, y in zip(ar, er))
    total = sum(y != 0 for er in e for y in er)
    if got > 1 or got < 0:
        hint = "recall is a share between 0 and 1: divide the items found by the items of the exact lists."
    elif total and is_near(got, positional / total, rel=1e-6):
        hint = "order inside a top-k list does not matter: count the exact items the approximate list holds anywhere."
    else:
        hint = "for each query, count the exact top-k items that also appear in the approximate list; sum, divide."
    return say_wrong("recall@k", hint, expected)
