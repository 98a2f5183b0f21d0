"""Which code a committed notebook's outputs came from, so a stale notebook cannot be committed.

``tools/execute_notebook.py`` stores, in each executed notebook's metadata under ``srsupm_lab``:

* ``code_sha256``: one hash over the library (every ``.py`` file under ``srsupm_lab/``) and every
  local module outside it that the notebook imports (a lesson's ``checks.py``, found by reading its
  import statements and those of the modules found), each file as its path relative to the
  repository and its bytes, in sorted path order. Any change to any of those files changes it;
* ``hashed``: the files outside ``srsupm_lab/`` that went in, for a reader;
* ``version`` and ``git_commit`` (with ``+dirty`` when the checkout had uncommitted changes):
  for humans only, never compared.

``tests/test_notebook_staleness.py`` recomputes the hash for every committed notebook in
:data:`COMMITTED` and fails on one whose stored hash differs; ``python tools/execute_notebook.py
--stale`` re-executes those. This module is the one place the hash is defined: the executor and the
test both import it. It lives in ``tools/`` because it is about this repository's committed
notebooks, not part of the library a user installs.
"""
from __future__ import annotations

import ast
import hashlib
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "srsupm_lab"
KEY = "srsupm_lab"   # the notebook metadata key the provenance is stored under

#: every committed executed notebook, as globs relative to the repository root (one list: the test,
#: ``--stale`` and ``--list-stale`` all read it). A new folder that commits executed notebooks
#: (e.g. ``assignments/``'s executed sources) adds its glob here.
COMMITTED = ("notebooks/[0-9][0-9]_*.ipynb", "tutorials/[0-9][0-9]_*.ipynb",
             "tutorials/solutions/[0-9][0-9]_*.ipynb")

#: the notebooks that must hold at least one figure: every numbered notebook and lesson (not solutions)
ILLUSTRATED = ("notebooks/[0-9][0-9]_*.ipynb", "tutorials/[0-9][0-9]_*.ipynb")

#: the text pair's suffix per folder's jupytext format (the .ipynb is re-executed from it)
TEXT_SUFFIXES = (".py", ".md")


def committed_notebooks(root: Path = ROOT, globs=COMMITTED) -> list[Path]:
    """The committed executed notebooks under ``root``, sorted (checkpoint folders left out)."""
    found = {p for g in globs for p in Path(root).glob(g) if ".ipynb_checkpoints" not in p.parts}
    return sorted(found)


def _file_digest(h, root: Path, path: Path) -> None:
    # path and bytes, each followed by a NUL: no two different file sets give the same stream.
    # CRLF is read as LF so a Windows checkout (git autocrlf) hashes like a Unix one.
    h.update(path.relative_to(root).as_posix().encode() + b"\0")
    h.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")


def library_files(root: Path = ROOT) -> list[Path]:
    """Every ``.py`` file of the library under ``root/srsupm_lab`` (caches left out), sorted."""
    return sorted(p for p in (Path(root) / PACKAGE).rglob("*.py") if "__pycache__" not in p.parts)


def _imported_names(source: str) -> set[str]:
    """Top-level module names a piece of Python imports (``import a.b`` and ``from a import b`` give ``a``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _code_cells_source(nb: dict) -> str:
    # IPython magics (%matplotlib, !pip) are not Python: comment them out before parsing
    lines = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            lines += ["#" + ln if ln.lstrip().startswith(("%", "!")) else ln for ln in src.splitlines()]
    return "\n".join(lines)


def local_modules(notebook: Path, root: Path = ROOT, nb: dict | None = None) -> list[Path]:
    """The modules outside the library that ``notebook`` imports, directly or through one another.

    A name ``m`` the notebook imports is local when ``m.py`` lies in the notebook's folder or a
    folder above it inside ``root`` (a solution adds its lesson folder to ``sys.path``). ``nb``: the
    notebook's content when it is not (yet) the file at ``notebook``."""
    notebook = Path(notebook).resolve()
    root = Path(root).resolve()
    folders = [f for f in [notebook.parent, *notebook.parent.parents] if f == root or root in f.parents]
    if nb is None:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    todo, found = _imported_names(_code_cells_source(nb)), {}
    while todo:
        name = todo.pop()
        if name == PACKAGE or name in found:
            continue
        path = next((f / f"{name}.py" for f in folders if (f / f"{name}.py").is_file()), None)
        if path is not None:
            found[name] = path
            todo |= _imported_names(path.read_text(encoding="utf-8")) - set(found)
    return sorted(found.values())


def code_sha256(notebook: Path | None = None, root: Path = ROOT, nb: dict | None = None) -> str:
    """The hash of the code a notebook runs: the library under ``root`` plus its local modules
    (none when ``notebook`` is None: the library's own hash)."""
    root = Path(root).resolve()
    extra = local_modules(notebook, root, nb) if notebook is not None else []
    h = hashlib.sha256()
    for path in sorted({*library_files(root), *extra}):
        _file_digest(h, root, path)
    return h.hexdigest()


def _git_commit(root: Path) -> str | None:
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def provenance(notebook: Path, root: Path = ROOT, nb: dict | None = None) -> dict:
    """What the executor stores in ``notebook``'s metadata (under :data:`KEY`) when it runs ``nb``."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        pkg_version = version(PACKAGE)
    except PackageNotFoundError:
        pkg_version = None
    root = Path(root).resolve()
    extra = local_modules(notebook, root, nb)
    return {"code_sha256": code_sha256(notebook, root, nb),
            "hashed": [f"{PACKAGE}/**/*.py", *(p.relative_to(root).as_posix() for p in extra)],
            "version": pkg_version, "git_commit": _git_commit(root)}


def staleness(notebook: Path, root: Path = ROOT) -> str | None:
    """None when ``notebook``'s stored hash is today's, else one line saying why it is stale."""
    notebook = Path(notebook)
    stored = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {}).get(KEY, {})
    rel = notebook.resolve().relative_to(Path(root).resolve()).as_posix()
    if "code_sha256" not in stored:
        return f"{rel}: no record of the code it ran (executed before provenance was recorded)"
    if stored["code_sha256"] != code_sha256(notebook, root):
        return (f"{rel}: executed by other code (at {stored.get('git_commit') or 'an unknown commit'}); "
                f"the library or a module it imports changed since")
    return None


def text_pair(notebook: Path) -> Path:
    """The jupytext text file an ``.ipynb`` is executed from (``.py`` percent or MyST ``.md``)."""
    for suffix in TEXT_SUFFIXES:
        if (text := Path(notebook).with_suffix(suffix)).exists():
            return text
    raise FileNotFoundError(f"{notebook}: no text pair ({' or '.join(TEXT_SUFFIXES)}) beside it")


def refresh_command(notebook: Path, root: Path = ROOT) -> str:
    """The command that re-executes ``notebook`` from its text pair."""
    try:
        text = text_pair(notebook).resolve().relative_to(Path(root).resolve()).as_posix()
    except FileNotFoundError:
        text = Path(notebook).with_suffix(".py").name
    return f"PYTHONPATH=$PWD python tools/execute_notebook.py {text}"
