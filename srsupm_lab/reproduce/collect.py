"""Run folders to one frame: the one collector of every experiment's reports (method.md §10–§11).

:func:`collect` reads every finished run (``results.json``, its config read as that run ran) under a
folder into one row: the run's data and setting, its method, the columns each method adds for its
own reports (``Method.report_columns``: SRSUPM's switches and options), its overall test metrics,
timings and device. :func:`summarise` gives mean, sd and seeds per group.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..evaluate import metric_names
from ..methods import get_method, method_names
from ..run_folder import slug, upgrade_stored_config

__all__ = ["METRICS", "collect", "summarise"]

#: the metrics of every table, in their order
METRICS = tuple(metric_names((10, 20)))


def _results(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err}); move the run folder away or train it again") from None


def _method_columns() -> list[str]:
    """Every method's report columns, in the registry's order (each named once)."""
    cols = []
    for name in method_names():
        cols += [c for c in get_method(name).report_column_names() if c not in cols]
    return cols


def collect(runs_dir) -> pd.DataFrame:
    """One row per finished run under ``runs_dir`` (any depth): config, metrics, timings, device."""
    runs_dir = Path(runs_dir)
    methods = [get_method(name) for name in method_names()]
    rows = []
    for path in sorted(runs_dir.rglob("results.json")):
        res = _results(path)
        cfg = upgrade_stored_config(res["config"])    # read as the run ran, in today's sections
        overall = next((r for r in res.get("test") or [] if str(r.get("level")) == "all"), {})
        env = res.get("environment", {})
        row = {"run": path.parent.relative_to(runs_dir).as_posix(), "dataset": slug(cfg["dataset"]),
               "backbone": cfg["backbone"], "method": cfg["method"], "K": int(cfg["K"]),
               "noise_p": float(cfg["noise_p"]), "seed": int(cfg["seed"]), "lr": float(cfg["lr"]),
               "batch_size": int(cfg["batch_size"]), "epochs": int(cfg["epochs"])}
        for method in methods:
            row.update(method.report_columns(cfg))
        row.update({**{m: overall.get(m, np.nan) for m in METRICS},
                    "best_epoch": res.get("best_epoch"), "epochs_run": res.get("epochs_run"),
                    "seconds_per_epoch": res.get("timings", {}).get("seconds_per_epoch"),
                    "device": env.get("device_name", env.get("device"))})
        rows.append(row)
    cols = ["run", "dataset", "backbone", "method", "K", "noise_p", "seed", "lr", "batch_size", "epochs",
            *_method_columns(), *METRICS, "best_epoch", "epochs_run", "seconds_per_epoch", "device"]
    return pd.DataFrame(rows, columns=cols)


def summarise(df: pd.DataFrame, by: Sequence[str], metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Mean, sample standard deviation (ddof=1; NaN for one seed) and number of seeds per group."""
    g = df.groupby(list(by), sort=False, dropna=False)
    out = g.size().rename("seeds").to_frame()
    for m in metrics:
        out[f"{m}_mean"] = g[m].mean()
        out[f"{m}_sd"] = g[m].std(ddof=1)
    return out.reset_index()
