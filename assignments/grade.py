"""Grade a folder of submitted notebooks into a grade table (assignments/README.md).

    python assignments/grade.py a1_encoders submissions/ --out grades.csv

The hidden tests are rebuilt from ``NAME/source.py`` into a temporary Otter autograder; each
``*.ipynb`` of the folder (one per student; its file name, without ``.ipynb``, names the row) is
then executed top to bottom in a fresh kernel on this machine, without a container (Otter's
``grade_submission``, the call behind ``otter run``), and scored question by question.
The table: ``submission``, one column of points per question, ``total``, ``max_total`` and
``error`` (empty, or why the file could not be read as a notebook).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

import nbformat
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build import KERNELSPEC, run_otter_assign, source_path  # noqa: E402  (the sibling module, found by its folder)


def question_names(results) -> list[str]:
    """The graded questions of one Otter result, in order (Otter's own summary row left out)."""
    return [name for name in results.test_files]


def grade_folder(name: str, folder: Path, autograder: Path | None = None) -> pd.DataFrame:
    """One row per notebook of ``folder``: points per question, total and the maximum.

    ``autograder``: an Otter autograder zip already built from ``name``'s source (by
    ``build.run_otter_assign``); by default it is rebuilt here.
    """
    source_path(name)
    notebooks = sorted(Path(folder).glob("*.ipynb"))
    if not notebooks:
        raise SystemExit(f"assignments/grade.py: no submitted notebook (*.ipynb) in {folder}")
    if autograder is not None:
        return pd.DataFrame([grade_notebook(notebook, autograder, name) for notebook in notebooks])
    with tempfile.TemporaryDirectory() as tmp:
        _, autograder, _ = run_otter_assign(name, Path(tmp))
        return pd.DataFrame([grade_notebook(notebook, autograder, name) for notebook in notebooks])


def grade_notebook(notebook: Path, autograder: Path, name: str) -> dict:
    """One row of the table: the notebook's name, its points per question, total, maximum, error.

    A submission Otter cannot grade (not JSON, not a notebook, another assignment's notebook) is
    graded as an empty notebook of ``name`` (zero points, the maximum still known) and its
    ``error`` says why; the other submissions are graded as usual.
    """
    from otter.api import grade_submission        # imported here: Otter takes seconds to import

    notebook, error = Path(notebook), ""
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        try:
            results = grade_submission(str(notebook), str(autograder), quiet=True)
        except Exception as err:                   # Otter refused the file before running it
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            error = f"{notebook.name}: not graded ({reason})"
            empty = Path(tmp) / notebook.name
            nbformat.write(nbformat.v4.new_notebook(metadata={"kernelspec": dict(KERNELSPEC),
                                                              "otter": {"assignment_name": name}}), empty)
            results = grade_submission(str(empty), str(autograder), quiet=True)
    row = {"submission": notebook.stem}
    row.update({q: float(results.get_score(q)) for q in question_names(results)})
    row["total"], row["max_total"] = float(results.total), float(results.possible)
    row["error"] = error
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade a folder of submitted notebooks into a CSV grade table.")
    parser.add_argument("assignment", help="the assignment's folder name, e.g. a1_encoders")
    parser.add_argument("folder", type=Path, help="a folder of submitted notebooks (*.ipynb)")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="the CSV to write (default: grades.csv)")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        raise SystemExit(f"assignments/grade.py: {args.folder} is not a folder")
    table = grade_folder(args.assignment, args.folder)
    table.to_csv(args.out, index=False)
    print(table.to_string(index=False))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
