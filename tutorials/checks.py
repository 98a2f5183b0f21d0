"""Exercise checkers for the srsupm_lab tutorials.

Every checker takes the student's ``answer`` first, then the inputs it needs to compute its own
reference. ``None`` prints "not answered yet"; anything else is compared with a reference that is
computed **independently of srsupm_lab**: by hand from the definition (plain Python sets and loops,
``math`` in float64, brute force). A wrong answer raises an AssertionError that says what was
expected; a right one prints "correct".

Only fixed strings are printed, so a check cell's output is the same on every machine.
"""
from __future__ import annotations

import math

import numpy as np

NOT_YET = "not answered yet"


def _pending(answer) -> bool:
    if answer is None:
        print(NOT_YET)
        return True
    return False


def _ok(what: str) -> None:
    print(f"correct: {what}")


def _as_list(x):
    """A tensor / array / list as a plain Python list (no srsupm_lab involved)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x).tolist()


def _close(answer, reference: float, tol: float, what: str) -> None:
    a = float(answer)
    assert math.isfinite(a), f"{what}: the answer is not a finite number ({a})"
    assert abs(a - reference) <= tol, f"{what}: expected about {reference:.6f}, got {a:.6f}"


# ----------------------------------------------------------------------------- lesson 01
def check_training_windows(answer, sequence) -> None:
    """Ex 1.1: the number of training windows one user gives (brute force over target positions)."""
    if _pending(answer):
        return
    n = len(_as_list(sequence))
    # targets v_t for t = 2..n-2 (1-based): v_n is the test target and v_{n-1} the validation target
    reference = sum(1 for t in range(1, n + 1) if 2 <= t <= n - 2)
    assert int(answer) == reference, f"a user with {n} items gives {reference} training windows, not {answer}"
    _ok(f"{reference} training windows")


def check_rank(answer, scores, target, history) -> None:
    """Ex 1.2: 0-based rank of the target, ties against the model, seen items removed (a plain loop)."""
    if _pending(answer):
        return
    s = [float(v) for v in _as_list(scores)]
    target = int(target)
    seen = {int(i) for i in _as_list(history) if int(i) != 0}
    reference = 0
    for item in range(1, len(s)):                      # column 0 is padding
        if item == target or item in seen:
            continue
        if s[item] >= s[target]:
            reference += 1
    assert int(answer) == reference, f"expected rank {reference}, got {answer}"
    _ok(f"rank {reference}")


def check_ndcg(answer, ranks, k: int = 10) -> None:
    """Ex 1.3: mean NDCG@k over users from 0-based ranks (float64, one user at a time)."""
    if _pending(answer):
        return
    r = [int(v) for v in _as_list(ranks)]
    reference = sum((1.0 / math.log2(x + 2)) if x < k else 0.0 for x in r) / len(r)
    _close(answer, reference, 1e-5, f"NDCG@{k}")
    _ok(f"NDCG@{k}")


# ----------------------------------------------------------------------------- lesson 02
def check_causal_positions(answer, j: int, length: int) -> None:
    """Ex 2.1: positions of a causal encoder whose output changes when the item at ``j`` changes."""
    if _pending(answer):
        return
    reference = set(range(int(j), int(length)))        # a causal encoder: position t sees items <= t
    got = {int(x) for x in answer}
    assert got == reference, f"expected positions {sorted(reference)}, got {sorted(got)}"
    _ok(f"positions {int(j)}..{int(length) - 1}")


def check_gru4rec_parameters(answer, n_items: int, dim: int, hidden: int) -> None:
    """Ex 2.2: parameters of GRU4Rec counted by hand (embedding, bias-free GRU, dense layer)."""
    if _pending(answer):
        return
    embedding = (n_items + 1) * dim
    gru = 3 * (hidden * dim) + 3 * (hidden * hidden)    # three gates, input and recurrent weights, no bias
    dense = hidden * dim + dim
    reference = embedding + gru + dense
    assert int(answer) == reference, f"expected {reference} parameters, got {answer}"
    _ok(f"{reference} parameters")


def check_dot_score(answer, h, e) -> None:
    """Ex 2.3: the score <h_u, e_i> recomputed in float64 with a plain sum."""
    if _pending(answer):
        return
    hv, ev = [float(x) for x in _as_list(h)], [float(x) for x in _as_list(e)]
    reference = math.fsum(a * b for a, b in zip(hv, ev))
    _close(answer, reference, 1e-4 * max(1.0, abs(reference)), "score")
    _ok("score")


# ----------------------------------------------------------------------------- lesson 03
def check_pmsd(answer, window_label_sets, target_label_set) -> None:
    """Ex 3.1: PMSD of one window (Eq. 2) with Python sets."""
    if _pending(answer):
        return
    union_s = set()
    for labels in window_label_sets:
        union_s |= set(int(x) for x in labels)
    c_v = set(int(x) for x in target_label_set)
    both = c_v | union_s
    reference = 1.0 if not both else 1.0 - len(c_v & union_s) / len(both)
    _close(answer, reference, 1e-9, "PMSD")
    _ok(f"PMSD = {reference:.4f}")


def check_levels(answer, values, K: int) -> None:
    """Ex 3.2: shift levels of a few PMSD values (Eq. 3), by walking through the bins one by one."""
    if _pending(answer):
        return
    reference = []
    for x in values:
        if x == 0:
            reference.append(0)
        elif x == 1:
            reference.append(K - 1)
        else:                                            # bins [j/(K-2), (j+1)/(K-2)) -> level j+1
            level = 1
            for j in range(1, K - 2):
                if x >= j / (K - 2):
                    level = j + 1
            reference.append(level)
    got = [int(x) for x in answer]
    assert got == reference, f"expected levels {reference}, got {got}"
    _ok(f"levels {reference}")


def check_share(answer, flags) -> None:
    """Ex 3.3: a share (mean of 0/1 flags), counted in Python."""
    if _pending(answer):
        return
    f = [bool(x) for x in _as_list(flags)]
    reference = sum(f) / len(f)
    _close(answer, reference, 1e-6, "share")
    _ok(f"share = {reference:.4f}")


# ----------------------------------------------------------------------------- lesson 04
def _softmax64(xs):
    m = max(xs)
    ex = [math.exp(x - m) for x in xs]
    total = math.fsum(ex)
    return [v / total for v in ex]


def check_alpha(answer, Z, e_v) -> None:
    """Ex 4.1: the shift distribution α of one window (Eq. 9) in float64, level by level."""
    if _pending(answer):
        return
    rows = [[float(x) for x in row] for row in _as_list(Z)]       # K rows of length d
    e = [float(x) for x in _as_list(e_v)]
    d = len(e)
    logits = [math.fsum(a * b for a, b in zip(row, e)) / math.sqrt(d) for row in rows]
    reference = _softmax64(logits)
    got = [float(x) for x in _as_list(answer)]
    assert len(got) == len(reference), f"α has {len(reference)} entries (one per level), got {len(got)}"
    for k, (a, r) in enumerate(zip(got, reference)):
        assert abs(a - r) <= 1e-4, f"α[{k}]: expected {r:.5f}, got {a:.5f}"
    _ok("α")


def check_mixed_score(answer, Z, e_i) -> None:
    """Ex 4.2: the mixed score s_{u,i} = Σ_k β_k <ẑ_k, e_i> (Eqs. 19–22) in float64."""
    if _pending(answer):
        return
    rows = [[float(x) for x in row] for row in _as_list(Z)]
    e = [float(x) for x in _as_list(e_i)]
    dots = [math.fsum(a * b for a, b in zip(row, e)) for row in rows]
    beta = _softmax64([x / math.sqrt(len(e)) for x in dots])
    reference = math.fsum(b * x for b, x in zip(beta, dots))
    _close(answer, reference, 1e-4 * max(1.0, abs(reference)), "mixed score")
    _ok("mixed score")


def check_reg(answer, Z) -> None:
    """Ex 4.3: the shift-consistency term (Eq. 10) of one window, float64 loops."""
    if _pending(answer):
        return
    rows = [[float(x) for x in row] for row in _as_list(Z)]
    gaps = [math.fsum((a - b) ** 2 for a, b in zip(rows[k], rows[k + 1])) for k in range(len(rows) - 1)]
    reference = math.fsum(gaps) / len(gaps)
    _close(answer, reference, 1e-4 * max(1.0, reference), "L_reg")
    _ok("L_reg")


# ----------------------------------------------------------------------------- lesson 05
def check_group_size(answer, targets, levels, window: int) -> None:
    """Ex 5.1: |N(u)| (Eq. 11) by brute force over every training window."""
    if _pending(answer):
        return
    t, lv = _as_list(targets), _as_list(levels)
    window = int(window)
    reference = sum(1 for j in range(len(t)) if j != window and t[j] == t[window] and lv[j] == lv[window])
    assert int(answer) == reference, f"expected |N(u)| = {reference}, got {answer}"
    _ok(f"|N(u)| = {reference}")


def check_sampling_probabilities(answer, confidences, own: int) -> None:
    """Ex 5.2: P(u' = j) = c_j / Σ_{N(u)} c over the group without ``own`` (Eq. 14), by hand."""
    if _pending(answer):
        return
    c = [float(x) for x in _as_list(confidences)]
    total = math.fsum(v for j, v in enumerate(c) if j != own)
    reference = [0.0 if j == own else v / total for j, v in enumerate(c)]
    got = [float(x) for x in _as_list(answer)]
    assert len(got) == len(reference), f"expected {len(reference)} probabilities, got {len(got)}"
    for j, (a, r) in enumerate(zip(got, reference)):
        assert abs(a - r) <= 1e-6, f"member {j}: expected {r:.5f}, got {a:.5f}"
    _ok("sampling probabilities")


def check_info_nce(answer, anchor, positive, tau: float) -> None:
    """Ex 5.3: InfoNCE (Eqs. 16–18) with cosine similarity, in float64 loops."""
    if _pending(answer):
        return
    A = [[float(x) for x in row] for row in _as_list(anchor)]
    P = [[float(x) for x in row] for row in _as_list(positive)]

    def cos(a, b):
        return math.fsum(x * y for x, y in zip(a, b)) / (math.sqrt(math.fsum(x * x for x in a)) *
                                                        math.sqrt(math.fsum(y * y for y in b)))
    losses = []
    for b in range(len(A)):
        logits = [cos(A[b], P[j]) / tau for j in range(len(P))]
        m = max(logits)
        log_z = m + math.log(math.fsum(math.exp(x - m) for x in logits))
        losses.append(log_z - logits[b])
    reference = math.fsum(losses) / len(losses)
    _close(answer, reference, 1e-4 * max(1.0, reference), "InfoNCE")
    _ok("InfoNCE")


# ----------------------------------------------------------------------------- lesson 06
def check_recall_from_ranks(answer, ranks, k: int = 10) -> None:
    """Ex 6.1: Recall@k from 0-based ranks, counted one user at a time."""
    if _pending(answer):
        return
    r = [int(v) for v in _as_list(ranks)]
    reference = sum(1 for x in r if x < k) / len(r)
    _close(answer, reference, 1e-6, f"Recall@{k}")
    _ok(f"Recall@{k}")


def check_interval(answer, per_user_values, level: float = 0.95) -> None:
    """Ex 6.2: a confidence interval for a mean over users.

    The reference is the normal approximation ``mean ± z·sd/√n`` in float64, independent of any
    resampling; a bootstrap interval must contain the mean and agree with it to within 25 % of its
    width at each end.
    """
    if _pending(answer):
        return
    x = [float(v) for v in _as_list(per_user_values)]
    n = len(x)
    mean = math.fsum(x) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in x) / (n - 1))
    z = {0.9: 1.6449, 0.95: 1.96, 0.99: 2.5758}[level]
    lo_ref, hi_ref = mean - z * sd / math.sqrt(n), mean + z * sd / math.sqrt(n)
    lo, hi = (float(v) for v in answer)
    width = hi_ref - lo_ref
    assert lo <= mean <= hi, f"the interval ({lo:.4f}, {hi:.4f}) should contain the mean {mean:.4f}"
    assert abs(lo - lo_ref) <= 0.25 * width and abs(hi - hi_ref) <= 0.25 * width, (
        f"expected about ({lo_ref:.4f}, {hi_ref:.4f}) (normal approximation), got ({lo:.4f}, {hi:.4f})")
    _ok(f"{int(level * 100)} % interval")


def check_paired_difference(answer, ranks_a, ranks_b, k: int = 10) -> None:
    """Ex 6.3: mean over users of Recall@k(B) − Recall@k(A), user by user."""
    if _pending(answer):
        return
    a, b = [int(v) for v in _as_list(ranks_a)], [int(v) for v in _as_list(ranks_b)]
    assert len(a) == len(b), "the two rank lists must cover the same users"
    reference = sum((1 if y < k else 0) - (1 if x < k else 0) for x, y in zip(a, b)) / len(a)
    _close(answer, reference, 1e-6, "paired difference")
    _ok("paired difference")
