"""A run folder's files and its stored config (method.md §10–11; the folder :func:`srsupm_lab.experiment.run_experiment` fills).

Files in a run folder (each written atomically, :mod:`srsupm_lab.atomic`): ``config.json`` (the
resolved config), ``history.csv``, ``valid_levels.csv`` / ``test_levels.csv``, ``test_ranks.csv``
(``RANKS_FILE``), ``results.json`` (its presence marks a finished run), ``checkpoint.pt`` and the
figures' measurements (``FIG6_FILE``, ``FIG8_FILE``), the cold-start ranks (``COLD_START_FILE``) and the
MTRec experiment's policy metrics (``POLICY_FILE``). Here: the file names, the JSON/CSV writers
and readers (a truncated or malformed file is one ``ValueError`` naming it and its line),
:func:`load_results` of a finished run, and the checks made before a run touches its folder:
:func:`config_differences` between a stored config and the one asked for (a config stored before
a field existed reads as that run ran: :func:`upgrade_stored_config`), :func:`wants_more_epochs`,
:func:`check_out_dir` (reads only) and :func:`start_run_files` (the first change to the folder).
"""
from __future__ import annotations

import json
import re
from dataclasses import MISSING, fields
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from .atomic import atomic_write, remove_stale_temps
from .config import TrainConfig, sectioned

__all__ = ["RunSpec", "slug", "RANKS_FILE", "VALID_RANKS_FILE", "COLD_START_FILE", "POLICY_FILE", "FIG6_FILE",
           "FIG8_FILE", "DERIVED_FILES", "OUTPUT_FILES", "RESUMABLE_CHANGES",
           "LEGACY_VALUES", "stored_config", "stored_defaults", "upgrade_stored_config", "config_differences",
           "json_writer", "csv_writer", "write_json", "write_csv", "read_json_file", "load_results",
           "wants_more_epochs", "check_out_dir", "start_run_files"]


class RunSpec(NamedTuple):
    """One run of a grid: its folder name under ``runs_dir`` and its TrainConfig overrides (``srsupm_lab.reproduce``)."""
    name: str
    overrides: dict


def slug(dataset: str) -> str:
    """A filesystem-safe name for a dataset (a folder path gives its last part)."""
    name = Path(dataset).name if ("/" in dataset or "\\" in dataset) else dataset
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name.lower()).strip("-.") or "dataset"


RANKS_FILE = "test_ranks.csv"
VALID_RANKS_FILE = "valid_ranks.csv"                               # measured on demand (experiment.user_ranks)
COLD_START_FILE = "cold_start_ranks.csv"                           # written by srsupm_lab.reproduce.cold_start
POLICY_FILE = "policy_metrics.csv"                                 # written by srsupm_lab.reproduce.mtrec
FIG6_FILE, FIG8_FILE = "fig6_alpha.json", "fig8_distances.json"     # written by srsupm_lab.reproduce.figures
# measured on a finished run's best weights: stale as soon as the run trains again
DERIVED_FILES = (RANKS_FILE, VALID_RANKS_FILE, FIG6_FILE, FIG8_FILE, COLD_START_FILE, POLICY_FILE)
OUTPUT_FILES = ("config.json", "history.csv", "valid_levels.csv", "test_levels.csv", "results.json",
                "checkpoint.pt", *DERIVED_FILES)
# fields that may differ between a run and its resumption (and each method's ``speed_options``)
RESUMABLE_CHANGES = ("resume", "progress", "device", "epochs", "patience", "eval_batch_size", "length_groups")

#: fields added after runs were stored whose value in those runs differs from today's default (a method's
#: options have their own: ``Method.legacy_values``)
LEGACY_VALUES = {"loss": "ce"}


def stored_defaults() -> dict:
    """What a config stored before a field existed ran with: the field's default, or its ``LEGACY_VALUES`` entry."""
    out = {}
    for f in fields(TrainConfig):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return {**out, **LEGACY_VALUES}


def upgrade_stored_config(stored: dict) -> dict:
    """A stored config in today's sectioned shape, with every field and method option it lacks filled as that
    run ran: a field's default or ``LEGACY_VALUES`` entry, a method option's ``Method.legacy_values`` entry
    or default (:func:`srsupm_lab.config.sectioned` reads the flat shape).

    BERT4Rec runs stored before the cloze-only default (the same change added SRSUPM's
    ``augmentation`` option) trained the next-item loss too: their ``backbone_options`` gain
    ``next_item_loss=True``.
    """
    from .families.registry import get_method
    out = sectioned(stored)
    older = "augmentation" not in stored and "method_options" not in stored   # stored before those options
    out = {**stored_defaults(), **out}
    method = get_method(out["method"])
    given = dict(out.get("method_options") or {})
    legacy = {k: v for k, v in method.legacy_values.items() if k not in given}
    out["method_options"] = method.options({**legacy, **given}).to_dict()
    if older and out.get("backbone") == "bert4rec":
        out["backbone_options"] = {"next_item_loss": True, **(out.get("backbone_options") or {})}
    return out


def stored_config(out_dir) -> TrainConfig:
    """The config a run folder's ``config.json`` holds, read as that run ran (:func:`upgrade_stored_config`);
    a missing, truncated or malformed file, or a value no run stores (an edited file), is one error naming
    it and, where known, the line."""
    path = Path(out_dir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: {Path(out_dir)} is not a run folder")
    values = read_json_file(path, "stored config")
    try:
        return TrainConfig.from_dict(upgrade_stored_config(values))
    except (ValueError, TypeError, KeyError) as err:              # a value no run stores: where it is
        raise _in_file(path, err) from None


_NAMED_KEY = re.compile(r"(?:TrainConfig\.|method_options\.)(\w+)|unknown key\(s\) \['([^']+)'")


def _in_file(path: Path, err: Exception) -> Exception:
    """``err`` (about a value of the JSON file ``path``) as the same exception type, its one-line message
    prefixed with ``path`` and, where the message names a key the file holds, that key's line."""
    message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    if message.startswith(str(path)):
        return err
    line = None
    match = _NAMED_KEY.search(message)
    if match is not None:
        key = next(g for g in match.groups() if g)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        at = re.search(rf'"{re.escape(key)}"\s*:', text)
        line = text.count("\n", 0, at.start()) + 1 if at else None
    message = f"{path}{'' if line is None else f':{line}'}: {message}"
    try:
        return type(err)(message)
    except Exception:                                             # an exception type with other arguments
        return ValueError(message)


def config_differences(stored: dict, now: dict) -> dict:
    """Fields where two configs differ in a way that changes the run: ``{field: (stored, now)}``, a method
    option as ``method_options.<name>``.

    Ignored: what may change between a run and its resumption (``RESUMABLE_CHANGES`` and the method's
    ``speed_options``). Both configs are read as their runs ran (:func:`upgrade_stored_config`).
    """
    from .families.registry import get_method
    stored, now = upgrade_stored_config(stored), upgrade_stored_config(now)
    ignore = set(RESUMABLE_CHANGES) | {"out_dir", "method_options"}
    diff = {k: (stored.get(k), now.get(k)) for k in sorted(set(stored) | set(now))
            if k not in ignore and stored.get(k) != now.get(k)}
    if stored["method"] == now["method"]:
        speed = set(get_method(now["method"]).speed_options)
        a, b = stored["method_options"], now["method_options"]
        diff.update({f"method_options.{k}": (a.get(k), b.get(k)) for k in sorted(set(a) | set(b))
                     if k not in speed and a.get(k) != b.get(k)})
    return diff


# ----------------------------------------------------------------------------- files
def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (Path,)):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_writer(obj):
    """A writer for :func:`srsupm_lab.atomic.atomic_write`: ``obj`` as indented JSON (NumPy numbers, paths allowed)."""
    text = json.dumps(obj, indent=2, default=_json_default)
    return lambda tmp: Path(tmp).write_text(text, encoding="utf-8")


def csv_writer(table: pd.DataFrame):
    """A writer for :func:`srsupm_lab.atomic.atomic_write`: ``table`` as CSV without its index."""
    return lambda tmp: table.to_csv(tmp, index=False)


def write_json(path: Path, obj) -> None:
    """``obj`` as indented JSON in ``path``, written atomically (also what srsupm_lab.reproduce.figures
    measures on a run, kept in the run's folder)."""
    atomic_write(path, json_writer(obj))


def write_csv(path: Path, table: pd.DataFrame) -> None:
    """``table`` as CSV in ``path``, written atomically."""
    atomic_write(path, csv_writer(table))


_RESULTS_HINT = ("; delete it to continue the run from checkpoint.pt (resume=True, --resume), or start over "
                 "(overwrite=True, --overwrite)")


def read_json_file(path: Path, what: str, hint: str = "") -> dict:
    """A run folder's JSON object (``results.json``, ``config.json``); a truncated or malformed file
    is one ``ValueError`` naming it, its line and (``hint``) what to do."""
    data = path.read_bytes()
    try:
        value = json.loads(data.decode("utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: malformed JSON ({err.msg}): the {what} is truncated or "
                         f"corrupt{hint}") from None
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x}): the {what} is "
                         f"corrupt{hint}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected a JSON object (the {what}), got a {type(value).__name__}")
    return value


def _read_table(path: Path, **options) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **options)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist: the run folder {path.parent} is incomplete") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ValueError(f"{path}: cannot be read ({reason}): the file is truncated or corrupt") from None


def _read_level_table(path: Path) -> pd.DataFrame:
    table = _read_table(path, dtype={"level": str})
    if "level" not in table.columns:
        raise ValueError(f"{path}: no 'level' column (columns {list(table.columns)})")
    table["level"] = [lvl if lvl == "all" else int(lvl) for lvl in table["level"]]
    return table


def load_results(out_dir) -> dict:
    """The stored results of a finished run: ``results.json`` plus the tables as DataFrames.

    A truncated or malformed file is one ``ValueError`` naming it (and its line); nothing is changed.
    """
    out = Path(out_dir)
    path = out / "results.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: the run in {out} has not finished")
    results = read_json_file(path, "results file", _RESULTS_HINT)
    results["history"] = _read_table(out / "history.csv")
    results["valid_table"] = _read_level_table(out / "valid_levels.csv")
    results["test_table"] = _read_level_table(out / "test_levels.csv")
    return results


def wants_more_epochs(out_dir, epochs: int) -> bool:
    """True when the finished run in ``out_dir`` ran out of budget below ``epochs`` and can go on.

    A run that stopped at its epoch budget (not by early stopping) keeps its last-epoch state in
    ``checkpoint.pt``; asking for more epochs resumes it from there instead of returning the
    stored results. Without the checkpoint (e.g. a run copied without it) that is impossible.
    """
    out = Path(out_dir)
    if not (out / "results.json").exists():
        return False
    stored = read_json_file(out / "results.json", "results file", _RESULTS_HINT)
    if stored.get("stopped_early") or int(stored.get("epochs_run", 0)) >= epochs:
        return False
    if not (out / "checkpoint.pt").exists():
        raise FileNotFoundError(f"{out}: the run stopped after {stored.get('epochs_run')} epochs and {epochs} are "
                                f"asked, but its checkpoint.pt is missing, so it cannot continue; train it in "
                                f"another folder")
    return True


def check_out_dir(config: TrainConfig, overwrite: bool) -> dict | None:
    """Decide what to do with an existing ``out_dir``; return stored results when resuming a finished run.

    Reads only: nothing in ``out_dir`` is changed here (see :func:`start_run_files`).
    """
    out = Path(config.out_dir)
    if overwrite and config.resume:
        raise ValueError("run_experiment: resume=True and overwrite=True contradict each other; choose one")
    finished = (out / "results.json").exists()
    unfinished = (out / "checkpoint.pt").exists() and not finished
    if not (finished or unfinished) or overwrite:
        return None
    if not config.resume:
        state = "a finished run (results.json)" if finished else "an unfinished run (checkpoint.pt)"
        raise FileExistsError(f"{out} holds {state}; pass resume=True (--resume) to continue or reuse it, "
                              f"or overwrite=True (--overwrite) to start over")
    stored_path = out / "config.json"
    if stored_path.exists():
        stored = read_json_file(stored_path, "stored config")
        now = config.to_dict()
        try:
            diff = config_differences(stored, now)
        except (ValueError, TypeError, KeyError) as err:          # the stored config holds what no run stores
            raise _in_file(stored_path, err) from None
        if diff:
            raise ValueError(f"run_experiment: cannot resume {out}: the config differs in {sorted(diff)} "
                             f"(stored, now) = {diff}")
    if finished and wants_more_epochs(out, config.epochs):
        return None                                   # a larger budget: go on from the checkpoint
    return load_results(out) if finished else None


def start_run_files(out: Path, config: TrainConfig, overwrite: bool) -> None:
    """The first change to ``out_dir``, made once the data, the model and (on resume) the checkpoint
    have been checked: leftovers of killed writes go, ``overwrite`` removes the previous outputs,
    ``config.json`` is written."""
    if out.is_dir():
        for name in OUTPUT_FILES:
            remove_stale_temps(out / name)
    if overwrite:
        for name in OUTPUT_FILES:
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", config.to_dict())

