"""What every checker shares: the one-line verdicts, the teacher flag, number parsing."""
from __future__ import annotations

import functools
import math
import os

import numpy as np
import torch

NOT_YET = "not answered yet"
WRONG_MARK = "✗"
TEACHER_FLAG = "SRSUPM_TEACHER"


def teacher_mode() -> bool:
    """True when ``SRSUPM_TEACHER`` is set (to anything but "" or "0"): failures show the expected value."""
    return os.environ.get(TEACHER_FLAG, "") not in ("", "0")


class _Rejected(Exception):
    """A wrong answer, carrying its one-line message (caught by :func:`checker`)."""


def checker(check):
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


def is_pending(answer) -> bool:
    if answer is None:
        print(NOT_YET)
        return True
    return False


def say_correct(what: str) -> bool:
    print(f"correct: {what}")
    return True


def say_wrong(what: str, hint: str, expected=None):
    message = f"{what}: not right yet. Hint: {hint}"
    if teacher_mode() and expected is not None:
        message += f" [teacher: expected {expected}]"
    raise _Rejected(message)


def as_list(x):
    """A tensor / array / list as a plain Python list."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x).tolist()


def as_float64(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(as_list(x), dtype=np.float64))


def as_number(answer, what: str) -> float:
    try:
        a = float(answer)
    except (TypeError, ValueError):
        return say_wrong(what, f"the answer should be one number, got {type(answer).__name__}")
    if not math.isfinite(a):
        return say_wrong(what, "the answer is not a finite number (a division by zero, or a log of 0?)")
    return a


def is_near(a: float, b: float, rel: float = 1e-5, abs_: float = 1e-9) -> bool:
    return abs(a - b) <= max(abs_, rel * max(1.0, abs(b)))


def as_int(answer, what: str) -> int:
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return say_wrong(what, f"the answer should be a whole number, got {type(answer).__name__}")
    if not value.is_integer():
        return say_wrong(what, "the answer should be a whole number (a count)")
    return int(value)


