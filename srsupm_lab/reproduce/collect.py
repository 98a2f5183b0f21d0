"""Run folders to one frame, and the masks that pick the paper's models out of it (method.md §10–§11).

:func:`collect` reads every finished run (``results.json``) under a folder into one row: its
config (the grid's keys, the SRSUPM weights, the optimisation setting), its overall test metrics,
timings and device. The masks below say which rows are which model; the tables, the paired
comparisons and the figures all select their runs through them.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..methods.srsupm import paper
from ..methods.srsupm.options import SRSUPMOptions
from ..run_folder import upgrade_stored_config
from .grids import DEFAULT_K, SWITCHES, slug

__all__ = ["METRICS", "collect", "summarise", "paper_model", "full_srsupm", "ablated", "is_default", "plain"]

METRICS = paper.METRICS
#: SRSUPM's options beside its ablation switches, one column each (NaN for a run of another method), in the
#: order runs.csv has always had them
SETTINGS = ("lambda1", "lambda2", "gamma", "tau", "dropout", "level_temperature", "fused_mixture", "pmsim_similarity",
            "reg_form", "augmentation", "singletons", "false_negatives")
#: options of a one-pass run only (every run the reports collect trained per window, where they do nothing)
ONE_PASS_ONLY = ("same_user_negatives",)
assert set(SETTINGS) == set(SRSUPMOptions.names()) - set(SWITCHES) - set(ONE_PASS_ONLY), "every SRSUPM option"


def _option(options: dict, name: str):
    """A method option of a run: NaN when its method has none of that name; numbers as floats, words
    (``level_temperature``) as they are."""
    if name not in options:
        return np.nan
    return options[name] if isinstance(options[name], str) else float(options[name])


def _results(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err}); move the run folder away or train it again") from None


def collect(runs_dir) -> pd.DataFrame:
    """One row per finished run under ``runs_dir`` (any depth): config, metrics, timings, device."""
    runs_dir = Path(runs_dir)
    rows = []
    for path in sorted(runs_dir.rglob("results.json")):
        res = _results(path)
        cfg = upgrade_stored_config(res["config"])    # read as the run ran, in today's sections
        options = cfg["method_options"]
        overall = next((r for r in res.get("test") or [] if str(r.get("level")) == "all"), {})
        env = res.get("environment", {})
        rows.append({
            "run": path.parent.relative_to(runs_dir).as_posix(),
            "dataset": slug(cfg["dataset"]), "backbone": cfg["backbone"],
            "srsupm": cfg["method"] == SRSUPMOptions.method,
            **{s: bool(options.get(s, True)) for s in SWITCHES}, "K": int(cfg["K"]), "noise_p": float(cfg["noise_p"]),
            "seed": int(cfg["seed"]),
            **{w: _option(options, w) for w in SETTINGS},
            "lr": float(cfg["lr"]), "batch_size": int(cfg["batch_size"]), "epochs": int(cfg["epochs"]),
            **{m: overall.get(m, np.nan) for m in METRICS},
            "best_epoch": res.get("best_epoch"), "epochs_run": res.get("epochs_run"),
            "seconds_per_epoch": res.get("timings", {}).get("seconds_per_epoch"),
            "device": env.get("device_name", env.get("device")),
        })
    cols = ["run", "dataset", "backbone", "srsupm", *SWITCHES, "K", "noise_p", "seed", *SETTINGS, "lr",
            "batch_size", "epochs", *METRICS,
            "best_epoch", "epochs_run", "seconds_per_epoch", "device"]
    return pd.DataFrame(rows, columns=cols)


def summarise(df: pd.DataFrame, by: Sequence[str], metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Mean, sample standard deviation (ddof=1; NaN for one seed) and number of seeds per group."""
    g = df.groupby(list(by), sort=False, dropna=False)
    out = g.size().rename("seeds").to_frame()
    for m in metrics:
        out[f"{m}_mean"] = g[m].mean()
        out[f"{m}_sd"] = g[m].std(ddof=1)
    return out.reset_index()


def paper_model(df: pd.DataFrame) -> pd.Series:
    """Runs of the paper's model: backbones alone, and SRSUPM with a fixed scale of its level softmaxes
    (the paper's 1/√d, or 1: the paper does not say which, method.md §5).

    Runs of a departure (``level_temperature="learned"``) stay in ``runs.csv`` and get a section
    of their own in ``reproduction.md``, never a place in the paper's tables, significance or figures.
    """
    if "level_temperature" not in df:
        return pd.Series(True, index=df.index)
    return ~df["srsupm"].astype(bool) | df["level_temperature"].fillna("fixed").ne("learned")


def full_srsupm(df: pd.DataFrame) -> pd.Series:
    """+SRSUPM runs with every part switched on (any K, any label noise)."""
    return df["srsupm"].astype(bool) & df[list(SWITCHES)].all(axis=1)


def ablated(df: pd.DataFrame) -> pd.Series:
    """+SRSUPM runs with some part switched off (Table 3's ablations and the control)."""
    return df["srsupm"].astype(bool) & ~df[list(SWITCHES)].all(axis=1)


def is_default(df: pd.DataFrame) -> pd.Series:
    """Runs in the default setting: all ablation switches on, K = 5, no label noise."""
    return df[list(SWITCHES)].all(axis=1) & (df["K"] == DEFAULT_K) & (df["noise_p"] == 0)


def plain(df: pd.DataFrame) -> pd.Series:
    """Runs with the default K and no label noise (any switches)."""
    return (df["K"] == DEFAULT_K) & (df["noise_p"] == 0)
