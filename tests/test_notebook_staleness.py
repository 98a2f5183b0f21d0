"""A committed notebook's outputs come from the code as committed, and its figures are in it.

``tools/execute_notebook.py`` records in each notebook's metadata a hash of the code it ran (the
library and any local module the notebook imports; ``tools/notebook_provenance.py`` defines it, in one
place). Here every committed notebook's stored hash is compared with today's code, so a change to
the library without re-executing the notebooks fails CI, and a notebook that records nothing fails
too. The hash itself is checked against an independent recomputation (hashlib over the files, here),
and the check is shown to fail on a stale notebook and on a library changed by one byte.
"""
import copy
import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import notebook_provenance as provenance  # noqa: E402

sys.path.remove(str(ROOT / "tools"))

COMMITTED = provenance.committed_notebooks()
ILLUSTRATED = provenance.committed_notebooks(globs=provenance.ILLUSTRATED)


def _ids(paths):
    return [p.relative_to(ROOT).as_posix() for p in paths]


def test_the_committed_notebooks_are_found():
    folders = {p.parent.relative_to(ROOT).as_posix() for p in COMMITTED}
    assert {"notebooks", "tutorials", "tutorials/solutions"} <= folders, folders
    assert not [p for p in ILLUSTRATED if "solutions" in p.parts]


@pytest.mark.parametrize("ipynb", COMMITTED, ids=_ids(COMMITTED))
def test_notebook_was_executed_by_todays_code(ipynb):
    why = provenance.staleness(ipynb)
    if why is not None:                                         # one line, no traceback
        pytest.fail(f"{why}: refresh it with '{provenance.refresh_command(ipynb)}' (or --stale for all)", pytrace=False)


@pytest.mark.parametrize("ipynb", ILLUSTRATED, ids=_ids(ILLUSTRATED))
def test_notebook_holds_its_figures(ipynb):
    nb = json.loads(ipynb.read_text(encoding="utf-8"))
    pngs = sum("image/png" in out.get("data", {}) for c in nb["cells"] if c["cell_type"] == "code"
               for out in c.get("outputs", []))
    if pngs == 0:
        pytest.fail(f"{ipynb.relative_to(ROOT)} holds no image/png output (a figure drawn without '%matplotlib "
                    f"inline', or on a matplotlib Figure never displayed): fix it, then "
                    f"'{provenance.refresh_command(ipynb)}'", pytrace=False)


# --- the hash and the check, against independent references -------------------------------------

def _tiny_repo(tmp_path: Path) -> Path:
    """A repository with a two-file library, a lesson importing a local checker, and a notebook that does not."""
    (tmp_path / "srsupm_lab" / "sub").mkdir(parents=True)
    (tmp_path / "srsupm_lab" / "__init__.py").write_bytes(b"x = 1\n")
    (tmp_path / "srsupm_lab" / "sub" / "m.py").write_bytes(b"def f():\n    return 2\n")
    (tmp_path / "srsupm_lab" / "sub" / "data.txt").write_bytes(b"not python")
    (tmp_path / "tutorials" / "solutions").mkdir(parents=True)
    (tmp_path / "tutorials" / "checks.py").write_bytes(b"import helper\n")
    (tmp_path / "tutorials" / "helper.py").write_bytes(b"Y = 3\n")
    (tmp_path / "notebooks").mkdir()
    cells = lambda src: {"cells": [{"cell_type": "code", "source": src, "outputs": [], "metadata": {}}],  # noqa: E731
                         "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "tutorials" / "01_a.ipynb").write_text(json.dumps(cells("%matplotlib inline\nimport checks\n")))
    (tmp_path / "tutorials" / "solutions" / "01_a_solutions.ipynb").write_text(
        json.dumps(cells("import sys\nfrom checks import f\n")))
    (tmp_path / "notebooks" / "01_b.ipynb").write_text(json.dumps(cells("import srsupm_lab\nimport json\n")))
    return tmp_path


def _by_hand(root: Path, rel_paths) -> str:
    h = hashlib.sha256()
    for rel in sorted(rel_paths):
        h.update(rel.encode() + b"\0" + (root / rel).read_bytes() + b"\0")
    return h.hexdigest()


def test_the_hash_covers_the_library_and_the_local_modules_a_notebook_imports(tmp_path):
    root = _tiny_repo(tmp_path)
    library = ["srsupm_lab/__init__.py", "srsupm_lab/sub/m.py"]
    assert provenance.code_sha256(root=root) == _by_hand(root, library)
    assert provenance.code_sha256(root / "notebooks" / "01_b.ipynb", root) == _by_hand(root, library)
    with_checker = library + ["tutorials/checks.py", "tutorials/helper.py"]   # helper: imported by checks
    assert provenance.code_sha256(root / "tutorials" / "01_a.ipynb", root) == _by_hand(root, with_checker)
    solution = root / "tutorials" / "solutions" / "01_a_solutions.ipynb"     # finds checks one folder up
    assert provenance.code_sha256(solution, root) == _by_hand(root, with_checker)


def _record(notebook: Path, root: Path) -> None:
    nb = json.loads(notebook.read_text())
    nb["metadata"][provenance.KEY] = provenance.provenance(notebook, root)
    notebook.write_text(json.dumps(nb))


def test_a_fresh_notebook_passes_and_a_stale_one_fails(tmp_path):
    root = _tiny_repo(tmp_path)
    lesson, other = root / "tutorials" / "01_a.ipynb", root / "notebooks" / "01_b.ipynb"
    assert "no record" in provenance.staleness(lesson, root)
    for nb in (lesson, other):
        _record(nb, root)
        assert provenance.staleness(nb, root) is None
    stored = json.loads(lesson.read_text())
    assert stored["metadata"][provenance.KEY]["hashed"] == ["srsupm_lab/**/*.py", "tutorials/checks.py",
                                                           "tutorials/helper.py"]
    # an edited hash in the metadata
    edited = copy.deepcopy(stored)
    edited["metadata"][provenance.KEY]["code_sha256"] = "0" * 64
    lesson.write_text(json.dumps(edited))
    assert "executed by other code" in provenance.staleness(lesson, root)
    lesson.write_text(json.dumps(stored))
    # a checker the lesson imports changed by one byte: the lesson is stale, the other notebook not
    (root / "tutorials" / "helper.py").write_bytes(b"Y = 4\n")
    assert provenance.staleness(lesson, root) and provenance.staleness(other, root) is None
    # the library changed by one byte: every notebook is stale
    (root / "srsupm_lab" / "sub" / "m.py").write_bytes(b"def f():\n    return 3\n")
    assert provenance.staleness(other, root)
    # a new module in the library, too
    (root / "srsupm_lab" / "sub" / "m.py").write_bytes(b"def f():\n    return 2\n")
    assert provenance.staleness(other, root) is None
    (root / "srsupm_lab" / "new.py").write_bytes(b"")
    assert provenance.staleness(other, root)


def test_a_copy_of_this_library_changed_by_one_byte_makes_a_committed_notebook_stale(tmp_path):
    notebook = ROOT / "notebooks" / "00_quickstart.ipynb"
    shutil.copytree(ROOT / "srsupm_lab", tmp_path / "srsupm_lab", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "notebooks").mkdir()
    copy_nb = tmp_path / "notebooks" / notebook.name
    shutil.copy(notebook, copy_nb)
    today = provenance.code_sha256(copy_nb, tmp_path)
    assert today == provenance.code_sha256(notebook, ROOT)            # the same files, another folder
    target = tmp_path / "srsupm_lab" / "pmsa.py"
    target.write_bytes(target.read_bytes() + b" ")
    assert provenance.code_sha256(copy_nb, tmp_path) != today


def test_crlf_checkouts_hash_like_lf_ones(tmp_path):
    root = _tiny_repo(tmp_path)
    lf = provenance.code_sha256(root=root)
    (root / "srsupm_lab" / "sub" / "m.py").write_bytes(b"def f():\r\n    return 2\r\n")
    assert provenance.code_sha256(root=root) == lf
