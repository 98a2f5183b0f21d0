"""The package's layout: a small root, small modules, methods that live in their own folders, and a
course site that commits its own pages only.

A new method must not need edits across the package: no module outside ``srsupm_lab/methods/``
compares anything with a method's name or reads one of SRSUPM's options (it asks the method
through :class:`srsupm_lab.methods.Method`, or the model through the Recommender protocol; the
SRSUPM paper's grids, screening, timing and report columns live in ``methods/srsupm/``).
``KNOWN_SRSUPM_READERS`` would list an exception with its reason; each entry must still read
SRSUPM's options, so that it is removed once it does not.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "srsupm_lab"

#: modules outside methods/ that still name SRSUPM or read its options, each with why (none at present: the
#: SRSUPM paper's grids, screening, timing and report columns live in methods/srsupm/); none may be added
KNOWN_SRSUPM_READERS: set = set()


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


def test_the_course_site_commits_its_own_pages_and_no_copies():
    """site/ holds the site's sources; the lessons, notebooks and docs it renders are copied in at build
    time (site/_ext/course_site.py) into git-ignored folders, so no second copy is ever committed."""
    import subprocess
    import sys
    sys.path.insert(0, str(ROOT / "site" / "_ext"))
    try:
        from course_site import GENERATED, STAGED_FOLDERS
    finally:
        sys.path.remove(str(ROOT / "site" / "_ext"))
    try:
        tracked = subprocess.run(["git", "ls-files", "site"], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("git is not available")
    assert "site/conf.py" in tracked and "site/index.md" in tracked
    copies = [f for f in tracked if f.split("/")[1] in (*STAGED_FOLDERS, GENERATED, "_build")]
    assert not copies, f"site/ commits build-time copies or outputs: {copies}"
    ignored = (ROOT / "site" / ".gitignore").read_text(encoding="utf-8").split()
    assert {f"/{name}/" for name in (*STAGED_FOLDERS, GENERATED, "_build")} <= set(ignored)


def test_the_root_holds_at_most_15_modules():
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root) <= 15, f"srsupm_lab/ holds {len(root)} modules: {root}"


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, f"modules over 400 lines: {long}"


def _srsupm_names():
    from srsupm_lab.methods import method_names
    from srsupm_lab.methods.srsupm.options import SRSUPMOptions
    return {n for n in method_names() if n != "none"}, set(SRSUPMOptions.names())


def _method_reads(path: Path) -> list[str]:
    """Where ``path`` compares with a method's name (other than none) or reads an SRSUPM option (a string
    key, or an attribute of that name on something that is not ``self``)."""
    names, options = _srsupm_names()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                if isinstance(side, ast.Constant) and side.value in names:
                    found.append(f"line {node.lineno}: compares with {side.value!r}")
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value in options:
            found.append(f"line {node.lineno}: reads [{node.slice.value!r}]")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in options:
            found.append(f"line {node.lineno}: reads .get({node.args[0].value!r})")
    return found


def test_the_finder_sees_names_and_options():
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "m.py"
        p.write_text("def f(c, o):\n    if c.method == 'srsupm':\n        return o['lambda1'] + o.get('tau')\n"
                     "    return c.method == 'none'\n")
        assert _method_reads(p) == ["line 2: compares with 'srsupm'", "line 3: reads ['lambda1']",
                                    "line 3: reads .get('tau')"]


def test_no_module_outside_methods_branches_on_a_method_or_reads_srsupm_options():
    offenders, still = {}, set()
    for path in _modules():
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("methods/"):
            continue
        found = _method_reads(path)
        if rel in KNOWN_SRSUPM_READERS:
            if found:
                still.add(rel)
            continue
        if found:
            offenders[rel] = found
    assert not offenders, f"modules outside methods/ that branch on a method or read SRSUPM's options: {offenders}"
    stale = sorted(KNOWN_SRSUPM_READERS - still)
    assert not stale, f"these no longer read SRSUPM's options: drop them from KNOWN_SRSUPM_READERS: {stale}"


# ----------------------------------------------------------------------------- every committed run folder
RUN_FOLDERS = sorted({p.parent for p in (ROOT / "reports").rglob("config.json")})


def test_the_reports_hold_run_folders():
    assert len(RUN_FOLDERS) >= 50


@pytest.mark.parametrize("folder", RUN_FOLDERS, ids=lambda p: str(p.relative_to(ROOT / "reports")))
def test_every_committed_run_folder_loads_in_todays_sections(folder):
    import json

    from srsupm_lab.config import TrainConfig
    from srsupm_lab.methods import method_names
    from srsupm_lab.run_folder import config_differences, load_results, stored_config
    stored = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config = stored_config(folder)                                      # the flat shape read into sections
    assert isinstance(config, TrainConfig) and config.method in method_names()
    assert config_differences(stored, config.to_dict()) == {}           # it would resume as itself
    if "srsupm" in stored:                                              # the flat shape named its method
        assert (config.method == "srsupm") == bool(stored["srsupm"])
    if (folder / "results.json").exists():
        results = load_results(folder)
        assert config_differences(results["config"], config.to_dict()) == {}


def test_diagnose_reads_committed_decisive_and_table_runs(capsys):
    from srsupm_lab.__main__ import main
    decisive = ROOT / "reports" / "decisive" / "runs" / "beauty" / "sasrec+srsupm-engaged" / "seed1"
    table = ROOT / "reports" / "runs" / "beauty" / "sasrec" / "seed1"
    assert main(["diagnose", str(decisive)]) == 0
    out = capsys.readouterr().out
    assert "keeps no checkpoint.pt" in out and "eng_alpha_info_share" in out and "Last epoch:" in out
    assert main(["diagnose", str(table)]) == 0
    assert "valid_recall@10" in capsys.readouterr().out
