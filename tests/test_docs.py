"""The documentation cites only what the repository holds, and README stays a one-minute read.

* every repository path cited in README.md, docs/, notebooks/README.md, the tutorials' text and the
  course site's pages (inline code and code blocks: `srsupm_lab/pmsa.py`, `reports/README.md`, ...)
  is a file or folder tracked in the repository;
* README.md is at most 150 lines, shows its two commands first, states that the SRSUPM paper is
  withdrawn, and points to the course site and `docs/running.md`; every `python -m srsupm_lab`
  command it or `docs/running.md` shows exists (its `--help` runs);
* every ``module.function`` / ``Class.method`` docs/method.md names exists in the package;
* the settings docs/method.md lists as the paper's open choices are settings of the package, and
  every open choice the package has (``config.CHOICES``) is documented with all its values.
"""
from __future__ import annotations

import importlib
import re
import subprocess
from dataclasses import fields
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"
#: the site's own pages (its folders tutorials/, notebooks/, docs/ hold build-time copies, not pages)
SITE_PAGES = sorted(SITE.glob("*.md"))
DOCS = sorted({ROOT / "README.md", ROOT / "notebooks" / "README.md", *(ROOT / "docs").glob("*.md"),
               *(ROOT / "tutorials").glob("*.md"), *SITE_PAGES})
#: first path components that name repository content (run outputs such as runs/ are not)
TOP = ("srsupm_lab", "notebooks", "tutorials", "reports", "tests", "benchmarks", "tools", "docs", "data", ".ci",
       "site")
ROOT_FILES = ("README.md", "install.sh", "environment.yml", "pyproject.toml")
METHOD = ROOT / "docs" / "method.md"


def _tracked() -> set[str]:
    """Tracked files and every folder above one (the filesystem's files when git is not available)."""
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        files = set(out.splitlines())
    except (OSError, subprocess.CalledProcessError):
        files = {str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()}
    folders = {str(Path(f).parents[i]) for f in files for i in range(len(Path(f).parts) - 1)}
    return files | folders


def _code_words(text: str) -> list[str]:
    """Words inside inline code spans and fenced code blocks."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.M | re.S)
    spans = re.findall(r"`([^`\n]+)`", prose)
    return [w for chunk in blocks + spans for w in chunk.split()]


def cited_paths(text: str) -> set[str]:
    out = set()
    for word in _code_words(text):
        word = word.strip("\"'(),;:").split("::")[0]
        if any(c in word for c in "<>*{}$…|=") or "..." in word or "://" in word or "NN" in word:
            continue                                              # a pattern, a placeholder or a URL
        if "/_build" in word:
            continue                                              # what a build writes (site/_build/html)
        word = word.rstrip("/").removeprefix("./")
        if word in ROOT_FILES or (word.split("/")[0] in TOP and "/" in word):
            out.add(word)
    return out


def test_path_extraction_on_a_known_text():
    text = ("See `srsupm_lab/pmsa.py` and `reports/` and `docs/method.md`, not `runs/demo/` or `<D>.txt`.\n"
            "```bash\npython tools/execute_notebook.py notebooks/04_train.py\n```\n"
            "`reports/runs/beauty/*/seed1/results.json` `https://x.org/a/b` `./install.sh` `notebooks/NN_name.py`")
    assert cited_paths(text) == {"srsupm_lab/pmsa.py", "docs/method.md", "tools/execute_notebook.py",
                                 "notebooks/04_train.py", "install.sh"}
    assert cited_paths("`site/conf.py` and `site/_build/html/index.html`") == {"site/conf.py"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_cited_repository_paths_exist(doc):
    tracked = _tracked()
    missing = sorted(p for p in cited_paths(doc.read_text(encoding="utf-8"))
                     if p not in tracked and f"{p}.ipynb" not in tracked and f"{p}.md" not in tracked)  # or a page name
    assert not missing, f"{doc.relative_to(ROOT)} cites paths the repository does not hold: {missing}"


def test_no_document_sends_readers_outside_the_repository_for_the_method():
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        assert "shared/docs" not in text and "in the shared folder" not in text, doc.relative_to(ROOT)
    assert "docs/method.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/method.md" in (ROOT / "tutorials" / "README.md").read_text(encoding="utf-8")


# ----------------------------------------------------------------------------------------- README
README = ROOT / "README.md"
RUNNING = ROOT / "docs" / "running.md"
TEST_COMMAND = "python -m pytest -n 2 --dist loadfile --nbval-lax --nbval-current-env tests notebooks tutorials"
INSTALL_COMMAND = "./install.sh && python -m srsupm_lab demo"


def test_readme_is_a_one_minute_read_with_its_two_commands_first():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150, f"README.md has {len(text.splitlines())} lines (at most 150)"
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)
    assert [b.strip() for b in blocks[:2]] == [INSTALL_COMMAND, TEST_COMMAND], blocks[:2]
    first_section = text.split("\n## ")[1]                        # the one after the title's paragraph
    assert first_section.startswith("Two commands") and TEST_COMMAND in first_section


def test_readme_states_the_srsupm_withdrawal_and_points_to_the_site_and_the_details():
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert "2602.08667" in text and "withdrawn" in text and "17 Apr 2026" in text
    assert "python -m sphinx -b html site site/_build/html" in text
    assert "docs/running.md" in text and RUNNING.exists()


def _srsupm_commands(text: str) -> set[str]:
    """The sub-commands of ``python -m srsupm_lab`` that a text shows (code spans and blocks)."""
    found = set()
    for line in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S) + re.findall(r"`([^`\n]+)`", text):
        for m in re.finditer(r"-m srsupm_lab\s+([a-z][a-z-]*)", line):
            found.add(m.group(1))
    return found


def test_command_finder_on_a_known_text():
    text = "`python -m srsupm_lab demo`\n```bash\npython -m srsupm_lab train --x 1\npython -m srsupm_lab --help\n```"
    assert _srsupm_commands(text) == {"demo", "train"}


@pytest.mark.parametrize("doc", [README, RUNNING], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_a_document_shows_runs_help(doc, capsys):
    from srsupm_lab.__main__ import main
    commands = _srsupm_commands(doc.read_text(encoding="utf-8"))
    assert commands, f"{doc.name} shows no srsupm_lab command"
    failing = {}
    for command in sorted(commands):
        try:
            code = main([command, "--help"])
        except SystemExit as stop:
            code = stop.code
        out = capsys.readouterr().out
        if code not in (0, None) or "usage:" not in out:
            failing[command] = code
    assert not failing, f"{doc.name} shows commands whose --help fails: {failing}"


def _find_class(name: str):
    for path in (ROOT / "srsupm_lab").rglob("*.py"):
        if re.search(rf"^class {re.escape(name)}\b", path.read_text(encoding="utf-8"), flags=re.M):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            return getattr(importlib.import_module(module), name)
    return None


def _find_module(name: str):
    """The package's module whose last name part is ``name`` (``pmsid`` is ``srsupm_lab.methods.srsupm.pmsid``)."""
    found = [p for p in (ROOT / "srsupm_lab").rglob(f"{name}.py")]
    assert len(found) <= 1, f"{name} names several modules: {found}"
    if not found:
        return None
    return importlib.import_module(".".join(found[0].relative_to(ROOT).with_suffix("").parts))


def test_functions_named_in_method_md_exist():
    names = {(owner, attr) for owner, attr in
             re.findall(r"`([A-Za-z_]\w*)\.([A-Za-z_]\w*)(?:\(\))?`", METHOD.read_text(encoding="utf-8"))
             if attr not in ("py", "md", "csv", "json", "txt", "ipynb", "png", "sh", "yml", "toml")}  # not file names
    assert len(names) >= 20, "method.md maps too few equations to functions"
    missing = []
    for owner, attr in sorted(names):
        target = _find_module(owner) or _find_class(owner)
        if target is None:
            missing.append(f"{owner} (no such module or class)")
            continue
        fields_of = {f.name for f in fields(target)} if hasattr(target, "__dataclass_fields__") else set()
        source = Path(importlib.import_module(target.__module__).__file__).read_text() if isinstance(target, type) else ""
        if not (hasattr(target, attr) or attr in fields_of or f"self.{attr} =" in source):
            missing.append(f"{owner}.{attr}")
    assert not missing, f"docs/method.md names what the package does not have: {missing}"


def _settings_table() -> dict[str, str]:
    text = METHOD.read_text(encoding="utf-8")
    table = text[text.index("## The settings of the open choices"):]
    rows = re.findall(r"^\| (`[^|]+`)[^|]*\| ([^|]+) \|", table, flags=re.M)
    out = {}
    for names, values in rows:
        for name in re.findall(r"`(\w+)`", names):
            out[name] = values
    return out


def test_method_md_settings_are_settings_of_the_package():
    from srsupm_lab import config
    from srsupm_lab.backbones import BACKBONES
    from srsupm_lab.methods.srsupm.options import SRSUPMOptions

    known = {f.name for f in fields(config.TrainConfig)} | set(SRSUPMOptions.names())
    known |= {opt for cls in BACKBONES.values() for opt in cls.option_names()}
    table = _settings_table()
    assert len(table) >= 15
    unknown = sorted(set(table) - known)
    assert not unknown, f"docs/method.md lists settings the package does not have: {unknown}"
    choices = {**config.CHOICES, **{k: v for k, v in SRSUPMOptions.choices().items() if v}}
    for name, values in choices.items():
        assert name in table, f"the choice {name!r} is not in docs/method.md's table of settings"
        for value in values:
            assert f"`{value}`" in table[name], f"docs/method.md does not list {name} = {value!r}"
