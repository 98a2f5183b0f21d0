"""How the runs of a grid are executed: resolved configs, what is done already, papermill or inline, one or
several processes (method.md §11).

:func:`run_grid` writes each run into ``runs_dir/<name>``; a run whose ``results.json`` exists is
skipped, an interrupted one continues from its checkpoint (``resume=True``). Engine
``"papermill"`` executes ``notebooks/04_train.ipynb`` (the executed notebook is kept in the run
folder as ``04_train.ipynb``); ``"inline"`` calls :func:`srsupm_lab.experiment.run_experiment`
directly — the notebook calls the same function, so both give the same ``results.json``.
:func:`grid_status` answers, without running anything, what :func:`run_grid` would do with each
run, after the same checks.
"""
from __future__ import annotations

import json
import os
import time
import sys
import traceback
from dataclasses import fields
from pathlib import Path
from typing import Sequence

import pandas as pd

from ..config import TrainConfig, method_option_names, settings_for
from ..methods.srsupm.grids import GRID_KEYS, departure_names
from ..run_folder import RunSpec, config_differences, wants_more_epochs
from . import workers

__all__ = ["NOTEBOOK", "experiment_notebook", "ENGINES", "EXPECTED_ERRORS", "notebook_parameters", "resolve_config", "papermill_parameters",
           "run_state", "execute", "grid_status", "run_grid"]

#: the experiment notebook the papermill engine runs: the repository's, or the copy a wheel installs under
#: ``<prefix>/share/srsupm_lab/notebooks`` (pyproject's data-files); :func:`experiment_notebook` finds it
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "04_train.ipynb"
ENGINES = ("papermill", "inline")
#: failures a run reports in one line (its input, its setting, its numbers or its disk); others keep a traceback
EXPECTED_ERRORS = (ValueError, TypeError, KeyError, OSError, FloatingPointError)


def experiment_notebook() -> Path:
    """``04_train.ipynb``: the repository checkout's, else the installed copy; else one line on how to get it."""
    if NOTEBOOK.is_file():
        return NOTEBOOK
    from ..data.locations import installed_share
    shared = installed_share("notebooks")
    if shared is not None and (shared / NOTEBOOK.name).is_file():
        return shared / NOTEBOOK.name
    raise FileNotFoundError(f"engine 'papermill' runs notebooks/{NOTEBOOK.name}, which this installation lacks "
                            f"(neither {NOTEBOOK} nor <prefix>/share/srsupm_lab/notebooks/): use engine 'inline' "
                            f"(--engine inline, the default), or install srsupm_lab from its repository")


def notebook_parameters() -> list[str]:
    """The parameters papermill sees in ``04_train`` (its cell tagged ``parameters``)."""
    import papermill
    return list(papermill.inspect_notebook(str(experiment_notebook())))


def resolve_config(spec: RunSpec, runs_dir: Path, common: dict) -> TrainConfig:
    """The validated TrainConfig of one run: ``common`` (shared settings), then the spec's overrides,
    in ``runs_dir/<name>``, resumable. ``common`` may not set what names a run (``GRID_KEYS``), nor
    ``out_dir``/``resume``, nor anything that is neither a TrainConfig field nor a method's option. A
    method's options in ``common`` apply to the runs of that method (:func:`~srsupm_lab.config.settings_for`)."""
    clash = sorted(set(common) & (set(spec.overrides) | set(GRID_KEYS)))
    if clash:
        given = ", ".join(f"{k}={common[k]!r}" for k in clash)
        raise ValueError(f"run_grid: common sets {clash} ({given}), which the grid sets per run (they name its "
                         f"runs); drop them from common (--set) and choose them with the grid's own options")
    for key in ("out_dir", "resume"):
        if key in common:
            raise ValueError(f"run_grid: common may not set {key!r} (run_grid sets it)")
    known = {f.name for f in fields(TrainConfig)} | set(method_option_names())
    unknown = sorted(set(common) - known)
    if unknown:
        given = ", ".join(f"{k}={common[k]!r}" for k in unknown)
        raise ValueError(f"run_grid: unknown setting {given} in common (--set); the settings are TrainConfig's "
                         f"fields and the methods' options: {sorted(known)}")
    shared = settings_for(spec.overrides.get("method", "none"), common)   # a method's options: its runs only
    values = {"progress": False, **shared, **spec.overrides, "out_dir": str(Path(runs_dir) / spec.name),
              "resume": True}
    return TrainConfig.from_dict(values)


def papermill_parameters(config: TrainConfig, out: Path, params: list[str]) -> dict:
    """The notebook parameters of one run; raises when the config sets a field the notebook lacks."""
    values = config.to_dict()
    default = TrainConfig().to_dict()
    missing = sorted(k for k in values if k not in params and k != "out_dir" and values[k] != default[k])
    if missing:
        raise ValueError(f"run_grid: engine 'papermill' cannot set {missing}: they are not parameters of "
                         f"{NOTEBOOK.name} (its parameters: {params}); use engine='inline'")
    parameters = {k: values[k] for k in params if k in values}
    parameters.update(out_dir=str(out.resolve()), resume=True, overwrite=False)
    if parameters.get("data_root") is not None:
        parameters["data_root"] = str(Path(parameters["data_root"]).expanduser().resolve())
    if Path(parameters["dataset"]).expanduser().is_dir():
        parameters["dataset"] = str(Path(parameters["dataset"]).expanduser().resolve())
    return parameters


def _stored_config(out: Path) -> dict:
    path = out / "results.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))["config"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not the results of a finished run ({type(err).__name__}: {err}); move the "
                         f"folder away to train the run again") from None


def run_state(config: TrainConfig, out: Path) -> tuple[str, str]:
    """``(state, message)`` of one run folder for ``config``: ``done``, ``more epochs`` (finished at a
    smaller budget, goes on from its checkpoint), ``partial`` (resumes), ``todo``, or ``conflict``
    (a finished run with another setting, one that cannot continue, or an unreadable ``results.json``:
    ``message`` says why; a run fails there and leaves the folder as it is)."""
    if (out / "results.json").exists():
        try:
            stored = _stored_config(out)
        except ValueError as err:                                   # a truncated results.json, say
            return "conflict", str(err)
        diff = config_differences(stored, config.to_dict())
        if diff:
            return "conflict", (f"{out} holds a finished run with another setting {diff} (stored, asked); "
                                f"use another runs folder for this setting")
        try:                                                        # ran out of budget, more asked: go on
            return ("more epochs" if wants_more_epochs(out, config.epochs) else "done"), ""
        except FileNotFoundError as err:
            return "conflict", str(err)
    return ("partial" if (out / "checkpoint.pt").exists() else "todo"), ""


def _configs(specs, runs_dir: Path, engine: str, common: dict | None) -> tuple[list, list[TrainConfig], list[str]]:
    """The renamed specs, their configs and the notebook's parameters, every check a run makes first."""
    if engine not in ENGINES:
        raise ValueError(f"run_grid: engine must be 'papermill' or 'inline', got {engine!r}")
    specs = departure_names(specs, common)
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"run_grid: duplicate run names {dupes}")
    common = dict(common or {})
    configs = [resolve_config(s, runs_dir, common) for s in specs]
    params = notebook_parameters() if engine == "papermill" else []
    for config in configs if engine == "papermill" else []:
        papermill_parameters(config, runs_dir, params)               # unsupported fields fail before any run
    return specs, configs, params


def grid_status(specs: Sequence[RunSpec], runs_dir, epochs: int | None = None, common: dict | None = None,
                engine: str = "inline") -> pd.DataFrame:
    """What :func:`run_grid` would do, after the same checks (bad settings raise the same errors):
    one row per spec, ``name``, ``out_dir``, ``state`` (:func:`run_state`) and ``note``.

    ``common`` as in :func:`run_grid` (it may rename runs, see :func:`departure_names`); ``epochs``,
    if given, the budget asked (it replaces ``common``'s).
    """
    runs_dir = Path(runs_dir)
    common = {**(common or {}), **({} if epochs is None else {"epochs": epochs})}
    specs, configs, _ = _configs(specs, runs_dir, engine, common)
    rows = []
    for spec, config in zip(specs, configs):
        out = runs_dir / spec.name
        state, note = run_state(config, out)
        rows.append({"name": spec.name, "out_dir": str(out), "state": state, "note": note})
    return pd.DataFrame(rows, columns=["name", "out_dir", "state", "note"])


def execute(engine: str, config: TrainConfig, out: Path, params: list[str]) -> float:
    """Train one run (the inline code path or the notebook through papermill); returns its seconds."""
    t0 = time.perf_counter()
    if engine == "inline":
        from ..experiment import run_experiment
        run_experiment(config, levels=True)   # the paper's tables break runs down by level
    else:
        import papermill

        parameters = papermill_parameters(config, out, params)
        out.mkdir(parents=True, exist_ok=True)
        papermill.execute_notebook(str(experiment_notebook()), str(out / "04_train.ipynb"), parameters=parameters,
                                   cwd=str(Path.cwd()), progress_bar=False, log_output=False)
    return time.perf_counter() - t0


def _announcement(label: str, engine: str, out: Path) -> str:
    resumed = " (resuming from its checkpoint)" if (out / "checkpoint.pt").exists() else ""
    return f"{label}: running with {engine}{resumed}"


def run_grid(specs: Sequence[RunSpec], runs_dir, engine: str = "inline", common: dict | None = None,
             on_error: str = "raise", verbose: bool = True, jobs: int = 1) -> pd.DataFrame:
    """Run every spec into ``runs_dir/<name>``; skip finished ones, resume interrupted ones.

    ``common`` holds TrainConfig fields shared by all runs (epochs, device, lr, ...); every
    config is built and validated before anything runs. ``on_error="continue"`` records a failed
    run in the status table and goes on. ``jobs`` > 1 trains that many runs at once, each in its
    own process with ``cores // jobs`` torch threads (:mod:`.workers`); on a small CPU two
    one-thread runs finished 1.0-2x the runs per hour of one two-thread run, depending on the
    model and the day (reports/README.md, Speed). Stopping such a grid (Ctrl-C, SIGTERM, or its
    process killed outright), or a failed run with ``on_error="raise"``, stops the workers' runs
    too: each keeps its last finished epoch and the next call resumes it. The workers are spawned
    processes that re-import the caller's main module: from a script, call ``run_grid`` under
    ``if __name__ == "__main__":`` (without it every run fails with a message saying so).
    Returns the status table, in the order of ``specs``: ``name``, ``state`` (skipped | ran |
    failed), ``seconds``, ``error``.
    """
    if on_error not in ("raise", "continue"):
        raise ValueError(f"run_grid: on_error must be 'raise' or 'continue', got {on_error!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"run_grid: jobs must be a positive integer, got {jobs!r}")
    runs_dir = Path(runs_dir)
    specs, configs, params = _configs(specs, runs_dir, engine, common)   # every config checked up front
    rows: dict[int, dict] = {}
    todo: list[tuple[int, RunSpec, TrainConfig, Path]] = []
    for i, (spec, config) in enumerate(zip(specs, configs), 1):
        out = runs_dir / spec.name
        state, message = run_state(config, out)
        if state == "conflict":
            if on_error == "raise":
                raise ValueError(f"run_grid: {message}")
            rows[i] = {"name": spec.name, "state": "failed", "seconds": 0.0, "error": message[:300]}
            if verbose:
                print(f"[{i}/{len(specs)}] {spec.name}: {message}", flush=True)
        elif state == "done":
            rows[i] = {"name": spec.name, "state": "skipped", "seconds": 0.0, "error": ""}
            if verbose:
                print(f"[{i}/{len(specs)}] {spec.name}: done already, skipped", flush=True)
        else:
            todo.append((i, spec, config, out))

    def label(i, spec):
        return f"[{i}/{len(specs)}] {spec.name}"

    def failed(i, spec, err, seconds):
        if on_error == "raise":
            raise err
        rows[i] = {"name": spec.name, "state": "failed", "seconds": seconds,
                   "error": f"{type(err).__name__}: {err}".splitlines()[0][:300]}
        if not verbose:
            return
        if isinstance(err, EXPECTED_ERRORS):                           # bad input, NaN loss, disk full: one line
            print(f"error: {label(i, spec)}: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        else:
            traceback.print_exception(err)

    if jobs == 1 or len(todo) <= 1:
        for i, spec, config, out in todo:
            if verbose:
                print(_announcement(label(i, spec), engine, out), flush=True)
            t0 = time.perf_counter()
            try:
                rows[i] = {"name": spec.name, "state": "ran", "seconds": execute(engine, config, out, params),
                           "error": ""}
            except Exception as err:                                   # noqa: BLE001 - reported or re-raised
                failed(i, spec, err, time.perf_counter() - t0)
    else:
        _run_pool(todo, jobs, engine, params, rows, label, failed, verbose)
    return pd.DataFrame([rows[i] for i in sorted(rows)], columns=["name", "state", "seconds", "error"])


def _run_pool(todo, jobs: int, engine: str, params, rows: dict, label, failed, verbose: bool) -> None:
    """The runs of ``todo`` in ``jobs`` worker processes (:mod:`.workers`), their rows into ``rows``."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool
    threads = max(1, workers.usable_cores() // jobs)
    before = set(multiprocessing.active_children())
    with workers.sigterm_raises(), ProcessPoolExecutor(
            max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
            initializer=workers.init_worker, initargs=(threads, os.getpid())) as pool:
        pending = {}
        for i, spec, config, out in todo:                 # each worker announces its run when it starts
            announce = _announcement(label(i, spec), engine, out) if verbose else None
            future = pool.submit(workers.run_in_worker, execute, engine, config, out, params, announce=announce)
            pending[future] = (i, spec, time.perf_counter())
        if verbose:
            each = f"{threads} thread{'s' * (threads > 1)} each"
            print(f"{len(todo)} runs queued for {jobs} worker processes ({each})", flush=True)
        spawned = set(multiprocessing.active_children()) - before   # spawned by the submits above
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    i, spec, t0 = pending.pop(future)
                    try:
                        rows[i] = {"name": spec.name, "state": "ran", "seconds": future.result(), "error": ""}
                        if verbose:
                            print(f"{label(i, spec)}: finished in {rows[i]['seconds']:.0f} s", flush=True)
                    except BrokenProcessPool as err:
                        failed(i, spec, BrokenProcessPool(f"{workers.BROKEN_POOL_HINT} ({err})"),
                               time.perf_counter() - t0)
                    except Exception as err:                       # noqa: BLE001 - reported or re-raised
                        failed(i, spec, err, time.perf_counter() - t0)
        except BaseException:                                      # Ctrl-C, SIGTERM, a failed run
            # each worker unwinds its run and exits (resumable); the pool then fails the queued runs.
            # Queued futures are not cancelled: Python 3.11's pool raises InvalidStateError in its
            # thread when it fails a cancelled future
            for worker in spawned:
                worker.terminate()
            if verbose:
                print(f"grid stopped: {len(pending)} runs unfinished; the same call resumes them from their "
                      f"last finished epoch", flush=True)
            raise
