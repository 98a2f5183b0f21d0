"""Checkers of lessons 7–8: the mental reward (MTRec) and motivation profiles.

See :mod:`srsupm_lab.course.checks` for what a checker prints and returns."""
from __future__ import annotations

import math

import numpy as np
import torch

from ._common import as_list, checker, is_near, as_number, say_correct, is_pending, as_float64, say_wrong


# ----------------------------------------------------------------------------- lesson 07
def _reward_model(gamma: float):
    """A tiny reward network: only its ``soft_value`` and ``transition_values`` are used (no weights)."""
    from srsupm_lab.backbones import build_backbone
    from srsupm_lab.methods.mtrec import RewardModel

    return RewardModel(build_backbone("gru4rec", 2, dim=2), n_quantiles=1, gamma=float(gamma))


def _lse_rows(q: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(q, dim=1)


@checker
def check_soft_values(answer, q_table) -> None:
    """Ex 7.1: V*(s) = log Σ_a exp Q(s, a) for every state (row) of a Q table ``[S, 2]``."""
    if is_pending(answer):
        return
    q = as_float64(q_table)
    expected = _reward_model(0.99).soft_value(q)                               # (S,)
    try:
        got = as_float64(answer).flatten()
    except (TypeError, ValueError):
        return say_wrong("V*", "the answer should be one number per state (row of the Q table)")
    if got.shape == expected.shape and torch.allclose(got, expected, atol=1e-6, rtol=1e-6):
        return say_correct("soft values V*(s)")

    def close(x):
        return got.shape == x.shape and torch.allclose(got, x, atol=1e-6, rtol=1e-6)
    if got.shape != expected.shape:
        hint = f"give one V*(s) per state: the Q table has {q.shape[0]} rows."
    elif close(q.max(dim=1).values):
        hint = ("that is the max over actions, the hard value of ordinary Q-learning; the soft value is "
                "log Σ_a exp Q(s, a), a smooth maximum a little above it.")
    elif close(expected - math.log(q.shape[1])):
        hint = "that is the log of the MEAN of the exponentials; the soft value is the log of their sum."
    elif close(expected.exp()):
        hint = "take the log of the sum of exponentials at the end."
    elif close(expected / math.log(10)) or close(expected / math.log(2)):
        hint = "use the natural logarithm (math.log, torch.log)."
    elif bool((got < q.max(dim=1).values - 1e-9).any()):
        hint = "a log-sum-exp is never below its largest term: V*(s) ≥ max_a Q(s, a) on every row."
    else:
        hint = "per row: exponentiate both Q values, add them, take the natural log."
    return say_wrong("V*", hint, [round(float(v), 5) for v in expected])


@checker
def check_rewards(answer, q_taken, q_next, terminal, gamma: float) -> None:
    """Ex 7.2: r*(s, a) = Q(s, a) − γ V*(s') per transition, V*(s') = 0 where ``terminal``."""
    if is_pending(answer):
        return
    model = _reward_model(gamma)
    q, qn = as_float64(q_taken).flatten(), as_float64(q_next)
    term = torch.as_tensor(np.asarray(as_list(terminal), dtype=bool))
    v_next, is_term = model.transition_values(q[:, None], model.soft_value(qn), ~term)   # (T, 1), (T, 1)
    v_next = torch.where(is_term, torch.zeros_like(v_next), v_next)[:, 0]               # (T,)
    expected = q - model.gamma * v_next
    try:
        got = as_float64(answer).flatten()
    except (TypeError, ValueError):
        return say_wrong("r*", "the answer should be one reward per transition")

    def close(x):
        return got.shape == x.shape and torch.allclose(got, x, atol=1e-6, rtol=1e-6)
    g = float(gamma)
    lse, hard = _lse_rows(qn), qn.max(dim=1).values
    if close(expected):
        return say_correct("rewards r*")
    if got.shape != expected.shape:
        hint = f"give one reward per transition: {q.numel()} transitions."
    elif close(q - g * lse):
        hint = ("a terminal transition (the user's last training window) has no next state: V*(s') = 0 there, "
                "so its reward is Q(s, a) itself.")
    elif close(torch.where(term, q, q - g * hard)) or close(q - g * hard):
        hint = "V*(s') is the soft value log Σ_a' exp Q(s', a'), not the max over the next state's actions."
    elif close(torch.where(term, q, q - lse)):
        hint = "the next state's value is discounted: multiply V*(s') by γ."
    elif close(torch.where(term, q, q + g * lse)):
        hint = "r* = Q(s, a) − γ V*(s'): subtract the discounted value of the next state."
    elif close(torch.where(term, torch.zeros_like(q), q - g * lse)):
        hint = "at a terminal transition only V*(s') is 0; the reward is Q(s, a) − 0, not 0."
    else:
        hint = ("per transition: the taken action's Q(s, a), minus γ times the soft value of the next state "
                "(log Σ exp of its Q row), with V*(s') = 0 where the transition is terminal.")
    return say_wrong("r*", hint, [round(float(v), 5) for v in expected])


@checker
def check_pinball_sum(answer, atoms, target: float) -> None:
    """Ex 7.3: Σ_j p_τj(y − λ_j) with the midpoint levels τ_j = (2j − 1)/(2N) of the N heads."""
    from srsupm_lab.methods.mtrec import pinball, quantile_levels

    if is_pending(answer):
        return
    lam = as_float64(atoms).flatten()
    n = lam.numel()
    u = float(target) - lam                                                    # (N,)
    expected = float(pinball(u, quantile_levels(n, dtype=torch.float64)).sum())
    got = as_number(answer, "QR loss")
    if is_near(got, expected, rel=1e-6):
        return say_correct("QR loss of the N heads")
    j = torch.arange(1, n + 1, dtype=torch.float64)

    def loss(levels, res=u):
        return float((res * (levels - (res < 0).double())).sum())
    if got < 0:
        hint = ("a pinball loss is never negative: u·(τ − 1[u < 0]) ≥ 0 for every u. Check the indicator: it "
                "is 1 when the residual is negative.")
    elif any(is_near(got, loss(levels), rel=1e-6) for levels in (j / n, (j - 1) / n, j / (n + 1))):
        hint = "the levels are the midpoints τ_j = (2j − 1)/(2N) of N equal slices of [0, 1]."
    elif is_near(got, expected / n, rel=1e-6):
        hint = "sum over the heads (the loss of one transition is Σ_j), do not average."
    elif is_near(got, loss((2 * j - 1) / (2 * n), -u), rel=1e-6):
        hint = ("the residual is u_j = y − λ_j (target minus prediction), and head j (the j-th, counted from 1) "
                "has the j-th smallest level.")
    elif is_near(got, float(0.5 * u.abs().sum()), rel=1e-6):
        hint = "that treats every head as the median (τ = 1/2); head j has its own level τ_j."
    else:
        hint = "for each head: u = y − λ_j, τ_j = (2j − 1)/(2N), loss u·(τ_j − 1[u < 0]); then the sum."
    return say_wrong("QR loss", hint, f"{expected:.6f}")


# ----------------------------------------------------------------------------- lesson 08
@checker
def check_tfidf_weight(answer, corpus, text_index: int, term: str) -> None:
    """Ex 8.1: the TF-IDF weight of ``term`` in ``corpus[text_index]`` (MOTE's vectorizer, L2-normalised row)."""
    from srsupm_lab.methods.profiles import TfidfSvdEncoder, tokenize

    if is_pending(answer):
        return
    texts = [str(t) for t in corpus]
    encoder = TfidfSvdEncoder(dim=10 ** 6).fit(texts)                         # no SVD: the vectorizer alone
    vocab = encoder.vectorizer.vocabulary_
    if term not in vocab:
        raise ValueError(f"check_tfidf_weight: {term!r} is not a term of the corpus")
    row = encoder.vectorizer.transform([texts[int(text_index)]])
    expected = float(row[0, vocab[term]])
    got = as_number(answer, "TF-IDF weight")
    if is_near(got, expected, rel=1e-6):
        return say_correct("TF-IDF weight")
    words = tokenize(texts[int(text_index)])
    counts = {w: words.count(w) for w in set(words)}
    n = len(texts)
    df = {w: sum(1 for t in texts if w in set(tokenize(t))) for w in counts}

    def weight(idf_of, tf=lambda w: counts[w], normalise=True):
        raw = {w: tf(w) * idf_of(w) for w in counts}
        norm = math.sqrt(sum(v * v for v in raw.values())) if normalise else 1.0
        return raw[term] / norm if norm > 0 else float("nan")
    smooth = lambda w: math.log((1 + n) / (1 + df[w])) + 1                    # noqa: E731
    if is_near(got, weight(smooth, normalise=False), rel=1e-6):
        hint = "the row is L2-normalised: divide by the norm of the text's whole tf·idf vector."
    elif not 0.0 <= got <= 1.0:
        hint = "a weight of an L2-normalised TF-IDF row lies in [0, 1]."
    elif is_near(got, weight(lambda w: math.log(n / df[w]) + 1), rel=1e-6) or \
            is_near(got, weight(lambda w: math.log(n / df[w])), rel=1e-6):
        hint = "scikit-learn's idf is smoothed: ln((1 + n) / (1 + df)) + 1 (one extra text holding every word)."
    elif is_near(got, weight(lambda w: math.log((1 + n) / (1 + df[w]))), rel=1e-6):
        hint = "idf = ln((1 + n) / (1 + df)) + 1: the + 1 keeps a word found in every text."
    elif is_near(got, weight(smooth, tf=lambda w: 1), rel=1e-6):
        hint = "tf is the raw count of the term in the text: a word written twice counts twice."
    elif is_near(got, weight(lambda w: math.log10((1 + n) / (1 + df[w])) + 1), rel=1e-6):
        hint = "use the natural logarithm in the idf."
    else:
        hint = ("tokenize the text, count each term (tf), weight it by idf = ln((1 + n) / (1 + df)) + 1 with df "
                "the number of texts holding it, then divide the term's tf·idf by the norm of the whole row.")
    return say_wrong("TF-IDF weight", hint, f"{expected:.6f}")


@checker
def check_compatibility(answer, window, traits, masses, item: int, decay: float) -> None:
    """Ex 8.2: cos(m, t_item), m = normalise(Σ_j decay^k_j · mass · t) over the window's items (MAR's motivation)."""
    from srsupm_lab.backbones import build_backbone
    from srsupm_lab.methods.profiles import MotivationAlignedRecommender

    if is_pending(answer):
        return
    T = np.asarray(as_list(traits), dtype=np.float64)
    M = np.asarray(as_list(masses), dtype=np.float64)
    items = [int(i) for i in as_list(window)]
    mar = MotivationAlignedRecommender(build_backbone("gru4rec", T.shape[0] - 1, dim=2), T, M, decay=float(decay))
    m = mar.motivation(torch.tensor([items]))[0].double()                       # (d_t,), unit norm
    t = torch.as_tensor(T[int(item)])
    expected = float(m @ t / t.norm())
    got = as_number(answer, "compatibility")
    if is_near(got, expected, rel=1e-4, abs_=1e-5):
        return say_correct("compatibility cos(m, t)")

    def cos_with(weights):
        s = sum(w * M[i] * T[i] for w, i in zip(weights, items))
        return float(np.dot(s, T[int(item)]) / (np.linalg.norm(s) * np.linalg.norm(T[int(item)])))
    L = len(items)
    newest_first = [float(decay) ** (L - 1 - j) for j in range(L)]
    if not -1.0 - 1e-6 <= got <= 1.0 + 1e-6:
        hint = "a cosine lies in [−1, 1]: normalise the motivation sum (and the trait) before the inner product."
    elif is_near(got, cos_with([1.0] * L), rel=1e-4, abs_=1e-5):
        hint = ("the items are weighed by recency: the most recent weighs 1, the one before it decay, then "
                "decay², …")
    elif is_near(got, cos_with(newest_first[::-1]), rel=1e-4, abs_=1e-5):
        hint = "the most recent item (the last of the window, oldest first) weighs most, not the oldest."
    elif is_near(got, float(sum(w * T[i] for w, i in zip(newest_first, items)) @ T[int(item)]
                          / (np.linalg.norm(sum(w * T[i] for w, i in zip(newest_first, items)))
                             * np.linalg.norm(T[int(item)]))), rel=1e-4, abs_=1e-5):
        hint = "each item's trait is also weighed by its mass (MOTE's |z|: how much text it carries)."
    else:
        hint = ("m = Σ_j decay^k_j · mass_j · t_j over the window (k_j = steps back from the newest item), "
                "normalised; then the cosine of m with the item's trait.")
    return say_wrong("compatibility", hint, f"{expected:.6f}")


@checker
def check_first_items_window(answer, sequence, k: int, max_len: int) -> None:
    """Ex 8.3: the input row a cold-start user is scored from: her first k items, left-padded to max_len."""
    import warnings

    from srsupm_lab.analysis.cold_start import first_items_windows
    from srsupm_lab.data import SequenceDataset, leave_one_out

    if is_pending(answer):
        return
    seq = [int(i) for i in as_list(sequence)]
    k, max_len = int(k), int(max_len)
    ds = SequenceDataset("one user", [np.array(seq)], [frozenset()] * (max(seq) + 1), [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = leave_one_out(ds, max_len=max_len).test
    windows = first_items_windows(ds, test, k, max_len)
    if len(windows) != 1:
        raise ValueError("check_first_items_window: the user has fewer than k items before her test target")
    expected = [int(x) for x in windows.inputs[0]]
    try:
        got = [int(x) for x in answer]
    except (TypeError, ValueError):
        return say_wrong("window", "the answer should be a list of item ids (0 for padding)")
    if got == expected:
        return say_correct(f"the first-{k} window")
    history = seq[:-1]                                                        # before the test target
    items = [x for x in got if x != 0]
    if len(got) != max_len:
        hint = "the window has max_len entries: the user's items, left-padded with 0."
    elif items == history[-k:]:
        hint = ("cold start reads her FIRST k items (the oldest, as if she had just arrived), not her most "
                "recent ones.")
    elif items == seq[:k] and got[:k] == seq[:k]:
        hint = "windows are left-padded: the zeros come first and her items last (oldest first)."
    elif items == seq[:k][::-1]:
        hint = "keep the items oldest first: the newest sits in the last column."
    elif len(items) != k:
        hint = "exactly k of her items are kept; the rest of the row is padding (0)."
    else:
        hint = "take the first k items of her sequence, oldest first, and put max_len − k zeros in front."
    return say_wrong("window", hint, expected)
