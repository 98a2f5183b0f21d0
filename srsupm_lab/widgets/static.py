"""What an explorer shows without a kernel: a static snapshot beside the live widget.

A committed notebook is read in places that run no kernel and may not render ipywidgets
(GitHub, an nbviewer page, JupyterLab before the kernel starts). IPython puts every entry of
``_repr_mimebundle_`` into the cell's output, and a front end draws the richest entry it can:
JupyterLab, Notebook 7, VS Code and Voilà draw the widget view (from the kernel or from the widget
state stored in the notebook's metadata, which ``nbclient`` writes by default); the others fall
back to ``text/html``, here a snapshot of what the widget shows at execution time (its figure as
an embedded PNG, its text panels as HTML), instead of the ``VBox(children=(HBox(...`` repr.
"""
from __future__ import annotations

import base64
import html as _html

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

__all__ = ["WIDGET_VIEW", "png_img", "undistorted_layout", "with_static_snapshot"]


def undistorted_layout(width_px: int):
    """Layout of an ``ipywidgets.Image`` that keeps the PNG's aspect ratio inside any box.

    A box lays its children out with CSS flexbox, whose default ``align-items: stretch`` pulls
    an image to the height of its tallest neighbour (the model explorer's α chart beside its
    top-k table came out ~1.9x too tall). The image here keeps its own cross size
    (``align-self: flex-start``), its pixel width (shrinking with the page, never growing) and a
    height that follows from the width (``height: auto``).
    """
    import ipywidgets as w

    return w.Layout(width=f"{int(width_px)}px", max_width="100%", height="auto", align_self="flex-start",
                    flex="0 0 auto", object_fit="contain")


def png_img(png: bytes, alt: str, width: int | None = None, height: int | None = None) -> str:
    """An ``<img>`` element holding ``png`` as a data URI, at its pixel size when given (no stretching)."""
    size = "" if width is None or height is None else f" width='{int(width)}' height='{int(height)}'"
    data = base64.b64encode(png).decode("ascii")
    return f"<img src='data:image/png;base64,{data}' alt='{_html.escape(alt, quote=True)}'{size}>"


def with_static_snapshot(bundle, snapshot_html: str, text: str):
    """The widget's mime bundle plus ``text/html`` (the snapshot) and a one-line ``text/plain``.

    ``bundle`` is what ``ipywidgets.Widget._repr_mimebundle_`` returned (a dict, or a
    ``(data, metadata)`` pair); the widget view entry is kept as it is.
    """
    data, meta = bundle if isinstance(bundle, tuple) else (bundle, None)
    data = dict(data)
    note = ("<p style='color:#666;font-size:85%'>static snapshot of an interactive explorer; run the "
            "notebook (or trust it in JupyterLab) to use its controls</p>")
    data["text/html"] = f"<div class='srsupm-static-snapshot'>{snapshot_html}{note}</div>"
    data["text/plain"] = text
    return (data, meta) if meta is not None else data
