"""Hidden tests of lesson 09's exercise (tutorials/09_offline_to_online.md, Exercise 9.1): exact top-k with
seen-item exclusion.

They run on the teachers' solution (tutorials/solutions/09_offline_to_online_solution.py) or on a
student's file: ``SRSUPM_LESSON09=path/to/their.py python -m pytest tests/test_serve_lesson.py``. The
reference is a plain-Python brute force of the rules the lesson states: best first, never padding,
never a seen item, never a NaN or -inf score, ties to the smaller item id, 0 where a row runs out.
"""
from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = Path(os.environ.get("SRSUPM_LESSON09", ROOT / "tutorials" / "solutions" / "09_offline_to_online_solution.py"))


@pytest.fixture(scope="module")
def top_k_unseen():
    spec = importlib.util.spec_from_file_location("lesson09_answer", SOLUTION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.top_k_unseen


def brute(scores, seen, k):
    out = []
    for row, hist in zip(scores.tolist(), seen.tolist()):
        banned = set(hist) | {0}
        ok = [(i, s) for i, s in enumerate(row) if i not in banned and not math.isnan(s) and s != -math.inf]
        ok.sort(key=lambda p: (-p[1], p[0]))                               # best first, ties by item id
        items = [i for i, _ in ok[:k]]
        out.append(items + [0] * (k - len(items)))
    return out


def test_random_rows_match_the_brute_force(top_k_unseen):
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(20, 51, generator=g)
    seen = torch.randint(0, 51, (20, 7), generator=g)
    assert top_k_unseen(scores, seen, 10).tolist() == brute(scores, seen, 10)


def test_ties_go_to_the_smaller_item_id(top_k_unseen):
    scores = torch.tensor([[9.0, 1.0, 2.0, 2.0, 2.0, 0.5]])
    assert top_k_unseen(scores, torch.tensor([[3]]), 3).tolist() == [[2, 4, 1]]


def test_padding_seen_items_nan_and_minus_infinity_are_never_recommended(top_k_unseen):
    scores = torch.tensor([[100.0, float("nan"), 1.0, -float("inf"), 3.0, 2.0]])
    seen = torch.tensor([[4, 0, 0]])
    assert top_k_unseen(scores, seen, 4).tolist() == [[5, 2, 0, 0]]


def test_a_row_that_has_seen_everything_gets_zeros(top_k_unseen):
    scores = torch.randn(2, 4)
    seen = torch.tensor([[1, 2, 3], [1, 0, 0]])
    assert top_k_unseen(scores, seen, 3).tolist() == brute(scores, seen, 3)
    assert top_k_unseen(scores, seen, 3)[0].tolist() == [0, 0, 0]


def test_k_larger_than_the_catalogue_and_repeated_history(top_k_unseen):
    scores = torch.tensor([[0.0, 0.3, 0.1, 0.2]])
    seen = torch.tensor([[2, 2, 2, 0]])
    assert top_k_unseen(scores, seen, 6).tolist() == [[1, 3, 0, 0, 0, 0]]


def test_the_input_is_left_unchanged(top_k_unseen):
    scores = torch.randn(3, 9)
    seen = torch.randint(0, 9, (3, 2))
    before = scores.clone()
    top_k_unseen(scores, seen, 4)
    assert torch.equal(scores, before)
