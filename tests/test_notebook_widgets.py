"""Committed notebooks read correctly without a kernel (issue 19): every widget output carries its
stored widget state (``application/vnd.jupyter.widget-state+json`` in the notebook's metadata, as
nbclient writes it) and a static fallback (``text/html`` with the figure, or an image), never just
the ``VBox(children=(HBox(...`` repr."""
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
COMMITTED = sorted(p for folder in ("notebooks", "tutorials") for p in (ROOT / folder).rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)


def widget_problems(nb) -> list[str]:
    """What a kernel-less reader of ``nb`` would miss, one line per widget output (empty: nothing)."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    problems = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW not in data:
                continue
            model = data[WIDGET_VIEW].get("model_id")
            if model not in state:
                problems.append(f"cell {index}: widget {model} has no stored state in the notebook metadata")
            static = "image/png" in data or "<img" in data.get("text/html", "")
            if not static:
                problems.append(f"cell {index}: widget {model} has no static fallback (text/html with an image, "
                                f"or image/png); readers without a kernel see {data.get('text/plain', '')[:40]!r}")
    return problems


@pytest.mark.parametrize("path", COMMITTED, ids=[str(p.relative_to(ROOT)) for p in COMMITTED])
def test_widget_outputs_have_state_and_a_static_fallback(path):
    problems = widget_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{path.relative_to(ROOT)}: " + "; ".join(problems) + \
        f" (re-execute it: python tools/execute_notebook.py {path.with_suffix('.py').relative_to(ROOT)})"


def test_the_check_catches_a_bare_widget_output():
    """A widget output as ipywidgets alone writes it (no state stored, only the repr) is reported twice."""
    nb = nbformat.v4.new_notebook()
    bare = {WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": "abc"},
            "text/plain": "VBox(children=(HBox(children=(Dropdown(..."}
    nb.cells = [nbformat.v4.new_code_cell("w", outputs=[nbformat.v4.new_output("display_data", data=bare)])]
    assert len(widget_problems(nb)) == 2
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": {"abc": {"model_name": "VBoxModel"}}}}
    assert len(widget_problems(nb)) == 1
    nb.cells[0].outputs[0].data["text/html"] = "<div><img src='data:image/png;base64,AAAA'></div>"
    assert widget_problems(nb) == []


def test_widget_notebooks_exist():
    """The explorers are used in notebooks 01 and 03; the check above must have something to check."""
    with_widgets = [p.name for p in COMMITTED
                    if any(WIDGET_VIEW in o.get("data", {}) for c in nbformat.read(p, as_version=4).cells
                           for o in c.get("outputs", []))]
    assert {"01_shift_assessment.ipynb", "03_shift_information.ipynb"} <= set(with_widgets)
