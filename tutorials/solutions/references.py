"""Independent references for the tutorial exercises (teachers only: not part of the handout).

Each function computes, by hand from the definition (plain Python sets and loops, ``math`` in
float64, brute force), the value the matching checker in ``srsupm_lab/course/checks.py`` expects; the
argument lists are the checkers' without ``answer``. The checkers take their expected values from
the package, and ``tests/test_tutorial_checks.py`` checks on random inputs that both agree, so a
bug in the package cannot make a checker accept a wrong answer unnoticed.
"""
from __future__ import annotations

import math

import numpy as np


def _as_list(x):
    """A tensor / array / list as a plain Python list (no srsupm_lab involved)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x).tolist()


def _softmax64(xs):
    m = max(xs)
    ex = [math.exp(x - m) for x in xs]
    total = math.fsum(ex)
    return [v / total for v in ex]


# ----------------------------------------------------------------------------- lesson 01
def training_windows(sequence) -> int:
    """Ex 1.1: targets v_t for t = 2..n-2 (1-based); v_n is the test target, v_{n-1} the validation one."""
    n = len(_as_list(sequence))
    return sum(1 for t in range(1, n + 1) if 2 <= t <= n - 2)


def rank(scores, target, history) -> int:
    """Ex 1.2: unseen items (not padding, not the target) scoring at least the target's score."""
    s = [float(v) for v in _as_list(scores)]
    target = int(target)
    seen = {int(i) for i in _as_list(history) if int(i) != 0}
    return sum(1 for item in range(1, len(s)) if item != target and item not in seen and s[item] >= s[target])


def ndcg(ranks, k: int = 10) -> float:
    """Ex 1.3: mean over users of 1/log2(rank + 2) for rank < k, else 0."""
    r = [int(v) for v in _as_list(ranks)]
    return sum((1.0 / math.log2(x + 2)) if x < k else 0.0 for x in r) / len(r)


# ----------------------------------------------------------------------------- lesson 02
def causal_positions(j: int, length: int) -> set[int]:
    """Ex 2.1: a causal encoder's position t sees items <= t."""
    return set(range(int(j), int(length)))


def gru4rec_parameters(n_items: int, dim: int, hidden: int) -> int:
    """Ex 2.2: embedding (padding row included) + bias-free GRU (3 gates) + dense layer with bias."""
    embedding = (n_items + 1) * dim
    gru = 3 * (hidden * dim) + 3 * (hidden * hidden)
    dense = hidden * dim + dim
    return embedding + gru + dense


def dot_score(h, e) -> float:
    """Ex 2.3: <h, e> with math.fsum in float64."""
    return math.fsum(float(a) * float(b) for a, b in zip(_as_list(h), _as_list(e)))


# ----------------------------------------------------------------------------- lesson 03
def pmsd(window_label_sets, target_label_set) -> float:
    """Ex 3.1: 1 - |C(v) ∩ C_S| / |C(v) ∪ C_S| with Python sets (an empty union gives 1)."""
    union_s = set()
    for labels in window_label_sets:
        union_s |= set(int(x) for x in labels)
    c_v = set(int(x) for x in target_label_set)
    both = c_v | union_s
    return 1.0 if not both else 1.0 - len(c_v & union_s) / len(both)


def levels(values, K: int) -> list[int]:
    """Ex 3.2: Eq. 3, walking through the even bins one by one."""
    out = []
    for x in values:
        if x == 0:
            out.append(0)
        elif x == 1:
            out.append(K - 1)
        else:                                            # bins [j/(K-2), (j+1)/(K-2)) -> level j+1
            level = 1
            for j in range(1, K - 2):
                if x >= j / (K - 2):
                    level = j + 1
            out.append(level)
    return out


def share(flags) -> float:
    """Ex 3.3: the share of True flags, counted in Python."""
    f = [bool(x) for x in _as_list(flags)]
    return sum(f) / len(f)


# ----------------------------------------------------------------------------- lesson 04
#: SRSUPM's default level scale (``level_temperature="unit"``: the logits of α and β are plain dot
#: products) and L_reg form (``reg_form="normalised_mean"``), written out here rather than read from
#: the package, so that a change of the defaults shows up as a disagreement with the lessons' text
LEVEL_SCALE = 1.0
REG_FORM = "normalised_mean"


def _dot(a, b) -> float:
    return math.fsum(x * y for x, y in zip(a, b))


def alpha(Z, e_v, scale: float = LEVEL_SCALE) -> list[float]:
    """Ex 4.1: float64 softmax over levels of <ẑ_k, e_v> · scale (Eq. 9; scale 1 by default, 1/√d in the paper)."""
    rows = [[float(x) for x in row] for row in _as_list(Z)]
    e = [float(x) for x in _as_list(e_v)]
    return _softmax64([_dot(row, e) * scale for row in rows])


def mixed_score(Z, e_i, scale: float = LEVEL_SCALE) -> float:
    """Ex 4.2: Σ_k β_k <ẑ_k, e_i>, β = softmax_k(<ẑ_k, e_i> · scale) (Eqs. 19–22)."""
    rows = [[float(x) for x in row] for row in _as_list(Z)]
    e = [float(x) for x in _as_list(e_i)]
    dots = [_dot(row, e) for row in rows]
    beta = _softmax64([x * scale for x in dots])
    return math.fsum(b * x for b, x in zip(beta, dots))


def reg(Z, form: str = REG_FORM) -> float:
    """Ex 4.3: the squared L2 gaps between adjacent levels (Eq. 10), each ẑ_k first scaled to unit
    length for the ``normalised_*`` forms, then averaged (``*_mean``) or summed (``*_sum``)."""
    rows = [[float(x) for x in row] for row in _as_list(Z)]
    if form.startswith("normalised"):
        rows = [[x / math.sqrt(_dot(row, row)) for x in row] for row in rows]
    gaps = [math.fsum((a - b) ** 2 for a, b in zip(rows[k], rows[k + 1])) for k in range(len(rows) - 1)]
    return math.fsum(gaps) / (1 if form.endswith("sum") else len(gaps))


# ----------------------------------------------------------------------------- lesson 05
def group_size(targets, levels, window: int) -> int:
    """Ex 5.1: brute force over every training window (Eq. 11)."""
    t, lv = _as_list(targets), _as_list(levels)
    window = int(window)
    return sum(1 for j in range(len(t)) if j != window and t[j] == t[window] and lv[j] == lv[window])


def sampling_probabilities(confidences, own: int) -> list[float]:
    """Ex 5.2: c_j / Σ c over the group without the anchor (Eq. 14)."""
    c = [float(x) for x in _as_list(confidences)]
    total = math.fsum(v for j, v in enumerate(c) if j != own)
    return [0.0 if j == own else v / total for j, v in enumerate(c)]


def info_nce(anchor, positive, tau: float) -> float:
    """Ex 5.3: InfoNCE with cosine similarity and log-sum-exp in float64 loops (Eqs. 16–18)."""
    A = [[float(x) for x in row] for row in _as_list(anchor)]
    P = [[float(x) for x in row] for row in _as_list(positive)]

    def cos(a, b):
        return math.fsum(x * y for x, y in zip(a, b)) / (math.sqrt(math.fsum(x * x for x in a)) *
                                                        math.sqrt(math.fsum(y * y for y in b)))
    losses = []
    for b in range(len(A)):
        logits = [cos(A[b], P[j]) / tau for j in range(len(P))]
        m = max(logits)
        losses.append(m + math.log(math.fsum(math.exp(x - m) for x in logits)) - logits[b])
    return math.fsum(losses) / len(losses)


def match_probability(anchor, positive, tau: float, row: int) -> float:
    """Ex 5.3: exp(cos(a_row, p_row)/τ) / Σ_j exp(cos(a_row, p_j)/τ), cosines in float64."""
    A = [[float(x) for x in r] for r in _as_list(anchor)]
    P = [[float(x) for x in r] for r in _as_list(positive)]

    def cos(a, b):
        return _dot(a, b) / math.sqrt(_dot(a, a) * _dot(b, b))
    return _softmax64([cos(A[int(row)], p) / tau for p in P])[int(row)]


# ----------------------------------------------------------------------------- lesson 06
def recall_from_ranks(ranks, k: int = 10) -> float:
    """Ex 6.1: the share of users with rank < k."""
    r = [int(v) for v in _as_list(ranks)]
    return sum(1 for x in r if x < k) / len(r)


def interval(per_user_values, level: float = 0.95) -> tuple[float, float]:
    """Ex 6.2: the normal approximation mean ± z·sd/√n the checker compares a bootstrap interval with."""
    from statistics import NormalDist

    x = [float(v) for v in _as_list(per_user_values)]
    n = len(x)
    mean = math.fsum(x) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in x) / (n - 1))
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return mean - z * sd / math.sqrt(n), mean + z * sd / math.sqrt(n)


def discordant_share(ranks_a, ranks_b, k: int = 10) -> float:
    """Ex 6.3: the share of users where exactly one of the two models has its target at rank < k."""
    a, b = [int(r) for r in _as_list(ranks_a)], [int(r) for r in _as_list(ranks_b)]
    return sum(1 for x, y in zip(a, b) if (x < k) != (y < k)) / len(a)


def paired_difference(ranks_a, ranks_b, k: int = 10) -> float:
    """Ex 6.3: mean over users of hit@k under B minus hit@k under A."""
    a, b = [int(v) for v in _as_list(ranks_a)], [int(v) for v in _as_list(ranks_b)]
    return sum((1 if y < k else 0) - (1 if x < k else 0) for x, y in zip(a, b)) / len(a)


# ----------------------------------------------------------------------------- lesson 07
def _logsumexp(xs) -> float:
    m = max(xs)
    return m + math.log(math.fsum(math.exp(x - m) for x in xs))


def soft_values(q_table) -> list[float]:
    """Ex 7.1: V*(s) = log Σ_a exp Q(s, a), row by row, in float64."""
    return [_logsumexp([float(x) for x in row]) for row in _as_list(q_table)]


def rewards(q_taken, q_next, terminal, gamma: float) -> list[float]:
    """Ex 7.2: r* = Q(s, a) − γ V*(s'), with V*(s') = 0 on a terminal transition."""
    out = []
    for q, row, end in zip(_as_list(q_taken), _as_list(q_next), _as_list(terminal)):
        v_next = 0.0 if end else _logsumexp([float(x) for x in row])
        out.append(float(q) - gamma * v_next)
    return out


def pinball_sum(atoms, target: float) -> float:
    """Ex 7.3: Σ_j u_j (τ_j − 1[u_j < 0]), u_j = y − λ_j, τ_j = (2j − 1)/(2N), j = 1..N."""
    lam = [float(x) for x in _as_list(atoms)]
    n = len(lam)
    total = []
    for j, atom in enumerate(lam, start=1):
        tau = (2 * j - 1) / (2 * n)
        u = float(target) - atom
        total.append(u * (tau - (1.0 if u < 0 else 0.0)))
    return math.fsum(total)


# ----------------------------------------------------------------------------- lesson 08
#: the tokenizer's rule, written out: lower-cased runs of two or more word characters, minus these glue words
_GLUE = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "is", "it", "its", "of", "on", "or",
         "the", "to", "with"}


def _terms(text: str) -> list[str]:
    import re
    return [w for w in re.findall(r"(?u)\b\w\w+\b", text.lower()) if w not in _GLUE]


def tfidf_weight(corpus, text_index: int, term: str) -> float:
    """Ex 8.1: tf = raw count, idf = ln((1 + n)/(1 + df)) + 1, the text's row divided by its L2 norm."""
    docs = [_terms(str(t)) for t in corpus]
    n = len(docs)
    words = docs[int(text_index)]
    raw = {}
    for w in set(words):
        df = sum(1 for d in docs if w in d)
        raw[w] = words.count(w) * (math.log((1 + n) / (1 + df)) + 1)
    norm = math.sqrt(math.fsum(v * v for v in raw.values()))
    return raw[term] / norm


def compatibility(window, traits, masses, item: int, decay: float) -> float:
    """Ex 8.2: m = Σ_j decay^(L−1−j) · mass_j · t_j (oldest first), then cos(m, t_item), in float64 loops."""
    T = [[float(x) for x in row] for row in _as_list(traits)]
    M = [float(x) for x in _as_list(masses)]
    items = [int(i) for i in _as_list(window)]
    L = len(items)
    s = [math.fsum(decay ** (L - 1 - j) * M[i] * T[i][c] for j, i in enumerate(items)) for c in range(len(T[0]))]
    t = T[int(item)]
    dot = math.fsum(a * b for a, b in zip(s, t))
    return dot / (math.sqrt(math.fsum(a * a for a in s)) * math.sqrt(math.fsum(b * b for b in t)))


def first_items_window(sequence, k: int, max_len: int) -> list[int]:
    """Ex 8.3: max_len − k zeros, then the user's first k items, oldest first."""
    seq = [int(i) for i in _as_list(sequence)]
    return [0] * (max_len - k) + seq[:k]
