"""Generate each assignment's student release from its source (assignments/README.md).

    python assignments/build.py                 # every assignment
    python assignments/build.py a1_encoders     # the ones named

``NAME/source.py`` is a jupytext percent notebook in Otter Assign's format (questions, solutions,
hidden tests). Otter Assign turns it into a student notebook without solutions or tests and an
autograder zip holding the hidden tests; the student notebook is normalised (cell ids numbered,
editor metadata dropped) so that two runs write the same bytes, and saved as
``NAME/release/NAME.ipynb``. The autograder is left in a temporary folder: ``grade.py`` rebuilds
it from the source at every call.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# metadata a text editor or Otter writes that says nothing to a student and changes between runs
_DROPPED_CELL_METADATA = ("lines_to_next_cell", "execution")


def assignment_names() -> list[str]:
    """The assignments: every folder of ``assignments/`` that holds a ``source.py``."""
    return sorted(p.parent.name for p in HERE.glob("*/source.py"))


def source_path(name: str) -> Path:
    path = HERE / name / "source.py"
    if not path.is_file():
        raise SystemExit(f"assignments/build.py: no assignment {name!r} (no {path}); "
                         f"known: {', '.join(assignment_names())}")
    return path


def release_path(name: str) -> Path:
    return HERE / name / "release" / f"{name}.ipynb"


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The same notebook with numbered cell ids and no editor metadata (a reproducible file)."""
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"
        for key in _DROPPED_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("jupytext", None)
    return nb


def run_otter_assign(name: str, workdir: Path) -> tuple[Path, Path, Path]:
    """Run Otter Assign on ``name``'s source inside ``workdir``.

    Returns ``(student notebook, autograder zip, solved notebook)``; the solved notebook is the
    source with its solutions and without the tests, as Otter gives it to the autograder.
    """
    from otter.assign import main as otter_assign     # imported here: Otter takes seconds to import

    nb = jupytext.read(source_path(name))
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    master = workdir / f"{name}.ipynb"
    nbformat.write(nb, master)
    out = workdir / "out"
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        otter_assign(str(master), str(out), no_pdfs=True, no_run_tests=True)
    zips = sorted((out / "autograder").glob("*.zip"))
    if len(zips) != 1:
        raise RuntimeError(f"Otter Assign on {name}: expected one autograder zip, found {len(zips)}\n{log.getvalue()}")
    return out / "student" / f"{name}.ipynb", zips[0], out / "autograder" / f"{name}.ipynb"


def student_release(name: str) -> nbformat.NotebookNode:
    """The normalised student notebook generated from ``name``'s source (nothing is written)."""
    with tempfile.TemporaryDirectory() as tmp:
        student, _, _ = run_otter_assign(name, Path(tmp))
        return normalise(nbformat.read(student, as_version=4))


def build(name: str) -> Path:
    """Write ``name``'s student release; returns its path."""
    path = release_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(student_release(name), path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the student release of each assignment from its source.")
    parser.add_argument("names", nargs="*", help="assignments to build (default: all of them)")
    args = parser.parse_args(argv)
    for name in args.names or assignment_names():
        source_path(name)
        print(f"{name}: wrote {build(name).relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
