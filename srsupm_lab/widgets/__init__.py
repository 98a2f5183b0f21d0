"""Interactive explorers (ipywidgets) used by the notebooks and tutorials.

* :func:`shift_explorer` — vary K, the label noise p and the dataset; see the PMSD histogram,
  the level shares and the effect of noise (method.md §1).
* :func:`model_explorer` — pick a user of a trained model; see the history, the shift
  distribution over the K branches and the top-10 of each branch (method.md §5, §8).

Every explorer returns an object whose controls are plain ipywidgets attributes, so tests (and
teachers) can drive it by setting ``.value``. Displayed, it also leaves a static snapshot of its
view in the output (:mod:`srsupm_lab.widgets.static`), so a committed notebook reads correctly
without a kernel.

The functions share their submodule's name; importing them here (not lazily) makes
``srsupm_lab.widgets.shift_explorer`` the function for good, while
``from srsupm_lab.widgets.shift_explorer import ...`` still reads the submodule.
"""
from .model_explorer import ModelExplorer, model_explorer
from .shift_explorer import ShiftExplorer, shift_explorer

__all__ = ["shift_explorer", "ShiftExplorer", "model_explorer", "ModelExplorer"]
