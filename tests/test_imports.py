"""The import graph of srsupm_lab: one direction (no cycle), and no module reaching into another's private names.

The graph is read from the source with ``ast`` (nothing is imported): every ``import`` and
``from … import`` of every module, at any depth — module level, inside functions (the lazy imports
that keep ``import srsupm_lab`` quick) and under ``if`` — with relative imports resolved against
the module's package. ``from pkg import name`` is an edge to ``pkg.name`` when that is a module,
else to ``pkg``. The import a submodule makes of its parent package (Python runs the parent's
``__init__`` first) is not an edge: a package's ``__init__`` only gathers its children, which
:func:`test_no_submodule_imports_its_own_package` checks, so it cannot close a cycle through them.
The modules ``srsupm_lab/__init__.py`` loads by name on first use (``_LAZY``, ``importlib``) are not
edges either: they load after ``srsupm_lab`` itself has finished importing.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "srsupm_lab"

#: private names imported across modules that belong to files other sessions own; each entry is
#: (importer, module, name) and must still occur (so that it is removed once the name is public)
KNOWN_PRIVATE: set = set()


#: edges that close a cycle in files other sessions own, each (importer, imported) with why; an entry
#: must still exist (remove it once the cycle is broken). None at present.
KNOWN_CYCLE_EDGES: set = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".") if _is_package(importer) else importer.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(name: str):
    """(target module, imported name or None, node) of every import in module ``name`` inside srsupm_lab."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"), filename=str(MODULES[name]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "srsupm_lab":
                    yield alias.name, None, node
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(name, node)
            if module.split(".")[0] != "srsupm_lab":
                continue
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                yield (sub, None, node) if sub in MODULES else (module, alias.name, node)


def _graph() -> dict[str, set[str]]:
    graph = {name: set() for name in MODULES}
    for name in MODULES:
        for target, _, _ in _imports(name):
            assert target in MODULES, f"{MODULES[name]}: imports {target}, which is no module of srsupm_lab"
            if target != name and not name.startswith(target + "."):          # not its own parent package
                graph[name].add(target)
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a list of modules (first == last), or None (iterative depth-first search)."""
    state = {}                                                  # 1: on the current path, 2: finished
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_the_cycle_finder_finds_a_hand_built_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    assert _find_cycle({"a": {"a"}}) == ["a", "a"]


def test_the_graph_sees_relative_lazy_and_package_imports():
    graph = _graph()
    assert "srsupm_lab.methods.srsupm.grids" in graph["srsupm_lab.reproduce.engines"]        # from .grids import
    assert "srsupm_lab.methods.srsupm.paper" in graph["srsupm_lab.methods.srsupm.grids"]                    # from .. import paper
    assert "srsupm_lab.experiment" in graph["srsupm_lab.reproduce.engines"]             # inside a function too
    assert "srsupm_lab.data.loaders" in graph["srsupm_lab.methods.srsupm.grids"]             # lazy, in a function
    assert "srsupm_lab.reproduce" in graph["srsupm_lab.cli.reproduce"]                  # from .. import reproduce


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    stale = {(a, b) for a, b in KNOWN_CYCLE_EDGES if b not in graph[a]}
    assert not stale, f"these imports are gone: drop them from KNOWN_CYCLE_EDGES: {sorted(stale)}"
    for a, b in KNOWN_CYCLE_EDGES:
        graph[a].discard(b)
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_submodule_imports_its_own_package():
    """``from . import X`` inside a package must name a sibling module, never a name the package's
    ``__init__`` gathers from its children (a cycle the graph leaves out). Dunder metadata the
    ``__init__`` defines itself (``__version__``) imports none of them."""
    bad = [(name, target, imported) for name in MODULES for target, imported, _ in _imports(name)
           if name.startswith(target + ".") and imported is not None and not imported.startswith("__")]
    assert not bad, f"modules importing names of their own package's __init__: {bad}"


def _private_uses():
    """(importer, module, name, line) of every private name of another srsupm_lab module: imported, or
    read as an attribute of an imported module (``analysis._levels``)."""
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {}
        for target, imported, node in _imports(name):
            if imported is not None and imported.startswith("_") and not imported.startswith("__"):
                yield name, target, imported, node.lineno
            for alias in node.names:
                if imported is None or alias.name == imported:
                    module = target if imported is None else None
                    if module and isinstance(node, ast.ImportFrom):
                        aliases[alias.asname or alias.name] = module
                    elif module and alias.asname:
                        aliases[alias.asname] = module
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                    and node.attr.startswith("_") and not node.attr.startswith("__"):
                yield name, aliases[node.value.id], node.attr, node.lineno


def test_the_private_name_finder_sees_imports_and_attributes(tmp_path, monkeypatch):
    pkg = tmp_path / "srsupm_lab"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("_hidden = 1\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from ..a import _hidden\nfrom .. import a\n\n\ndef f():\n    return a._hidden\n")
    modules = {_module_name_in(tmp_path, p): p for p in sorted(pkg.rglob("*.py"))}
    monkeypatch.setattr(__import__(__name__), "MODULES", modules)
    found = {(i, m, n) for i, m, n, _ in _private_uses()}
    assert found == {("srsupm_lab.sub.b", "srsupm_lab.a", "_hidden")} and len(list(_private_uses())) == 2


def _module_name_in(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_module_reaches_into_another_modules_private_names():
    uses = list(_private_uses())
    bad = [f"{MODULES[i].relative_to(ROOT)}:{line}: {m}.{n}" for i, m, n, line in uses
           if (i, m, n) not in KNOWN_PRIVATE]
    assert not bad, "private names used across modules (make them public where they live):\n" + "\n".join(bad)
    stale = KNOWN_PRIVATE - {(i, m, n) for i, m, n, _ in uses}
    assert not stale, f"these are public now: drop them from KNOWN_PRIVATE: {sorted(stale)}"
