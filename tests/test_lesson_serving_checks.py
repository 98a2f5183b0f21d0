"""Lesson 9's checkers (srsupm_lab.course.checks.serving) against hand-computed cases and the teachers'
tensor solution (tutorials/solutions/09_offline_to_online_solution.py): each accepts the right answer,
rejects a wrong one with one ✗ line, and prints "not answered yet" for None."""
import importlib.util
from pathlib import Path

import pytest
import torch

from srsupm_lab.course import checks

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("lesson09_solution",
                                               ROOT / "tutorials" / "solutions" / "09_offline_to_online_solution.py")
solution = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(solution)


def _line(capsys):
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return out[0]


@pytest.mark.parametrize("check,args", [(checks.check_top_k_unseen, (torch.zeros(1, 3), torch.zeros(1, 1), 2)),
                                        (checks.check_users_per_second, (2.0, 64)),
                                        (checks.check_recall_against_exact, ([[1]], [[1]]))])
def test_none_is_not_answered_yet(check, args, capsys):
    assert check(None, *args) is None
    assert _line(capsys) == "not answered yet"


def test_top_k_hand_case(capsys):
    # padding scores highest, item 3 is seen, item 1 is NaN, item 5 is -inf; items 2 and 4 tie at 2.0
    scores = torch.tensor([[9.0, float("nan"), 2.0, 7.0, 2.0, -float("inf"), 1.0]])
    seen = torch.tensor([[3, 0]])
    assert checks.check_top_k_unseen([[2, 4, 6, 0]], scores, seen, 4) is True
    assert _line(capsys).startswith("correct")
    for wrong, word in [([[3, 2, 4, 6]], "seen"), ([[0, 2, 4, 6]], "padding"), ([[4, 2, 6, 0]], "order"),
                        ([[2, 4, 6, 5]], "NaN or -inf"), ([[2, 4]], "exactly k")]:
        assert checks.check_top_k_unseen(wrong, scores, seen, 4) is False
        line = _line(capsys)
        assert line.startswith("✗") and word in line, (wrong, line)


def test_top_k_agrees_with_the_tensor_solution_on_random_rows(capsys):
    g = torch.Generator().manual_seed(3)
    scores = torch.randint(0, 5, (12, 25), generator=g).float()           # many ties
    scores[0, 4] = float("nan")
    seen = torch.randint(0, 25, (12, 6), generator=g)
    right = solution.top_k_unseen(scores, seen, 7)
    assert checks.check_top_k_unseen(right, scores, seen, 7) is True
    assert _line(capsys).startswith("correct")
    wrong = right.clone()
    wrong[5] = wrong[5].flip(0)
    assert checks.check_top_k_unseen(wrong, scores, seen, 7) is False
    assert _line(capsys).startswith("✗")


def test_users_per_second(capsys):
    # 64 users in 8 ms -> 8,000 users a second (by hand)
    assert checks.check_users_per_second(8000, 8.0, 64) is True
    assert checks.check_users_per_second(8000.5, 8.0, 64) is True                     # rounding allowed
    assert "correct" in capsys.readouterr().out
    for wrong, word in [(125.0, "answers 64 users"), (8.0, "1000"), (1000 / 512, "MORE")]:
        assert checks.check_users_per_second(wrong, 8.0, 64) is False
        assert word in _line(capsys)


def test_recall_against_exact(capsys):
    exact = [[1, 2, 3, 4], [5, 6, 0, 0]]            # 6 exact items (the zeros are none)
    approx = [[4, 3, 9, 8], [6, 7, 5, 0]]           # found: 4, 3 and 6, 5 -> 4 of 6
    assert checks.check_recall_against_exact(4 / 6, approx, exact) is True
    assert checks.check_recall_against_exact(torch.tensor(4 / 6), torch.tensor(approx), torch.tensor(exact)) is True
    capsys.readouterr()
    assert checks.check_recall_against_exact(0.0, approx, exact) is False          # positional matches: none
    assert "order" in _line(capsys)
    assert checks.check_recall_against_exact(4.0, approx, exact) is False
    assert "share" in _line(capsys)
    assert checks.check_recall_against_exact(0.5, approx, exact) is False          # 4 of 8 counts the zeros
    assert _line(capsys).startswith("✗")
