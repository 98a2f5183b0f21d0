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
                                       # | decisive | screening | oracle-gap | cold-start | mtrec
                                       # | mtrec-beta | one-pass (EXPERIMENTS)
    backbones = ["gru4rec"]
    seeds = [1]
    epochs = 6
    runs = "runs"                      # folders relative to the plan file
    reports = "."                      # (so are dataset paths: a folder or file that is no known name)

A grid's keys override the defaults; ``set`` tables merge (the grid's win). Every key is
checked when the file is read: an unknown one, or one of the wrong type, fails with the file and
the grid's name.

The experiments of the mechanism study (:data:`EXPERIMENTS`: ``decisive``, ``screening``,
``oracle-gap``) fix their own protocol in their modules; of ``[defaults]`` they take only
``engine``, ``jobs`` and ``device``, and of their own table ``seeds``, ``datasets``, ``epochs``,
``lr``, ``arms`` (decisive's arms, cold-start's and one-pass's models), ``models`` (mtrec's), ``settings``, ``data_root``
and ``set`` (a field that departs from the protocol, as a batch size; the defaults' ``set`` does not reach them);
``cold-start`` (:mod:`.cold_start`) measures every model through its users' first k items, ``mtrec``
(:mod:`.mtrec`) the backbones alone, +MTRec and +IRL with their AUC, NCIS and satisfaction, ``one-pass``
(:mod:`.one_pass`) SRSUPM trained one pass per user against per window, on validation data. The one
engine runs them like any grid (:func:`.engines.run_grid`); their reports are their modules' own.
:func:`plan_status` answers what :func:`run_plan` would do, after the checks a run makes
(:func:`.engines.grid_status`).
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from ..methods.srsupm.grids import GRIDS, build_grid
from ..run_folder import RunSpec
from .engines import ENGINES, grid_status, run_grid

__all__ = ["PlannedGrid", "load_plan", "plan_status", "run_plan", "common_settings", "write_plan_reports",
           "check_plan_reports", "PLAN_KEYS", "SETTINGS", "EXPERIMENTS"]

#: TrainConfig settings a grid may give as keys of its own (the command line's options); others go in ``set``
SETTINGS = ("epochs", "patience", "device", "lr", "batch_size", "data_root", "labels")
#: every key of a ``[[grid]]`` table and its type(s)
PLAN_KEYS = {"name": str, "grid": str, "note": str, "datasets": list, "backbones": list, "seeds": list,
             "variants": list, "ablations": list, "ps": list, "Ks": list, "engine": str, "jobs": int,
             "runs": str, "reports": str, "repeats": int, "fused_mixture": bool, "set": dict, "arms": list,
             "settings": list, "models": list, "betas": list, "beta": (int, float),
             "epochs": int, "patience": int, "device": str, "lr": (int, float), "batch_size": int,
             "data_root": str, "labels": str}


#: keys of a ``table2`` grid passed on to the timing as they are (:func:`srsupm_lab.methods.srsupm.timing.inference_table`)
TIMING_KEYS = ("fused_mixture",)
#: defaults an experiment of the mechanism study takes from ``[defaults]`` (the rest it fixes itself)
EXPERIMENT_DEFAULTS = ("engine", "jobs", "device")


def _as_specs(configs: list[dict], runs: Path) -> list[RunSpec]:
    """Config dicts with their ``out_dir`` below ``runs`` as RunSpecs (name: the folder below ``runs``)."""
    out = []
    for config in configs:
        name = Path(config["out_dir"]).relative_to(runs).as_posix()
        out.append(RunSpec(name, {k: v for k, v in config.items() if k not in ("out_dir", "resume", "progress")}))
    return out


def _overrides(o: dict, keys: tuple) -> dict:
    """What an experiment's table changes in its protocol: the named ``keys`` it gives, then its ``set`` (a key
    in both raises, as :func:`common_settings` says)."""
    return common_settings({k: o[k] for k in keys if k in o}, o.get("set", {}))


def _decisive(o: dict, runs: Path) -> list[RunSpec]:
    from .decisive import arm_configs
    extra = _overrides(o, ("lr", "data_root", "device", "epochs"))
    return _as_specs([c for ds in o.get("datasets", ["beauty"])
                      for c in arm_configs(o.get("seeds", [1, 2, 3]), runs, o.get("arms"), ds, **extra)], runs)


def _screening(o: dict, runs: Path) -> list[RunSpec]:
    from ..methods.srsupm.screening import screening_configs
    extra = _overrides(o, ("device",))
    return _as_specs([c for ds in o.get("datasets", ["synthetic"]) for seed in o.get("seeds", [1])
                      for c in screening_configs(ds, o.get("epochs", 10), seed, runs, o.get("settings"), **extra)],
                     runs)


def _oracle_gap(o: dict, runs: Path) -> list[RunSpec]:
    from .oracle_gap import gap_configs
    extra = _overrides(o, ("device",))
    return _as_specs(gap_configs(o.get("seeds", [1, 2, 3]), runs, **extra), runs)


def _decisive_report(g: "PlannedGrid") -> list[Path]:
    """The arms' table; and, where arms kept their users' cold-start ranks (measured with
    :func:`.cold_start.measure_cold_start`), the cold-start table of those arms beside it."""
    from ..run_folder import COLD_START_FILE
    from .cold_start import cold_start_report
    from .decisive import decisive_report
    written = [decisive_report(g.runs, g.reports, dataset=ds) for ds in g.options.get("datasets", ["beauty"])]
    if any(Path(g.runs).glob(f"*/*/seed*/{COLD_START_FILE}")):
        written.append(cold_start_report(g.runs, g.reports))
    return written


def _screening_report(g: "PlannedGrid") -> list[Path]:
    from ..methods.srsupm.screening import write_report
    return [write_report(g.runs, g.reports, ds) for ds in g.options.get("datasets", ["synthetic"])]


def _oracle_gap_report(g: "PlannedGrid") -> list[Path]:
    from .oracle_gap import write_gap_report
    return [write_gap_report(g.runs, g.reports)]


def _cold_start(o: dict, runs: Path) -> list[RunSpec]:
    from .cold_start import cold_start_configs
    extra = _overrides(o, ("device", "epochs", "lr", "data_root"))
    return _as_specs([c for ds in o.get("datasets", ["synthetic"])
                      for c in cold_start_configs(ds, o.get("seeds", [1, 2, 3]), runs, o.get("arms"), **extra)], runs)


def _cold_start_report(g: "PlannedGrid") -> list[Path]:
    from .cold_start import cold_start_report
    return [cold_start_report(g.runs, g.reports)]


def _one_pass(o: dict, runs: Path) -> list[RunSpec]:
    from .one_pass import one_pass_configs
    extra = _overrides(o, ("device", "epochs", "data_root"))
    return _as_specs([c for ds in o.get("datasets", ["synthetic"])
                      for c in one_pass_configs(ds, o.get("seeds", [1, 2, 3]), runs, o.get("arms"), **extra)], runs)


def _one_pass_report(g: "PlannedGrid") -> list[Path]:
    from .one_pass import one_pass_report
    return [one_pass_report(g.runs, g.reports)]


def _mtrec(o: dict, runs: Path) -> list[RunSpec]:
    from .mtrec import mtrec_configs
    extra = _overrides(o, ("device", "epochs", "lr", "data_root"))
    return _as_specs([c for ds in o.get("datasets", ["synthetic-clickbait"])
                      for c in mtrec_configs(ds, o.get("seeds", [1, 2, 3]), runs, o.get("models"), o.get("beta"),
                                             **extra)], runs)


def _mtrec_report(g: "PlannedGrid") -> list[Path]:
    from .mtrec import mtrec_report
    return [mtrec_report(g.runs, g.reports)]


def _mtrec_beta(o: dict, runs: Path) -> list[RunSpec]:
    from .mtrec_beta import BETAS, beta_configs
    extra = _overrides(o, ("device", "epochs", "lr", "data_root"))
    return _as_specs([c for ds in o.get("datasets", ["synthetic-clickbait"])
                      for c in beta_configs(ds, o.get("seeds", [1, 2, 3]), runs, o.get("models", ["sasrec+mtrec"]),
                                            o.get("betas", BETAS), **extra)], runs)


def _mtrec_beta_report(g: "PlannedGrid") -> list[Path]:
    from .mtrec_beta import beta_report
    return [beta_report(g.runs, g.reports)]


#: the experiments with a protocol of their own: kind -> (its runs, its report writer)
EXPERIMENTS = {"decisive": (_decisive, _decisive_report), "screening": (_screening, _screening_report),
               "oracle-gap": (_oracle_gap, _oracle_gap_report), "cold-start": (_cold_start, _cold_start_report),
               "mtrec": (_mtrec, _mtrec_report), "mtrec-beta": (_mtrec_beta, _mtrec_beta_report),
               "one-pass": (_one_pass, _one_pass_report)}


class PlannedGrid(NamedTuple):
    """One ``[[grid]]`` of a plan, its defaults applied and its folders resolved."""
    name: str
    grid: str
    options: dict              # every key of the table (defaults applied)
    runs: Path
    reports: Path

    def specs(self) -> list[RunSpec]:
        """The grid's runs (:func:`.grids.build_grid`, or an experiment's own); none for ``table2``."""
        o = self.options
        if self.grid == "table2":
            return []
        if self.grid in EXPERIMENTS:
            return EXPERIMENTS[self.grid][0](o, self.runs)
        return build_grid(self.grid, o.get("datasets", ["beauty"]), o.get("seeds", [1, 2, 3]),
                          backbones=o.get("backbones"), ps=o.get("ps"), Ks=o.get("Ks"), variants=o.get("variants"),
                          rows=o.get("ablations"))

    def common(self) -> dict:
        """The TrainConfig settings shared by the grid's runs: :data:`SETTINGS` keys, then ``set`` (none for an
        experiment: its specs carry its whole protocol)."""
        if self.grid in EXPERIMENTS:
            return {}
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
        if table.get("grid", defaults.get("grid")) in EXPERIMENTS:       # its own protocol (module doc)
            options = {**{k: defaults[k] for k in EXPERIMENT_DEFAULTS if k in defaults}, **table}
            for key in ("runs", "reports"):
                options.setdefault(key, defaults.get(key))
        else:
            options = {**defaults, **table, "set": {**defaults.get("set", {}), **table.get("set", {})}}
        if options["name"] in names:
            raise ValueError(f"{where}: the name {options['name']!r} is used twice")
        names.add(options["name"])
        if options["grid"] not in (*GRIDS, "table2", *EXPERIMENTS):
            raise ValueError(f"{where}: unknown grid {options['grid']!r}; choose one of "
                             f"{[*GRIDS, 'table2', *EXPERIMENTS]}")
        if options["grid"] == "table2" and len(options.get("datasets", ["beauty"])) != 1:
            raise ValueError(f"{where}: table2 times one dataset (the paper: beauty), got {options['datasets']}")
        if options.get("engine", "inline") not in ENGINES:
            raise ValueError(f"{where}: engine must be one of {list(ENGINES)}, got {options['engine']!r}")
        if "datasets" in options:
            options["datasets"] = _resolve_datasets(options["datasets"], path, where)
        grids.append(PlannedGrid(options["name"], options["grid"], options, (path.parent / options["runs"]),
                                 (path.parent / options["reports"])))
    if not grids:
        raise ValueError(f"{path}: the plan lists no [[grid]]")
    return grids


def _resolve_datasets(datasets, plan: Path, where: str) -> list:
    """A plan's datasets as a run loads them: a known name as it is, a path relative to the plan file (as its
    ``runs`` and ``reports`` folders are); a path that names nothing there is one line naming the base used."""
    from ..data.loaders import KNOWN_DATASETS
    if not isinstance(datasets, list):
        return datasets                                     # _check has named the key and its type
    out = []
    for ds in datasets:
        if not isinstance(ds, str) or ds.lower() in KNOWN_DATASETS or Path(ds).expanduser().is_absolute():
            out.append(ds)
            continue
        resolved = plan.parent / ds
        if not resolved.exists():
            raise FileNotFoundError(f"{where}: dataset {ds!r} is neither a known name ({', '.join(KNOWN_DATASETS)}) "
                                    f"nor a folder or file relative to the plan file ({resolved} does not exist)")
        out.append(str(resolved))
    return out


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
                from ..methods.srsupm.timing import inference_table, write_table2
                o = g.options
                datasets = o.get("datasets", ["beauty"])
                timed = {key: o[key] for key in TIMING_KEYS if key in o}     # the grid's keys the timing takes
                table = inference_table(datasets[0], o.get("backbones"), repeats=o.get("repeats", 5),
                                        device=o.get("device", "auto"), root=o.get("data_root"), **timed)
                write_table2(table, g.reports, datasets[0])
            continue
        if verbose:
            print(f"== {g.name}: {g.grid} into {g.runs}", flush=True)
        status = run_grid(g.specs(), g.runs, engine=g.options.get("engine", "inline"), common=g.common(),
                          on_error="continue", verbose=verbose, jobs=g.options.get("jobs", 1))
        parts.append(status.assign(grid=g.name))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["name", "state", "seconds",
                                                                                     "error", "grid"])


def _paper_report_folders(grids: list[PlannedGrid]) -> list[tuple[Path, Path]]:
    """The (runs, reports) folders of the paper's tables among ``grids``, each pair once."""
    return list(dict.fromkeys((g.runs, g.reports) for g in grids if g.grid not in EXPERIMENTS and g.grid != "table2"))


def check_plan_reports(grids: list[PlannedGrid], only=None, replace: bool = False) -> None:
    """Before any run: refuse a reports folder of the chosen grids that holds the report of other runs
    (:func:`.report_folder.check_replace`, with the runs the grids will have once they have run)."""
    from .report_folder import check_replace, expected_runs
    chosen = _select(grids, only)
    for runs, reports in _paper_report_folders(chosen):
        names = [s.name for g in grids if (g.runs, g.reports) == (runs, reports) and g.grid in GRIDS
                 for s in g.specs()]
        check_replace(reports, expected_runs(runs, names), runs, replace=replace)


def write_plan_reports(grids: list[PlannedGrid], only=None, replace: bool = False) -> list[str]:
    """Write the reports of the chosen grids from their run folders: the paper's tables once per (runs, reports)
    pair of its grids (:func:`.report.write_reports`), an experiment's own report for each experiment grid.
    Returns one line per written set. A runs folder with no finished run writes nothing and raises."""
    from .collect import collect
    from .report import write_reports
    chosen = [g for g in _select(grids, only) if g.grid != "table2"]
    lines = []
    for g in chosen:
        if g.grid in EXPERIMENTS:
            written = EXPERIMENTS[g.grid][1](g)
            lines.append(f"{g.name}: " + ", ".join(str(p) for p in written))
    for runs, reports in _paper_report_folders(chosen):
        df = collect(runs)
        if df.empty:
            raise FileNotFoundError(f"reproduce: no finished run below {runs}; the reports in {reports} are left "
                                    f"as they are")
        written = write_reports(df, reports, runs_dir=runs, replace=replace)
        lines.append(f"{len(df)} finished runs under {runs}; {len(written)} report files in {reports}")
    return lines
