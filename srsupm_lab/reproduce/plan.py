"""The declarative experiments file: every grid behind a set of reports, to run, resume or list (method.md §11).

A plan is a TOML file (``reports/experiments.toml``): a ``[defaults]`` table, then one
``[[grid]]`` table per grid, each with what the ``reproduce`` command line takes::

    [defaults]
    engine = "inline"
    datasets = ["beauty"]
    lr = 0.001
    set = { gamma = 0.01 }

    [[grid]]
    name = "gru4rec-pair"              # unique; `reproduce --plan FILE --only NAME` picks grids
    grid = "table1"                    # table1 | table3 | table4 | fig3 | table2 (the timings)
    backbones = ["gru4rec"]
    seeds = [1]
    epochs = 6
    runs = "runs"                      # folders relative to the plan file
    reports = "."

A grid's keys override the defaults; ``set`` tables merge (the grid's win). Every key is
checked when the file is read: an unknown one, or one of the wrong type, fails with the file and
the grid's name. :func:`plan_status` answers what :func:`run_plan` would do, after the checks a
run makes (:func:`.engines.grid_status`).
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from .engines import ENGINES, grid_status, run_grid
from .grids import GRIDS, RunSpec, build_grid

__all__ = ["PlannedGrid", "load_plan", "plan_status", "run_plan", "common_settings", "PLAN_KEYS", "SETTINGS"]

#: TrainConfig settings a grid may give as keys of its own (the command line's options); others go in ``set``
SETTINGS = ("epochs", "patience", "device", "lr", "batch_size", "data_root", "labels")
#: every key of a ``[[grid]]`` table and its type(s)
PLAN_KEYS = {"name": str, "grid": str, "note": str, "datasets": list, "backbones": list, "seeds": list,
             "variants": list, "ablations": list, "ps": list, "Ks": list, "engine": str, "jobs": int,
             "runs": str, "reports": str, "repeats": int, "fused_mixture": bool, "set": dict,
             "epochs": int, "patience": int, "device": str, "lr": (int, float), "batch_size": int,
             "data_root": str, "labels": str}


class PlannedGrid(NamedTuple):
    """One ``[[grid]]`` of a plan, its defaults applied and its folders resolved."""
    name: str
    grid: str
    options: dict              # every key of the table (defaults applied)
    runs: Path
    reports: Path

    def specs(self) -> list[RunSpec]:
        """The grid's runs (:func:`.grids.build_grid`); none for ``table2`` (timings, no runs)."""
        o = self.options
        if self.grid == "table2":
            return []
        return build_grid(self.grid, o.get("datasets", ["beauty"]), o.get("seeds", [1, 2, 3]),
                          backbones=o.get("backbones"), ps=o.get("ps"), Ks=o.get("Ks"), variants=o.get("variants"),
                          rows=o.get("ablations"))

    def common(self) -> dict:
        """The TrainConfig settings shared by the grid's runs: :data:`SETTINGS` keys, then ``set``."""
        return common_settings({k: self.options[k] for k in SETTINGS if k in self.options}, self.options.get("set", {}))


def common_settings(options: dict, extra: dict) -> dict:
    """``options`` (named settings) and ``extra`` (``--set`` / ``set``) as one dict; a key in both raises."""
    clash = sorted(set(options) & set(extra))
    if clash:
        raise ValueError(f"reproduce: {clash} given both as an option and with set (--set); give each once")
    return {**options, **extra}


def _check(table: dict, where: str) -> dict:
    """``table`` when its keys are all among ``PLAN_KEYS`` with their types; else ValueError naming ``where``."""
    unknown = sorted(set(table) - set(PLAN_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; the keys are {sorted(PLAN_KEYS)}")
    for key, value in table.items():
        kind = PLAN_KEYS[key]
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            raise ValueError(f"{where}: {key} = {value!r} is not a {getattr(kind, '__name__', 'number')}")
    return table


def load_plan(path) -> list[PlannedGrid]:
    """The grids of the plan file ``path``, checked (keys, types, grid names, engines, unique names)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"reproduce: no plan file {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a valid TOML file ({err})") from None
    extra = sorted(set(data) - {"defaults", "grid"})
    if extra:
        raise ValueError(f"{path}: unknown table(s) {extra}; a plan holds [defaults] and [[grid]] tables")
    defaults = _check(dict(data.get("defaults", {})), f"{path} [defaults]")
    if "name" in defaults:
        raise ValueError(f"{path} [defaults]: a name belongs to one grid, not to the defaults")
    grids, names = [], set()
    for n, table in enumerate(data.get("grid", []), 1):
        where = f"{path} [[grid]] #{n}" + (f" ({table['name']!r})" if isinstance(table.get("name"), str) else "")
        _check(table, where)
        for key in ("name", "grid", "runs", "reports"):
            if key not in table and key not in defaults:
                raise ValueError(f"{where}: missing key {key!r}")
        options = {**defaults, **table, "set": {**defaults.get("set", {}), **table.get("set", {})}}
        if options["name"] in names:
            raise ValueError(f"{where}: the name {options['name']!r} is used twice")
        names.add(options["name"])
        if options["grid"] not in (*GRIDS, "table2"):
            raise ValueError(f"{where}: unknown grid {options['grid']!r}; choose one of {[*GRIDS, 'table2']}")
        if options["grid"] == "table2" and len(options.get("datasets", ["beauty"])) != 1:
            raise ValueError(f"{where}: table2 times one dataset (the paper: beauty), got {options['datasets']}")
        if options.get("engine", "inline") not in ENGINES:
            raise ValueError(f"{where}: engine must be one of {list(ENGINES)}, got {options['engine']!r}")
        grids.append(PlannedGrid(options["name"], options["grid"], options, (path.parent / options["runs"]),
                                 (path.parent / options["reports"])))
    if not grids:
        raise ValueError(f"{path}: the plan lists no [[grid]]")
    return grids


def _select(grids: list[PlannedGrid], only) -> list[PlannedGrid]:
    if not only:
        return grids
    unknown = sorted(set(only) - {g.name for g in grids})
    if unknown:
        raise ValueError(f"reproduce: no grid named {unknown} in the plan; its grids are {[g.name for g in grids]}")
    return [g for g in grids if g.name in set(only)]


def plan_status(grids: list[PlannedGrid], only=None) -> pd.DataFrame:
    """:func:`.engines.grid_status` of every grid (``only``: those names), stacked with a ``grid``
    column; a ``table2`` grid is ``done`` when its reports folder holds ``table2.md``."""
    parts = []
    for g in _select(grids, only):
        if g.grid == "table2":
            done = (g.reports / "table2.md").exists()
            status = pd.DataFrame([{"name": "table2 (inference timings)", "out_dir": str(g.reports),
                                    "state": "done" if done else "todo", "note": ""}])
        else:
            status = grid_status(g.specs(), g.runs, common=g.common(), engine=g.options.get("engine", "inline"))
        parts.append(status.assign(grid=g.name)[["grid", "name", "out_dir", "state", "note"]])
    return pd.concat(parts, ignore_index=True)


def run_plan(grids: list[PlannedGrid], only=None, verbose: bool = True) -> pd.DataFrame:
    """Run (or resume) every grid of the plan in order (``only``: those names), failed runs recorded
    and the next grid started; ``table2`` grids are timed when their ``table2.md`` is missing.
    Every config of every grid is checked before the first run. Returns the stacked status tables."""
    grids = _select(grids, only)
    plan_status(grids)                                                # every check before any run
    parts = []
    for g in grids:
        if g.grid == "table2":
            if not (g.reports / "table2.md").exists():
                from .timing import inference_table, write_table2
                o = g.options
                datasets = o.get("datasets", ["beauty"])
                table = inference_table(datasets[0], o.get("backbones"), repeats=o.get("repeats", 5),
                                        device=o.get("device", "auto"), root=o.get("data_root"),
                                        fused_mixture=o.get("fused_mixture", False))
                write_table2(table, g.reports, datasets[0])
            continue
        if verbose:
            print(f"== {g.name}: {g.grid} into {g.runs}", flush=True)
        status = run_grid(g.specs(), g.runs, engine=g.options.get("engine", "inline"), common=g.common(),
                          on_error="continue", verbose=verbose, jobs=g.options.get("jobs", 1))
        parts.append(status.assign(grid=g.name))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["name", "state", "seconds",
                                                                                     "error", "grid"])
