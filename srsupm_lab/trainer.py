"""Training loop: batches, early stopping, checkpoints, exact resume (method.md §10–11).

One :class:`Trainer` trains any model that follows the Recommender protocol
(:mod:`srsupm_lab.families.protocol`: ``model.loss(batch) -> (loss, parts)``, ``model.score(batch)``):

* the training windows move to the device once; an epoch is a ``torch.randperm`` cut into
  index slices (no DataLoader, no per-sample Python). A model may supply its own training
  tensors (``model.training_data(train)``: one-pass rows of prefixes, :mod:`srsupm_lab.data.prefix_rows`);
  with a ``[R, L]`` target matrix a batch is a run of rows holding about ``batch_size`` targets;
* Adam; bf16 autocast on CUDA only (evaluation always runs without autocast);
* a batch (:class:`~srsupm_lab.families.protocol.Batch`) holds the windows' items, targets, users, row indices
  and the columns the model ``requires`` (levels, context, ...), checked once up front;
* early stopping on validation Recall@10 with a patience (paper: 10); the best state is kept
  and the test windows are evaluated with it, overall and per PMSA level when levels are given;
* after every epoch a checkpoint is written atomically (temporary file + ``os.replace``):
  model, optimiser, epoch, best metric/state, patience counter, history, every RNG state and the
  model's training-time caches (non-persistent float buffers such as the PMSIM confidence),
  so ``resume=True`` ends exactly where an uninterrupted run ends (on CPU);
* started by ``torchrun`` with several processes, the same loop trains data-parallel (DDP): see
  :mod:`srsupm_lab.distributed` for how batches, gradients, caches and evaluation are shared.

What a checkpoint holds and how it is read and checked lives in :mod:`srsupm_lab.checkpoints`;
the atomic writes in :mod:`srsupm_lab.atomic`.
"""
from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import distributed as ddp
from .atomic import atomic_write, remove_stale_temps
from .checkpoints import (CHECKPOINT_VERSION, cache_buffers, check_checkpoint, load_cache_buffers, read_checkpoint,
                          data_sha256, rng_state, set_rng_state)
from .config import PRESETS
from .data.windows import batch_slices
from .evaluate import evaluate, metric_names
from .families.protocol import Batch, check_requires, part

__all__ = ["Trainer", "FitResult", "batch_slices", "resolve_device", "seed_everything", "count_parameters"]


# ----------------------------------------------------------------------------- helpers
def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → cuda, then mps, then cpu; otherwise the named device, checked to exist."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda[:i]' or 'mps', got {device!r}")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda[:i]' or 'mps', got {device!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available here (use 'auto' or 'cpu')")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {device!r} asked for, but MPS is not available here (use 'auto' or 'cpu')")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda[:i]' or 'mps', got {device!r}")
    return dev


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds CUDA (and MPS) generators


def count_parameters(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def _cpu_state(model: torch.nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _diagnostics_postfix(row: dict, columns: dict[str, str]) -> dict:
    """The progress bar's short summary of the diagnostics the model shows (``progress_columns``: name -> label)."""
    return {short: f"{row['eng_' + k]:.3f}" for k, short in columns.items() if "eng_" + k in row}


def _epoch_line(row: dict, state: dict, epochs: int, monitor: str, columns: dict[str, str]) -> str:
    """One line per epoch for headless runs (bars off): loss parts, validation, the model's diagnostics, time, ETA."""
    epoch = row["epoch"]
    parts = " ".join(f"{k[5:]} {row[k]:.4f}" for k in row if k.startswith("loss_"))
    eng = " ".join(f"{short} {value}" for short, value in _diagnostics_postfix(row, columns).items())
    seconds = row["train_seconds"] + row["eval_seconds"]
    left = epochs - epoch
    eta = "" if state["stopped_early"] or left == 0 else \
        f", ETA {left * seconds / 60:.1f} min for the {left} epochs left (less if it stops early)"
    stop = " — stopped early" if state["stopped_early"] else ""
    return (f"epoch {epoch}/{epochs}: loss {row['loss']:.4f} ({parts}) | valid {monitor} {row['valid_' + monitor]:.4f} "
            f"(best {state['best_metric']:.4f} at {state['best_epoch']}, {state['bad_epochs']} without gain)"
            + (f" | {eng}" if eng else "") + f" | {seconds:.0f} s{eta}{stop}")


@dataclass
class FitResult:
    """What :meth:`Trainer.fit` returns."""

    history: pd.DataFrame                 # one row per epoch: loss parts, valid metrics, seconds
    best_epoch: int                       # 1-based epoch of the best validation score (0: none)
    best_valid: float                     # best value of the monitored metric
    valid: pd.DataFrame                   # validation table of the best state (per level if given)
    test: pd.DataFrame | None             # test table of the best state (per level if given)
    test_ranks: torch.Tensor | None       # per-user 0-based test ranks (CPU)
    stopped_early: bool
    epochs_run: int
    train_seconds: float                  # summed over all sessions (resume included)
    extra: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- trainer
class Trainer:
    """Train ``model`` on ``train`` windows, select on ``valid``, test the best state.

    Parameters
    ----------
    model : Recommender (:mod:`srsupm_lab.families.protocol`: ``loss``, ``score``; optional ``prepare(train, levels)``,
        ``training_data``, ``epoch_diagnostics``); the columns it ``requires`` are checked against the data here.
    train, valid, test : Windows (``test`` optional). Valid/test need ``history`` when
        ``mask_history`` is True.
    train_levels : LongTensor [M] or None — PMSA level of each training window (``batch["levels"]``), for a
        model that requires levels.
    valid_levels, test_levels : LongTensor or None — for the per-level tables at the end.
    checkpoint : path of the checkpoint file, or None for no checkpoint (and no resume).
    resume : continue from ``checkpoint`` when it exists (otherwise start fresh).
    monitor : validation metric for early stopping and model selection.

    Defaults: the paper's protocol, read from the config's preset ``paper`` (method.md §11): Adam, lr 0.01,
    batch 128, patience 10, at most 200 epochs (a TrainConfig run passes its own: lr 0.001, batch 256).
    """

    def __init__(self, model, train, valid, test=None, *, train_levels=None, valid_levels=None, test_levels=None,
                 epochs: int = PRESETS["paper"]["epochs"], batch_size: int = PRESETS["paper"]["batch_size"],
                 lr: float = PRESETS["paper"]["lr"], weight_decay: float = 0.0,
                 patience: int = PRESETS["paper"]["patience"], seed: int = 42, device="auto", eval_batch_size: int = 1024,
                 mask_history: bool = True, ks: Sequence[int] = (10, 20), monitor: str = "recall@10",
                 checkpoint: str | os.PathLike | None = None, resume: bool = False, progress: bool = True):
        for name, value in dict(epochs=epochs, batch_size=batch_size, patience=patience,
                                eval_batch_size=eval_batch_size).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Trainer: {name} must be a positive integer, got {value!r}")
        if not (float(lr) > 0):
            raise ValueError(f"Trainer: lr must be positive, got {lr!r}")
        if not (float(weight_decay) >= 0):
            raise ValueError(f"Trainer: weight_decay must be >= 0, got {weight_decay!r}")
        if monitor not in metric_names(ks):
            raise ValueError(f"Trainer: monitor must be one of {metric_names(ks)}, got {monitor!r}")
        if len(train) == 0:
            raise ValueError("Trainer: there are no training windows")
        if train_levels is not None:
            train_levels = torch.as_tensor(train_levels).long()
            if train_levels.shape != (len(train),):
                raise ValueError(f"Trainer: train_levels must be [M]={len(train)}, got {tuple(train_levels.shape)}")
        if resume and checkpoint is None:
            raise ValueError("Trainer: resume=True needs a checkpoint path")
        held = {*Batch.of(train), "index", *(["levels"] if train_levels is not None else [])}
        check_requires(model, held, "Trainer")                              # one line naming what is missing

        self.device = resolve_device(device)
        self.distributed = ddp.init_from_env(self.device.type)              # torchrun with WORLD_SIZE > 1
        self.device = ddp.local_device(self.device)
        self.model = model.to(self.device)
        self.train, self.valid, self.test = train, valid, test
        self.train_levels, self.valid_levels, self.test_levels = train_levels, valid_levels, test_levels
        self.epochs, self.batch_size, self.patience = epochs, batch_size, patience
        self.lr, self.weight_decay, self.seed = float(lr), float(weight_decay), int(seed)
        self.eval_batch_size, self.mask_history = eval_batch_size, mask_history
        self.ks, self.monitor = tuple(ks), monitor
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.resume, self.progress = resume, progress and ddp.is_main()
        self.amp = self.device.type == "cuda"
        self.optimizer = None
        self._loss = self.model.loss              # fit() wraps it in DDP in a multi-process run

    # -- the run's identity: a resumed run must match it ---------------------------------
    def _fingerprint(self) -> dict:
        fp = {"batch_size": self.batch_size, "lr": self.lr, "weight_decay": self.weight_decay, "seed": self.seed,
              "n_train": len(self.train), "monitor": self.monitor, "mask_history": self.mask_history}
        fp["one_pass"] = bool(part(self.model, "one_pass"))                 # absent in older checkpoints: False
        if getattr(self, "_data_hashes", None) is None:                     # the data's content, hashed once
            self._data_hashes = data_sha256(self.train, self.train_levels)
            if self.train_levels is None:                                   # a run without levels: an older
                self._data_hashes.pop("levels_sha256")                      # checkpoint's levels are not its data
        return {**fp, **self._data_hashes}                                  # absent in older ones: not checked

    def _save(self, state: dict) -> None:
        if self.checkpoint is None or not ddp.is_main():
            return
        payload = {"version": CHECKPOINT_VERSION, "fingerprint": self._fingerprint(), **state,
                   "model": self.model.state_dict(), "buffers": cache_buffers(self.model),
                   "optimizer": self.optimizer.state_dict(),
                   "rng": rng_state(self.device)}
        atomic_write(self.checkpoint, lambda tmp: torch.save(payload, tmp))

    def verify_resume(self) -> dict | None:
        """The checkpoint a resumed run continues from, read and checked (:func:`read_checkpoint`,
        :func:`check_checkpoint`), or None when the run starts fresh. Changes nothing, so a caller
        can call it before it touches the run's files; :meth:`fit` reuses what it read."""
        if not (self.resume and self.checkpoint is not None and self.checkpoint.exists()):
            return None
        if getattr(self, "_resume_state", None) is None:
            ck = read_checkpoint(self.checkpoint, map_location=self.device)
            check_checkpoint(ck, self._fingerprint(), self.model, self.checkpoint)
            self._resume_state = ck
        return self._resume_state

    def _load(self) -> dict | None:
        if self.checkpoint is not None and ddp.is_main():
            remove_stale_temps(self.checkpoint)                             # left by a write that was killed
        ck = self.verify_resume()
        if ck is None:
            return None
        self._resume_state = None
        try:
            self.model.load_state_dict(ck["model"])
            load_cache_buffers(self.model, ck["buffers"], self.checkpoint)
            self.optimizer.load_state_dict(ck["optimizer"])
            set_rng_state(ck["rng"])
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as err:
            if str(err).startswith(f"checkpoint {self.checkpoint}"):
                raise
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
            raise ValueError(f"checkpoint {self.checkpoint} cannot be restored ({reason})") from None
        return ck

    # -- one epoch ---------------------------------------------------------------------------
    def _train_epoch(self, data: dict, epoch: int) -> dict:
        self.model.train()
        m = data["targets"].shape[0]
        perm = ddp.broadcast(torch.randperm(m).to(self.device))           # (M,) rank 0's order on every rank
        caches = cache_buffers(self.model) if self.distributed else {}
        before = {name: buf.clone() for name, buf in caches.items()}
        total, parts, n_batches = torch.zeros((), device=self.device), {}, 0
        bar = tqdm(batch_slices(data["targets"], perm, self.batch_size), desc=f"epoch {epoch}", leave=False,
                   disable=not self.progress)
        for part in bar:
            idx, weight = ddp.shard(perm[part])                            # (B,) global batch, or this rank's share
            batch = Batch({name: t[idx] for name, t in data.items()})
            batch["index"] = idx
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=self.amp):
                loss, loss_parts = self._loss(batch)
            if weight != 1.0:                                              # DDP: average of ranks = global mean
                loss = loss * weight
                loss_parts = {k: v * weight for k, v in loss_parts.items()}
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += loss.detach().float()
            for k, v in loss_parts.items():
                parts[k] = parts.get(k, 0.0) + v.detach().float()
            n_batches += 1
            if self.progress and n_batches % 20 == 0:
                bar.set_postfix(loss=f"{float(total) / n_batches:.4f}")
        if self.distributed:                                               # every rank: the global mean loss
            ddp.sync_caches(caches, before)
            total, parts = ddp.mean_over_ranks(total, parts)
        if not torch.isfinite(total):                                      # one check per epoch: no per-step sync
            raise FloatingPointError(f"epoch {epoch}: the training loss became {float(total)}; try a lower lr")
        row = {"loss": float(total) / n_batches}
        row.update({f"loss_{k}": float(v) / n_batches for k, v in parts.items()})
        return row

    def _engagement(self, data: dict) -> dict:
        """``eng_*`` columns: the model's own per-epoch diagnostics (``model.epoch_diagnostics``, an optional
        part of the Recommender protocol), else {}.

        Measured on the validation windows and a fixed training batch (the same rows every epoch); the
        model must leave every training state (RNG, caches, mode) as it was.
        """
        measure = part(self.model, "epoch_diagnostics")
        if measure is None or self.valid_levels is None or not ddp.is_main():
            return {}
        g = torch.Generator().manual_seed(1)                               # a fixed sample of training rows
        rows = torch.randperm(data["targets"].shape[0], generator=g)[:self.batch_size].sort().values.to(self.device)
        batch = Batch({name: t[rows] for name, t in data.items()})
        batch["index"] = rows
        values = measure(self.valid, self.valid_levels, batch)
        return {f"eng_{k}": v for k, v in values.items()}

    def _training_data(self) -> dict:
        """The tensors an epoch batches over, on the device: the model's own (``training_data``) or the windows'."""
        own = (part(self.model, "training_data") or (lambda train: None))(self.train)
        if own is not None:
            if self.distributed:
                raise ValueError("Trainer: one-pass rows (training_data) are not sharded across processes; "
                                 "train them in one process")
            return {name: t.to(self.device) for name, t in own.items()}
        train = self.train.to(self.device)
        data = {"inputs": train.inputs, "targets": train.targets, "users": train.users}
        if self.train_levels is not None:
            data["levels"] = self.train_levels.to(self.device)
        for name in sorted(part(self.model, "requires") - set(data) - {"index"}):
            data[name] = getattr(train, name)                               # e.g. an oracle's ground truth (checked)
        return data

    def _validate(self) -> dict:
        table = evaluate(self.model, self.valid, mask_history=self.mask_history, ks=self.ks,
                         batch_size=self.eval_batch_size, device=self.device)
        return {f"valid_{m}": float(table.iloc[0][m]) for m in metric_names(self.ks)}

    # -- the whole run -------------------------------------------------------------------------
    def fit(self) -> FitResult:
        if self.checkpoint is None or not (self.resume and self.checkpoint.exists()):
            seed_everything(self.seed)
        data = self._training_data()
        prepare = part(self.model, "prepare")
        if prepare is not None:
            prepare(self.train, self.train_levels)
            self.model.to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        if self.distributed:                       # DDP averages gradients; it hooks forward(), hence LossModule
            from torch.nn.parallel import DistributedDataParallel
            ids = [self.device.index] if self.device.type == "cuda" else None
            self._loss = DistributedDataParallel(ddp.LossModule(self.model), device_ids=ids,
                                                 find_unused_parameters=True, broadcast_buffers=False)

        state = {"epoch": 0, "best_metric": float("-inf"), "best_epoch": 0, "best_state": None, "bad_epochs": 0,
                 "history": [], "stopped_early": False, "train_seconds": 0.0}
        ck = self._load()
        if ck is not None:
            state = {k: ck[k] for k in state}
        if state["best_state"] is None:
            state["best_state"] = _cpu_state(self.model)

        epochs_bar = tqdm(range(state["epoch"] + 1, self.epochs + 1), desc="training", disable=not self.progress,
                          initial=state["epoch"], total=self.epochs)
        for epoch in epochs_bar:
            if state["stopped_early"]:
                break
            t0 = time.perf_counter()
            row = {"epoch": epoch, **self._train_epoch(data, epoch)}
            t1 = time.perf_counter()
            row.update(self._validate())
            row.update(self._engagement(data))
            row.update({"train_seconds": t1 - t0, "eval_seconds": time.perf_counter() - t1})
            state["train_seconds"] += row["train_seconds"]
            state["history"].append(row)
            score = row[f"valid_{self.monitor}"]
            if score > state["best_metric"]:
                state.update(best_metric=score, best_epoch=epoch, bad_epochs=0, best_state=_cpu_state(self.model))
            else:
                state["bad_epochs"] += 1
                state["stopped_early"] = state["bad_epochs"] >= self.patience
            state["epoch"] = epoch
            columns = part(self.model, "progress_columns")
            epochs_bar.set_postfix({self.monitor: f"{score:.4f}", "best": f"{state['best_metric']:.4f}",
                                    **_diagnostics_postfix(row, columns)})
            self._save(state)
            if not self.progress and ddp.is_main():
                print(_epoch_line(row, state, self.epochs, self.monitor, columns), flush=True)
        epochs_bar.close()
        return self._finish(state)

    def _finish(self, state: dict) -> FitResult:
        """Load the best state, evaluate validation and test with it."""
        self.model.load_state_dict(state["best_state"])
        valid = evaluate(self.model, self.valid, self.valid_levels, mask_history=self.mask_history, ks=self.ks,
                         batch_size=self.eval_batch_size, device=self.device)
        test, ranks = None, None
        if self.test is not None:
            test, ranks = evaluate(self.model, self.test, self.test_levels, mask_history=self.mask_history, ks=self.ks,
                                   batch_size=self.eval_batch_size, device=self.device, return_ranks=True)
        self.model.eval()                   # the best state, ready to score (no dropout)
        return FitResult(history=pd.DataFrame(state["history"]), best_epoch=state["best_epoch"],
                         best_valid=state["best_metric"], valid=valid, test=test, test_ranks=ranks,
                         stopped_early=state["stopped_early"], epochs_run=state["epoch"],
                         train_seconds=state["train_seconds"])
