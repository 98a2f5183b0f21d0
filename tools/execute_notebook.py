"""Execute paired notebooks from their text file and store the outputs in the ``.ipynb``.

    python tools/execute_notebook.py notebooks/01_shift_assessment.py [more ...]
    python tools/execute_notebook.py --list-stale     # the committed notebooks whose code changed since
    python tools/execute_notebook.py --stale          # re-execute those, one after another

For each text file (``.py`` percent or MyST ``.md``): read it with jupytext, run every cell in
a fresh kernel whose working directory is the notebook's folder (as nbval and papermill do),
write the executed ``.ipynb`` beside it with the pairing metadata, then re-write the text file
from it so the pair is in sync (``tests/test_notebooks.py`` checks that). Deterministic outputs
need ``MPLBACKEND=Agg`` and no wall-clock prints in checked cells.

The notebook's metadata records the code it ran (``tools/notebook_provenance.py``: a hash of the
library and of the local modules the notebook imports, the version, the git commit), and
``tests/test_notebook_staleness.py`` fails on a committed notebook whose hash is not today's. The
library must be this checkout's (``PYTHONPATH=$PWD``), or the hash would describe other code.
A notebook that reuses a finished run folder (``runs/``, gitignored) shows that run's results:
remove the folder to train again from today's code.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))   # notebook_provenance lies beside this file
import notebook_provenance as provenance  # noqa: E402

FORMATS = {".py": "ipynb,py:percent", ".md": "ipynb,md:myst"}


def execute(text_path: Path, timeout: int = 900) -> Path:
    text_path = Path(text_path)
    if text_path.suffix not in FORMATS:
        raise SystemExit(f"{text_path}: expected a .py (percent) or .md (MyST) notebook text file")
    nb = jupytext.read(text_path)
    nb.metadata.setdefault("jupytext", {})["formats"] = FORMATS[text_path.suffix]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    env_backend = os.environ.setdefault("MPLBACKEND", "Agg")
    ipynb = text_path.with_suffix(".ipynb")
    if (text_path.parent / "runs").is_dir():
        print(f"note: {text_path.parent / 'runs'} exists; a notebook that finds its run folder there reuses it "
              f"(remove it to train from today's code)", file=sys.stderr)
    before = provenance.provenance(ipynb, nb=nb)   # the code this run will import, hashed before it starts
    t0 = time.perf_counter()
    # store_widget_state (nbclient's default, said here on purpose): the widget models go into the
    # notebook's metadata, so JupyterLab and nbviewer can draw the widgets without a kernel
    # (tests/test_notebook_widgets.py checks every committed widget output)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(text_path.parent.resolve())}}).execute()
    nb.metadata[provenance.KEY] = before
    nbformat.write(nb, ipynb)
    if provenance.code_sha256(ipynb, nb=nb) != before["code_sha256"]:
        print(f"warning: the library or a module {text_path} imports changed while it ran; "
              f"it is stale already (run it again)", file=sys.stderr)
    jupytext.write(nb, text_path, fmt=FORMATS[text_path.suffix].split(",")[1])
    print(f"{text_path} -> {ipynb}: {time.perf_counter() - t0:.1f} s (MPLBACKEND={env_backend})")
    return ipynb


def check_library_is_this_checkout() -> None:
    """Refuse to run when ``srsupm_lab`` would import from another copy than this repository's:
    the kernel would run that copy while the metadata recorded this one's hash."""
    import importlib.util
    spec = importlib.util.find_spec(provenance.PACKAGE)
    here = (provenance.ROOT / provenance.PACKAGE).resolve()
    found = Path(spec.origin).resolve().parent if spec and spec.origin else None
    if found != here:
        raise SystemExit(f"srsupm_lab imports from {found}, not from this checkout's {here}: "
                         f"run with PYTHONPATH={provenance.ROOT}")


def stale_notebooks() -> list[tuple[Path, str]]:
    """(notebook, why) for every committed notebook whose recorded code is not today's."""
    return [(nb, why) for nb in provenance.committed_notebooks() if (why := provenance.staleness(nb))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", type=Path, help="text files (.py percent, .md MyST) to execute")
    ap.add_argument("--stale", action="store_true",
                    help="re-execute every committed notebook whose recorded code hash is not today's")
    ap.add_argument("--list-stale", action="store_true",
                    help="list the committed notebooks whose recorded code hash is not today's, run nothing")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = ap.parse_args(argv)
    if args.stale or args.list_stale:
        if args.paths:
            ap.error("--stale and --list-stale take no paths")
        stale = stale_notebooks()
        for _, why in stale:
            print(why)
        print(f"{len(stale)} of {len(provenance.committed_notebooks())} committed notebooks stale")
        if args.list_stale:
            return 1 if stale else 0
        args.paths = [provenance.text_pair(nb) for nb, _ in stale]
    elif not args.paths:
        ap.error("give text files to execute, or --stale / --list-stale")
    if args.paths:
        check_library_is_this_checkout()
    for p in args.paths:
        execute(p, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
