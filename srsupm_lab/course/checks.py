"""Exercise checkers of the lessons in ``tutorials/`` (the students' copy: it holds no model answer).

A lesson imports them as ``from srsupm_lab.course import checks``, so a lesson copied alone to a hub or
opened in a hosted notebook service finds them wherever the package is installed.

Every checker takes the student's ``answer`` first, then the inputs of the exercise, and prints ONE
line:

* ``None``: "not answered yet" (returns None);
* a right answer: "correct: ..." (returns True);
* a wrong one: "✗ <what>: not right yet. Hint: <hint>" (returns False). The hint says what kind
  of mistake it looks like (a property the answer breaks, or a common slip such as a 1-based
  rank), never the expected value.

A wrong answer prints a line and returns False rather than raising: a notebook then shows the hint
alone, not under a traceback, "run all" goes on to the next exercise, and a grader reads the
returned value. (:func:`require` turns a False into an error where a script must stop.)

Where the right value comes from: the package's own implementation of the paper (``srsupm_lab``:
``pmsa.pmsd``, ``evaluate.target_ranks``, ``pmsid.shift_distribution`` at SRSUPM's default level
scale, ...), or an experiment on a real model (the causal positions). The checkers hold no worked
solution; the hand-written float64 references a teacher can read live in
``tutorials/solutions/references.py``, and the test suite checks that the two agree
(``tests/test_tutorial_checks.py``).

Teachers: set ``SRSUPM_TEACHER=1`` in the environment and a wrong answer shows the expected value
as well.

Only fixed strings are printed, so a check cell's output is the same on every machine.
"""
from __future__ import annotations

import functools
import math
import os
from statistics import NormalDist

import numpy as np
import torch

NOT_YET = "not answered yet"
WRONG_MARK = "✗"
TEACHER_FLAG = "SRSUPM_TEACHER"


def teacher_mode() -> bool:
    """True when ``SRSUPM_TEACHER`` is set (to anything but "" or "0"): failures show the expected value."""
    return os.environ.get(TEACHER_FLAG, "") not in ("", "0")


class _Rejected(Exception):
    """A wrong answer, carrying its one-line message (caught by :func:`_checker`)."""


def _checker(check):
    """Turn a checker's rejection into one printed line and a False return value."""
    @functools.wraps(check)
    def run(answer, *args, **kwargs):
        try:
            return check(answer, *args, **kwargs)
        except _Rejected as rejected:
            print(f"{WRONG_MARK} {rejected}")
            return False
    return run


def require(result) -> None:
    """Raise where a checker returned False (for scripts and graders that must stop on a wrong answer)."""
    if result is False:
        raise AssertionError("the answer was not right (the checker's hint is printed above)")


def _pending(answer) -> bool:
    if answer is None:
        print(NOT_YET)
        return True
    return False


def _ok(what: str) -> bool:
    print(f"correct: {what}")
    return True


def _wrong(what: str, hint: str, expected=None):
    message = f"{what}: not right yet. Hint: {hint}"
    if teacher_mode() and expected is not None:
        message += f" [teacher: expected {expected}]"
    raise _Rejected(message)


def _as_list(x):
    """A tensor / array / list as a plain Python list."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x).tolist()


def _t64(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(_as_list(x), dtype=np.float64))


def _number(answer, what: str) -> float:
    try:
        a = float(answer)
    except (TypeError, ValueError):
        return _wrong(what, f"the answer should be one number, got {type(answer).__name__}")
    if not math.isfinite(a):
        return _wrong(what, "the answer is not a finite number (a division by zero, or a log of 0?)")
    return a


def _near(a: float, b: float, rel: float = 1e-5, abs_: float = 1e-9) -> bool:
    return abs(a - b) <= max(abs_, rel * max(1.0, abs(b)))


def _int(answer, what: str) -> int:
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return _wrong(what, f"the answer should be a whole number, got {type(answer).__name__}")
    if not value.is_integer():
        return _wrong(what, "the answer should be a whole number (a count)")
    return int(value)


# ----------------------------------------------------------------------------- lesson 01
@_checker
def check_training_windows(answer, sequence) -> None:
    """Ex 1.1: the number of training windows one user gives (the package's leave-one-out split)."""
    import warnings

    from srsupm_lab.data import SequenceDataset, leave_one_out

    if _pending(answer):
        return
    seq = [int(i) for i in _as_list(sequence)]
    ds = SequenceDataset("one user", [np.array(seq)], [frozenset()] * (max(seq) + 1), [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = len(leave_one_out(ds, max_len=len(seq)).train) if len(seq) >= 3 else 0
    got = _int(answer, "training windows")
    if got == expected:
        return _ok(f"{expected} training windows")
    if got > expected:
        hint = ("too many. Which items can be a training target? The first has no history before it, and the "
                "last two are held out (validation, test).")
    else:
        hint = "too few. Every item that has a history and is not held out for validation or test is a target."
    return _wrong("training windows", hint, expected)


@_checker
def check_rank(answer, scores, target, history) -> None:
    """Ex 1.2: 0-based rank of the target, ties against the model, seen items removed."""
    from srsupm_lab.evaluate import target_ranks

    if _pending(answer):
        return
    s = torch.as_tensor(np.asarray(_as_list(scores), dtype=np.float64))[None]
    t = torch.tensor([int(target)])
    h = torch.as_tensor(np.asarray(_as_list(history), dtype=np.int64)).reshape(1, -1)
    expected = int(target_ranks(s, t, h)[0])
    got = _int(answer, "rank")
    if got == expected:
        return _ok(f"rank {expected}")
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
    return _wrong("rank", hint, expected)


@_checker
def check_ndcg(answer, ranks, k: int = 10) -> None:
    """Ex 1.3: mean NDCG@k over users from 0-based ranks."""
    from srsupm_lab.evaluate import metrics_from_ranks

    if _pending(answer):
        return
    r = torch.as_tensor(np.asarray(_as_list(ranks), dtype=np.int64))
    expected = float(metrics_from_ranks(r, ks=(k,))[f"ndcg@{k}"].double().mean())
    got = _number(answer, f"NDCG@{k}")
    if _near(got, expected):
        return _ok(f"NDCG@{k}")
    rd = r.double()
    one_based = float(torch.where(r < k, 1.0 / torch.log2(rd + 1.0).clamp_min(1e-300), 0.0).mean()) \
        if bool((r > 0).all()) else None
    if not 0.0 <= got <= 1.0:
        hint = f"NDCG@{k} is a mean of discounts between 0 and 1, so it lies in [0, 1]."
    elif _near(got, float((r < k).double().mean())):
        hint = f"that counts hits (Recall@{k}); NDCG weights each hit by its discount 1/log2(rank + 2)."
    elif one_based is not None and _near(got, one_based):
        hint = "ranks are 0-based: the top item (rank 0) has discount 1/log2(0 + 2) = 1."
    elif _near(got, float(torch.where(r <= k, 1.0 / torch.log2(rd + 2.0), 0.0).mean())):
        hint = f"a hit is a rank below {k} (0-based): rank {k} itself is outside the top {k}."
    else:
        hint = f"per user: 1/log2(rank + 2) when rank < {k}, else 0; then the mean over all users."
    return _wrong(f"NDCG@{k}", hint, f"{expected:.6f}")


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


@_checker
def check_causal_positions(answer, j: int, length: int) -> None:
    """Ex 2.1: positions of a causal encoder whose output changes when the item at ``j`` changes."""
    if _pending(answer):
        return
    j, length = int(j), int(length)
    expected = _changed_positions(j, length)
    try:
        got = {int(x) for x in answer}
    except (TypeError, ValueError):
        return _wrong("causal positions", "the answer should be a collection of positions (ints)")
    if got == expected:
        return _ok(f"positions {j}..{length - 1}")
    if any(t < 0 or t >= length for t in got):
        hint = f"positions run from 0 to L − 1 = {length - 1}."
    elif any(t < j for t in got):
        hint = "position t of a causal encoder sees only the items at positions 0..t: can an earlier output change?"
    elif j not in got:
        hint = "the item at position j is also seen by position j itself."
    else:
        hint = "every later position sees the item at j too (through the recurrence or the attention)."
    return _wrong("causal positions", hint, sorted(expected))


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


@_checker
def check_gru4rec_parameters(answer, n_items: int, dim: int, hidden: int) -> None:
    """Ex 2.2: parameters of GRU4Rec, compared with the package's model of that size.

    ``answer`` is a count, or a function ``(n_items, dim, hidden) -> count``: a function is tried on
    the lesson's size and on :data:`GRU4REC_TRIAL_SIZES`, so a formula that fits one size by chance
    does not pass.
    """
    if _pending(answer):
        return
    sizes = [(int(n_items), int(dim), int(hidden))] + (list(GRU4REC_TRIAL_SIZES) if callable(answer) else [])
    for size in sizes:
        expected = _gru4rec_count(*size)
        if callable(answer):
            try:
                value = answer(*size)
            except Exception as error:                                  # a student's function may fail anywhere
                return _wrong("parameters", f"your function failed on (n_items, d, hidden) = {size}: "
                                            f"{type(error).__name__}: {error}")
            got = _int(value, "parameters")
        else:
            got = _int(answer, "parameters")
        if got != expected:
            where = f" (at n_items, d, hidden = {size})" if callable(answer) else ""
            return _wrong("parameters", _gru4rec_hint(got - expected, size[1], size[2]) + where, expected)
    return _ok(f"{'the formula, on ' + str(len(sizes)) + ' sizes' if callable(answer) else str(expected) + ' parameters'}")


@_checker
def check_dot_score(answer, h, e) -> None:
    """Ex 2.3: the score <h_u, e_i>."""
    if _pending(answer):
        return
    hv, ev = _t64(h), _t64(e)
    expected = float(torch.dot(hv, ev))
    got = _number(answer, "score")
    if _near(got, expected, rel=1e-4):
        return _ok("score")
    cosine = expected / float(hv.norm() * ev.norm())
    if _near(got, cosine, rel=1e-4):
        hint = "the score is the plain inner product, not the cosine: no division by the norms."
    elif _near(got, -expected, rel=1e-4):
        hint = "check the sign: the score is Σ h_j e_j."
    elif _near(got, expected / math.sqrt(len(ev)), rel=1e-4):
        hint = "no 1/√d scaling in this score."
    else:
        hint = "the score is Σ_j h_j · e_j over the d coordinates (use the user vector h and the item row e)."
    return _wrong("score", hint, f"{expected:.6f}")


# ----------------------------------------------------------------------------- lesson 03
@_checker
def check_pmsd(answer, window_label_sets, target_label_set) -> None:
    """Ex 3.1: PMSD of one window (Eq. 2)."""
    from srsupm_lab import pmsa

    if _pending(answer):
        return
    window = [[int(x) for x in labels] for labels in window_label_sets]
    target = [int(x) for x in target_label_set]
    expected = float(pmsa.pmsd(window, target))
    got = _number(answer, "PMSD")
    if _near(got, expected, rel=1e-9):
        return _ok(f"PMSD = {expected:.4f}")
    last_only = float(pmsa.pmsd(window[-1:], target)) if window else None
    if not 0.0 <= got <= 1.0:
        hint = "PMSD is one minus a ratio of set sizes, so it lies in [0, 1]."
    elif _near(got, 1.0 - expected, rel=1e-9):
        hint = "that is the overlap |C(v) ∩ C_S| / |C(v) ∪ C_S|; PMSD is one minus it."
    elif last_only is not None and _near(got, last_only, rel=1e-9):
        hint = "C_S is the union of the categories of every item in the window, not of the last item only."
    else:
        hint = "build C_S as a union over the window's items, C(v) from the target, then 1 − |∩| / |∪| (Eq. 2)."
    return _wrong("PMSD", hint, f"{expected:.6f}")


@_checker
def check_levels(answer, values, K: int) -> None:
    """Ex 3.2: shift levels of a few PMSD values (Eq. 3)."""
    from srsupm_lab import pmsa

    if _pending(answer):
        return
    vals = [float(x) for x in _as_list(values)]
    expected = [int(x) for x in np.atleast_1d(pmsa.shift_level(np.array(vals), int(K)))]
    try:
        got = [int(x) for x in answer]
    except (TypeError, ValueError):
        return _wrong("levels", "the answer should be a list of integer levels, one per value")
    if got == expected:
        return _ok(f"levels {expected}")
    wrong = [i for i, (a, b) in enumerate(zip(got, expected)) if a != b]
    if len(got) != len(expected):
        hint = f"give one level per value: {len(vals)} values."
    elif any(not 0 <= a < K for a in got):
        hint = f"levels run from 0 to K − 1 = {K - 1}."
    elif any(vals[i] in (0.0, 1.0) for i in wrong):
        hint = "the ends are exact: PMSD = 0 is level 0 and PMSD = 1 is level K − 1."
    else:
        hint = (f"entries {wrong} are off. Inside (0, 1) the K − 2 middle levels cut the interval evenly, each "
                f"1/(K − 2) wide, left end included.")
    return _wrong("levels", hint, expected)


@_checker
def check_share(answer, flags, other_direction=None) -> None:
    """Ex 3.3: a share (the fraction of True among ``flags``).

    ``other_direction`` (optional flags) is the share a student would compute by conditioning the other
    way round (recall instead of precision): matching it gets a hint that says so.
    """
    if _pending(answer):
        return
    f = np.asarray(_as_list(flags), dtype=bool)
    expected = float(f.mean())
    got = _number(answer, "share")
    if _near(got, expected, rel=1e-6):
        return _ok(f"share = {expected:.4f}")
    if not 0.0 <= got <= 1.0:
        hint = "a share is a fraction in [0, 1]: divide the count by the size of the group you condition on."
    elif _near(got, 1.0 - expected, rel=1e-6):
        hint = "that is the complement: the share of the group where the condition does NOT hold."
    elif other_direction is not None and _near(got, float(np.asarray(_as_list(other_direction), dtype=bool).mean()),
                                               rel=1e-6):
        hint = ("that conditions the other way round: the question fixes the group first (the windows PMSA puts "
                "at the top level) and asks which share of THEM is a true switch.")
    else:
        hint = "select the group the question conditions on, then the fraction of it where the condition holds."
    return _wrong("share", hint, f"{expected:.6f}")


# ----------------------------------------------------------------------------- lesson 04
def default_level_scales(dim: int) -> dict[str, float]:
    """The scales of α (Eq. 9) and β (Eq. 19) an ``SRSUPM`` built with today's defaults starts with.

    Read from :class:`~srsupm_lab.methods.srsupm.options.SRSUPMOptions` (``level_temperature``), so
    the checkers agree with the model a lesson trains: ``"unit"`` gives 1, ``"fixed"`` (the paper's
    literal reading) and ``"learned"`` (at initialisation) 1/√d.
    """
    from srsupm_lab.methods.srsupm.options import SRSUPMOptions
    from srsupm_lab.methods.srsupm.temperature import LevelTemperatures

    return LevelTemperatures(int(dim), SRSUPMOptions.defaults()["level_temperature"]).scales()


def _scale_words(scale: float, dim: int) -> str:
    return "1 (no division)" if scale == 1.0 else ("1/√d" if abs(scale * math.sqrt(dim) - 1) < 1e-9 else f"{scale:g}")


def _other_scale(scale: float, dim: int) -> tuple[float, str]:
    """The scale a student following the other reading would use, and the hint that names the slip."""
    if scale == 1.0:
        return 1.0 / math.sqrt(dim), ("the model's default level scale is 1 (level_temperature='unit'): do not "
                                     "divide the logits by √d (that is the paper's literal 'fixed' reading).")
    return 1.0, f"the model's default level scale is {_scale_words(scale, dim)}: scale the logits before the softmax."


@_checker
def check_alpha(answer, Z, e_v, scale: float | None = None) -> None:
    """Ex 4.1: the shift distribution α of one window (Eq. 9), at SRSUPM's default level scale unless given."""
    from srsupm_lab.methods.srsupm import pmsid

    if _pending(answer):
        return
    Zt, et = _t64(Z), _t64(e_v)
    d = Zt.shape[-1]
    scale = default_level_scales(d)["alpha"] if scale is None else float(scale)
    expected = pmsid.shift_distribution(Zt[None], et[None], scale=scale)[0]
    try:
        got = _t64(answer).flatten()
    except (TypeError, ValueError):
        return _wrong("α", "the answer should be K numbers, one per level")
    if got.shape == expected.shape and torch.allclose(got, expected, atol=1e-4, rtol=0):
        return _ok("α")
    other, other_hint = _other_scale(scale, d)
    if got.shape != expected.shape:
        hint = f"α has one entry per level: {expected.numel()} entries."
    elif bool((got < 0).any()) or abs(float(got.sum()) - 1.0) > 1e-3:
        hint = "α is a softmax over the levels: entries in [0, 1] that sum to 1."
    elif torch.allclose(got, pmsid.shift_distribution(Zt[None], et[None], scale=other)[0], atol=1e-4, rtol=0):
        hint = other_hint
    else:
        hint = (f"one logit per level, ⟨ẑ_k, e_v⟩ × {_scale_words(scale, d)} with e_v the target's embedding, "
                f"then a softmax over k.")
    return _wrong("α", hint, [round(float(a), 5) for a in expected])


@_checker
def check_mixed_score(answer, Z, e_i, scale: float | None = None) -> None:
    """Ex 4.2: the mixed score s_{u,i} = Σ_k β_k <ẑ_k, e_i> (Eqs. 19–22), at SRSUPM's default scale unless given."""
    from srsupm_lab.methods.srsupm import prediction

    if _pending(answer):
        return
    Zt, et = _t64(Z), _t64(e_i)
    d = Zt.shape[-1]
    scale = default_level_scales(d)["beta"] if scale is None else float(scale)
    expected = float(prediction.mixed_scores(Zt[None], et[None], scale=scale)[0, 0])
    got = _number(answer, "mixed score")
    if _near(got, expected, rel=1e-4):
        return _ok("mixed score")
    other, other_hint = _other_scale(scale, d)
    dots = Zt @ et
    if _near(got, float(dots.mean()), rel=1e-4):
        hint = "that is mean pooling; the mixture weights each branch by β_k = softmax_k of the scaled ⟨ẑ_k, e_i⟩."
    elif _near(got, float(prediction.mixed_scores(Zt[None], et[None], scale=other)[0, 0]), rel=1e-4):
        hint = other_hint
    elif _near(got, float(dots.max()), rel=1e-4):
        hint = "not the best branch alone: every branch contributes, weighted by β_k."
    elif _near(got, float(torch.softmax(dots * scale, 0).sum()), rel=1e-4):
        hint = "the weights β_k sum to 1: weight each branch's score ⟨ẑ_k, e_i⟩ by its β_k, then sum."
    else:
        hint = (f"score each branch ⟨ẑ_k, e_i⟩, weight the K scores by their softmax (logits × "
                f"{_scale_words(scale, d)}), and sum.")
    return _wrong("mixed score", hint, f"{expected:.6f}")


def default_reg_form() -> str:
    """The form of L_reg (Eq. 10) an ``SRSUPM`` trains with today's defaults (``SRSUPMOptions.reg_form``)."""
    from srsupm_lab.methods.srsupm.options import SRSUPMOptions

    return SRSUPMOptions.defaults()["reg_form"]


@_checker
def check_reg(answer, Z, form: str | None = None) -> None:
    """Ex 4.3: the shift-consistency term (Eq. 10) of one window, in the form the model trains unless given."""
    from srsupm_lab.methods.srsupm import pmsid

    if _pending(answer):
        return
    Zt = _t64(Z)
    form = default_reg_form() if form is None else form
    expected = float(pmsid.consistency_regulariser(Zt[None], form))
    got = _number(answer, "L_reg")
    if _near(got, expected, rel=1e-4):
        return _ok("L_reg")
    other = {f: float(pmsid.consistency_regulariser(Zt[None], f)) for f in pmsid.REG_FORMS if f != form}
    slip = next((f for f, v in other.items() if _near(got, v, rel=1e-4)), None)
    normalised = form.startswith("normalised")
    gaps = (Zt[1:] - Zt[:-1]).pow(2).sum(dim=1)
    if got < 0:
        hint = "L_reg is a mean of squared distances, never negative."
    elif slip is not None and slip.startswith("raw") and normalised:
        hint = "the model trains the normalised form: scale every ẑ_k to unit length before taking the gaps."
    elif slip is not None and slip.startswith("normalised") and not normalised:
        hint = "this form uses the raw ẑ_k, not unit-length ones."
    elif slip is not None and slip.endswith("sum") and form.endswith("mean"):
        hint = "average over the K − 1 adjacent pairs instead of summing them."
    elif slip is not None and slip.endswith("mean") and form.endswith("sum"):
        hint = "sum over the K − 1 adjacent pairs instead of averaging them."
    elif _near(got, float(gaps.sqrt().mean()), rel=1e-4) or \
            _near(got, float((torch.nn.functional.normalize(Zt, dim=1).diff(dim=0)).norm(dim=1).mean()), rel=1e-4):
        hint = "the distances are squared (squared L2 norm of ẑ_{k+1} − ẑ_k)."
    elif normalised and got > 4.0:
        hint = "with unit-length ẑ_k every squared gap lies in [0, 4]: normalise each ẑ_k first."
    else:
        hint = ("for each adjacent pair of levels, the squared L2 distance of their representations "
                f"({'each scaled to unit length first, ' if normalised else ''}the form '{form}'); then the "
                f"{'mean' if form.endswith('mean') else 'sum'}.")
    return _wrong("L_reg", hint, f"{expected:.6f}")


# ----------------------------------------------------------------------------- lesson 05
@_checker
def check_group_size(answer, targets, levels, window: int) -> None:
    """Ex 5.1: |N(u)| (Eq. 11): the other training windows with the same target and level."""
    from srsupm_lab.methods.srsupm import pmsim

    if _pending(answer):
        return
    t = torch.as_tensor(np.asarray(_as_list(targets), dtype=np.int64))
    lv = torch.as_tensor(np.asarray(_as_list(levels), dtype=np.int64))
    window = int(window)
    K = int(lv.max()) + 1
    groups = pmsim.build_groups(t, lv, K)
    g = int(groups["group"][window])
    expected = int(groups["offsets"][g + 1] - groups["offsets"][g]) - 1
    got = _int(answer, "|N(u)|")
    if got == expected:
        return _ok(f"|N(u)| = {expected}")
    if got == expected + 1:
        hint = "N(u) holds the OTHER windows: leave the window itself out."
    elif got > expected:
        hint = "a partner shares the target AND the shift level, not just one of them."
    else:
        hint = "count every other training window (any user) with the same target item and the same level."
    return _wrong("|N(u)|", hint, expected)


@_checker
def check_sampling_probabilities(answer, confidences, own: int) -> None:
    """Ex 5.2: P(u' = j) = c_j / Σ_{N(u)} c over the group without ``own`` (Eq. 14)."""
    if _pending(answer):
        return
    c = _t64(confidences)
    keep = torch.ones_like(c, dtype=torch.bool)
    keep[int(own)] = False
    expected = torch.where(keep, c, torch.zeros_like(c))
    expected = expected / expected.sum()
    try:
        got = _t64(answer).flatten()
    except (TypeError, ValueError):
        return _wrong("sampling probabilities", "the answer should be one probability per group member")
    if got.shape == expected.shape and torch.allclose(got, expected, atol=1e-6, rtol=0):
        return _ok("sampling probabilities")
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
    return _wrong("sampling probabilities", hint, [round(float(p), 5) for p in expected])


@_checker
def check_info_nce(answer, anchor, positive, tau: float) -> None:
    """Ex 5.3: InfoNCE (Eqs. 16–18) with cosine similarity."""
    from srsupm_lab.methods.srsupm import pmsim

    if _pending(answer):
        return
    A, P = _t64(anchor), _t64(positive)
    expected = float(pmsim.info_nce(A, P, float(tau)))
    got = _number(answer, "InfoNCE")
    if _near(got, expected, rel=1e-4):
        return _ok("InfoNCE")
    labels = torch.arange(A.shape[0])
    dot = float(torch.nn.functional.cross_entropy(A @ P.t() / float(tau), labels))
    no_tau = float(pmsim.info_nce(A, P, 1.0))
    if got < 0:
        hint = "InfoNCE is a mean of cross-entropies, never negative."
    elif _near(got, dot, rel=1e-4):
        hint = "the similarity is the cosine: normalise both views before the inner product."
    elif float(tau) != 1.0 and _near(got, no_tau, rel=1e-4):
        hint = "divide the similarities by the temperature τ."
    elif _near(got, expected * A.shape[0], rel=1e-4):
        hint = "average over the batch rows instead of summing."
    else:
        hint = ("row b of the anchors must pick row b of the positives among all positives: cosine / τ, "
                "a log-softmax over the row, minus its diagonal entry, averaged over rows.")
    return _wrong("InfoNCE", hint, f"{expected:.6f}")


@_checker
def check_match_probability(answer, anchor, positive, tau: float, row: int) -> None:
    """Ex 5.3: the probability InfoNCE gives anchor ``row`` of picking its own positive (Eqs. 16–18).

    ``softmax_j(cos(anchor_row, positive_j) / τ)`` at ``j = row``: the term whose −log is that row's
    share of L_PMSIM (the package's ``pmsim.info_nce`` averages it over the rows).
    """
    from srsupm_lab.methods.srsupm import pmsim

    if _pending(answer):
        return
    A, P = _t64(anchor), _t64(positive)
    row, tau = int(row), float(tau)
    keep = torch.zeros(A.shape[0], dtype=torch.bool)
    keep[row] = True                                                          # only this anchor enters the mean
    expected = float(torch.exp(-pmsim.info_nce(A, P, tau, keep=keep)))       # the package's loss of that row
    cos = torch.nn.functional.normalize(A, dim=1) @ torch.nn.functional.normalize(P, dim=1).t()     # (B, B)
    got = _number(answer, "match probability")
    if _near(got, expected, rel=1e-4):
        return _ok("probability of the right match")
    dot = A @ P.t()
    if not 0.0 <= got <= 1.0:
        hint = ("a probability lies in [0, 1]: that looks like a loss or a logit; take the softmax entry (exp of "
                "minus the row's cross-entropy).")
    elif _near(got, float(torch.softmax(dot[row] / tau, dim=0)[row]), rel=1e-4):
        hint = "the similarity is the cosine: normalise both views before the inner product."
    elif tau != 1.0 and _near(got, float(torch.softmax(cos[row], dim=0)[row]), rel=1e-4):
        hint = "divide the similarities by the temperature τ before the softmax."
    elif _near(got, float(torch.softmax(cos[:, row] / tau, dim=0)[row]), rel=1e-4):
        hint = "the softmax runs over the positives for one anchor (a row of the similarity matrix), not a column."
    elif _near(got, float(torch.exp(-pmsim.info_nce(A, P, tau))), rel=1e-4):
        hint = "that is exp(−L) of the whole batch; the question is about one anchor's row only."
    else:
        hint = ("cosine of the anchor with every positive, divided by τ, a softmax over the positives; the entry "
                "of its own positive.")
    return _wrong("match probability", hint, f"{expected:.6f}")


# ----------------------------------------------------------------------------- lesson 06
@_checker
def check_recall_from_ranks(answer, ranks, k: int = 10) -> None:
    """Ex 6.1: Recall@k from 0-based ranks."""
    from srsupm_lab.evaluate import metrics_from_ranks

    if _pending(answer):
        return
    r = torch.as_tensor(np.asarray(_as_list(ranks), dtype=np.int64))
    expected = float(metrics_from_ranks(r, ks=(k,))[f"recall@{k}"].double().mean())
    got = _number(answer, f"Recall@{k}")
    if _near(got, expected, rel=1e-6):
        return _ok(f"Recall@{k}")
    if not 0.0 <= got <= 1.0:
        hint = f"Recall@{k} is a share of users, in [0, 1]: divide the hits by the number of users."
    elif _near(got, float((r <= k).double().mean()), rel=1e-6):
        hint = f"ranks are 0-based: a hit is rank < {k}, so rank {k} is the eleventh place."
    else:
        hint = f"the share of users whose target has rank < {k}."
    return _wrong(f"Recall@{k}", hint, f"{expected:.6f}")


@_checker
def check_interval(answer, per_user_values, level: float = 0.95) -> None:
    """Ex 6.2: a ``level`` (95 %) confidence interval for a mean over users.

    A bootstrap interval is random, so it is judged against the normal approximation
    ``mean ± z·se`` (``se = sd/√n``, ``z`` the level's normal quantile): it must contain the
    sample mean and each end must lie within ``0.25·se`` of that approximation's end. That is
    about three Monte-Carlo standard errors of a percentile bootstrap with 1,000 resamples (the
    2.5 % quantile of the resampled means moves by about 0.085·se), and less than the gap to the
    ends of a 90 % (0.32·se) or 99 % (0.62·se) interval, so only the asked level passes.
    """
    if _pending(answer):
        return
    x = _t64(per_user_values)
    n = x.numel()
    mean, se = float(x.mean()), float(x.std(unbiased=True)) / math.sqrt(n)
    normal = NormalDist()
    z = normal.inv_cdf(0.5 + level / 2)
    lo_ref, hi_ref = mean - z * se, mean + z * se
    try:
        lo, hi = (float(v) for v in answer)
    except (TypeError, ValueError):
        return _wrong("interval", "the answer should be a pair (low, high)")
    tolerance = 0.25 * se
    if lo <= mean <= hi and abs(lo - lo_ref) <= tolerance and abs(hi - hi_ref) <= tolerance:
        return _ok(f"{level * 100:g} % interval")
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
    return _wrong("interval", hint, f"about ({lo_ref:.4f}, {hi_ref:.4f}) (normal approximation)")


@_checker
def check_discordant_share(answer, ranks_a, ranks_b, k: int = 10) -> None:
    """Ex 6.3: the share of users on whom two models disagree at k (one hits, the other misses)."""
    from srsupm_lab.evaluate import metrics_from_ranks

    if _pending(answer):
        return
    a = torch.as_tensor(np.asarray(_as_list(ranks_a), dtype=np.int64))
    b = torch.as_tensor(np.asarray(_as_list(ranks_b), dtype=np.int64))
    if a.shape != b.shape:
        raise ValueError(f"check_discordant_share: the two rank lists must cover the same users, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    ha, hb = (metrics_from_ranks(r, ks=(k,))[f"recall@{k}"].double() for r in (a, b))   # per-user 0/1
    expected = float((ha != hb).double().mean())
    got = _number(answer, "discordant share")
    if _near(got, expected, rel=1e-6):
        return _ok("share of users the two models disagree on")
    if not 0.0 <= got <= 1.0:
        hint = "a share of users lies in [0, 1]: divide the count by the number of users."
    elif _near(got, abs(float((hb - ha).mean())), rel=1e-6):
        hint = ("that is the net difference of the two Recall@k; count instead the users where exactly one of the "
                "two models hits (wins of B and wins of A both count).")
    elif _near(got, float(((hb == 1) & (ha == 0)).double().mean()), rel=1e-6) or \
            _near(got, float(((ha == 1) & (hb == 0)).double().mean()), rel=1e-6):
        hint = "count both kinds of disagreement: B hits and A misses, and A hits and B misses."
    elif _near(got, float((ha == hb).double().mean()), rel=1e-6):
        hint = "that is the share where they agree; the question is the share where they disagree."
    elif _near(got, float(((a <= k) != (b <= k)).double().mean()), rel=1e-6):
        hint = f"ranks are 0-based: a hit is rank < {k}."
    else:
        hint = f"per user, hit@{k} of A and of B (rank < {k}); the share of users where the two differ."
    return _wrong("discordant share", hint, f"{expected:.6f}")


@_checker
def check_paired_difference(answer, ranks_a, ranks_b, k: int = 10) -> None:
    """Ex 6.3: mean over users of Recall@k(B) − Recall@k(A), user by user."""
    from srsupm_lab.evaluate import metrics_from_ranks

    if _pending(answer):
        return
    a = torch.as_tensor(np.asarray(_as_list(ranks_a), dtype=np.int64))
    b = torch.as_tensor(np.asarray(_as_list(ranks_b), dtype=np.int64))
    assert a.shape == b.shape, "the two rank lists must cover the same users"
    ra, rb = metrics_from_ranks(a, ks=(k,))[f"recall@{k}"].double(), metrics_from_ranks(b, ks=(k,))[f"recall@{k}"].double()
    expected = float((rb - ra).mean())
    got = _number(answer, "paired difference")
    if _near(got, expected, rel=1e-6):
        return _ok("paired difference")
    if expected != 0 and _near(got, -expected, rel=1e-6):
        hint = "mind the order: SRSUPM (B) minus the ablation (A)."
    elif not -1.0 <= got <= 1.0:
        hint = "a difference of two shares lies in [−1, 1]: average over users."
    else:
        hint = f"per user, hit@{k} under B minus hit@{k} under A (1 or 0 each), then the mean over users."
    return _wrong("paired difference", hint, f"{expected:.6f}")


# ----------------------------------------------------------------------------- lesson 07
def _reward_model(gamma: float):
    """A tiny reward network: only its ``soft_value`` and ``transition_values`` are used (no weights)."""
    from srsupm_lab.backbones import build_backbone
    from srsupm_lab.methods.mtrec import RewardModel

    return RewardModel(build_backbone("gru4rec", 2, dim=2), n_quantiles=1, gamma=float(gamma))


def _lse_rows(q: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(q, dim=1)


@_checker
def check_soft_values(answer, q_table) -> None:
    """Ex 7.1: V*(s) = log Σ_a exp Q(s, a) for every state (row) of a Q table ``[S, 2]``."""
    if _pending(answer):
        return
    q = _t64(q_table)
    expected = _reward_model(0.99).soft_value(q)                               # (S,)
    try:
        got = _t64(answer).flatten()
    except (TypeError, ValueError):
        return _wrong("V*", "the answer should be one number per state (row of the Q table)")
    if got.shape == expected.shape and torch.allclose(got, expected, atol=1e-6, rtol=1e-6):
        return _ok("soft values V*(s)")

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
    return _wrong("V*", hint, [round(float(v), 5) for v in expected])


@_checker
def check_rewards(answer, q_taken, q_next, terminal, gamma: float) -> None:
    """Ex 7.2: r*(s, a) = Q(s, a) − γ V*(s') per transition, V*(s') = 0 where ``terminal``."""
    if _pending(answer):
        return
    model = _reward_model(gamma)
    q, qn = _t64(q_taken).flatten(), _t64(q_next)
    term = torch.as_tensor(np.asarray(_as_list(terminal), dtype=bool))
    v_next, is_term = model.transition_values(q[:, None], model.soft_value(qn), ~term)   # (T, 1), (T, 1)
    v_next = torch.where(is_term, torch.zeros_like(v_next), v_next)[:, 0]               # (T,)
    expected = q - model.gamma * v_next
    try:
        got = _t64(answer).flatten()
    except (TypeError, ValueError):
        return _wrong("r*", "the answer should be one reward per transition")

    def close(x):
        return got.shape == x.shape and torch.allclose(got, x, atol=1e-6, rtol=1e-6)
    g = float(gamma)
    lse, hard = _lse_rows(qn), qn.max(dim=1).values
    if close(expected):
        return _ok("rewards r*")
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
    return _wrong("r*", hint, [round(float(v), 5) for v in expected])


@_checker
def check_pinball_sum(answer, atoms, target: float) -> None:
    """Ex 7.3: Σ_j p_τj(y − λ_j) with the midpoint levels τ_j = (2j − 1)/(2N) of the N heads."""
    from srsupm_lab.methods.mtrec import pinball, quantile_levels

    if _pending(answer):
        return
    lam = _t64(atoms).flatten()
    n = lam.numel()
    u = float(target) - lam                                                    # (N,)
    expected = float(pinball(u, quantile_levels(n, dtype=torch.float64)).sum())
    got = _number(answer, "QR loss")
    if _near(got, expected, rel=1e-6):
        return _ok("QR loss of the N heads")
    j = torch.arange(1, n + 1, dtype=torch.float64)

    def loss(levels, res=u):
        return float((res * (levels - (res < 0).double())).sum())
    if got < 0:
        hint = ("a pinball loss is never negative: u·(τ − 1[u < 0]) ≥ 0 for every u. Check the indicator: it "
                "is 1 when the residual is negative.")
    elif any(_near(got, loss(levels), rel=1e-6) for levels in (j / n, (j - 1) / n, j / (n + 1))):
        hint = "the levels are the midpoints τ_j = (2j − 1)/(2N) of N equal slices of [0, 1]."
    elif _near(got, expected / n, rel=1e-6):
        hint = "sum over the heads (the loss of one transition is Σ_j), do not average."
    elif _near(got, loss((2 * j - 1) / (2 * n), -u), rel=1e-6):
        hint = ("the residual is u_j = y − λ_j (target minus prediction), and head j (the j-th, counted from 1) "
                "has the j-th smallest level.")
    elif _near(got, float(0.5 * u.abs().sum()), rel=1e-6):
        hint = "that treats every head as the median (τ = 1/2); head j has its own level τ_j."
    else:
        hint = "for each head: u = y − λ_j, τ_j = (2j − 1)/(2N), loss u·(τ_j − 1[u < 0]); then the sum."
    return _wrong("QR loss", hint, f"{expected:.6f}")


# ----------------------------------------------------------------------------- lesson 08
@_checker
def check_tfidf_weight(answer, corpus, text_index: int, term: str) -> None:
    """Ex 8.1: the TF-IDF weight of ``term`` in ``corpus[text_index]`` (MOTE's vectorizer, L2-normalised row)."""
    from srsupm_lab.methods.profiles import TfidfSvdEncoder, tokenize

    if _pending(answer):
        return
    texts = [str(t) for t in corpus]
    encoder = TfidfSvdEncoder(dim=10 ** 6).fit(texts)                         # no SVD: the vectorizer alone
    vocab = encoder.vectorizer.vocabulary_
    if term not in vocab:
        raise ValueError(f"check_tfidf_weight: {term!r} is not a term of the corpus")
    row = encoder.vectorizer.transform([texts[int(text_index)]])
    expected = float(row[0, vocab[term]])
    got = _number(answer, "TF-IDF weight")
    if _near(got, expected, rel=1e-6):
        return _ok("TF-IDF weight")
    words = tokenize(texts[int(text_index)])
    counts = {w: words.count(w) for w in set(words)}
    n = len(texts)
    df = {w: sum(1 for t in texts if w in set(tokenize(t))) for w in counts}

    def weight(idf_of, tf=lambda w: counts[w], normalise=True):
        raw = {w: tf(w) * idf_of(w) for w in counts}
        norm = math.sqrt(sum(v * v for v in raw.values())) if normalise else 1.0
        return raw[term] / norm if norm > 0 else float("nan")
    smooth = lambda w: math.log((1 + n) / (1 + df[w])) + 1                    # noqa: E731
    if _near(got, weight(smooth, normalise=False), rel=1e-6):
        hint = "the row is L2-normalised: divide by the norm of the text's whole tf·idf vector."
    elif not 0.0 <= got <= 1.0:
        hint = "a weight of an L2-normalised TF-IDF row lies in [0, 1]."
    elif _near(got, weight(lambda w: math.log(n / df[w]) + 1), rel=1e-6) or \
            _near(got, weight(lambda w: math.log(n / df[w])), rel=1e-6):
        hint = "scikit-learn's idf is smoothed: ln((1 + n) / (1 + df)) + 1 (one extra text holding every word)."
    elif _near(got, weight(lambda w: math.log((1 + n) / (1 + df[w]))), rel=1e-6):
        hint = "idf = ln((1 + n) / (1 + df)) + 1: the + 1 keeps a word found in every text."
    elif _near(got, weight(smooth, tf=lambda w: 1), rel=1e-6):
        hint = "tf is the raw count of the term in the text: a word written twice counts twice."
    elif _near(got, weight(lambda w: math.log10((1 + n) / (1 + df[w])) + 1), rel=1e-6):
        hint = "use the natural logarithm in the idf."
    else:
        hint = ("tokenize the text, count each term (tf), weight it by idf = ln((1 + n) / (1 + df)) + 1 with df "
                "the number of texts holding it, then divide the term's tf·idf by the norm of the whole row.")
    return _wrong("TF-IDF weight", hint, f"{expected:.6f}")


@_checker
def check_compatibility(answer, window, traits, masses, item: int, decay: float) -> None:
    """Ex 8.2: cos(m, t_item), m = normalise(Σ_j decay^k_j · mass · t) over the window's items (MAR's motivation)."""
    from srsupm_lab.backbones import build_backbone
    from srsupm_lab.methods.profiles import MotivationAlignedRecommender

    if _pending(answer):
        return
    T = np.asarray(_as_list(traits), dtype=np.float64)
    M = np.asarray(_as_list(masses), dtype=np.float64)
    items = [int(i) for i in _as_list(window)]
    mar = MotivationAlignedRecommender(build_backbone("gru4rec", T.shape[0] - 1, dim=2), T, M, decay=float(decay))
    m = mar.motivation(torch.tensor([items]))[0].double()                       # (d_t,), unit norm
    t = torch.as_tensor(T[int(item)])
    expected = float(m @ t / t.norm())
    got = _number(answer, "compatibility")
    if _near(got, expected, rel=1e-4, abs_=1e-5):
        return _ok("compatibility cos(m, t)")

    def cos_with(weights):
        s = sum(w * M[i] * T[i] for w, i in zip(weights, items))
        return float(np.dot(s, T[int(item)]) / (np.linalg.norm(s) * np.linalg.norm(T[int(item)])))
    L = len(items)
    newest_first = [float(decay) ** (L - 1 - j) for j in range(L)]
    if not -1.0 - 1e-6 <= got <= 1.0 + 1e-6:
        hint = "a cosine lies in [−1, 1]: normalise the motivation sum (and the trait) before the inner product."
    elif _near(got, cos_with([1.0] * L), rel=1e-4, abs_=1e-5):
        hint = ("the items are weighed by recency: the most recent weighs 1, the one before it decay, then "
                "decay², …")
    elif _near(got, cos_with(newest_first[::-1]), rel=1e-4, abs_=1e-5):
        hint = "the most recent item (the last of the window, oldest first) weighs most, not the oldest."
    elif _near(got, float(sum(w * T[i] for w, i in zip(newest_first, items)) @ T[int(item)]
                          / (np.linalg.norm(sum(w * T[i] for w, i in zip(newest_first, items)))
                             * np.linalg.norm(T[int(item)]))), rel=1e-4, abs_=1e-5):
        hint = "each item's trait is also weighed by its mass (MOTE's |z|: how much text it carries)."
    else:
        hint = ("m = Σ_j decay^k_j · mass_j · t_j over the window (k_j = steps back from the newest item), "
                "normalised; then the cosine of m with the item's trait.")
    return _wrong("compatibility", hint, f"{expected:.6f}")


@_checker
def check_first_items_window(answer, sequence, k: int, max_len: int) -> None:
    """Ex 8.3: the input row a cold-start user is scored from: her first k items, left-padded to max_len."""
    import warnings

    from srsupm_lab.analysis.cold_start import first_items_windows
    from srsupm_lab.data import SequenceDataset, leave_one_out

    if _pending(answer):
        return
    seq = [int(i) for i in _as_list(sequence)]
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
        return _wrong("window", "the answer should be a list of item ids (0 for padding)")
    if got == expected:
        return _ok(f"the first-{k} window")
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
    return _wrong("window", hint, expected)
