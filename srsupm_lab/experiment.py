"""One call from a :class:`TrainConfig` to saved results (method.md §1, §10–§11; the CLI ``train``).

    load_dataset ──▶ leave_one_out ──▶ [drop_labels (noise_p > 0) ──▶ pmsa.assess: a method that asks for levels]
        ──▶ build_backbone (+ the method) ──▶ Trainer.fit ──▶ valid/test tables ──▶ out_dir

Levels on request: PMSA runs only for a method whose ``requires`` holds ``"levels"`` (SRSUPM), or when a
caller asks (``prepare_data(config, levels=True)``: an analysis by level of any run); a run without
levels has tables of all users only and no level in its ranks.

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
Nothing in ``out_dir`` changes before the data, the model and, on resume, the stored config and
the checkpoint (readable, of this run) have been checked; the final files are all written before
any replaces its old version, ``results.json`` last; temporaries of a killed write are removed
when the run next starts. A command that fails loses nothing: the previous results stay as
they were (a continuation that fails while training keeps its newer checkpoint).

Started by ``torchrun --nproc_per_node N`` the same call trains data-parallel (see
:mod:`srsupm_lab.distributed`); every process returns the results, only rank 0 writes files.

While a run writes its folder it holds the folder's lock (:mod:`srsupm_lab.run_lock`): a second
run on the same ``out_dir`` is refused in one line before anything there changes.

Here: the run itself (:func:`prepare_data`, :func:`build_model`, :func:`run_experiment`) and a
finished run brought back (:func:`load_trained`, :func:`user_ranks`). Elsewhere: the run
folder's file names, readers, writers, stored-config checks and :func:`load_results` in
:mod:`srsupm_lab.run_folder`; the ``train`` command's options in :mod:`srsupm_lab.cli.train`;
atomic writes in :mod:`srsupm_lab.atomic`; checkpoint contents in :mod:`srsupm_lab.checkpoints`.
"""
from __future__ import annotations

import contextlib
import json
import math
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from . import distributed as ddp
from . import pmsa
from .atomic import atomic_write_all
from .checkpoints import check_checkpoint, read_checkpoint
from .config import TrainConfig
from .methods import get_method
from .run_folder import (DERIVED_FILES, RANKS_FILE, VALID_RANKS_FILE, check_out_dir, csv_writer, json_writer,
                         load_results, start_run_files, stored_config, write_csv)
from .run_lock import run_lock
from .serve.id_maps import write_id_maps
from .threads import apply_thread_policy, step_work
from .trainer import Trainer, count_parameters, resolve_device, seed_everything

__all__ = ["run_experiment", "prepare_data", "build_model", "load_trained", "user_ranks", "can_measure",
           "code_version", "TrainedRun", "PreparedData"]


def _records(table: pd.DataFrame | None) -> list[dict] | None:
    return None if table is None else json.loads(table.to_json(orient="records", double_precision=15))


# ----------------------------------------------------------------------------- building blocks
class PreparedData(NamedTuple):
    """What one config's data stage produces: the dataset, its split and, when asked for, the PMSA levels."""
    dataset: object
    split: object
    edges: object                        # "even" or the quantile cut points (None without levels)
    train_levels: torch.Tensor | None    # from the (possibly noisy) training labels
    valid_levels: torch.Tensor | None    # from the clean labels
    test_levels: torch.Tensor | None     # from the clean labels


def prepare_data(config: TrainConfig, levels: bool | None = None) -> PreparedData:
    """Load the dataset, split it leave-one-out and, for a method that asks for levels (``levels=None``) or
    when ``levels`` is True, assess the PMSA level of every window (see the module doc)."""
    from .data import leave_one_out, load_dataset
    ds = load_dataset(config.dataset, root=config.data_root, labels=config.labels, **config.dataset_options)
    from .memory import check_memory, window_count      # sizes beyond memory: one line, before windows and model
    check_memory(config, ds.n_items, ds.n_users, window_count(ds))
    split = leave_one_out(ds, max_len=config.max_len)
    if not (get_method(config.method).wants_levels if levels is None else levels):
        return PreparedData(ds, split, None, None, None, None)
    return PreparedData(ds, split, *assess_levels(config, ds, split))


def assess_levels(config: TrainConfig, ds, split) -> tuple:
    """``(edges, train_levels, valid_levels, test_levels)``: PMSA (paper §4.1) of every window of ``split``, the
    training windows' from the labels with noise ``config.noise_p``, the others' from the clean labels."""
    pmsa.check_K(config.K)
    train_labels = pmsa.drop_labels(ds.item_labels, config.noise_p, seed=config.seed) if config.noise_p > 0 \
        else ds.item_labels
    train_pmsd, train_levels = pmsa.assess(split.train.inputs, split.train.targets, train_labels, config.K, config.bins)
    edges = "even" if config.bins == "even" else pmsa.level_edges(config.K, config.bins, train_pmsd.numpy())
    _, valid_levels = pmsa.assess(split.valid.inputs, split.valid.targets, ds.item_labels, config.K, edges)
    _, test_levels = pmsa.assess(split.test.inputs, split.test.targets, ds.item_labels, config.K, edges)
    return edges, train_levels, valid_levels, test_levels


def build_model(config: TrainConfig, ds) -> tuple[torch.nn.Module, torch.nn.Module]:
    """``(model, backbone)``: the backbone with the config's method plugged on (:mod:`srsupm_lab.methods`)."""
    from .backbones import build_backbone
    backbone = build_backbone(config.backbone, ds.n_items, n_users=ds.n_users, dim=config.dim,
                              max_len=config.max_len, **config.backbone_options)
    backbone.length_groups = config.length_groups                           # speed only: the same model
    return get_method(config.method).build(backbone, config, ds), backbone


class TrainedRun(NamedTuple):
    """A finished (or checkpointed) run brought back: its config, data, levels and model in eval mode."""
    config: TrainConfig
    model: torch.nn.Module
    data: PreparedData
    best_epoch: int


def load_trained(out_dir, device="cpu", levels: bool | None = None) -> TrainedRun:
    """Rebuild a run from ``out_dir`` (``config.json`` + ``checkpoint.pt``) with its **best** weights.

    The data, split and levels (``levels``: as :func:`prepare_data`) are recomputed from the config (they
    are deterministic), so the
    model can be scored, analysed (``srsupm_lab.analysis.shift``) or compared user by user
    (:func:`user_ranks`) after the run, in another session or on another machine. Weights that do
    not fit the model ``config.json`` describes (an edited config) are one ``ValueError`` naming the
    checkpoint and the first weights that differ (:func:`~srsupm_lab.checkpoints.check_checkpoint`).
    """
    out = Path(out_dir)
    for name in ("config.json", "checkpoint.pt"):
        if not (out / name).exists():
            raise FileNotFoundError(f"load_trained: {out / name} does not exist (not a run folder, or the run "
                                    f"has not finished its first epoch)")
    config = stored_config(out)
    seed_everything(config.seed)
    data = prepare_data(config, levels)
    model, _ = build_model(config, data.dataset)
    ck = read_checkpoint(out / "checkpoint.pt")                      # a truncated file: one line naming it
    try:                                     # weights of another model (config.json edited): one line naming both
        check_checkpoint(ck, {}, model, out / "checkpoint.pt")
    except ValueError as err:
        raise ValueError(f"{err}; {out / 'config.json'} does not describe the model this checkpoint holds") from None
    model.load_state_dict(ck["best_state"] if ck.get("best_state") is not None else ck["model"])
    return TrainedRun(config, model.to(resolve_device(device)).eval(), data, int(ck.get("best_epoch", 0)))


def can_measure(out_dir, stored: str) -> bool:
    """What is measured on a run's best weights is at hand: stored in ``stored`` or re-measurable
    from ``checkpoint.pt`` (a run folder kept without either cannot give it)."""
    out = Path(out_dir)
    return (out / stored).exists() or (out / "checkpoint.pt").exists()


def _ranks_table(users: torch.Tensor, levels: torch.Tensor | None, ranks: torch.Tensor) -> pd.DataFrame:
    """``user, level, rank`` per user; ``level`` is empty for a run without levels."""
    level = pd.array([pd.NA] * len(users), dtype="Int64") if levels is None else levels.numpy()
    return pd.DataFrame({"user": users.numpy(), "level": level, "rank": ranks.numpy()})


def user_ranks(out_dir, device="cpu", batch_size: int = 1024, split: str = "test") -> pd.DataFrame:
    """Per-user ranks of a run's best weights on ``split`` (``"test"`` or ``"valid"``): ``user``, ``level``
    (clean PMSA level), ``rank`` (0 = top).

    The input of paired comparisons between two runs on the same users (``srsupm_lab.analysis.significance``).
    A finished run stores its test ranks in ``test_ranks.csv``, so a run folder copied without its checkpoint
    (``reports/runs/``) can still be compared; validation ranks (``valid_ranks.csv``, for comparisons
    that must not look at test data) and the test ranks of older runs are scored once from the best
    checkpoint and the file written then, when the run has finished.
    """
    files = {"test": RANKS_FILE, "valid": VALID_RANKS_FILE}
    if split not in files:
        raise ValueError(f"user_ranks: split must be one of {sorted(files)}, got {split!r}")
    out = Path(out_dir)
    path = out / files[split]
    if path.exists():
        table = pd.read_csv(path)
        if list(table.columns) != ["user", "level", "rank"]:
            raise ValueError(f"{path}: expected the columns user, level, rank; got {list(table.columns)}")
        return table
    from .evaluate import evaluate
    run = load_trained(out, device=device)
    windows = getattr(run.data.split, split)
    levels = run.data.test_levels if split == "test" else run.data.valid_levels
    _, ranks = evaluate(run.model, windows, mask_history=run.config.mask_history, batch_size=batch_size,
                        device=resolve_device(device), return_ranks=True)
    table = _ranks_table(windows.users, levels, ranks.cpu())
    if (out / "results.json").exists():                # a finished run: its best state will not change
        write_csv(path, table)
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


def _level_counts(levels: torch.Tensor | None, K: int) -> list[int] | None:
    return None if levels is None else torch.bincount(levels, minlength=K).tolist()


def run_experiment(config: TrainConfig | dict, overwrite: bool = False, levels: bool | None = None) -> dict:
    """Run one experiment end to end (see the module doc) and return its results.

    Returns the content of ``results.json`` plus three DataFrames: ``history``, ``valid_table``
    and ``test_table``. With ``config.out_dir=None`` nothing is written (and no resume). ``levels``
    (as :func:`prepare_data`): True also assesses the PMSA levels of a method that does not ask for
    them, so the tables break every run down by level (the paper's Fig. 7 compares a backbone alone
    with +SRSUPM level by level); None leaves it to the method.
    """
    config = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    config.validate()
    out = Path(config.out_dir) if config.out_dir is not None else None
    if out is None and config.resume:
        raise ValueError("run_experiment: resume=True needs an out_dir (where the checkpoint lives)")
    writer = out is not None and ddp.rank_from_env() == 0     # the one process that decides and writes
    # one writer per run folder, from before it is looked at until its last write: a second run on the
    # same out_dir fails here (RunFolderBusy), before anything in the folder changes
    with run_lock(out) if writer else contextlib.nullcontext():
        return _run(config, out, overwrite, writer, levels)


def _run(config: TrainConfig, out: Path | None, overwrite: bool, writer: bool, levels: bool | None = None) -> dict:
    """:func:`run_experiment` once the run folder is this process's (``writer``: the one that decides and writes)."""
    if out is not None:
        if writer:
            stored = check_out_dir(config, overwrite)            # reads only
            if stored is not None:
                return stored
        elif config.resume and (out / "results.json").exists():
            return load_results(out)
    t_start = time.perf_counter()
    device = resolve_device(config.device)

    seed_everything(config.seed)
    prepared = prepare_data(config, levels)                            # data (-> PMSA, when asked for)
    ds, split, edges = prepared.dataset, prepared.split, prepared.edges
    method = get_method(config.method)
    apply_thread_policy(step_work(config.batch_size, ds.n_items, config.dim, config.max_len,
                                  method.work_factor(config)))
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
    if out is not None:
        trainer.verify_resume()               # a checkpoint to continue from is readable and this run's ...
        if writer:
            start_run_files(out, config, overwrite)     # ... before anything in out_dir changes
            write_id_maps(out, ds)                      # raw ids <-> indices: the folder serves alone
    fit = trainer.fit()
    t_end = time.perf_counter()

    results = {
        "config": config.to_dict(),
        "model": method.label(config.backbone),
        "best_epoch": fit.best_epoch,
        "epochs_run": fit.epochs_run,
        "stopped_early": fit.stopped_early,
        "best_valid_recall@10": fit.best_valid if math.isfinite(fit.best_valid) else None,
        **method.results_extra(model),                                 # measured on the best weights
        "valid": _records(fit.valid),
        "test": _records(fit.test),
        "data": {"name": ds.name, "users": ds.n_users, "items": ds.n_items, "labels": ds.n_labels,
                 "train_windows": len(split.train), "valid_users": len(split.valid), "test_users": len(split.test),
                 "dropped_users": split.dropped_users,
                 **({"kcore": ds.meta["kcore_counts"]} if "kcore_counts" in ds.meta else {}),
                 "train_level_counts": _level_counts(train_levels, config.K),
                 "test_level_counts": _level_counts(test_levels, config.K),
                 "level_edges": None if edges is None or isinstance(edges, str) else [float(e) for e in edges],
                 **({} if train_levels is None else {"test_levels_from": "clean labels",
                                                     "train_levels_from": f"labels with noise p={config.noise_p}"})},
        "timings": {"data_seconds": t_data - t_start, "train_seconds": fit.train_seconds,
                    "total_seconds_this_session": t_end - t_start,
                    "seconds_per_epoch": fit.train_seconds / max(fit.epochs_run, 1)},
        "n_params": count_parameters(model),
        "n_params_backbone": count_parameters(backbone),
        "environment": _environment(device),
    }
    if out is not None and ddp.is_main():
        # all written before any replaces its old file (a full disk or a kill changes nothing), then
        # moved into place with results.json last: its presence marks a finished run
        atomic_write_all([(out / "history.csv", csv_writer(fit.history)),
                          (out / "valid_levels.csv", csv_writer(fit.valid)),
                          (out / "test_levels.csv", csv_writer(fit.test)),
                          (out / RANKS_FILE, csv_writer(_ranks_table(split.test.users, test_levels,
                                                                     fit.test_ranks.cpu()))),
                          (out / "results.json", json_writer(results))])
        for name in DERIVED_FILES:                    # measured on the previous best weights: stale now
            if name != RANKS_FILE:
                (out / name).unlink(missing_ok=True)
    return {**results, "history": fit.history, "valid_table": fit.valid, "test_table": fit.test}
