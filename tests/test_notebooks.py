"""The notebook suite's conventions (issue: notebook suite): pairs in sync, parameters cells, style."""
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAIRS = [(p, p.with_suffix(".py")) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))] + \
        [(p, p.with_suffix(".md")) for p in sorted((ROOT / "tutorials").rglob("*.ipynb"))
         if ".ipynb_checkpoints" not in p.parts]


def _sources(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


@pytest.mark.parametrize("ipynb,text", PAIRS, ids=[str(p.relative_to(ROOT)) for p, _ in PAIRS])
def test_notebook_is_in_sync_with_its_text_pair(ipynb, text):
    assert text.exists(), f"{ipynb.relative_to(ROOT)} has no text pair {text.name} (jupytext)"
    stored = nbformat.read(ipynb, as_version=4)
    paired = jupytext.read(text)
    assert _sources(stored) == _sources(paired), (
        f"{ipynb.relative_to(ROOT)} and {text.name} differ: edit the text file, then run "
        f"'python tools/execute_notebook.py {text.relative_to(ROOT)}' (or 'jupytext --sync')")
    assert "formats" in stored.metadata.get("jupytext", {}), f"{ipynb.name} is not a jupytext pair"


def test_every_text_notebook_has_its_ipynb():
    texts = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")) + \
        sorted(p for p in (ROOT / "tutorials").rglob("[0-9][0-9]_*.md"))
    missing = [str(t.relative_to(ROOT)) for t in texts if not t.with_suffix(".ipynb").exists()]
    assert not missing, f"text notebooks without their executed .ipynb: {missing}"


NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_style(ipynb):
    """Numbered headings, a cell tagged `parameters`, outputs committed, no model defined inline."""
    nb = nbformat.read(ipynb, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{ipynb.name}: needs exactly one cell tagged 'parameters' (papermill)"
    headings = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()
                if line.startswith("## ")]
    assert headings and all(h[3:4].isdigit() for h in headings), f"{ipynb.name}: '## ' headings must be numbered"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert any(c.get("outputs") for c in code), f"{ipynb.name}: commit it with the outputs of its default run"
    for c in code:
        assert "class " not in c.source and "nn.Module" not in c.source, \
            f"{ipynb.name}: notebooks import models from srsupm_lab, they do not define them"


def test_papermill_sees_every_parameter_of_04_train():
    """papermill's parser skips a parameter line whose comment it cannot parse (e.g. one holding '>=')."""
    import re

    import papermill
    nb = nbformat.read(ROOT / "notebooks" / "04_train.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assigned = re.findall(r"^([A-Za-z_]\w*)\s*=", cell.source, flags=re.M)
    assert assigned and list(papermill.inspect_notebook(str(ROOT / "notebooks" / "04_train.ipynb"))) == assigned
