"""Checkers of lessons 3–4: PMSA (Eqs. 2–3) and the shift representations (Eqs. 9–22).

See :mod:`srsupm_lab.course.checks` for what a checker prints and returns."""
from __future__ import annotations

import math

import numpy as np
import torch

from ._common import as_list, checker, is_near, as_number, say_correct, is_pending, as_float64, say_wrong


# ----------------------------------------------------------------------------- lesson 03
@checker
def check_pmsd(answer, window_label_sets, target_label_set) -> None:
    """Ex 3.1: PMSD of one window (Eq. 2)."""
    from srsupm_lab import pmsa

    if is_pending(answer):
        return
    window = [[int(x) for x in labels] for labels in window_label_sets]
    target = [int(x) for x in target_label_set]
    expected = float(pmsa.pmsd(window, target))
    got = as_number(answer, "PMSD")
    if is_near(got, expected, rel=1e-9):
        return say_correct(f"PMSD = {expected:.4f}")
    last_only = float(pmsa.pmsd(window[-1:], target)) if window else None
    if not 0.0 <= got <= 1.0:
        hint = "PMSD is one minus a ratio of set sizes, so it lies in [0, 1]."
    elif is_near(got, 1.0 - expected, rel=1e-9):
        hint = "that is the overlap |C(v) ∩ C_S| / |C(v) ∪ C_S|; PMSD is one minus it."
    elif last_only is not None and is_near(got, last_only, rel=1e-9):
        hint = "C_S is the union of the categories of every item in the window, not of the last item only."
    else:
        hint = "build C_S as a union over the window's items, C(v) from the target, then 1 − |∩| / |∪| (Eq. 2)."
    return say_wrong("PMSD", hint, f"{expected:.6f}")


@checker
def check_levels(answer, values, K: int) -> None:
    """Ex 3.2: shift levels of a few PMSD values (Eq. 3)."""
    from srsupm_lab import pmsa

    if is_pending(answer):
        return
    vals = [float(x) for x in as_list(values)]
    expected = [int(x) for x in np.atleast_1d(pmsa.shift_level(np.array(vals), int(K)))]
    try:
        got = [int(x) for x in answer]
    except (TypeError, ValueError):
        return say_wrong("levels", "the answer should be a list of integer levels, one per value")
    if got == expected:
        return say_correct(f"levels {expected}")
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
    return say_wrong("levels", hint, expected)


@checker
def check_share(answer, flags, other_direction=None) -> None:
    """Ex 3.3: a share (the fraction of True among ``flags``).

    ``other_direction`` (optional flags) is the share a student would compute by conditioning the other
    way round (recall instead of precision): matching it gets a hint that says so.
    """
    if is_pending(answer):
        return
    f = np.asarray(as_list(flags), dtype=bool)
    expected = float(f.mean())
    got = as_number(answer, "share")
    if is_near(got, expected, rel=1e-6):
        return say_correct(f"share = {expected:.4f}")
    if not 0.0 <= got <= 1.0:
        hint = "a share is a fraction in [0, 1]: divide the count by the size of the group you condition on."
    elif is_near(got, 1.0 - expected, rel=1e-6):
        hint = "that is the complement: the share of the group where the condition does NOT hold."
    elif other_direction is not None and is_near(got, float(np.asarray(as_list(other_direction), dtype=bool).mean()),
                                               rel=1e-6):
        hint = ("that conditions the other way round: the question fixes the group first (the windows PMSA puts "
                "at the top level) and asks which share of THEM is a true switch.")
    else:
        hint = "select the group the question conditions on, then the fraction of it where the condition holds."
    return say_wrong("share", hint, f"{expected:.6f}")


# ----------------------------------------------------------------------------- lesson 04
def _scale_words(scale: float, dim: int) -> str:
    return "1 (no division)" if scale == 1.0 else ("1/√d" if abs(scale * math.sqrt(dim) - 1) < 1e-9 else f"{scale:g}")


def _other_scale(scale: float, dim: int) -> tuple[float, str]:
    """The scale a student following the other reading would use, and the hint that names the slip."""
    if scale == 1.0:
        return 1.0 / math.sqrt(dim), ("the model's default level scale is 1 (level_temperature='unit'): do not "
                                     "divide the logits by √d (that is the paper's literal 'fixed' reading).")
    return 1.0, f"the model's default level scale is {_scale_words(scale, dim)}: scale the logits before the softmax."


@checker
def check_alpha(answer, Z, e_v, scale: float) -> None:
    """Ex 4.1: the shift distribution α of one window (Eq. 9) at the level scale of the lesson's model.

    ``scale`` is the model's own (``model.temperatures.alpha``: 1 with SRSUPM's default
    ``level_temperature="unit"``, 1/√d with the paper's "fixed"), so the checker judges the answer
    against the model the student is looking at.
    """
    from srsupm_lab.methods.srsupm import pmsid

    if is_pending(answer):
        return
    Zt, et = as_float64(Z), as_float64(e_v)
    d = Zt.shape[-1]
    scale = float(scale)
    expected = pmsid.shift_distribution(Zt[None], et[None], scale=scale)[0]
    try:
        got = as_float64(answer).flatten()
    except (TypeError, ValueError):
        return say_wrong("α", "the answer should be K numbers, one per level")
    if got.shape == expected.shape and torch.allclose(got, expected, atol=1e-4, rtol=0):
        return say_correct("α")
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
    return say_wrong("α", hint, [round(float(a), 5) for a in expected])


@checker
def check_mixed_score(answer, Z, e_i, scale: float) -> None:
    """Ex 4.2: the mixed score s_{u,i} = Σ_k β_k <ẑ_k, e_i> (Eqs. 19–22) at the model's β scale
    (``model.temperatures.beta``)."""
    from srsupm_lab.methods.srsupm import prediction

    if is_pending(answer):
        return
    Zt, et = as_float64(Z), as_float64(e_i)
    d = Zt.shape[-1]
    scale = float(scale)
    expected = float(prediction.mixed_scores(Zt[None], et[None], scale=scale)[0, 0])
    got = as_number(answer, "mixed score")
    if is_near(got, expected, rel=1e-4):
        return say_correct("mixed score")
    other, other_hint = _other_scale(scale, d)
    dots = Zt @ et
    if is_near(got, float(dots.mean()), rel=1e-4):
        hint = "that is mean pooling; the mixture weights each branch by β_k = softmax_k of the scaled ⟨ẑ_k, e_i⟩."
    elif is_near(got, float(prediction.mixed_scores(Zt[None], et[None], scale=other)[0, 0]), rel=1e-4):
        hint = other_hint
    elif is_near(got, float(dots.max()), rel=1e-4):
        hint = "not the best branch alone: every branch contributes, weighted by β_k."
    elif is_near(got, float(torch.softmax(dots * scale, 0).sum()), rel=1e-4):
        hint = "the weights β_k sum to 1: weight each branch's score ⟨ẑ_k, e_i⟩ by its β_k, then sum."
    else:
        hint = (f"score each branch ⟨ẑ_k, e_i⟩, weight the K scores by their softmax (logits × "
                f"{_scale_words(scale, d)}), and sum.")
    return say_wrong("mixed score", hint, f"{expected:.6f}")


@checker
def check_reg(answer, Z, form: str) -> None:
    """Ex 4.3: the shift-consistency term (Eq. 10) of one window in the form the lesson's model trains
    (``form``, one of ``pmsid.REG_FORMS``: the model's ``reg_form``)."""
    from srsupm_lab.methods.srsupm import pmsid

    if is_pending(answer):
        return
    Zt = as_float64(Z)
    expected = float(pmsid.consistency_regulariser(Zt[None], form))
    got = as_number(answer, "L_reg")
    if is_near(got, expected, rel=1e-4):
        return say_correct("L_reg")
    other = {f: float(pmsid.consistency_regulariser(Zt[None], f)) for f in pmsid.REG_FORMS if f != form}
    slip = next((f for f, v in other.items() if is_near(got, v, rel=1e-4)), None)
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
    elif is_near(got, float(gaps.sqrt().mean()), rel=1e-4) or \
            is_near(got, float((torch.nn.functional.normalize(Zt, dim=1).diff(dim=0)).norm(dim=1).mean()), rel=1e-4):
        hint = "the distances are squared (squared L2 norm of ẑ_{k+1} − ẑ_k)."
    elif normalised and got > 4.0:
        hint = "with unit-length ẑ_k every squared gap lies in [0, 4]: normalise each ẑ_k first."
    else:
        hint = ("for each adjacent pair of levels, the squared L2 distance of their representations "
                f"({'each scaled to unit length first, ' if normalised else ''}the form '{form}'); then the "
                f"{'mean' if form.endswith('mean') else 'sum'}.")
    return say_wrong("L_reg", hint, f"{expected:.6f}")
