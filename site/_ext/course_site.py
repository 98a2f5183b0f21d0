"""Assemble the course site's sources from the repository, before Sphinx reads them.

The site renders files that live elsewhere in the repository: the lessons (``tutorials/``), the
numbered notebooks (``notebooks/``), the documentation (``docs/``) and the assignments' guide
(``assignments/README.md``). On ``config-inited`` this extension copies them into the source
folder under the SAME relative paths (``site/tutorials/01_….ipynb`` ← ``tutorials/01_….ipynb``), so

* a relative link between two of them resolves on the site as it does on GitHub;
* a page's name is its path in the repository, which is what the theme's launch buttons
  (Binder, Colab) need to open the file itself;
* only what a reader should see is published: each lesson's executed ``.ipynb`` (not its jupytext
  ``.md`` twin, not ``solutions/``), the notebooks' ``.ipynb``, the docs' Markdown.

A copy rather than committed symlinks: tools that follow links (``glob(recursive=True)``, some
editors and archivers) would meet every notebook twice, and symlinks do not survive every
checkout. The copies are read-only, git-ignored, and rewritten only when their content changes
(Sphinx's incremental build keys on modification times).

Two things are added on the way, nothing is executed:

* each lesson and notebook copy ends with a "References" cell citing the papers ``reading.toml``
  lists for it (BibTeX keys of ``references.bib``), unless the page already has a bibliography;
* ``_generated/``: the misconceptions table gathered from the checkers' hints
  (``srsupm_lab/course/checks/``, or ``tutorials/checks.py`` in older checkouts) and the lessons'
  timing table (the newest
  ``reports/bench_lessons_*.txt``), which the instructor guide includes; the index's "Teaching"
  toctree, which lists the assignments' guide only where the checkout has one.
"""
from __future__ import annotations

import ast
import json
import re
import stat
import tomllib
from pathlib import Path

#: what is published, as (folder, glob) pairs relative to the repository root
PUBLISHED = (
    ("tutorials", "[0-9]*.ipynb"),
    ("tutorials", "README.md"),
    ("notebooks", "[0-9]*.ipynb"),
    ("notebooks", "README.md"),
    ("docs", "*.md"),
    ("assignments", "README.md"),
)
STAGED_FOLDERS = sorted({folder for folder, _ in PUBLISHED})
GENERATED = "_generated"


def repository_root(srcdir: Path) -> Path:
    return Path(srcdir).resolve().parent


# ----------------------------------------------------------------------------------------- copying
def _write_if_changed(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        return
    if path.exists():
        path.chmod(stat.S_IWUSR | stat.S_IRUSR)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)        # a copy: edit the original


def _references_cell(keys: list[str], depth: int) -> dict:
    """A Markdown cell that cites ``keys`` as footnotes and lists them (sphinxcontrib-bibtex)."""
    up = "../" * depth
    cites = "; ".join(f"{{footcite:t}}`{k}`" for k in keys)
    text = (f"## References\n\nThis page draws on {cites}. Every paper of the course: "
            f"[references]({up}references.md).\n\n```{{footbibliography}}\n```\n")
    return {"cell_type": "markdown", "id": "site-references", "metadata": {"tags": ["site-references"]},
            "source": text}


def _with_references(data: bytes, keys: list[str], depth: int) -> bytes:
    nb = json.loads(data)
    markdown = "".join("".join(c.get("source", "")) for c in nb.get("cells", []) if c.get("cell_type") == "markdown")
    if not keys or "bibliography}" in markdown:                 # the page cites on its own
        return data
    nb["cells"].append(_references_cell(keys, depth))
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def reading_list(srcdir: Path) -> dict[str, dict[str, list[str]]]:
    """``reading.toml``: folder -> file-number prefix ("01") -> BibTeX keys."""
    return tomllib.loads((Path(srcdir) / "reading.toml").read_text(encoding="utf-8"))


def stage(srcdir: Path) -> list[str]:
    """Copy the published files into ``srcdir`` (mirrored paths); return their paths there."""
    srcdir = Path(srcdir)
    root = repository_root(srcdir)
    reading = reading_list(srcdir)
    wanted: dict[Path, bytes] = {}
    for folder, pattern in PUBLISHED:
        for source in sorted((root / folder).glob(pattern)):
            data = source.read_bytes()
            if source.suffix == ".ipynb":
                keys = reading.get(folder, {}).get(source.name.split("_")[0], [])
                data = _with_references(data, keys, depth=1)
            wanted[srcdir / folder / source.name] = data
    for folder in STAGED_FOLDERS:                               # drop copies whose original is gone
        for old in (srcdir / folder).glob("*") if (srcdir / folder).is_dir() else ():
            if old not in wanted and old.is_file():
                old.chmod(stat.S_IWUSR | stat.S_IRUSR)
                old.unlink()
    for path, data in wanted.items():
        _write_if_changed(path, data)
    return [str(p.relative_to(srcdir)) for p in wanted]


# --------------------------------------------------------------------- misconceptions from the hints
def _text(node: ast.AST) -> str | None:
    """A string literal, an f-string (a plain name kept, other expressions as "…") or their sum."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                parts.append(str(v.value))
            elif isinstance(v, ast.FormattedValue):
                parts.append(v.value.id if isinstance(v.value, ast.Name) else "…")
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return None if left is None or right is None else left + right
    return None


def checker_hints(checks_py: Path) -> dict[str, list[str]]:
    """checker name -> the hints it can give (assignments to ``hint``, the values of ``hints``, and a
    literal hint passed to ``say_wrong(what, hint)``)."""
    tree = ast.parse(Path(checks_py).read_text(encoding="utf-8"))
    out: dict[str, list[str]] = {}
    for fn in tree.body:
        if not (isinstance(fn, ast.FunctionDef) and fn.name.startswith("check_")):
            continue
        hints: list[str] = []
        found = []
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in ("hint", "hints")
                                                    for t in node.targets):
                found.append((node, node.value.values if isinstance(node.value, ast.Dict) else [node.value]))
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "say_wrong"
                  and len(node.args) >= 2 and not isinstance(node.args[1], ast.Name)):
                found.append((node, [node.args[1]]))                # a hint written into the call itself
        for node, values in sorted(found, key=lambda f: (f[0].lineno, f[0].col_offset)):   # in source order
            hints += [t for v in values if (t := _text(v))]
        if hints:
            out[fn.name] = list(dict.fromkeys(h.strip() for h in hints))
    return out


def checker_exercises(lesson_texts: list[Path]) -> dict[str, tuple[str, str]]:
    """checker name -> (lesson file stem, exercise number) from where the lessons call it."""
    found: dict[str, tuple[str, str]] = {}
    for path in lesson_texts:
        exercise = ""
        for line in path.read_text(encoding="utf-8").splitlines():
            if m := re.search(r"\*\*Exercise (\d+\.\d+)", line):
                exercise = m.group(1)
            for name in re.findall(r"checks\.(check_\w+)\(", line):
                found.setdefault(name, (path.stem, exercise))
    return found


#: where the lessons' checkers live, newest first: a package of one module per part of the course, one module,
#: or (older checkouts) a module beside the lessons
CHECKERS = ("srsupm_lab/course/checks/*.py", "srsupm_lab/course/checks.py", "tutorials/checks.py")


def checker_sources(root: Path) -> list[Path]:
    """The files that define the checkers, from the first of :data:`CHECKERS` that exists."""
    for pattern in CHECKERS:
        found = sorted(root.glob(pattern))
        if found:
            return found
    return []


def misconceptions_page(root: Path) -> str:
    sources = checker_sources(root)
    if not sources:
        return "No checkers module in this checkout.\n"
    hints = {name: found for path in sources for name, found in checker_hints(path).items()}
    where = checker_exercises(sorted((root / "tutorials").glob("[0-9]*.md")))
    rows = sorted(hints, key=lambda n: (where.get(n, ("~", ""))[0], where.get(n, ("", "~"))[1], n))
    lines = ["| exercise | checker | what a wrong answer usually means (the checker's hint) |", "|---|---|---|"]
    for name in rows:
        lesson, exercise = where.get(name, ("", ""))
        label = f"{exercise} ({lesson.split('_')[0]})" if exercise else (lesson.split("_")[0] or "—")
        for i, hint in enumerate(hints[name]):
            cell = re.sub(r"([\\`*_\[\]<>|$])", r"\\\1", " ".join(hint.split()))   # literal text, not Markdown
            lines.append(f"| {label if i == 0 else ''} | {'`' + name + '`' if i == 0 else ''} | {cell} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------- lesson timings
def newest_bench_report(root: Path) -> Path | None:
    reports = sorted((root / "reports").glob("bench_lessons_*.txt"))
    return reports[-1] if reports else None


def timings_page(root: Path) -> str:
    report = newest_bench_report(root)
    if report is None:
        return ("No lesson timing has been measured with `benchmarks/bench_lessons.py` in this checkout yet: "
                "`python benchmarks/bench_lessons.py` writes `reports/bench_lessons_<date>.txt`, which this "
                "section then shows.\n")
    return (f"From `{report.relative_to(root).as_posix()}` (written by `benchmarks/bench_lessons.py`):\n\n"
            + report.read_text(encoding="utf-8") + "\n")


def teaching_toctree(srcdir: Path) -> str:
    """The index's "Teaching" toctree: the instructor guide, and the assignments' guide where the
    checkout has one (a toctree entry, or an empty glob, that names a missing page is a warning)."""
    entries = ["instructor_guide"] + (["assignments/README"] if (Path(srcdir) / "assignments" / "README.md").exists()
                                      else [])
    return "```{toctree}\n:caption: Teaching\n:maxdepth: 1\n\n" + "\n".join(entries) + "\n```\n"


def generate(srcdir: Path) -> None:
    root = repository_root(srcdir)
    out = Path(srcdir) / GENERATED
    out.mkdir(exist_ok=True)
    for name, text in (("misconceptions.md", misconceptions_page(root)), ("timings.md", timings_page(root)),
                       ("teaching_toctree.md", teaching_toctree(srcdir))):
        target = out / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")


# ------------------------------------------------------------------------------------ Sphinx hook
def _on_config_inited(app, config) -> None:
    stage(Path(app.srcdir))
    generate(Path(app.srcdir))


def setup(app):
    app.connect("config-inited", _on_config_inited)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
