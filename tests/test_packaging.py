"""pyproject.toml and environment.yml list the same dependencies; README and CI agree."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


#: conda-forge's names for PyTorch builds (pip's "torch")
CONDA_TORCH = {"pytorch": "torch", "pytorch-cpu": "torch", "pytorch-gpu": "torch"}


def _name(spec: str) -> str:
    name = re.split(r"[<>=!~ \[]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")
    return CONDA_TORCH.get(name, name)


def _version(spec: str) -> str:
    return re.sub(r"^[A-Za-z0-9_.\-]+(\[[^]]*\])?", "", spec.replace(" ", ""))


def _install_sh() -> str:
    return (ROOT / "install.sh").read_text()


def _install_sh_specs() -> dict[str, str]:
    """name -> spec of what install.sh installs: pyproject's dependencies, the extras it names, torch."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = re.findall(r'pip install -e "\.\[([^]]+)\]"', _install_sh())
    assert extras, "install.sh installs no extra of the package"
    specs = list(project["dependencies"])
    for extra in ",".join(extras).split(","):
        specs += project["optional-dependencies"][extra.strip()]
    return {_name(s): s for s in specs}


def _environment_specs() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = {}
    for dep in env["dependencies"]:
        for d in (dep["pip"] if isinstance(dep, dict) else [dep]):
            if not d.startswith("-e"):
                listed[_name(d)] = d
    return {k: v for k, v in listed.items() if k not in ("python", "pip")}


def test_environment_matches_install_sh():
    """conda env create -f environment.yml installs what ./install.sh does, with the same versions."""
    wanted, listed = _install_sh_specs(), _environment_specs()
    assert set(listed) == set(wanted), (f"only in environment.yml: {set(listed) - set(wanted)}; "
                                        f"only in install.sh (pyproject): {set(wanted) - set(listed)}")
    for name, spec in listed.items():
        assert _version(spec) == _version(wanted[name]), f"{name}: {spec!r} in environment.yml, {wanted[name]!r} in pyproject"
    # JupyterLab by both (issue 19: users "work in JupyterLab"), and in the notebooks extra too
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "jupyterlab" in wanted
    assert "jupyterlab" in {_name(d) for d in project["optional-dependencies"]["notebooks"]}


def test_environment_and_install_sh_pick_the_same_torch_build():
    """Both default to a CPU build and say how to get a CUDA one."""
    default = re.search(r"\$\{SRSUPM_TORCH:-(\w+)\}", _install_sh())
    assert default and default.group(1) == "cpu", "install.sh's default torch build is not the CPU one"
    assert "--index-url https://download.pytorch.org/whl/cpu" in _install_sh()
    text = (ROOT / "environment.yml").read_text()
    torch_specs = [d for d in yaml.safe_load(text)["dependencies"]
                   if isinstance(d, str) and _name(d) == "torch"]
    assert [_name(d) for d in torch_specs] == ["torch"] and torch_specs[0].startswith("pytorch-cpu"), torch_specs
    assert "conda-forge" in yaml.safe_load(text)["channels"]            # pytorch-cpu is conda-forge's
    assert "pytorch-gpu" in text and "SRSUPM_TORCH=cuda" in _install_sh()  # both say how to get CUDA


def test_install_sh_kernel_leaves_python3_untouched(tmp_path):
    """The kernel line of install.sh, run against a Jupyter data folder that has a python3 spec already."""
    import json
    import subprocess
    import sys

    lines = [line for line in _install_sh().splitlines() if "ipykernel install" in line]
    assert len(lines) == 1, lines
    python3 = tmp_path / "kernels" / "python3"
    python3.mkdir(parents=True)
    spec = {"argv": ["/opt/other/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (mine)", "language": "python"}
    (python3 / "kernel.json").write_text(json.dumps(spec))
    (python3 / "logo-64x64.png").write_bytes(b"not really a png")
    before = {p.name: p.read_bytes() for p in python3.iterdir()}
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "JUPYTER_DATA_DIR": str(tmp_path),
           "PY": sys.executable}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", lines[0]], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert {p.name: p.read_bytes() for p in python3.iterdir()} == before
    ours = json.loads((tmp_path / "kernels" / "srsupm_lab" / "kernel.json").read_text())
    assert ours["display_name"] == "Python 3 (srsupm_lab)" and ours["argv"][0] == sys.executable
    assert sorted(p.name for p in (tmp_path / "kernels").iterdir()) == ["python3", "srsupm_lab"]


def test_notebooks_name_a_kernel_every_install_route_provides():
    """papermill stops with NoSuchKernel on a kernel name it cannot find: the notebooks name "python3"
    (the Python that runs them under nbval/papermill, or the environment's own kernel), not one that only
    install.sh registers."""
    import json

    for ipynb in sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "tutorials").glob("*.ipynb")):
        spec = json.loads(ipynb.read_text())["metadata"].get("kernelspec", {})
        assert spec.get("name") == "python3", f"{ipynb.name}: kernelspec {spec}"


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
