"""Execute paired notebooks from their text file and store the outputs in the ``.ipynb``.

    python tools/execute_notebook.py notebooks/01_shift_assessment.py [more ...]

For each text file (``.py`` percent or MyST ``.md``): read it with jupytext, run every cell in
a fresh kernel whose working directory is the notebook's folder (as nbval and papermill do),
write the executed ``.ipynb`` beside it with the pairing metadata, then re-write the text file
from it so the pair is in sync (``tests/test_notebooks.py`` checks that). Deterministic outputs
need ``MPLBACKEND=Agg`` and no wall-clock prints in checked cells.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

FORMATS = {".py": "ipynb,py:percent", ".md": "ipynb,md:myst"}


def execute(text_path: Path, timeout: int = 900) -> Path:
    text_path = Path(text_path)
    if text_path.suffix not in FORMATS:
        raise SystemExit(f"{text_path}: expected a .py (percent) or .md (MyST) notebook text file")
    nb = jupytext.read(text_path)
    nb.metadata.setdefault("jupytext", {})["formats"] = FORMATS[text_path.suffix]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    env_backend = os.environ.setdefault("MPLBACKEND", "Agg")
    t0 = time.perf_counter()
    # store_widget_state (nbclient's default, said here on purpose): the widget models go into the
    # notebook's metadata, so JupyterLab and nbviewer can draw the widgets without a kernel
    # (tests/test_notebook_widgets.py checks every committed widget output)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(text_path.parent.resolve())}}).execute()
    ipynb = text_path.with_suffix(".ipynb")
    nbformat.write(nb, ipynb)
    jupytext.write(nb, text_path, fmt=FORMATS[text_path.suffix].split(",")[1])
    print(f"{text_path} -> {ipynb}: {time.perf_counter() - t0:.1f} s (MPLBACKEND={env_backend})")
    return ipynb


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = ap.parse_args(argv)
    for p in args.paths:
        execute(p, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
