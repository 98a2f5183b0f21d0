"""One call from a :class:`TrainConfig` to saved results (method.md §1, §10–§11; the CLI ``train``).

    load_dataset ──▶ drop_labels (noise_p > 0) ──▶ leave_one_out ──▶ pmsa.assess
        ──▶ build_backbone (+ SRSUPM) ──▶ Trainer.fit ──▶ valid/test tables ──▶ out_dir

Labels. Label noise (paper §5.6.2) corrupts the **training supervision only**: the PMSA levels of
the training windows (which feed L_PMSID and the PMSIM groups) come from the noisy labels. The
per-level breakdown of the validation and test windows always uses the **clean** labels, so
runs with different ``noise_p`` are compared on the same test groups. With ``bins="quantile"``
the cut points are the quantiles of the training windows' PMSD, reused on valid/test.

Files in ``out_dir`` (each written atomically: a temporary file, then ``os.replace``):
``config.json`` (the resolved config), ``history.csv`` (one row per epoch),
``valid_levels.csv`` / ``test_levels.csv`` (metrics overall and per PMSA level), ``test_ranks.csv``
(each test user's rank of the target, for paired comparisons: :func:`user_ranks`),
``results.json`` (config, best epoch, metrics, timings, parameter counts, environment) and
``checkpoint.pt`` (written by the trainer every epoch). A finished ``out_dir`` is never
overwritten silently: ``resume=True`` returns the stored results, ``overwrite=True`` starts over.

Started by ``torchrun --nproc_per_node N`` the same call trains data-parallel (see
:mod:`srsupm_lab.distributed`); every process returns the results, only rank 0 writes files.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import time
from dataclasses import MISSING, fields
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from . import distributed as ddp
from . import pmsa
from .config import _KIND, TrainConfig
from .trainer import Trainer, atomic_write, count_parameters, resolve_device, seed_everything
from .threads import apply_thread_policy, step_work

__all__ = ["run_experiment", "add_train_arguments", "train_from_args", "load_results", "prepare_data",
           "build_model", "load_trained", "user_ranks", "TrainedRun", "PreparedData"]

RANKS_FILE = "test_ranks.csv"
FIG6_FILE, FIG8_FILE = "fig6_alpha.json", "fig8_distances.json"     # written by srsupm_lab.figures
# measured on a finished run's best weights: stale as soon as the run trains again
DERIVED_FILES = (RANKS_FILE, FIG6_FILE, FIG8_FILE)
OUTPUT_FILES = ("config.json", "history.csv", "valid_levels.csv", "test_levels.csv", "results.json",
                "checkpoint.pt", *DERIVED_FILES)
# fields that may differ between a run and its resumption
RESUMABLE_CHANGES = ("resume", "progress", "device", "epochs", "patience", "eval_batch_size", "length_groups",
                     "fused_mixture")
# fields a backbone-alone run (srsupm=False) never reads
SRSUPM_ONLY = ("lambda1", "lambda2", "gamma", "tau", "dropout", "level_temperature", "fused_mixture")


def stored_defaults() -> dict:
    """The default of every plain (non-factory) TrainConfig field, for configs stored before it existed."""
    return {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}


def config_differences(stored: dict, now: dict) -> dict:
    """Fields where two resolved configs differ in a way that changes the run: ``{field: (stored, now)}``.

    Ignored: what may change between a run and its resumption (``RESUMABLE_CHANGES``) and, when
    both runs are backbone-alone, the SRSUPM settings (``SRSUPM_ONLY``). A field missing from a
    config stored before that field existed counts as its default (the run used the default).
    """
    stored = {**stored_defaults(), **stored}
    ignore = set(RESUMABLE_CHANGES) | {"out_dir"}
    if not stored.get("srsupm") and not now.get("srsupm"):
        ignore |= set(SRSUPM_ONLY)
    return {k: (stored.get(k), now.get(k)) for k in sorted(set(stored) | set(now))
            if k not in ignore and stored.get(k) != now.get(k)}


# ----------------------------------------------------------------------------- files
def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (Path,)):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _write_json(path: Path, obj) -> None:
    text = json.dumps(obj, indent=2, default=_json_default)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _write_csv(path: Path, table: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))


def _records(table: pd.DataFrame | None) -> list[dict] | None:
    return None if table is None else json.loads(table.to_json(orient="records", double_precision=15))


def _read_level_table(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, dtype={"level": str})
    table["level"] = [lvl if lvl == "all" else int(lvl) for lvl in table["level"]]
    return table


def load_results(out_dir) -> dict:
    """The stored results of a finished run: ``results.json`` plus the tables as DataFrames."""
    out = Path(out_dir)
    path = out / "results.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: the run in {out} has not finished")
    results = json.loads(path.read_text(encoding="utf-8"))
    results["history"] = pd.read_csv(out / "history.csv")
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
    stored = json.loads((out / "results.json").read_text(encoding="utf-8"))
    if stored.get("stopped_early") or int(stored.get("epochs_run", 0)) >= epochs:
        return False
    if not (out / "checkpoint.pt").exists():
        raise FileNotFoundError(f"{out}: the run stopped after {stored.get('epochs_run')} epochs and {epochs} are "
                                f"asked, but its checkpoint.pt is missing, so it cannot continue; train it in "
                                f"another folder")
    return True


def _check_out_dir(config: TrainConfig, overwrite: bool) -> dict | None:
    """Decide what to do with an existing ``out_dir``; return stored results when resuming a finished run."""
    out = Path(config.out_dir)
    if overwrite and config.resume:
        raise ValueError("run_experiment: resume=True and overwrite=True contradict each other; choose one")
    finished = (out / "results.json").exists()
    unfinished = (out / "checkpoint.pt").exists() and not finished
    if not (finished or unfinished):
        return None
    if overwrite:
        for name in OUTPUT_FILES:
            (out / name).unlink(missing_ok=True)
        return None
    if not config.resume:
        state = "a finished run (results.json)" if finished else "an unfinished run (checkpoint.pt)"
        raise FileExistsError(f"{out} holds {state}; pass resume=True (--resume) to continue or reuse it, "
                              f"or overwrite=True (--overwrite) to start over")
    stored_path = out / "config.json"
    if stored_path.exists():
        stored = json.loads(stored_path.read_text(encoding="utf-8"))
        now = config.to_dict()
        diff = config_differences(stored, now)
        if diff:
            raise ValueError(f"run_experiment: cannot resume {out}: the config differs in {sorted(diff)} "
                             f"(stored, now) = {diff}")
    if finished and wants_more_epochs(out, config.epochs):
        return None                                   # a larger budget: go on from the checkpoint
    return load_results(out) if finished else None


# ----------------------------------------------------------------------------- building blocks
class PreparedData(NamedTuple):
    """What one config's data stage produces: the dataset, its split and the PMSA levels."""
    dataset: object
    split: object
    edges: object                 # "even" or the quantile cut points
    train_levels: torch.Tensor    # from the (possibly noisy) training labels
    valid_levels: torch.Tensor    # from the clean labels
    test_levels: torch.Tensor     # from the clean labels


def prepare_data(config: TrainConfig) -> PreparedData:
    """Load the dataset, split it leave-one-out and assess the PMSA level of every window (see the module doc)."""
    from .data import leave_one_out, load_dataset
    ds = load_dataset(config.dataset, root=config.data_root, labels=config.labels, **config.dataset_options)
    split = leave_one_out(ds, max_len=config.max_len)
    train_labels = pmsa.drop_labels(ds.item_labels, config.noise_p, seed=config.seed) if config.noise_p > 0 \
        else ds.item_labels
    train_pmsd, train_levels = pmsa.assess(split.train.inputs, split.train.targets, train_labels, config.K, config.bins)
    edges = "even" if config.bins == "even" else pmsa.level_edges(config.K, config.bins, train_pmsd.numpy())
    _, valid_levels = pmsa.assess(split.valid.inputs, split.valid.targets, ds.item_labels, config.K, edges)
    _, test_levels = pmsa.assess(split.test.inputs, split.test.targets, ds.item_labels, config.K, edges)
    return PreparedData(ds, split, edges, train_levels, valid_levels, test_levels)


def build_model(config: TrainConfig, ds) -> tuple[torch.nn.Module, torch.nn.Module]:
    """``(model, backbone)``: the backbone alone (BackboneRecommender) or wrapped by SRSUPM, as the config says."""
    from .backbones import build_backbone
    from .recommender import BackboneRecommender
    from .srsupm import SRSUPM
    backbone = build_backbone(config.backbone, ds.n_items, n_users=ds.n_users, dim=config.dim,
                              max_len=config.max_len, **config.backbone_options)
    backbone.length_groups = config.length_groups                           # speed only: the same model
    if not config.srsupm:
        return BackboneRecommender(backbone), backbone
    model = SRSUPM(backbone, K=config.K, lambda1=config.lambda1, lambda2=config.lambda2, gamma=config.gamma,
                   tau=config.tau, dropout=config.dropout, pmsid=config.pmsid, pmsim=config.pmsim,
                   pmi=config.pmi, priors=config.priors, level_temperature=config.level_temperature)
    model.fused_mixture = config.fused_mixture                             # speed only: the same model
    return model, backbone


class TrainedRun(NamedTuple):
    """A finished (or checkpointed) run brought back: its config, data, levels and model in eval mode."""
    config: TrainConfig
    model: torch.nn.Module
    data: PreparedData
    best_epoch: int


def load_trained(out_dir, device="cpu") -> TrainedRun:
    """Rebuild a run from ``out_dir`` (``config.json`` + ``checkpoint.pt``) with its **best** weights.

    The data, split and levels are recomputed from the config (they are deterministic), so the
    model can be scored, analysed (``srsupm_lab.analysis``) or compared user by user
    (:func:`user_ranks`) after the run, in another session or on another machine.
    """
    out = Path(out_dir)
    for name in ("config.json", "checkpoint.pt"):
        if not (out / name).exists():
            raise FileNotFoundError(f"load_trained: {out / name} does not exist (not a run folder, or the run "
                                    f"has not finished its first epoch)")
    config = TrainConfig.from_dict(json.loads((out / "config.json").read_text(encoding="utf-8")))
    seed_everything(config.seed)
    data = prepare_data(config)
    model, _ = build_model(config, data.dataset)
    ck = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(ck["best_state"] if ck.get("best_state") is not None else ck["model"])
    return TrainedRun(config, model.to(resolve_device(device)).eval(), data, int(ck.get("best_epoch", 0)))


def can_measure(out_dir, stored: str) -> bool:
    """What is measured on a run's best weights is at hand: stored in ``stored`` or re-measurable
    from ``checkpoint.pt`` (a run folder kept without either cannot give it)."""
    out = Path(out_dir)
    return (out / stored).exists() or (out / "checkpoint.pt").exists()


def _ranks_table(users: torch.Tensor, levels: torch.Tensor, ranks: torch.Tensor) -> pd.DataFrame:
    return pd.DataFrame({"user": users.numpy(), "level": levels.numpy(), "rank": ranks.numpy()})


def user_ranks(out_dir, device="cpu", batch_size: int = 1024) -> pd.DataFrame:
    """Per-user test ranks of a run's best weights: ``user``, ``level`` (clean PMSA level), ``rank`` (0 = top).

    The input of paired comparisons between two runs on the same users (``srsupm_lab.significance``).
    A finished run stores them in ``test_ranks.csv``, so a run folder copied without its checkpoint
    (``reports/runs/``) can still be compared; a run without that file (older runs) is re-scored
    once from its best checkpoint and the file written then.
    """
    out = Path(out_dir)
    if (out / RANKS_FILE).exists():
        table = pd.read_csv(out / RANKS_FILE)
        if list(table.columns) != ["user", "level", "rank"]:
            raise ValueError(f"{out / RANKS_FILE}: expected the columns user, level, rank; got {list(table.columns)}")
        return table
    from .evaluate import evaluate
    run = load_trained(out, device=device)
    split = run.data.split
    _, ranks = evaluate(run.model, split.test, mask_history=run.config.mask_history, batch_size=batch_size,
                        device=resolve_device(device), return_ranks=True)
    table = _ranks_table(split.test.users, run.data.test_levels, ranks.cpu())
    if (out / "results.json").exists():                # a finished run: its best state will not change
        _write_csv(out / RANKS_FILE, table)
    return table


# ----------------------------------------------------------------------------- the run
def code_version() -> dict:
    """``{"srsupm_lab": version, "commit": git commit of the package's checkout or None, "modified":
    whether its tracked files differ from that commit (None without git)}``: which code made a run."""
    from . import __version__
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no", "--",
                                  "."], capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return {"srsupm_lab": __version__, "commit": commit, "modified": bool(changed)}
    except (OSError, subprocess.SubprocessError):                # no git, or not a checkout (an installed wheel)
        return {"srsupm_lab": __version__, "commit": None, "modified": None}


def _environment(device: torch.device) -> dict:
    env = {"python": sys.version.split()[0], "platform": platform.platform(), "torch": torch.__version__,
           "numpy": np.__version__, "device": str(device), "torch_threads": torch.get_num_threads(),
           "processes": ddp.world_size(), **code_version()}
    if device.type == "cuda":
        env["device_name"] = torch.cuda.get_device_name(device)
    return env


def _level_counts(levels: torch.Tensor, K: int) -> list[int]:
    return torch.bincount(levels, minlength=K).tolist()


def run_experiment(config: TrainConfig | dict, overwrite: bool = False) -> dict:
    """Run one experiment end to end (see the module doc) and return its results.

    Returns the content of ``results.json`` plus three DataFrames: ``history``, ``valid_table``
    and ``test_table``. With ``config.out_dir=None`` nothing is written (and no resume).
    """
    config = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    config.validate()
    out = Path(config.out_dir) if config.out_dir is not None else None
    if out is None and config.resume:
        raise ValueError("run_experiment: resume=True needs an out_dir (where the checkpoint lives)")
    if out is not None:
        if ddp.rank_from_env() == 0:                  # the one process that decides and writes
            stored = _check_out_dir(config, overwrite)
            if stored is not None:
                return stored
            for name in DERIVED_FILES:                # it trains (again): older measurements go
                (out / name).unlink(missing_ok=True)
            out.mkdir(parents=True, exist_ok=True)
            _write_json(out / "config.json", config.to_dict())
        elif config.resume and (out / "results.json").exists():
            return load_results(out)
    t_start = time.perf_counter()
    device = resolve_device(config.device)

    seed_everything(config.seed)
    prepared = prepare_data(config)                                    # data -> PMSA
    ds, split, edges = prepared.dataset, prepared.split, prepared.edges
    apply_thread_policy(step_work(config.batch_size, ds.n_items, config.dim, config.max_len, config.K if config.srsupm else 1))
    train_levels, valid_levels, test_levels = prepared.train_levels, prepared.valid_levels, prepared.test_levels
    t_data = time.perf_counter()
    model, backbone = build_model(config, ds)

    trainer = Trainer(model, split.train, split.valid, split.test, train_levels=train_levels,
                      valid_levels=valid_levels, test_levels=test_levels, epochs=config.epochs,
                      batch_size=config.batch_size, lr=config.lr, weight_decay=config.weight_decay,
                      patience=config.patience, seed=config.seed, device=device,
                      eval_batch_size=config.eval_batch_size, mask_history=config.mask_history,
                      checkpoint=None if out is None else out / "checkpoint.pt", resume=config.resume,
                      progress=config.progress)
    fit = trainer.fit()
    t_end = time.perf_counter()

    results = {
        "config": config.to_dict(),
        "model": "SRSUPM+" + config.backbone if config.srsupm else config.backbone,
        "best_epoch": fit.best_epoch,
        "epochs_run": fit.epochs_run,
        "stopped_early": fit.stopped_early,
        "best_valid_recall@10": fit.best_valid if math.isfinite(fit.best_valid) else None,
        "level_scales": model.temperatures.scales() if config.srsupm else None,   # best weights' α, β scales
        "valid": _records(fit.valid),
        "test": _records(fit.test),
        "data": {"name": ds.name, "users": ds.n_users, "items": ds.n_items, "labels": ds.n_labels,
                 "train_windows": len(split.train), "valid_users": len(split.valid), "test_users": len(split.test),
                 "dropped_users": split.dropped_users,
                 "train_level_counts": _level_counts(train_levels, config.K),
                 "test_level_counts": _level_counts(test_levels, config.K),
                 "level_edges": None if isinstance(edges, str) else [float(e) for e in edges],
                 "test_levels_from": "clean labels", "train_levels_from": f"labels with noise p={config.noise_p}"},
        "timings": {"data_seconds": t_data - t_start, "train_seconds": fit.train_seconds,
                    "total_seconds_this_session": t_end - t_start,
                    "seconds_per_epoch": fit.train_seconds / max(fit.epochs_run, 1)},
        "n_params": count_parameters(model),
        "n_params_backbone": count_parameters(backbone),
        "environment": _environment(device),
    }
    if out is not None and ddp.is_main():
        _write_csv(out / "history.csv", fit.history)
        _write_csv(out / "valid_levels.csv", fit.valid)
        _write_csv(out / "test_levels.csv", fit.test)
        _write_csv(out / RANKS_FILE, _ranks_table(split.test.users, test_levels, fit.test_ranks.cpu()))
        _write_json(out / "results.json", results)          # last: its presence marks a finished run
    return {**results, "history": fit.history, "valid_table": fit.valid, "test_table": fit.test}


# ----------------------------------------------------------------------------- CLI
_TYPES = {"int": int, "pos_int": int, "opt_pos_int": int, "float": float, "str": str, "opt_str": str}
_FLAGS = {"out_dir": ["--out", "--out-dir"], "K": ["--K", "-K"]}
_HELP = {
    "dataset": "a known name or a folder in the S3-Rec layout", "data_root": "folder holding the real datasets",
    "labels": "categories | attributes", "dataset_options": "make_synthetic option KEY=VALUE (repeatable)",
    "noise_p": "label-noise probability on the training supervision", "max_len": "input length L",
    "backbone": "gru4rec | sasrec | caser | bert4rec | lightsans",
    "backbone_options": "backbone option KEY=VALUE (repeatable), e.g. n_layers=2",
    "dim": "embedding size d", "srsupm": "plug SRSUPM onto the backbone", "K": "number of shift levels",
    "bins": "even | quantile", "lambda1": "weight of L_PMSID", "lambda2": "weight of L_PMSIM",
    "gamma": "weight of L_reg", "tau": "InfoNCE temperature", "dropout": "dropout inside the SIC branches",
    "pmsid": "ablation switch", "pmsim": "ablation switch", "pmi": "ablation switch (mixed prediction)",
    "priors": "ablation switch (level priors)",
    "level_temperature": "fixed (1/√d in Eqs. 9 and 19, the paper) | learned (a departure: learnable scales)",
    "mask_history": "remove seen items from the ranking",
    "fused_mixture": "score evaluation passes with the torch.compile'd mixture (speed only; +SRSUPM)",
    "device": "auto | cpu | cuda[:i] | mps", "out_dir": "output folder", "resume": "continue a run in --out",
    "progress": "progress bars", "epochs": "maximum number of epochs", "batch_size": "training batch size",
    "lr": "Adam learning rate (paper: 0.01)", "weight_decay": "Adam weight decay",
    "patience": "early-stopping patience, epochs without a better valid Recall@10", "seed": "random seed",
    "eval_batch_size": "users scored at once in evaluation",
    "length_groups": "encode each batch in this many groups of similar window length (exact; 1 = off; "
                     "default: 8 on the CPU, off elsewhere)",
}


def _key_value(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw                                           # a bare string
    return key.strip(), value


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add one option per TrainConfig field (plus ``--config FILE`` and ``--overwrite``) to ``parser``.

    Only options given on the command line override the config file, which overrides the
    defaults. Booleans come as pairs: ``--srsupm/--no-srsupm``, ``--pmsim/--no-pmsim``, ...
    """
    parser.add_argument("--config", metavar="FILE", default=None, help="JSON file of TrainConfig fields")
    parser.add_argument("--overwrite", action="store_true", help="replace the results of a finished run in --out")
    for f in fields(TrainConfig):
        name, kind = f.name, _KIND[f.name]
        flags = _FLAGS.get(name, ["--" + name.replace("_", "-")])
        default = f.default_factory() if callable(f.default_factory) else f.default
        help_text = f"{_HELP.get(name, name.replace('_', ' '))} (default: {default})"
        if kind == "bool":
            parser.add_argument(*flags, dest=name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                                help=help_text)
        elif kind == "dict":
            flag = flags[0][:-1] if flags[0].endswith("s") else flags[0]     # --backbone-option KEY=VALUE
            parser.add_argument(flag, dest=name, action="append", type=_key_value, metavar="KEY=VALUE",
                                default=argparse.SUPPRESS, help=help_text)
        else:
            parser.add_argument(*flags, dest=name, type=_TYPES[kind], default=argparse.SUPPRESS, help=help_text)
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Defaults ← ``--config`` file ← options given on the command line."""
    values: dict = {}
    if getattr(args, "config", None):
        with open(args.config, encoding="utf-8") as fh:
            values.update(json.load(fh))
    for name in (f.name for f in fields(TrainConfig)):
        if hasattr(args, name):
            value = getattr(args, name)
            values[name] = {**values.get(name, {}), **dict(value)} if _KIND[name] == "dict" else value
    return TrainConfig.from_dict(values)


def train_from_args(args: argparse.Namespace) -> dict:
    """The CLI ``train`` command: run the experiment, print a summary, return the results dict."""
    config = config_from_args(args)
    results = run_experiment(config, overwrite=bool(getattr(args, "overwrite", False)))
    print(f"{results['model']} on {results['data']['name']}: best epoch {results['best_epoch']} "
          f"of {results['epochs_run']}" + (f"; files in {config.out_dir}" if config.out_dir else ""))
    print(results["test_table"].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return results
