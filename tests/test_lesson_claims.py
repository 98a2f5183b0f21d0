"""The conclusions the committed lessons state, read from their stored outputs.

``--nbval-lax`` compares only the cells tagged ``# NBVAL_CHECK_OUTPUT``, and only against the
committed output itself; this test reads what the committed outputs *say*, so a lesson whose
computed conclusion contradicts its text (lesson 2 once printed that SASRec is not causal) fails
here, as does a solution whose checker does not print "correct" or a lesson without its figures.
"""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
LESSONS = sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((TUTORIALS / "solutions").glob("[0-9][0-9]_*.ipynb"))


def _cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def _all_text(path) -> str:
    return "".join(_text(c) for c in _cells(path))


def _lesson(prefix):
    return next(p for p in LESSONS if p.name.startswith(prefix))


def test_lesson_2_says_sasrec_is_causal_and_bert4rec_is_not():
    out = _all_text(_lesson("02_"))
    assert "sasrec is causal: True; reads both ways: False" in out, out
    assert "bert4rec is causal: False; reads both ways: True" in out, out
    # the causal map is filled on and above the diagonal: L(L+1)/2 cells move, none below
    m = re.search(r"sasrec: (\d+) of (\d+) cells on/above the diagonal move, (\d+) below", out)
    assert m and m.group(1) == m.group(2) and m.group(3) == "0", out


def test_lesson_4_teaches_the_models_own_scale_and_score():
    out = _all_text(_lesson("04_"))
    assert "level_temperature: unit → scales {'alpha': 1.0, 'beta': 1.0}" in out, out
    assert "Σ_k β_k ⟨ẑ_k, e_i⟩ matches model.score: True" in out, out


def test_lesson_6_text_says_what_its_paired_interval_shows():
    nb = nbformat.read(_lesson("06_"), as_version=4)
    cells = nb.cells
    index = next(i for i, c in enumerate(cells) if c.cell_type == "code" and "verdict" in c.source)
    verdict = re.search(r"SRSUPM is (significantly worse than|significantly better than|not distinguishable from) "
                        r"SASRec", _text(cells[index]))
    assert verdict, _text(cells[index])
    prose = cells[index + 1].source
    word = {"significantly worse than": "significantly *worse*", "significantly better than": "significantly *better*",
            "not distinguishable from": "not distinguishable"}[verdict.group(1)]
    assert word in prose, f"the committed verdict is '{verdict.group(1)}' but the text after it says: {prose[:300]}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_exercise_of_a_lesson_is_open_and_no_check_failed(lesson):
    out = _all_text(lesson)
    assert out.count("not answered yet") >= 3, lesson.name
    assert "✗" not in out and "Traceback" not in out, lesson.name


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_every_solution_passes_its_checkers_and_states_only_true_matches(solution):
    checks = [c for c in _cells(solution) if "checks.check_" in c.source]
    assert len(checks) >= 3, solution.name
    for cell in checks:
        assert _text(cell).startswith("correct"), f"{solution.name}: {cell.source!r} printed {_text(cell)!r}"
    claims = re.findall(r"^.*(?:matches|=).*: (True|False)$", _all_text(solution), flags=re.M)
    assert "False" not in claims, f"{solution.name}: a solution states a failed match"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_lesson_carries_its_figures(lesson):
    images = [o for c in _cells(lesson) for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    figures = sum(c.source.count("plt.show()") for c in _cells(lesson))
    assert images and len(images) >= figures, f"{lesson.name}: {len(images)} images for {figures} figures"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_lesson_ends_with_build_it_and_a_summary(lesson):
    text = lesson.with_suffix(".md").read_text()
    headings = re.findall(r"^## \d+\. (.+)$", text, flags=re.M)
    assert headings[-2:] == ["Build it", "Summary"], f"{lesson.name}: {headings}"
    assert "assignments/a" in text.split("Build it")[-1], lesson.name
