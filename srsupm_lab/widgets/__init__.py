"""Interactive explorers (ipywidgets) used by the notebooks and tutorials.

* :func:`shift_explorer` — vary K, the label noise p and the dataset; see the PMSD histogram,
  the level shares and the effect of noise (method.md §1).
* :func:`model_explorer` — pick a user of a trained model; see the history, the shift
  distribution over the K branches and the top-10 of each branch (method.md §5, §8).

Every explorer returns an object whose controls are plain ipywidgets attributes, so tests (and
teachers) can drive it by setting ``.value``.
"""
from importlib import import_module

_LAZY = {"shift_explorer": "srsupm_lab.widgets.shift_explorer", "ShiftExplorer": "srsupm_lab.widgets.shift_explorer",
         "model_explorer": "srsupm_lab.widgets.model_explorer", "ModelExplorer": "srsupm_lab.widgets.model_explorer"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'srsupm_lab.widgets' has no attribute {name!r}")


__all__ = list(_LAZY)
