"""pyproject.toml and environment.yml list the same dependencies; README and CI agree."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(d) for d in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_name(d) for d in extra}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            listed |= {_name(d) for d in dep["pip"] if not d.startswith("-e")}
        else:
            listed.add(_name(dep))
    listed -= {"python", "pip"}
    assert listed == wanted, f"only in environment.yml: {listed - wanted}; only in pyproject: {wanted - listed}"
    # versions agree too where both give one
    pins = {_name(d): d.replace(" ", "") for d in project["dependencies"]}
    for dep in env["dependencies"]:
        if isinstance(dep, str) and _name(dep) in pins:
            assert dep.replace(" ", "") == pins[_name(dep)], dep


def test_ci_runs_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^(python3? -m pytest[^\n`]*)$", readme, flags=re.M)
    assert commands, "README.md shows no test command"
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[0].strip() in ci


def test_widgets_package_exports_functions_not_modules():
    """Fresh interpreter: a submodule import must not shadow the function of the same name."""
    import subprocess
    import sys
    code = ("import types, srsupm_lab.widgets.shift_explorer, srsupm_lab.widgets.model_explorer\n"
            "from srsupm_lab.widgets import shift_explorer, model_explorer, ShiftExplorer, ModelExplorer\n"
            "from srsupm_lab.widgets.shift_explorer import available_datasets\n"
            "assert not any(isinstance(o, types.ModuleType) for o in "
            "(shift_explorer, model_explorer, ShiftExplorer, ModelExplorer)), 'a module shadows a function'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
