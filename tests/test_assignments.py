"""The graded assignments (assignments/README.md).

Each committed student release equals a fresh generation from its source and holds no solution
line and no hidden test; the grader gives three prepared submissions the scores known by
construction: the solved source full marks, a release with only some questions solved exactly
those questions' points, the blank release zero.
"""
from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

pytest.importorskip("otter", reason="the grader 'otter-grader' is not installed (pip install -e \".[dev]\")")
# Otter's result tables call DataFrame.drop(inplace=True), which pandas 3.1 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "assignments"))
import build  # noqa: E402  (assignments/build.py, found through the path above)
import grade  # noqa: E402

#: points per question, added up by hand from the test cases of each source.py
POINTS = {
    "a1_encoders": {"q1": 3.0, "q2": 3.0, "q3": 4.0},
    "a2_motivation_shift": {"q1": 3.0, "q2": 3.0, "q3": 3.0, "q4": 3.0},
    "a3_reward_and_profiles": {"q1": 3.0, "q2": 3.0, "q3": 3.0, "q4": 3.0},
    "a4_serving": {"q1": 3.0, "q2": 3.0},
}
#: the questions the partly correct submission solves (the others stay blank)
PARTLY = {"a1_encoders": ("q1", "q3"), "a2_motivation_shift": ("q2", "q4"),
          "a3_reward_and_profiles": ("q1", "q3"), "a4_serving": ("q2",)}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """name -> (student notebook as generated now, autograder zip, solved notebook), built once."""
    out = {}
    for name in POINTS:
        student, autograder, solved = build.run_otter_assign(name, tmp_path_factory.mktemp(name))
        out[name] = (build.normalise(nbformat.read(student, as_version=4)), autograder,
                     nbformat.read(solved, as_version=4))
    return out


def test_every_assignment_is_listed():
    assert build.assignment_names() == sorted(POINTS)


@pytest.mark.parametrize("name", sorted(POINTS))
def test_release_is_a_fresh_generation(name, generated):
    """The committed release is exactly what `python assignments/build.py NAME` writes today."""
    committed = nbformat.read(build.release_path(name), as_version=4)
    assert committed == generated[name][0], (f"assignments/{name}/release is stale: "
                                             f"run python assignments/build.py {name}")


def _blocks(text: str, begin: str, end: str) -> list[str]:
    """The lines strictly between each ``begin`` line and the next ``end`` line."""
    lines, inside, out = text.splitlines(), False, []
    for line in lines:
        if line.strip() == end:
            inside = False
        elif inside:
            out.append(line)
        elif line.strip() == begin:
            inside = True
    return out


def _significant(lines: list[str]) -> set[str]:
    """Code lines long enough to identify (no comments, no cell markers, no bare ``...``)."""
    out = set()
    for line in lines:
        code = re.sub(r"\s+#.*$", "", line).strip()
        if len(code) >= 8 and not code.startswith(("#", '"""')) and code != "...":
            out.add(code)
    return out


@pytest.mark.parametrize("name", sorted(POINTS))
def test_release_holds_no_solution_and_no_test(name):
    source = build.source_path(name).read_text()
    release = nbformat.read(build.release_path(name), as_version=4)
    code = "\n".join(c.source for c in release.cells if c.cell_type == "code")
    everything = code + "\n".join(c.source for c in release.cells) + str(release.metadata)

    solution = _significant(_blocks(source, "# BEGIN SOLUTION", "# END SOLUTION"))
    solution |= {re.sub(r"\s+# SOLUTION$", "", line).strip() for line in source.splitlines()
                 if line.rstrip().endswith("# SOLUTION")}
    tests = _significant(_blocks(source, "# # BEGIN TESTS", "# # END TESTS"))
    assert len(solution) >= 3 * len(POINTS[name]) and len(tests) >= 3 * len(POINTS[name])   # the parse found them
    assert not {line for line in solution if line in code}, "a solution line reached the student release"
    assert not {line for line in tests if line in everything}, "a hidden test line reached the student release"
    for marker in ("BEGIN SOLUTION", "BEGIN TEST", "assert ", "hidden: true"):
        assert marker not in everything
    # Otter keeps a question list in the metadata: no test case may travel with it
    for question in release.metadata["otter"]["tests"].values():
        assert all(suite["cases"] == [] for suite in question["suites"])


def _submissions(name: str, generated, folder: Path) -> None:
    """Write correct.ipynb (the solved source), partly.ipynb and blank.ipynb (the release) to ``folder``."""
    student, _, solved = generated[name]
    assert len(student.cells) == len(solved.cells)
    partly = copy.deepcopy(student)
    for i, cell in enumerate(partly.cells):
        if set(cell.metadata.get("otter", {}).get("tests", [])) & set(PARTLY[name]):
            cell.source = solved.cells[i].source
    folder.mkdir()
    nbformat.write(solved, folder / "correct.ipynb")
    nbformat.write(partly, folder / "partly.ipynb")
    nbformat.write(student, folder / "blank.ipynb")


def _expected(name: str) -> pd.DataFrame:
    points = POINTS[name]
    rows = {"correct": points,
            "partly": {q: (p if q in PARTLY[name] else 0.0) for q, p in points.items()},
            "blank": dict.fromkeys(points, 0.0)}
    table = pd.DataFrame([{"submission": s, **row, "total": sum(row.values()), "max_total": sum(points.values()),
                           "error": ""} for s, row in rows.items()])
    return table.sort_values("submission", ignore_index=True)


def test_grade_command_scores_three_submissions(generated, tmp_path, monkeypatch):
    """`python assignments/grade.py a1_encoders FOLDER --out grades.csv`, end to end."""
    name = "a1_encoders"
    _submissions(name, generated, tmp_path / "submitted")
    (tmp_path / "submitted" / "broken.ipynb").write_text("not a notebook")    # gets a row, stops nothing
    monkeypatch.chdir(tmp_path)
    assert grade.main([name, "submitted", "--out", "grades.csv"]) == 0
    table = pd.read_csv(tmp_path / "grades.csv", keep_default_na=False).set_index("submission")
    broken = table.loc["broken"]
    assert broken["error"].startswith("broken.ipynb: not graded")
    assert broken[list(POINTS[name]) + ["total"]].tolist() == [0.0] * (len(POINTS[name]) + 1)
    assert broken["max_total"] == sum(POINTS[name].values())
    pd.testing.assert_frame_equal(table.drop(index="broken").reset_index(), _expected(name), check_dtype=False)


@pytest.mark.parametrize("name", ["a2_motivation_shift", "a3_reward_and_profiles", "a4_serving"])
def test_grader_scores_three_submissions(name, generated, tmp_path):
    _submissions(name, generated, tmp_path / "submitted")
    table = grade.grade_folder(name, tmp_path / "submitted", autograder=generated[name][1])
    pd.testing.assert_frame_equal(table.sort_values("submission", ignore_index=True), _expected(name),
                                  check_dtype=False)


def test_grade_command_names_a_missing_assignment(tmp_path):
    with pytest.raises(SystemExit, match="no assignment 'a9_nothing'"):
        grade.main(["a9_nothing", str(tmp_path)])
