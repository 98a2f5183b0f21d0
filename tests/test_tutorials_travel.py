"""Lessons travel (issue 19): a copy of tutorials/ outside the repository (a teacher's handout on a
hub) runs lesson 6 headless. Its data and the reproduction's tables are found through the package,
not through a path relative to the lesson."""
import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSON = "06_reading_results.ipynb"


def test_lesson_6_runs_from_a_copy_of_tutorials_outside_the_repository(tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    handout = tmp_path / "hub" / "tutorials"
    handout.mkdir(parents=True)
    shutil.copy(ROOT / "tutorials" / LESSON, handout / LESSON)          # what a student is given: the lesson
    assert not (handout / "checks.py").exists()                         # its checkers come with the package
    assert not (handout.parent / "reports").exists() and not (handout / "reports").exists()
    monkeypatch.delenv("SRSUPM_DATA", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    out = handout / "executed.ipynb"
    # a shorter run than the committed one (1 epoch, fewer resamples); every cell still runs
    papermill.execute_notebook(str(handout / LESSON), str(out), cwd=str(handout), kernel_name="python3",
                               parameters={"epochs": 1, "n_boot": 200}, progress_bar=False)
    import nbformat
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    texts = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert texts.count("not answered yet") == 3                         # the three checked exercises ran
    tables = [o["data"].get("text/plain", "") for c in nb.cells for o in c.get("outputs", []) if "data" in o]
    assert any("gru4rec" in t for t in tables)                          # the reproduction's table3.csv was read


@pytest.mark.parametrize("lesson", sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.md")), ids=lambda p: p.stem)
def test_no_lesson_reads_a_path_relative_to_itself(lesson):
    """Lessons load data by name (srsupm_lab.load_dataset) and files through the package or a parameter."""
    text = lesson.read_text()
    assert "../" not in text and 'Path("reports")' not in text, lesson.name
    # code cells only: prose may name a report (reports/mtrec/) that the lesson never opens
    code = "".join(re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text.split("## 1.")[1], flags=re.S))
    if "reports" in code:
        assert "reports_dir" in text.split("## 1.")[0], f"{lesson.name}: reads reports without a parameter"
