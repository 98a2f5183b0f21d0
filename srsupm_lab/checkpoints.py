"""What a training checkpoint holds and how it is read back and checked (method.md §10–11: exact resume).

A checkpoint (written by :class:`srsupm_lab.trainer.Trainer` after every epoch, atomically:
:mod:`srsupm_lab.atomic`) holds the ``CHECKPOINT_KEYS``: the model and optimiser states, the
epoch, the best metric and state, the patience counter, the history, every RNG state
(:func:`rng_state`) and the model's training-time caches (:func:`cache_buffers`, e.g. the PMSIM
confidence), so a resumed run ends exactly where an uninterrupted one ends (on CPU).
:func:`read_checkpoint` loads one and checks its form; :func:`check_checkpoint` checks that it
belongs to the run about to continue from it. A bad file is one ``ValueError`` naming it.

The run's identity (``fingerprint``) holds its settings, the number of training windows and a
content hash of the training data (:func:`tensor_sha256`, ``DATA_HASH_KEYS``): the windows
(sequences) and the training levels (from the labels) each hashed apart, so that a resume on
data changed since the checkpoint (same counts, other sequences or labels) is refused with one
line saying which changed. A checkpoint written before the hashes existed cannot be checked
against its data: it is accepted as it was.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import random
import re
from pathlib import Path

import numpy as np
import torch

__all__ = ["CHECKPOINT_VERSION", "CHECKPOINT_KEYS", "DATA_HASH_KEYS", "read_checkpoint", "check_checkpoint",
           "tensor_sha256", "data_sha256", "rng_state", "set_rng_state", "cache_buffers", "load_cache_buffers"]

CHECKPOINT_VERSION = 1

# keys every checkpoint written by Trainer._save holds
CHECKPOINT_KEYS = ("version", "fingerprint", "epoch", "best_metric", "best_epoch", "best_state", "bad_epochs",
                   "history", "stopped_early", "train_seconds", "model", "buffers", "optimizer", "rng")


def read_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load a checkpoint written by :class:`Trainer` and check its form, or raise one line naming ``path``.

    An empty or truncated file (a killed or failed write, a full disk, a partial copy) or one of
    another version or without the expected keys is a ``ValueError``; nothing is changed. A complete
    file holding Python objects (a pickle of arbitrary classes, which ``weights_only=True`` will not
    build) is refused as such: ``checkpoint PATH refused: not a plain weights file (...)``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if path.stat().st_size == 0:
        raise ValueError(f"checkpoint {path} is empty (0 bytes): its write was cut short; remove it to start "
                         f"the run over, or keep the folder and train in another")
    try:
        ck = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:                    # torch: RuntimeError, EOFError, OSError, UnpicklingError, ...
        unsafe = _unsafe_reason(path, err)
        if unsafe is not None:
            raise ValueError(f"checkpoint {path} refused: not a plain weights file (it holds Python objects torch "
                             f"will not load safely: {unsafe})") from None
        reason = _torch_reason(err)[:160]
        raise ValueError(f"checkpoint {path} cannot be read ({type(err).__name__}: {reason}): it is truncated "
                         f"or corrupt; remove it to start the run over, or keep the folder and train in "
                         f"another") from None
    if not isinstance(ck, dict):
        raise ValueError(f"checkpoint {path} holds a {type(ck).__name__}, not a srsupm_lab checkpoint")
    if ck.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"checkpoint {path}: version {ck.get('version')!r}, expected {CHECKPOINT_VERSION}")
    missing = [k for k in CHECKPOINT_KEYS if k not in ck]
    if missing:
        raise ValueError(f"checkpoint {path} lacks {missing}: not a complete srsupm_lab checkpoint")
    return ck


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: what torch's weights-only unpickler says of an object it will not build (a corrupt file says other things,
#: e.g. "Unsupported operand 0")
_UNSAFE = re.compile(r"Unsupported global|allowlist|add_safe_globals|Can only build|reduce for unrecognized")


def _torch_reason(err: Exception) -> str:
    """The first line of what ``torch.load`` says went wrong: after its weights-only preamble when there is one."""
    text = _ANSI.sub("", str(err))
    detail = text.split("WeightsUnpickler error:", 1)[1] if "WeightsUnpickler error:" in text else text
    return next((ln.strip() for ln in detail.splitlines() if ln.strip()), "")


def _unsafe_reason(path: Path, err: Exception) -> str | None:
    """The first line of torch's reason when ``torch.load(weights_only=True)`` refused ``path`` because it
    holds Python objects (a complete pickle of arbitrary classes), or None when the file is rather truncated
    or corrupt."""
    if not isinstance(err, pickle.UnpicklingError):
        return None
    line = _torch_reason(err)
    objects = None
    finder = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)
    if finder is not None:
        try:
            objects = finder(path)                              # zip checkpoints: the classes it names
        except Exception:                                       # a legacy or broken file: the message decides
            objects = None
    if not objects and not _UNSAFE.search(line):
        return None
    line = line.split(". ", 1)[0].rstrip(".")                   # drop torch's advice to trust the file
    return (line or f"it names {objects}")[:200]


#: fingerprint keys newer than some checkpoints, with the value every older run had
FINGERPRINT_DEFAULTS = {"one_pass": False}
#: fingerprint keys holding a content hash of the training data (:func:`tensor_sha256`), with what they
#: hash, as the refusal names it. Unlike ``FINGERPRINT_DEFAULTS`` there is no value older runs had: a
#: checkpoint without the key is "unknown, accepted" (it cannot be checked), never a mismatch
DATA_HASH_KEYS = {"windows_sha256": "the training windows", "levels_sha256": "the training levels (from the labels)"}


def tensor_sha256(*tensors: torch.Tensor) -> str:
    """sha256 (hex) of integer tensors' content, e.g. the training windows: cheap next to an epoch.

    For each tensor in turn: its shape as text (``str(tuple(t.shape))``, e.g. ``"(130000, 50)"``,
    ASCII), then its values as contiguous little-endian int64 bytes (on the CPU; bool and any
    integer dtype are widened to int64, so equal values hash equal whatever their dtype or device).
    """
    h = hashlib.sha256()
    for t in tensors:
        t = torch.as_tensor(t).detach()
        if t.is_floating_point() or t.is_complex():
            raise TypeError(f"tensor_sha256: integer tensors only, got {t.dtype}")
        h.update(str(tuple(t.shape)).encode("ascii"))
        values = t.to("cpu", torch.int64).reshape(-1).contiguous().numpy().astype("<i8", copy=False)
        h.update(memoryview(values).cast("B"))
    return h.hexdigest()


def data_sha256(train, levels=None) -> dict:
    """The ``DATA_HASH_KEYS`` of a run's training data: ``windows_sha256`` of the training windows' inputs,
    targets and users (:func:`tensor_sha256`, in that order), ``levels_sha256`` of the training levels
    (None without levels)."""
    return {"windows_sha256": tensor_sha256(train.inputs, train.targets, train.users),
            "levels_sha256": None if levels is None else tensor_sha256(levels)}


def _short(digest) -> str:
    return "none" if digest is None else f"{str(digest)[:12]}…"


def check_checkpoint(ck: dict, fingerprint: dict, model: torch.nn.Module, path) -> None:
    """Raise ``ValueError`` unless ``ck`` was written by this run: the same fingerprint (settings, then the
    training data's hashes, ``DATA_HASH_KEYS``), and weights (last and best) with the model's parameter
    names and shapes. A data hash the checkpoint lacks (written before it existed) is not checked."""
    stored = ck["fingerprint"] if isinstance(ck["fingerprint"], dict) else {}
    unknown = {k: fingerprint[k] for k in DATA_HASH_KEYS if k in fingerprint and k not in stored}
    stored = {**FINGERPRINT_DEFAULTS, **unknown, **stored}          # keys added later, as older runs trained
    diff = {k: (stored.get(k), v) for k, v in fingerprint.items() if stored.get(k) != v and k not in DATA_HASH_KEYS}
    if diff:
        raise ValueError(f"checkpoint {path} was written by a different run; (stored, now): {diff}")
    changed = [f"{what} changed (sha256 {_short(stored[k])} stored, {_short(fingerprint[k])} now)"
               for k, what in DATA_HASH_KEYS.items() if k in fingerprint and stored[k] != fingerprint[k]]
    if changed:
        raise ValueError(f"checkpoint {path} was trained on other data: {' and '.join(changed)}; resume on the "
                         f"data it was trained on, or start over with --overwrite")
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for key in ("model", "best_state"):
        state = ck[key]
        if state is None and key == "best_state":
            continue
        if not isinstance(state, dict):
            raise ValueError(f"checkpoint {path}: {key!r} is not a state dict")
        have = {k: tuple(getattr(v, "shape", ())) for k, v in state.items()}
        if have != want:
            bad = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))[:3]
            raise ValueError(f"checkpoint {path}: {key!r} does not fit this model (e.g. {bad}: stored "
                             f"{[have.get(k) for k in bad]}, model {[want.get(k) for k in bad]})")


def rng_state(device: torch.device) -> dict:
    """Every RNG state, as tensors and plain Python values (loadable with ``weights_only=True``)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if device.type == "mps":
        state["mps"] = torch.mps.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state:
        torch.mps.set_rng_state(state["mps"])


def cache_buffers(model: torch.nn.Module) -> dict:
    """Non-persistent floating-point buffers: training-time caches (e.g. the PMSIM confidence).

    ``state_dict`` leaves them out; an exact resume needs them, so checkpoints store them too.
    Integer non-persistent buffers (index tables) are rebuilt by ``model.prepare`` and not stored.
    """
    persistent = set(model.state_dict())
    return {name: buf for name, buf in model.named_buffers()
            if name not in persistent and buf is not None and buf.is_floating_point()}


def load_cache_buffers(model: torch.nn.Module, saved: dict, where) -> None:
    current = cache_buffers(model)
    if set(saved) != set(current):
        raise ValueError(f"checkpoint {where}: cached buffers {sorted(saved)} do not match "
                         f"the model's {sorted(current)}")
    for name, value in saved.items():
        if value.shape != current[name].shape:
            raise ValueError(f"checkpoint {where}: buffer {name!r} has shape {tuple(value.shape)}, "
                             f"the model's has {tuple(current[name].shape)}")
        current[name].copy_(value)
