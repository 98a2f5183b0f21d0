"""Reproduce the paper's experiments (paper §5; method.md §10–§12): grids, runner, collection, reports.

    specs = table1(["beauty"], ["sasrec", "gru4rec"], seeds=[1, 2, 3])   # RunSpec(name, overrides)
    status = run_grid(specs, "runs/reproduce", engine="papermill", common={"device": "cuda"})
    df = collect("runs/reproduce")                                        # one row per finished run
    write_reports(df, "reports")                                          # CSV + markdown (+ Fig. 3 PNG)

Run names are ``<dataset>/<model>/seed<s>``, e.g. ``beauty/sasrec+srsupm/seed1``;
``<model>`` is the backbone, ``+srsupm``, then the changes from the default setting in a fixed
order: ``-wo-pmsid-pmsim`` (ablation switches off), ``-K3``, ``-noise0.1``. The grids therefore
share runs: Table 1's ``sasrec+srsupm`` is also Table 3's "SRSUPM" row, Table 4's p = 0 and
Fig. 3's K = 5.

``run_grid`` writes each run into ``runs_dir/<name>``; a run whose ``results.json`` exists is
skipped, an interrupted one continues from its checkpoint (``resume=True``). Engine
``"papermill"`` executes ``notebooks/04_train.ipynb`` (the executed notebook is kept in the run
folder as ``04_train.ipynb``); ``"inline"`` calls :func:`run_experiment` directly — the
notebook calls the same function, so both give the same ``results.json``.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import threading
import time
import traceback
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

import numpy as np
import pandas as pd

from . import paper
from .config import TrainConfig
from .experiment import (RANKS_FILE, SRSUPM_ONLY, can_measure, config_differences, stored_defaults,
                         wants_more_epochs)
from .trainer import atomic_write

__all__ = ["RunSpec", "table1", "TABLE3_ROWS", "PAPER_TABLE3_ROWS", "CONTROL_ABLATIONS", "ABLATIONS", "table3",
           "table4", "fig3", "SWEEP_BACKBONES", "TABLE4_PS", "FIG3_KS", "GRIDS", "build_grid", "run_grid",
           "grid_status", "departure_names", "collect", "summarise", "paper_model", "table1_report",
           "significance_report", "ablation_significance_report", "ablation_backbone_significance_report",
           "departure_significance_report",
           "sweep_significance_report", "table3_report", "table4_report", "fig3_report",
           "write_reports", "NOTEBOOK", "SWITCHES"]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "04_train.ipynb"
SWITCHES = ("pmsid", "pmsim", "pmi", "priors")
METRICS = paper.METRICS
DEFAULT_K = 5
PAPER_DATASETS = ("beauty", "sports", "yelp")
# keys a grid sets in its specs; `common` may not set them
GRID_KEYS = ("dataset", "backbone", "srsupm", "seed", "K", "noise_p", *SWITCHES)


class RunSpec(NamedTuple):
    """One run of a grid: its folder name under ``runs_dir`` and its TrainConfig overrides."""
    name: str
    overrides: dict


# ----------------------------------------------------------------------------- grids
def _check_datasets(datasets) -> list[str]:
    from .data.loaders import KNOWN_DATASETS
    datasets = [datasets] if isinstance(datasets, str) else list(datasets)
    if not datasets:
        raise ValueError("reproduce: give at least one dataset")
    out = []
    for ds in datasets:
        if not isinstance(ds, str):
            raise ValueError(f"reproduce: dataset names are strings, got {ds!r}")
        if ds.lower() in KNOWN_DATASETS:
            out.append(ds.lower())
        elif Path(ds).expanduser().is_dir():
            out.append(ds)
        else:
            raise ValueError(f"reproduce: unknown dataset {ds!r}; known datasets are {list(KNOWN_DATASETS)} "
                             f"(or an existing folder in the S3-Rec layout)")
    return out


def _check_backbones(backbones) -> list[str]:
    from .backbones import BACKBONES
    backbones = [backbones] if isinstance(backbones, str) else list(backbones)
    if not backbones:
        raise ValueError("reproduce: give at least one backbone")
    bad = [b for b in backbones if not isinstance(b, str) or b.lower() not in BACKBONES]
    if bad:
        raise ValueError(f"reproduce: unknown backbone(s) {bad}; known backbones are {list(BACKBONES)}")
    return [b.lower() for b in backbones]


def _check_seeds(seeds) -> list[int]:
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in seeds):
        raise ValueError(f"reproduce: seeds must be a non-empty list of integers >= 0, got {seeds!r}")
    return [int(s) for s in seeds]


def _slug(dataset: str) -> str:
    """A filesystem-safe name for a dataset (a folder path gives its last part)."""
    name = Path(dataset).name if ("/" in dataset or "\\" in dataset) else dataset
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name.lower()).strip("-.") or "dataset"


def run_name(dataset: str, backbone: str, srsupm: bool, seed: int, K: int = DEFAULT_K, noise_p: float = 0.0,
             off: Sequence[str] = ()) -> str:
    """``<dataset>/<backbone>[+srsupm][-wo-...][-K<k>][-noise<p>]/seed<s>`` (see the module doc)."""
    model = backbone + ("+srsupm" if srsupm else "")
    off = [s for s in SWITCHES if s in set(off)]
    if off:
        model += "-wo-" + "-".join(off)
    if K != DEFAULT_K:
        model += f"-K{K}"
    if noise_p:
        model += f"-noise{noise_p:g}"
    return f"{_slug(dataset)}/{model}/seed{seed}"


def _spec(dataset, backbone, srsupm, seed, **extra) -> RunSpec:
    off = [s for s in SWITCHES if extra.get(s) is False]
    name = run_name(dataset, backbone, srsupm, seed, K=extra.get("K", DEFAULT_K), noise_p=extra.get("noise_p", 0.0),
                    off=off)
    return RunSpec(name, {"dataset": dataset, "backbone": backbone, "srsupm": srsupm, "seed": seed, **extra})


TABLE1_VARIANTS = ("backbone", "srsupm")


def table1(datasets, backbones, seeds, variants: Sequence[str] = TABLE1_VARIANTS) -> list[RunSpec]:
    """Table 1: every backbone alone and with SRSUPM, on every dataset, for every seed.

    ``variants`` picks the halves of the grid: ``("backbone",)`` trains the backbones alone only,
    ``("srsupm",)`` only their +SRSUPM counterparts.
    """
    datasets, backbones, seeds = _check_datasets(datasets), _check_backbones(backbones), _check_seeds(seeds)
    variants = list(variants)
    unknown = sorted(set(variants) - set(TABLE1_VARIANTS))
    if unknown or not variants:
        raise ValueError(f"reproduce: table1 variants must be among {list(TABLE1_VARIANTS)}, got {variants}")
    plugs = [plug for plug, name in zip((False, True), TABLE1_VARIANTS) if name in variants]
    return [_spec(ds, bb, plug, s) for ds in datasets for bb in backbones for plug in plugs for s in seeds]


#: A control the paper does not run: the K SIC branches and their priors with mean pooling, no
#: shift supervision (PMSID, PMSIM) and no per-item mixture (PMI): what the added layers alone do.
CONTROL_ABLATIONS = {"w/o PMSID & PMSIM & PMI": {"pmsid": False, "pmsim": False, "pmi": False}}
#: Table 3's rows by their command-line name, in the paper's order, then the control (values:
#: ``paper.ABLATIONS`` and ``CONTROL_ABLATIONS`` keys). The row ``sasrec`` is the backbone alone
#: (the paper's backbone); ``backbone`` is accepted for it too.
TABLE3_ROWS = {"sasrec": "SASRec", "wo-pmsid-pmsim": "w/o PMSID & PMSIM", "wo-pmsim": "w/o PMSIM",
               "wo-pmsid": "w/o PMSID", "wo-pmi": "w/o PMI", "srsupm": "SRSUPM",
               "wo-pmsid-pmsim-pmi": "w/o PMSID & PMSIM & PMI"}
#: the rows a table3 grid runs by default: the paper's six
PAPER_TABLE3_ROWS = tuple(r for r, name in TABLE3_ROWS.items() if name in paper.ABLATIONS)
ABLATIONS = {**paper.ABLATIONS, **CONTROL_ABLATIONS}

#: The paper runs Tables 3 and 4 and Fig. 3 on SASRec; ``backbones`` runs them on others too.
SWEEP_BACKBONES = ("sasrec",)
#: The paper's label-noise levels (Table 4) and numbers of shift levels (Fig. 3)
TABLE4_PS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
FIG3_KS = (3, 4, 5, 6, 7)


def table3(datasets, seeds, rows: Sequence[str] = PAPER_TABLE3_ROWS,
           backbones: Sequence[str] = SWEEP_BACKBONES) -> list[RunSpec]:
    """Table 3: the ablation rows of ``paper.ABLATIONS`` (None = the backbone alone), on SASRec
    as in the paper, or on each of ``backbones``; the row ``wo-pmsid-pmsim-pmi`` adds our control
    (``CONTROL_ABLATIONS``).

    ``rows`` picks rows by their ``TABLE3_ROWS`` name and runs them in the order given, e.g.
    ``("wo-pmi", "wo-pmsim")`` runs the two cheaper ablations first; ``backbone`` names the row
    ``sasrec`` (the backbone alone) whatever the backbone.
    """
    datasets, seeds, backbones = _check_datasets(datasets), _check_seeds(seeds), _check_backbones(backbones)
    rows = ["sasrec" if r == "backbone" else r for r in rows]
    unknown = [r for r in rows if r not in TABLE3_ROWS]
    if unknown or not rows or len(set(rows)) != len(rows):
        raise ValueError(f"reproduce: table3 rows must be distinct names among {list(TABLE3_ROWS)} "
                         f"('backbone' for 'sasrec'), got {rows}")
    specs = []
    for ds in datasets:
        for bb in backbones:
            for row in rows:
                switches = ABLATIONS[TABLE3_ROWS[row]]
                for s in seeds:
                    specs.append(_spec(ds, bb, False, s) if switches is None else _spec(ds, bb, True, s, **switches))
    return specs


def table4(datasets, seeds, ps: Iterable[float] = TABLE4_PS,
           backbones: Sequence[str] = SWEEP_BACKBONES) -> list[RunSpec]:
    """Table 4: SASRec+SRSUPM (or each of ``backbones`` +SRSUPM) with label noise p on the training supervision."""
    datasets, seeds, backbones = _check_datasets(datasets), _check_seeds(seeds), _check_backbones(backbones)
    ps = [float(p) for p in ps]
    bad = [p for p in ps if not 0.0 <= p <= 1.0]
    if bad or not ps:
        raise ValueError(f"reproduce: noise levels must lie in [0, 1], got {ps}")
    return [_spec(ds, bb, True, s, noise_p=p) for ds in datasets for bb in backbones for p in ps for s in seeds]


def fig3(datasets, seeds, Ks: Iterable[int] = FIG3_KS,
         backbones: Sequence[str] = SWEEP_BACKBONES) -> list[RunSpec]:
    """Fig. 3: SASRec+SRSUPM (or each of ``backbones`` +SRSUPM) for each number of shift levels K."""
    datasets, seeds, backbones = _check_datasets(datasets), _check_seeds(seeds), _check_backbones(backbones)
    Ks = list(Ks)
    if not Ks or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 3 for k in Ks):
        raise ValueError(f"reproduce: K values must be integers >= 3, got {Ks}")
    return [_spec(ds, bb, True, s, K=int(k)) for ds in datasets for bb in backbones for k in Ks for s in seeds]


GRIDS = {"table1": table1, "table3": table3, "table4": table4, "fig3": fig3}


def build_grid(grid: str, datasets, seeds, backbones=None, ps=None, Ks=None, variants=None,
               rows=None) -> list[RunSpec]:
    """The specs of one named grid (the CLI's ``--grid``); unknown names raise with the list."""
    if grid not in GRIDS:
        raise ValueError(f"reproduce: unknown grid {grid!r}; choose one of {list(GRIDS)} (or table2, the inference timings)")
    if variants and grid != "table1":
        raise ValueError(f"reproduce: variants choose the halves of table1 only, not of {grid}")
    if rows and grid != "table3":
        raise ValueError(f"reproduce: ablation rows choose the rows of table3 only, not of {grid}")
    if grid == "table1":
        return table1(datasets, backbones or ["gru4rec", "sasrec", "caser", "bert4rec", "lightsans"], seeds,
                      variants or TABLE1_VARIANTS)
    backbones = backbones or SWEEP_BACKBONES
    if grid == "table3":
        return table3(datasets, seeds, rows or PAPER_TABLE3_ROWS, backbones)
    if grid == "table4":
        return table4(datasets, seeds, ps or TABLE4_PS, backbones)
    return fig3(datasets, seeds, Ks or FIG3_KS, backbones)


# ----------------------------------------------------------------------------- running
def _notebook_parameters() -> list[str]:
    """The parameters papermill sees in ``04_train`` (its cell tagged ``parameters``)."""
    import papermill
    return list(papermill.inspect_notebook(str(NOTEBOOK)))


def departure_names(specs: Sequence[RunSpec], common: dict | None) -> list[RunSpec]:
    """The specs, with SRSUPM runs renamed when ``common`` departs from the paper's model.

    ``level_temperature="learned"`` turns ``beauty/sasrec+srsupm/seed1`` into
    ``beauty/sasrec+srsupm-temperature-learned/seed1``, so the departure and the paper's model
    live side by side in one ``runs_dir`` (backbone-alone runs are the same run for both and keep
    their name). Applying it twice changes nothing.
    """
    mode = (common or {}).get("level_temperature", "fixed")
    if mode == "fixed":
        return list(specs)
    suffix = f"-temperature-{mode}"
    renamed = []
    for spec in specs:
        dataset, model, seed = spec.name.split("/")
        if spec.overrides.get("srsupm") and not model.endswith(suffix):
            spec = RunSpec(f"{dataset}/{model}{suffix}/{seed}", spec.overrides)
        renamed.append(spec)
    return renamed


def _resolve(spec: RunSpec, runs_dir: Path, common: dict) -> TrainConfig:
    clash = sorted(set(common) & set(spec.overrides))
    if clash:
        raise ValueError(f"run_grid: common sets {clash}, which the grid sets per run; drop them from common")
    for key in ("out_dir", "resume"):
        if key in common:
            raise ValueError(f"run_grid: common may not set {key!r} (run_grid sets it)")
    values = {"progress": False, **common, **spec.overrides, "out_dir": str(runs_dir / spec.name), "resume": True}
    return TrainConfig.from_dict(values)


def grid_status(specs: Sequence[RunSpec], runs_dir, epochs: int | None = None,
                common: dict | None = None) -> pd.DataFrame:
    """One row per spec: ``name``, ``out_dir`` and ``state`` (done | partial | todo).

    With ``epochs`` (the budget a run would be asked for), a finished run that stopped at a
    smaller budget and can go on from its checkpoint is ``more epochs`` instead of ``done``.
    ``common`` as in :func:`run_grid` (it may rename runs, see :func:`departure_names`).
    """
    runs_dir = Path(runs_dir)
    specs = departure_names(specs, common)
    rows = []
    for spec in specs:
        out = runs_dir / spec.name
        state = "done" if (out / "results.json").exists() else "partial" if (out / "checkpoint.pt").exists() \
            else "todo"
        if state == "done" and epochs is not None and (out / "checkpoint.pt").exists() \
                and wants_more_epochs(out, epochs):
            state = "more epochs"
        rows.append({"name": spec.name, "out_dir": str(out), "state": state})
    return pd.DataFrame(rows, columns=["name", "out_dir", "state"])


def _papermill_parameters(config: TrainConfig, out: Path, params: list[str]) -> dict:
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


def _run_papermill(config: TrainConfig, out: Path, params: list[str]) -> None:
    import papermill

    parameters = _papermill_parameters(config, out, params)
    out.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(str(NOTEBOOK), str(out / "04_train.ipynb"), parameters=parameters,
                               cwd=str(Path.cwd()), progress_bar=False, log_output=False)


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                                             # not on Linux
        return os.cpu_count() or 1


class _GridStopped(BaseException):
    """Raised inside a ``--jobs`` worker when its grid is stopped (SIGTERM, or its parent is gone)."""


_WORKER_BUSY = False                  # a worker is inside a run: SIGTERM unwinds it instead of exiting at once
_WATCH_SECONDS = 0.5                  # how often a worker checks that its parent is still there


def _stop_worker(signum, frame) -> None:
    if _WORKER_BUSY:
        raise _GridStopped(signum)
    os._exit(128 + signum)


def _watch_parent(parent: int) -> None:
    """Send this worker SIGTERM once the process that started it has gone (killed, even with SIGKILL):
    an orphaned worker would otherwise go on training, and a later grid would write the same run
    folder at the same time."""
    while os.getppid() == parent:
        time.sleep(_WATCH_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)


def _init_worker(threads: int, parent: int) -> None:
    """A ``--jobs`` worker: its runs (and a papermill kernel it starts) use ``threads`` CPU threads;
    it stops its run (SIGTERM) and exits when the grid that started it stops or dies."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch
    torch.set_num_threads(threads)
    signal.signal(signal.SIGTERM, _stop_worker)
    signal.signal(signal.SIGINT, _stop_worker)                        # Ctrl-C reaches the whole process group
    threading.Thread(target=_watch_parent, args=(parent,), name="watch-grid", daemon=True).start()


def _execute_in_worker(engine: str, config: TrainConfig, out: Path, params: list[str],
                       label: str | None = None) -> float:
    """:func:`_execute` in a ``--jobs`` worker, announced as ``label`` (if given) when it starts. A
    stop unwinds the run first (its files are written atomically, so its folder holds the last
    finished epoch; papermill shuts its kernel down), then the worker exits: the next grid resumes
    the run from its checkpoint."""
    global _WORKER_BUSY
    _WORKER_BUSY = True
    if label:
        print(_announcement(label, engine, out), flush=True)
    try:
        return _execute(engine, config, out, params)
    except _GridStopped as stop:
        os._exit(128 + stop.args[0])
    finally:
        _WORKER_BUSY = False


def _announcement(label: str, engine: str, out: Path) -> str:
    resumed = " (resuming from its checkpoint)" if (out / "checkpoint.pt").exists() else ""
    return f"{label}: running with {engine}{resumed}"


#: what a worker that died before its run usually means (spawn re-imports the caller's script)
_BROKEN_POOL_HINT = ("a --jobs worker process died. Called from a script? Worker processes are spawned and "
                     "re-import it: put the run_grid call under `if __name__ == \"__main__\":`")


def _raise_system_exit(signum, frame) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _sigterm_raises():
    """While a ``--jobs`` grid runs in the main thread, SIGTERM to its process raises SystemExit,
    so that the grid stops its workers (below) before it exits, as on Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():     # signals go to the main thread only
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_system_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _execute(engine: str, config: TrainConfig, out: Path, params: list[str]) -> float:
    """Train one run (the inline code path or the notebook through papermill); returns its seconds."""
    t0 = time.perf_counter()
    if engine == "inline":
        from .experiment import run_experiment
        run_experiment(config)
    else:
        _run_papermill(config, out, params)
    return time.perf_counter() - t0


def run_grid(specs: Sequence[RunSpec], runs_dir, engine: str = "papermill", common: dict | None = None,
             on_error: str = "raise", verbose: bool = True, jobs: int = 1) -> pd.DataFrame:
    """Run every spec into ``runs_dir/<name>``; skip finished ones, resume interrupted ones.

    ``common`` holds TrainConfig fields shared by all runs (epochs, device, lr, ...); every
    config is built and validated before anything runs. ``on_error="continue"`` records a failed
    run in the status table and goes on. ``jobs`` > 1 trains that many runs at once, each in its
    own process with ``cores // jobs`` torch threads; on a small CPU two one-thread runs finished
    1.0-2x the runs per hour of one two-thread run, depending on the model and the day
    (reports/README.md, Speed). Stopping such a grid (Ctrl-C, SIGTERM, or its process
    killed outright), or a failed run with ``on_error="raise"``, stops the workers' runs too: each
    keeps its last finished epoch and the next call resumes it. The workers are spawned processes
    that re-import the caller's main module: from a script, call ``run_grid`` under
    ``if __name__ == "__main__":`` (without it every run fails with a message saying so).
    Returns the status table, in the order of ``specs``: ``name``, ``state`` (skipped | ran |
    failed), ``seconds``, ``error``.
    """
    if engine not in ("papermill", "inline"):
        raise ValueError(f"run_grid: engine must be 'papermill' or 'inline', got {engine!r}")
    if on_error not in ("raise", "continue"):
        raise ValueError(f"run_grid: on_error must be 'raise' or 'continue', got {on_error!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"run_grid: jobs must be a positive integer, got {jobs!r}")
    specs = departure_names(specs, common)
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"run_grid: duplicate run names {dupes}")
    runs_dir = Path(runs_dir)
    common = dict(common or {})
    configs = [_resolve(s, runs_dir, common) for s in specs]          # every config checked up front
    params = _notebook_parameters() if engine == "papermill" else []
    for config in configs if engine == "papermill" else []:
        _papermill_parameters(config, runs_dir, params)                 # unsupported fields fail before any run
    rows: dict[int, dict] = {}
    todo: list[tuple[int, RunSpec, TrainConfig, Path]] = []
    for i, (spec, config) in enumerate(zip(specs, configs), 1):
        out = runs_dir / spec.name
        if (out / "results.json").exists():
            stored = json.loads((out / "results.json").read_text(encoding="utf-8"))["config"]
            diff = config_differences(stored, config.to_dict())
            message = (f"{out} holds a finished run with another setting {diff} (stored, asked); "
                       f"use another runs folder for this setting") if diff else ""
            try:                                                        # ran out of budget, more asked: go on
                extend = not diff and wants_more_epochs(out, config.epochs)
            except FileNotFoundError as err:
                extend, message = False, str(err)
            if message:
                if on_error == "raise":
                    raise ValueError(f"run_grid: {message}")
                rows[i] = {"name": spec.name, "state": "failed", "seconds": 0.0, "error": message[:300]}
                if verbose:
                    print(f"[{i}/{len(specs)}] {spec.name}: {message}", flush=True)
                continue
            if not extend:
                rows[i] = {"name": spec.name, "state": "skipped", "seconds": 0.0, "error": ""}
                if verbose:
                    print(f"[{i}/{len(specs)}] {spec.name}: done already, skipped", flush=True)
                continue
        todo.append((i, spec, config, out))

    def label(i, spec):
        return f"[{i}/{len(specs)}] {spec.name}"

    def failed(i, spec, err, seconds):
        if on_error == "raise":
            raise err
        rows[i] = {"name": spec.name, "state": "failed", "seconds": seconds,
                   "error": f"{type(err).__name__}: {err}".splitlines()[0][:300]}
        if verbose:
            traceback.print_exception(err)

    if jobs == 1 or len(todo) <= 1:
        for i, spec, config, out in todo:
            if verbose:
                print(_announcement(label(i, spec), engine, out), flush=True)
            t0 = time.perf_counter()
            try:
                rows[i] = {"name": spec.name, "state": "ran", "seconds": _execute(engine, config, out, params),
                           "error": ""}
            except Exception as err:                                   # noqa: BLE001 - reported or re-raised
                failed(i, spec, err, time.perf_counter() - t0)
    else:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool
        threads = max(1, _usable_cores() // jobs)
        before = set(multiprocessing.active_children())
        with _sigterm_raises(), ProcessPoolExecutor(
                max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(threads, os.getpid())) as pool:
            pending = {}
            for i, spec, config, out in todo:                 # each worker announces its run when it starts
                pending[pool.submit(_execute_in_worker, engine, config, out, params,
                                    label(i, spec) if verbose else None)] = (i, spec, time.perf_counter())
            if verbose:
                each = f"{threads} thread{'s' * (threads > 1)} each"
                print(f"{len(todo)} runs queued for {jobs} worker processes ({each})", flush=True)
            workers = set(multiprocessing.active_children()) - before   # spawned by the submits above
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
                            failed(i, spec, BrokenProcessPool(f"{_BROKEN_POOL_HINT} ({err})"),
                                   time.perf_counter() - t0)
                        except Exception as err:                       # noqa: BLE001 - reported or re-raised
                            failed(i, spec, err, time.perf_counter() - t0)
            except BaseException:                                      # Ctrl-C, SIGTERM, a failed run
                # each worker unwinds its run and exits (resumable); the pool then fails the queued runs.
                # Queued futures are not cancelled: Python 3.11's pool raises InvalidStateError in its
                # thread when it fails a cancelled future
                for worker in workers:
                    worker.terminate()
                if verbose:
                    print(f"grid stopped: {len(pending)} runs unfinished; the same call resumes them from their "
                          f"last finished epoch", flush=True)
                raise
    return pd.DataFrame([rows[i] for i in sorted(rows)], columns=["name", "state", "seconds", "error"])


# ----------------------------------------------------------------------------- collecting
def _srsupm_setting(cfg: dict, name: str):
    """An SRSUPM setting of a stored config: NaN for a backbone alone; numbers as floats, words
    (``level_temperature``) as they are."""
    if not cfg["srsupm"]:
        return np.nan
    return cfg[name] if isinstance(cfg[name], str) else float(cfg[name])


def collect(runs_dir) -> pd.DataFrame:
    """One row per finished run under ``runs_dir`` (any depth): config, metrics, timings, device."""
    runs_dir = Path(runs_dir)
    defaults = stored_defaults()
    rows = []
    for path in sorted(runs_dir.rglob("results.json")):
        res = json.loads(path.read_text(encoding="utf-8"))
        cfg = {**defaults, **res["config"]}             # a config older than a field: its default
        overall = next((r for r in res.get("test") or [] if str(r.get("level")) == "all"), {})
        env = res.get("environment", {})
        rows.append({
            "run": path.parent.relative_to(runs_dir).as_posix(),
            "dataset": _slug(cfg["dataset"]), "backbone": cfg["backbone"], "srsupm": bool(cfg["srsupm"]),
            **{s: bool(cfg[s]) for s in SWITCHES}, "K": int(cfg["K"]), "noise_p": float(cfg["noise_p"]),
            "seed": int(cfg["seed"]),
            **{w: _srsupm_setting(cfg, w) for w in SRSUPM_ONLY},
            "lr": float(cfg["lr"]), "batch_size": int(cfg["batch_size"]), "epochs": int(cfg["epochs"]),
            **{m: overall.get(m, np.nan) for m in METRICS},
            "best_epoch": res.get("best_epoch"), "epochs_run": res.get("epochs_run"),
            "seconds_per_epoch": res.get("timings", {}).get("seconds_per_epoch"),
            "device": env.get("device_name", env.get("device")),
        })
    cols = ["run", "dataset", "backbone", "srsupm", *SWITCHES, "K", "noise_p", "seed", *SRSUPM_ONLY, "lr",
            "batch_size", "epochs", *METRICS,
            "best_epoch", "epochs_run", "seconds_per_epoch", "device"]
    return pd.DataFrame(rows, columns=cols)


# ----------------------------------------------------------------------------- reports
def summarise(df: pd.DataFrame, by: Sequence[str], metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Mean, sample standard deviation (ddof=1; NaN for one seed) and number of seeds per group."""
    g = df.groupby(list(by), sort=False, dropna=False)
    out = g.size().rename("seeds").to_frame()
    for m in metrics:
        out[f"{m}_mean"] = g[m].mean()
        out[f"{m}_sd"] = g[m].std(ddof=1)
    return out.reset_index()


def _cell(mean, sd) -> str:
    if mean is None or not np.isfinite(mean):
        return ""
    return f"{mean:.4f}" if sd is None or not np.isfinite(sd) else f"{mean:.4f} ± {sd:.4f}"


def _fmt(v) -> str:
    return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.4f}"


def _gain(a, b) -> float:
    return (b - a) / a if a is not None and b is not None and np.isfinite(a) and np.isfinite(b) and a != 0 \
        else float("nan")


def paper_model(df: pd.DataFrame) -> pd.Series:
    """Runs of the paper's model: backbones alone, and SRSUPM with the paper's 1/√d level softmaxes.

    Runs of a departure (``level_temperature="learned"``) stay in ``runs.csv`` and get a section
    of their own in ``reproduction.md``, never a place in the paper's tables, significance or figures.
    """
    if "level_temperature" not in df:
        return pd.Series(True, index=df.index)
    return ~df["srsupm"].astype(bool) | df["level_temperature"].fillna("fixed").eq("fixed")


def _full_srsupm(df: pd.DataFrame) -> pd.Series:
    """+SRSUPM runs with every part switched on (any K, any label noise)."""
    return df["srsupm"].astype(bool) & df[list(SWITCHES)].all(axis=1)


def _ablated(df: pd.DataFrame) -> pd.Series:
    """+SRSUPM runs with some part switched off (Table 3's ablations and the control)."""
    return df["srsupm"].astype(bool) & ~df[list(SWITCHES)].all(axis=1)


def _is_default(df: pd.DataFrame) -> pd.Series:
    """Runs in the default setting: all ablation switches on, K = 5, no label noise."""
    return df[list(SWITCHES)].all(axis=1) & (df["K"] == DEFAULT_K) & (df["noise_p"] == 0)


def table1_report(df: pd.DataFrame) -> pd.DataFrame:
    """Table 1: one row per (dataset, backbone, srsupm, metric): mean, sd, seeds, paper, gain of +SRSUPM."""
    sub = df[_is_default(df)]
    if sub.empty:
        return pd.DataFrame()
    s = summarise(sub, ["dataset", "backbone", "srsupm"])
    rows = []
    for _, r in s.iterrows():
        for m in METRICS:
            rows.append({"dataset": r["dataset"], "backbone": r["backbone"], "srsupm": bool(r["srsupm"]), "metric": m,
                         "mean": r[f"{m}_mean"], "sd": r[f"{m}_sd"], "seeds": int(r["seeds"]),
                         "paper": paper.paper_value(r["dataset"], r["backbone"], bool(r["srsupm"]), m)})
    t = pd.DataFrame(rows)
    base = t[~t["srsupm"]].set_index(["dataset", "backbone", "metric"])
    t["gain"] = [(_gain(base.loc[(d, b, m), "mean"], v) if plug and (d, b, m) in base.index else np.nan)
                 for d, b, m, plug, v in zip(t["dataset"], t["backbone"], t["metric"], t["srsupm"], t["mean"])]
    t["paper_gain"] = [(_gain(paper.paper_value(d, b, False, m), p) if plug else np.nan)
                       for d, b, m, plug, p in zip(t["dataset"], t["backbone"], t["metric"], t["srsupm"], t["paper"])]
    t["paper"] = t["paper"].astype(float)
    return t.sort_values(["dataset", "backbone", "srsupm"], kind="stable").reset_index(drop=True)


def _compare(df: pd.DataFrame, runs_dir, runs_a: Sequence[str], runs_b: Sequence[str],
             previous: pd.DataFrame | None, key: dict, n_boot: int, device) -> pd.DataFrame | None:
    """:func:`significance.compare_runs` of two models' runs (one per seed, several when pooled), or,
    when their ranks are gone (run folders kept without ``test_ranks.csv`` and checkpoint), the rows
    of ``previous`` (the last report) for ``key`` provided their means are still the runs' stored
    metrics (averaged over the seeds); None when neither is possible."""
    from .significance import compare_runs
    if all(can_measure(Path(runs_dir) / run, RANKS_FILE) for run in (*runs_a, *runs_b)):
        t = compare_runs([Path(runs_dir) / r for r in runs_a], [Path(runs_dir) / r for r in runs_b],
                         device=device, n_boot=n_boot)
        for col, value in reversed(key.items()):
            t.insert(0, col, value)
        return t
    if previous is None or previous.empty or not set(key) <= set(previous.columns):
        return None
    rows = previous.loc[np.logical_and.reduce([previous[c].astype(str) == str(v) for c, v in key.items()])]
    metrics = df.set_index("run")
    same = len(rows) > 0 and all(
        math.isclose(float(r["a"]), float(metrics.loc[list(runs_a), r["metric"]].mean()), abs_tol=1e-6)
        and math.isclose(float(r["b"]), float(metrics.loc[list(runs_b), r["metric"]].mean()), abs_tol=1e-6)
        for _, r in rows.iterrows())
    return rows.reset_index(drop=True) if same else None


POOLED_NOTE = ("A seed written `1+2+3` pools those seeds: each test user's metric is averaged over the "
               "model's runs, then the users are resampled; the interval reflects the test users, with each "
               "model's training noise averaged over its seeds.")


def _compare_pairs(df: pd.DataFrame, runs_dir, pairs: list[tuple[dict, str, str]], previous, n_boot: int,
                   device) -> pd.DataFrame:
    """Rows of :func:`_compare` for each pair ``(key, run_a, run_b)`` (``key`` ends with its ``seed``)
    and, after the seeds of a key that has several, one pooled over them: seed ``"1+2+3"``, each
    user's metric averaged over the model's seeds (:func:`srsupm_lab.significance.paired_bootstrap`).
    When some seeds' ranks are gone and the last report has no pooled row for them all, the pooled
    row covers the seeds whose ranks are there (``"2+3"``), if several."""
    groups: dict[tuple, list[tuple[dict, str, str]]] = {}
    for key, a, b in pairs:
        groups.setdefault(tuple((c, str(v)) for c, v in key.items() if c != "seed"), []).append((key, a, b))
    parts = []
    for members in groups.values():
        done = []
        for key, a, b in sorted(members, key=lambda m: m[0]["seed"]):
            t = _compare(df, runs_dir, [a], [b], previous, key, n_boot, device)
            if t is not None:
                parts.append(t)
                done.append((key, a, b))
        # pooled over every seed shown (by ranks, or the last report's row); else over the seeds
        # whose ranks are still there, when those are several (older runs kept without ranks)
        measured = [m for m in done if all(can_measure(Path(runs_dir) / r, RANKS_FILE) for r in m[1:])]
        for seeds in (done, measured):                 # the second is tried only when the first fails
            if len(seeds) < 2:
                continue
            pooled = {**seeds[0][0], "seed": "+".join(str(k["seed"]) for k, _, _ in seeds)}
            t = _compare(df, runs_dir, [a for _, a, _ in seeds], [b for _, _, b in seeds], previous, pooled,
                         n_boot, device)
            if t is not None:
                parts.append(t)
                break
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    out["seed"] = out["seed"].astype(str)                    # seeds, and "1+2" for the pooled rows
    return out


def significance_report(df: pd.DataFrame, runs_dir, n_boot: int = 2000, device="cpu",
                        previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """+SRSUPM against its backbone alone, paired by (dataset, backbone, seed), on the same test users.

    Default-setting runs only; both runs' per-user test ranks (``test_ranks.csv``, else re-scored
    from the best checkpoints) go to :func:`srsupm_lab.significance.compare_runs`. One row per
    (dataset, backbone, seed, metric) with the gain, its paired-bootstrap 95 % interval and
    p-value. A pair whose ranks are gone keeps its rows of ``previous`` (the last
    ``significance.csv``) when those still match the runs' metrics, and is left out otherwise.
    """
    sub = df[_is_default(df)] if len(df) else df
    pairs = []
    for (ds, bb, seed), g in sub.groupby(["dataset", "backbone", "seed"], sort=True):
        if set(g["srsupm"]) != {False, True}:
            continue
        a, b = g.loc[~g["srsupm"], "run"].iloc[0], g.loc[g["srsupm"], "run"].iloc[0]
        pairs.append(({"dataset": ds, "backbone": bb, "seed": seed}, a, b))
    return _compare_pairs(df, runs_dir, pairs, previous, n_boot, device)


def _reference_runs(df: pd.DataFrame, reference: str) -> pd.Series:
    """Run name per (dataset, backbone, seed) of a reference model with K = 5 and no label noise:
    ``"full"`` (the full SRSUPM) or ``"backbone"`` (the backbone alone)."""
    plain = (df["K"] == DEFAULT_K) & (df["noise_p"] == 0)
    srsupm = df["srsupm"].astype(bool)
    mask = {"full": plain & srsupm & _is_default(df), "backbone": plain & ~srsupm}[reference]
    return df[mask].set_index(["dataset", "backbone", "seed"])["run"]


def _ablation_pairs(df: pd.DataFrame, reference: str) -> list[tuple[dict, str, str]]:
    """``(key, run_a, run_b)`` for each ablation run (K = 5, no label noise, some switch off) and the
    ``reference`` run of its (dataset, backbone, seed): ``"full"`` (A = the ablation, B = the full
    SRSUPM) or ``"backbone"`` (A = the backbone alone, B = the ablation)."""
    refs = _reference_runs(df, reference)
    ablated = df[_ablated(df) & (df["K"] == DEFAULT_K) & (df["noise_p"] == 0)]
    pairs = []
    for _, r in ablated.sort_values(["dataset", "backbone", "run"]).iterrows():
        key = (r["dataset"], r["backbone"], r["seed"])
        if key not in refs.index:
            continue
        variant = "w/o " + "+".join(sw for sw in SWITCHES if not r[sw])
        runs = (r["run"], refs.loc[key]) if reference == "full" else (refs.loc[key], r["run"])
        pairs.append(({"dataset": key[0], "backbone": key[1], "variant": variant, "seed": key[2]}, *runs))
    return pairs


def ablation_significance_report(df: pd.DataFrame, runs_dir, n_boot: int = 2000, device="cpu",
                                 previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each ablation against the full SRSUPM, paired by (dataset, backbone, seed), on the same test users.

    Ablation runs are +SRSUPM runs with K = 5, no label noise and some switch off (Table 3's rows and
    the control; any backbone). A is the ablation, B the full model, so a positive gain is what the
    switched-off part adds (:func:`srsupm_lab.significance.compare_runs`). One row per (dataset,
    backbone, variant, seed, metric); the variant is ``"w/o " + the switches off`` (e.g.
    ``w/o pmsid+pmsim``). ``previous`` as in :func:`significance_report`.
    """
    if not len(df):
        return pd.DataFrame()
    return _compare_pairs(df, runs_dir, _ablation_pairs(df, "full"), previous, n_boot, device)


def ablation_backbone_significance_report(df: pd.DataFrame, runs_dir, n_boot: int = 2000, device="cpu",
                                          previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each ablation (B) against the backbone alone (A) of its (dataset, backbone, seed): does the
    reduced model still beat the backbone? For the control (``w/o pmsid+pmsim+pmi``) this asks
    whether the added SIC layers alone carry the gain. Rows and ``previous`` as in
    :func:`ablation_significance_report`; a positive gain is the ablated model's over the backbone.
    """
    if not len(df):
        return pd.DataFrame()
    return _compare_pairs(df, runs_dir, _ablation_pairs(df, "backbone"), previous, n_boot, device)


def departure_significance_report(df: pd.DataFrame, runs_dir, n_boot: int = 2000, device="cpu",
                                  previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each run of a departure (B) against the paper's model (A) with the same dataset, backbone,
    switches, K, label noise and seed, on the same test users (see :func:`paper_model`).

    One row per (dataset, backbone, departure, seed, metric), and rows pooled over the seeds; the
    departure is named as its runs are (``sasrec+srsupm-temperature-learned``: the model part of the
    run name, which also names any switch off, K or noise). ``previous`` as in :func:`significance_report`.
    """
    if not len(df) or "level_temperature" not in df:
        return pd.DataFrame()
    same = ["dataset", "backbone", *SWITCHES, "K", "noise_p", "seed"]
    paper_runs = df[paper_model(df) & df["srsupm"].astype(bool)].set_index(same)["run"]
    pairs = []
    for _, r in df[~paper_model(df)].sort_values("run").iterrows():
        key = tuple(r[c] for c in same)
        if key not in paper_runs.index:
            continue
        model = Path(r["run"]).parent.name                        # e.g. sasrec+srsupm-temperature-learned
        pairs.append(({"dataset": r["dataset"], "backbone": r["backbone"], "departure": model, "seed": r["seed"]},
                      paper_runs.loc[key], r["run"]))
    return _compare_pairs(df, runs_dir, pairs, previous, n_boot, device)


def _significance_markdown(sig: pd.DataFrame, keys: Sequence[str]) -> str:
    shown = sig.assign(gain=[f"{g:+.4f} [{lo:+.4f}, {hi:+.4f}]" for g, lo, hi in
                             zip(sig["gain"], sig["ci_low"], sig["ci_high"])],
                       relative=[f"{r:+.1%}" for r in sig["relative"]],
                       p_value=[f"{p:.3f}" for p in sig["p_value"]],
                       a=[f"{v:.4f}" for v in sig["a"]], b=[f"{v:.4f}" for v in sig["b"]])
    return _markdown(shown[[*keys, "metric", "a", "b", "gain", "relative", "p_value"]])


def _setting_markdown(df: pd.DataFrame) -> str:
    """The optimisation setting and SRSUPM weights the collected runs used (several values: all listed)."""
    items = []
    for col in ("lr", "batch_size", "epochs", "lambda1", "lambda2", "gamma", "tau"):
        if col in df:
            values = sorted(v for v in df[col].dropna().unique())
            if values:
                items.append(f"{col} {', '.join(f'{v:g}' for v in values)}")
    return ("Setting: " + "; ".join(items) + " (TrainConfig defaults elsewhere; patience 10 unless the epoch "
            "budget ends the run first).\n") if items else ""


def _variant(row) -> str | None:
    """Table 3's row of a run: the backbone's name when alone, else the ``ABLATIONS`` row (the
    paper's, or our control) whose switches are off (None for a combination with no row)."""
    if not row["srsupm"]:
        return paper.BACKBONE_NAMES.get(row["backbone"], row["backbone"])
    off = {s for s in SWITCHES if not row[s]}
    for name, switches in ABLATIONS.items():
        if switches is not None and off == {k for k, v in switches.items() if v is False}:
            return name
    return None


def table3_report(df: pd.DataFrame) -> pd.DataFrame:
    """Table 3: ablation variants (K = 5, no noise) per (dataset, backbone) that has at least one
    ablation run: mean, sd, seeds and the paper's R@10 / N@10 (the paper's Table 3 is SASRec's)."""
    sub = df[(df["K"] == DEFAULT_K) & (df["noise_p"] == 0)].copy()
    if sub.empty:
        return pd.DataFrame()
    sub["variant"] = sub.apply(_variant, axis=1)
    sub = sub[sub["variant"].notna()]
    # a backbone's Table 3 only when it has an ablation run (otherwise its rows are Table 1's)
    pairs = ["dataset", "backbone"]
    keep = sub.set_index(pairs).index.isin(sub[_ablated(sub)].set_index(pairs).index)
    sub = sub[keep]
    if sub.empty:
        return pd.DataFrame()
    s = summarise(sub, ["dataset", "backbone", "variant"], ("recall@10", "ndcg@10"))
    p3 = paper.table3().set_index(["dataset", "variant", "metric"])["value"]     # SASRec's rows only
    for m in ("recall@10", "ndcg@10"):
        s[f"{m}_paper"] = [p3.get((d, v, m), np.nan) if b == "sasrec" else np.nan
                           for d, b, v in zip(s["dataset"], s["backbone"], s["variant"])]
    order = {v: i for i, v in enumerate(ABLATIONS)}                 # the alone row (not a key) first
    s = s.assign(_o=s["variant"].map(order).fillna(-1)).sort_values(["dataset", "backbone", "_o"]).drop(columns="_o")
    return s.reset_index(drop=True)


def _sweep(df: pd.DataFrame, column: str, other: str, other_default) -> pd.DataFrame:
    """Full +SRSUPM runs with ``other`` at its default, grouped by (dataset, backbone, ``column``), for
    the (dataset, backbone) pairs that have at least two values of ``column``."""
    sub = df[_full_srsupm(df) & (df[other] == other_default)]
    if sub.empty:
        return pd.DataFrame()
    values = sub.groupby(["dataset", "backbone"])[column].transform("nunique")
    return sub[values >= 2]


def table4_report(df: pd.DataFrame) -> pd.DataFrame:
    """Table 4: +SRSUPM (switches on, K = 5) per (dataset, backbone, noise level p): R@10 mean, sd,
    seeds and the paper's value (the paper's Table 4 is SASRec's)."""
    sub = _sweep(df, "noise_p", "K", DEFAULT_K)
    if sub.empty:
        return pd.DataFrame()
    s = summarise(sub, ["dataset", "backbone", "noise_p"], ("recall@10",))
    p4 = paper.table4()
    s["recall@10_paper"] = [next((v for d2, p2, v in zip(p4["dataset"], p4["noise_p"], p4["recall@10"])
                                  if bb == "sasrec" and d2 == d and math.isclose(p2, p)), np.nan)
                            for d, bb, p in zip(s["dataset"], s["backbone"], s["noise_p"])]
    return s.sort_values(["dataset", "backbone", "noise_p"]).reset_index(drop=True)


def fig3_report(df: pd.DataFrame) -> pd.DataFrame:
    """Fig. 3: +SRSUPM (switches on, no noise) per (dataset, backbone, K): mean, sd and seeds of every metric."""
    sub = _sweep(df, "K", "noise_p", 0.0)
    if sub.empty:
        return pd.DataFrame()
    return summarise(sub, ["dataset", "backbone", "K"]).sort_values(["dataset", "backbone", "K"]).reset_index(drop=True)


def _setting_name(K: int, noise_p: float) -> str:
    parts = ([f"K={K}"] if K != DEFAULT_K else []) + ([f"p={noise_p:g}"] if noise_p else [])
    return ", ".join(parts) or f"K={DEFAULT_K}, p=0"


def sweep_significance_report(df: pd.DataFrame, runs_dir, n_boot: int = 2000, device="cpu",
                              previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each run of the Fig. 3 / Table 4 sweeps (B: full +SRSUPM with K ≠ 5 or label noise p > 0)
    against two references of the same dataset, backbone and seed, on the same test users: the
    +SRSUPM run with K = 5 and p = 0 (``against = "K=5, p=0"``: does the setting change anything?)
    and the backbone alone (``against = "backbone alone"``: is the gain still there?).

    One row per (dataset, backbone, setting, against, seed, metric), and rows pooled over seeds
    (:func:`_compare_pairs`); ``setting`` reads ``K=3`` or ``p=0.5``. ``previous`` as in
    :func:`significance_report`.
    """
    if not len(df):
        return pd.DataFrame()
    same = ["dataset", "backbone", "seed"]
    full = df[_full_srsupm(df)]
    default, alone = _reference_runs(df, "full"), _reference_runs(df, "backbone")
    sweeps = full[(full["K"] != DEFAULT_K) | (full["noise_p"] != 0)]
    pairs = []
    for _, r in sweeps.sort_values(["dataset", "backbone", "noise_p", "K", "seed"]).iterrows():
        key = tuple(r[c] for c in same)
        setting = _setting_name(int(r["K"]), float(r["noise_p"]))
        for against, ref in ((_setting_name(DEFAULT_K, 0.0), default), ("backbone alone", alone)):
            if key in ref.index:
                pairs.append(({"dataset": key[0], "backbone": key[1], "setting": setting, "against": against,
                               "seed": key[2]}, ref.loc[key], r["run"]))
    return _compare_pairs(df, runs_dir, pairs, previous, n_boot, device)


def plot_fig3(table: pd.DataFrame, metric: str = "recall@10"):
    """Mean ± sd of ``metric`` against K, one line per (dataset, backbone) (paper Fig. 3); returns the Figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for (ds, bb), t in table.groupby(["dataset", "backbone"], sort=False):
        label = f"{ds}, {paper.BACKBONE_NAMES.get(bb, bb)}+SRSUPM"
        ax.errorbar(t["K"], t[f"{metric}_mean"], yerr=t[f"{metric}_sd"].fillna(0), marker="o", capsize=3, label=label)
    ax.set(xlabel="K (number of shift levels)", ylabel=metric, title=f"{metric} against K (Fig. 3)")
    ax.set_xticks(sorted(table["K"].unique()))
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def _markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for _, r in table.iterrows():
        lines.append("| " + " | ".join(str(r[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def _table1_markdown(t: pd.DataFrame) -> str:
    parts = []
    for ds, g in t.groupby("dataset", sort=False):
        rows = []
        for (bb, plug), h in g.groupby(["backbone", "srsupm"], sort=False):
            row = {"model": bb + (" +SRSUPM" if plug else ""), "seeds": int(h["seeds"].iloc[0])}
            for _, r in h.iterrows():
                cell = _cell(r["mean"], r["sd"])
                if np.isfinite(r["paper"]):
                    cell += f" (paper {r['paper']:.4f})"
                if plug and np.isfinite(r["gain"]):
                    cell += f" [{r['gain']:+.1%}" + (f"; paper {r['paper_gain']:+.1%}]" if np.isfinite(r["paper_gain"])
                                                    else "]")
                row[r["metric"]] = cell
            rows.append(row)
        parts.append(f"### {ds}\n\n" + _markdown(pd.DataFrame(rows)))
    return ("## Table 1 — full ranking, mean ± sd over seeds (paper's value in brackets; "
            "[relative gain of +SRSUPM over the backbone])\n\n" + "\n".join(parts))


def _summary_markdown(title: str, s: pd.DataFrame, keys: Sequence[str], metrics: Sequence[str]) -> str:
    rows = []
    for _, r in s.iterrows():
        row = {k: r[k] for k in keys}
        row["seeds"] = int(r["seeds"])
        for m in metrics:
            cell = _cell(r[f"{m}_mean"], r[f"{m}_sd"])
            p = r.get(f"{m}_paper")
            if p is not None and np.isfinite(p):
                cell += f" (paper {p:.4f})"
            row[m] = cell
        rows.append(row)
    return f"## {title}\n\n" + _markdown(pd.DataFrame(rows))


def write_reports(df: pd.DataFrame, reports_dir, runs_dir=None, n_boot: int = 2000,
                  figures: bool = True) -> dict[str, Path]:
    """Write the tables (and Fig. 3) the collected runs cover; returns {name: path} of the files written.

    ``table1.csv``/``table3.csv``/``table4.csv``/``fig3.csv`` (tidy numbers), ``fig3.png``,
    ``runs.csv`` (the collected frame) and ``reproduction.md`` (all tables in markdown, with
    Table 2 from ``table2.md`` when ``reproduce --grid table2`` wrote it). With ``runs_dir`` the
    runs' checkpoints are re-scored for ``significance.csv``: +SRSUPM against its backbone per
    seed, paired bootstrap over the test users (:func:`significance_report`), and for
    ``significance_ablations.csv``: the full SRSUPM against each ablation
    (:func:`ablation_significance_report`), for ``significance_ablations_vs_backbone.csv``: each
    ablation against the backbone alone (:func:`ablation_backbone_significance_report`), and for
    ``significance_sweeps.csv``: each Fig. 3 /
    Table 4 run against K = 5, p = 0 and against the backbone alone
    (:func:`sweep_significance_report`); with ``figures`` also the paper's Figs. 6–8 from
    the runs (:func:`srsupm_lab.figures.write_figures`). Every file is written atomically.
    """
    reports = Path(reports_dir)
    reports.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def save_csv(name, table):
        path = reports / f"{name}.csv"
        atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
        written[name] = path

    def previous(name):                        # the last report: kept for pairs whose ranks are gone
        path = reports / f"{name}.csv"
        return pd.read_csv(path) if path.exists() and path.stat().st_size > 1 else None

    save_csv("runs", df)
    every_run = df
    departures = df[~paper_model(df)] if len(df) else df
    df = df[paper_model(df)] if len(df) else df
    md = ["# Reproduction of the paper's experiments\n",
          f"{len(df)} finished runs. Mean ± sample sd (ddof = 1) over seeds; metrics on the test set with "
          "full ranking, seen items masked, ties against the model (see reports/README.md).\n",
          _setting_markdown(df)]
    t1 = table1_report(df) if len(df) else pd.DataFrame()
    if not t1.empty:
        save_csv("table1", t1)
        md.append(_table1_markdown(t1))
    t3 = table3_report(df) if len(df) else pd.DataFrame()
    if not t3.empty:
        save_csv("table3", t3)
        md.append(_summary_markdown("Table 3 — ablations (the paper's are on SASRec; its value in brackets)", t3,
                                    ["dataset", "backbone", "variant"], ("recall@10", "ndcg@10")))
    t4 = table4_report(df) if len(df) else pd.DataFrame()
    if not t4.empty:
        save_csv("table4", t4)
        md.append(_summary_markdown("Table 4 — label noise p, +SRSUPM (the paper's is SASRec's; its value in "
                                    "brackets)", t4, ["dataset", "backbone", "noise_p"], ("recall@10",)))
    f3 = fig3_report(df) if len(df) else pd.DataFrame()
    if not f3.empty:
        save_csv("fig3", f3)
        md.append(_summary_markdown("Fig. 3 — number of shift levels K, +SRSUPM (the paper's is SASRec's)", f3,
                                    ["dataset", "backbone", "K"], METRICS))
        import matplotlib.pyplot as plt
        fig = plot_fig3(f3)
        path = reports / "fig3.png"
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
        plt.close(fig)
        written["fig3_png"] = path
        md.append("![Fig. 3](fig3.png)\n")
    if runs_dir is not None and len(df):
        paired = (   # (file, report, heading, what a positive gain means, key columns)
            ("significance", significance_report,
             "Is the gain more than noise? +SRSUPM against its backbone, same seed, same test users", "",
             ["dataset", "backbone", "seed"]),
            ("significance_ablations", ablation_significance_report,
             "What each part adds: the full SRSUPM (B) against each ablation (A), same seed, same test users",
             ": a positive gain is what the switched-off part contributes", ["dataset", "backbone", "variant", "seed"]),
            ("significance_ablations_vs_backbone", ablation_backbone_significance_report,
             "Does a reduced model still beat the backbone? Each ablation (B) against the backbone alone (A), "
             "same seed, same test users", ": for the control (w/o pmsid+pmsim+pmi), the gain of the added SIC "
             "layers alone", ["dataset", "backbone", "variant", "seed"]),
            ("significance_sweeps", sweep_significance_report,
             "Fig. 3 and Table 4 runs: each setting (B) against K = 5, p = 0 and against the backbone alone (A), "
             "same seed, same test users", "", ["dataset", "backbone", "setting", "against", "seed"]),
        )
        for name, report, heading, meaning, keys in paired:
            table = report(df, runs_dir, n_boot=n_boot, previous=previous(name))
            if not table.empty:
                save_csv(name, table)
                md.append(f"## {heading}\n\nGain (B − A) with its 95 % paired-bootstrap interval over the test "
                          f"users ({n_boot} resamples) and a two-sided p-value (srsupm_lab.significance){meaning}. "
                          + POOLED_NOTE + "\n\n" + _significance_markdown(table, keys))
    if runs_dir is not None and figures:
        from .figures import write_figures             # Figs. 6-8 from the runs' checkpoints and level tables
        drawn, parts = write_figures(df, runs_dir, reports)
        written.update(drawn)
        md.extend(parts)
    table2 = reports / "table2.md"                 # written by `reproduce --grid table2` (srsupm_lab.timing)
    if table2.exists():
        md.append(table2.read_text(encoding="utf-8"))
    if len(departures):
        md.append("## Departures from the paper (not in the tables above)\n\n"
                  "Runs with `level_temperature = learned`: the level softmaxes of Eqs. 9 and 19 learn their "
                  "scales (srsupm_lab/temperature.py). Test metrics:\n\n"
                  + _markdown(departures[["run", *METRICS, "best_epoch", "epochs_run"]].round(4)))
        dep = pd.DataFrame() if runs_dir is None else departure_significance_report(
            every_run, runs_dir, n_boot=n_boot, previous=previous("significance_departures"))
        if not dep.empty:
            save_csv("significance_departures", dep)
            md.append("\nEach departure (B) against the paper's model (A), same seed and switches, same test users "
                      f"({n_boot} paired-bootstrap resamples). " + POOLED_NOTE + "\n\n"
                      + _significance_markdown(dep, ["dataset", "backbone", "departure", "seed"]))
        if runs_dir is not None and figures:
            from .figures import write_departure_fig6
            drawn, parts = write_departure_fig6(departures, runs_dir, reports)
            written.update(drawn)
            md.extend(parts)
    text = "\n".join(md)
    path = reports / "reproduction.md"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    written["markdown"] = path
    return written
