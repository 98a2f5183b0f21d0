"""The columns and masks through which the SRSUPM paper's reports read a table of runs (method.md §10–§12).

:func:`report_columns` gives, for any run's config, the columns the paper's tables, comparisons and
figures select on: ``srsupm`` (is it an SRSUPM run), the ablation switches (on for a run of another
method) and SRSUPM's other options (NaN for a run of another method), in the order ``runs.csv`` lists
them; the method ``srsupm`` hands them to the one collector (``Method.report_columns``,
:func:`srsupm_lab.reproduce.collect.collect`). The masks below say which rows are which of the
paper's models.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .grids import DEFAULT_K, SWITCHES
from .options import SRSUPMOptions

__all__ = ["SETTINGS", "REPORT_COLUMNS", "RUNS_COLUMNS", "report_columns", "paper_model", "full_srsupm", "ablated", "is_default",
           "plain"]

#: SRSUPM's options beside its ablation switches, one column each, in the order runs.csv has always had them
SETTINGS = ("lambda1", "lambda2", "gamma", "tau", "dropout", "level_temperature", "fused_mixture", "pmsim_similarity",
            "reg_form", "augmentation", "singletons", "false_negatives")
#: options of a one-pass run only (every run the reports collect trained per window, where they do nothing)
ONE_PASS_ONLY = ("same_user_negatives",)
assert set(SETTINGS) == set(SRSUPMOptions.names()) - set(SWITCHES) - set(ONE_PASS_ONLY), "every SRSUPM option"
REPORT_COLUMNS = ("srsupm", *SWITCHES, *SETTINGS)
#: the columns of the reports' runs.csv, in the order it has always had
RUNS_COLUMNS = ("run", "dataset", "backbone", "srsupm", *SWITCHES, "K", "noise_p", "seed", *SETTINGS, "lr", "batch_size",
                "epochs", "recall@10", "recall@20", "ndcg@10", "ndcg@20", "best_epoch", "epochs_run",
                "seconds_per_epoch", "device")


def _option(options: dict, name: str):
    """An option of the run: NaN when its method has none of that name; numbers as floats, words as they are."""
    if name not in options:
        return np.nan
    return options[name] if isinstance(options[name], str) else float(options[name])


def report_columns(config: dict) -> dict:
    """The :data:`REPORT_COLUMNS` of one run's config (today's sections: ``method``, ``method_options``)."""
    options = config["method_options"] if config["method"] == SRSUPMOptions.method else {}
    return {"srsupm": config["method"] == SRSUPMOptions.method,
            **{s: bool(options.get(s, True)) for s in SWITCHES}, **{w: _option(options, w) for w in SETTINGS}}


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
