"""The library stands alone: a wheel built from the repository, installed into a fresh virtual environment, runs
``reproduce`` outside the repository with its default engine, and its papermill engine finds its notebook.

The venv sees the machine's site-packages for the dependencies (torch and friends are not installed twice:
``--system-site-packages``, the wheel itself with ``--no-deps``); the package it imports must be the wheel's,
and the current directory is a temporary folder with no repository above it.
"""
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, cwd, env=None, timeout=600):
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{cmd}: exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python of a fresh venv holding the wheel, a working folder outside the repository)."""
    base = tmp_path_factory.mktemp("wheel")
    pytest.importorskip("setuptools")
    src = base / "src"                    # what the wheel is built from, copied: no build/ left in the repository
    for part in ("pyproject.toml", "README.md", "notebooks/04_train.ipynb"):
        (src / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / part, src / part)
    for folder in ("srsupm_lab", "data"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(base / "dist"),
          str(src)], cwd=base)
    wheels = list((base / "dist").glob("srsupm_lab-*.whl"))
    assert len(wheels) == 1, wheels
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(base / "venv")
    python = base / "venv" / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheels[0])],
         cwd=base)
    work = base / "elsewhere"
    work.mkdir()
    return python, work


def _env():
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SRSUPM_DATA")}
    env.update(OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    return env


def test_the_wheel_is_what_the_venv_imports(installed):
    python, work = installed
    where = _run([str(python), "-c", "import srsupm_lab; print(srsupm_lab.__file__)"], cwd=work, env=_env())
    assert str(python.parents[1]) in where and str(ROOT) not in where


def test_reproduce_runs_outside_the_repository_with_its_default_engine(installed):
    python, work = installed
    out = _run([str(python), "-m", "srsupm_lab", "reproduce", "--grid", "table1", "--datasets", "synthetic",
                "--backbones", "gru4rec", "--seeds", "1", "--epochs", "1", "--device", "cpu",
                "--set", 'dataset_options={"n_users": 60, "n_items": 30}', "--set", "dim=8", "--set", "max_len=6"],
               cwd=work, env=_env())
    assert "2 finished runs" in out
    assert (work / "runs/reproduce/synthetic/gru4rec/seed1/results.json").is_file()
    assert (work / "runs/reproduce/synthetic/gru4rec+srsupm/seed1/results.json").is_file()
    assert (work / "reports" / "table1.csv").is_file()


def test_the_papermill_engine_finds_the_installed_notebook(installed):
    python, work = installed
    code = ("from srsupm_lab.reproduce.engines import experiment_notebook; p = experiment_notebook(); "
            "print(p); assert p.is_file() and 'share/srsupm_lab/notebooks' in p.as_posix()")
    _run([str(python), "-c", code], cwd=work, env=_env())
    pytest.importorskip("papermill")
    code = "from srsupm_lab.reproduce.engines import notebook_parameters; print(notebook_parameters())"
    assert "'method'" in _run([str(python), "-c", code], cwd=work, env=_env())


def test_the_real_datasets_travel_with_the_wheel(installed):
    python, work = installed
    code = "from srsupm_lab import load_dataset; print(load_dataset('beauty').n_users)"
    assert _run([str(python), "-c", code], cwd=work, env=_env()).strip() == "22363"
