"""Refuse a run whose sizes cannot fit in memory before anything is allocated.

A typo such as ``--dim 1000000000`` or ``--max-len 1000000000`` once ended in a ``MemoryError``
traceback after trying to allocate terabytes. :func:`check_memory` estimates the bytes of the
largest allocations of a run from its config and its dataset's sizes, compares them with the
memory available (:func:`available_memory`) and raises one line when they do not fit::

    TrainConfig: dim=1000000000 needs about 1.9 EB (layer weights 1×4×1000000000×1000000000×4 B×4
    = 64.0 EB; ...) but 20.1 GB are available

It is called by :func:`srsupm_lab.experiment.prepare_data` right after the dataset is loaded: before
the training windows (``windows × L`` integers) are built and before the model is.

The estimate (float32 weights, int64 windows; "×4" after a weight = the weight, its gradient and
Adam's two moments): the item table ``N×d`` (``N`` = items + padding), the user table ``U×d`` of a backbone that embeds users (Caser),
the positional table ``L×d``, the layers' ``d×d`` weights, the backbone's activations kept for the
backward pass ``B×L×d×layers`` (×8 tensors), the attention scores ``B×heads×L×L×layers``
(a backbone with ``attention_maps``: SASRec, BERT4Rec), a method's branch weights ``K×d×d`` (×2 matrices) and scores ``B×K×N`` (K =
``Method.work_factor``: SRSUPM's K, 1 for a backbone alone), evaluation's ``eval_batch_size×K×N``
scores and the training, validation and test windows ``windows×L`` (×3 while they are built).
It is meant to catch sizes that are off by orders of magnitude, not to budget a run to the
byte: a config within a few times the available memory passes.

On a CUDA device the model's part is compared with the GPU's free memory and the windows with
the host's; elsewhere (CPU, Apple's unified memory) everything with the host's. Host memory is
``MemAvailable`` of ``/proc/meminfo`` (capped by the cgroup's ``memory.max``), else
``os.sysconf``'s available pages, else ``psutil`` where installed; where none answers, nothing is
checked.
"""
from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

__all__ = ["check_memory", "estimate_memory", "available_memory", "window_count"]

_F32, _I64 = 4, 8
_ADAM = 4                          # a trained weight: itself, its gradient and Adam's two moments
_ACTIVATIONS = 8                   # tensors of B×L×d kept per layer for the backward pass (about)
#: config fields whose size the estimate scales with, in the order they are blamed on a tie
SIZE_FIELDS = ("dim", "max_len", "K", "batch_size", "eval_batch_size")


def window_count(dataset) -> int:
    """Training, validation and test windows :func:`srsupm_lab.data.leave_one_out` builds from ``dataset``
    (users with at least 3 interactions: ``n - 3`` training windows, one validation and one test each)."""
    import numpy as np

    lengths = np.asarray(dataset.lengths(), dtype=np.int64)
    kept = lengths[lengths >= 3]
    return int((kept - 3).sum() + 2 * kept.size)


def _terms(config, n_items: int, n_users: int, n_windows: int | None) -> list[tuple[str, str, int, bool]]:
    """``(name, formula, bytes, on_host)`` of every large allocation of a run of ``config``."""
    from .backbones import BACKBONES
    from .families.registry import get_method

    opts = config.backbone_options if isinstance(config.backbone_options, dict) else {}
    shape = BACKBONES[config.backbone].memory_shape(opts)                  # the family says (Backbone.memory_shape)
    layers, heads = shape["layers"], shape["heads"]
    N, U, d, L = n_items + 1, n_users, config.dim, config.max_len
    # a batch holds at most every window, an evaluation batch at most every user
    B = config.batch_size if n_windows is None else max(1, min(config.batch_size, n_windows))
    E = max(1, min(config.eval_batch_size, n_users))
    K = get_method(config.method).work_factor(config)
    out = [("item table", f"{N}×{d}×{_F32} B×{_ADAM}", N * d * _F32 * _ADAM, False)]
    if shape["user_table"]:
        out.append(("user table", f"{U}×{d}×{_F32} B×{_ADAM}", U * d * _F32 * _ADAM, False))
    out += [("positional table", f"{L}×{d}×{_F32} B×{_ADAM}", L * d * _F32 * _ADAM, False),
            ("layer weights", f"{layers}×4×{d}×{d}×{_F32} B×{_ADAM}", layers * 4 * d * d * _F32 * _ADAM, False),
            ("activations", f"{B}×{L}×{d}×{layers} layers×{_F32} B×{_ACTIVATIONS}",
             B * L * d * layers * _F32 * _ACTIVATIONS, False)]
    if shape["attention_maps"]:
        out.append(("attention scores", f"{B}×{heads}×{L}×{L}×{layers} layers×{_F32} B",
                    B * heads * L * L * layers * _F32, False))
    if K > 1:
        out.append(("branch weights", f"{K}×{d}×{d}×2×{_F32} B×{_ADAM}", K * d * d * 2 * _F32 * _ADAM, False))
    out += [("training scores", f"{B}×{K}×{N}×{_F32} B×3", B * K * N * _F32 * 3, False),
            ("evaluation scores", f"{E}×{K}×{N}×{_F32} B", E * K * N * _F32, False)]
    if n_windows is not None:
        out.append(("windows", f"{n_windows}×{L}×{_I64} B×3", n_windows * L * _I64 * 3, True))
    return out


def estimate_memory(config, n_items: int, n_users: int, n_windows: int | None = None) -> dict[str, int]:
    """Bytes of each large allocation of a run of ``config`` on a dataset of ``n_items`` items, ``n_users``
    users and ``n_windows`` windows (see the module doc): ``{name: bytes}``."""
    return {name: size for name, _, size, _ in _terms(config, n_items, n_users, n_windows)}


def _size(n: float) -> str:
    for unit, scale in (("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}" if n < 1e21 else f"{n:.2g} B"
    return f"{int(n)} B"


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_memory() -> int | None:
    """Bytes of host memory a new allocation can take now, or None where nothing tells (see the module doc)."""
    found = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        found = None
    if found is None:
        try:
            found = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            found = None
    if found is None:
        try:
            import psutil
            found = int(psutil.virtual_memory().available)
        except Exception:                                # not installed, or no answer on this system
            found = None
    limit, used = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if limit is not None and used is not None:           # a container's limit ("max": none)
        found = max(limit - used, 0) if found is None else min(found, max(limit - used, 0))
    return found


def _gpu_free(device) -> int | None:
    try:
        import torch
        return int(torch.cuda.mem_get_info(device)[0])
    except Exception:                                    # no CUDA, or no answer: the GPU is not checked
        return None


def _device(config):
    try:
        from .trainer import resolve_device
        return resolve_device(config.device)
    except Exception:                                    # e.g. a CUDA run brought back on a CPU machine
        import torch
        return torch.device("cpu")


def _culprit(config, n_items: int, n_users: int, n_windows: int | None, total: int) -> str:
    """The field whose default would shrink the estimate most: ``name=value`` (``dataset`` when none does)."""
    defaults = {f.name: f.default for f in fields(type(config)) if f.name in SIZE_FIELDS} \
        if hasattr(type(config), "__dataclass_fields__") else {}
    best, best_total = None, total
    for name in SIZE_FIELDS:
        if name not in defaults or getattr(config, name) == defaults[name]:
            continue
        other = SimpleNamespace(**{**{f: getattr(config, f) for f in vars(config)}, name: defaults[name]})
        try:
            shrunk = sum(size for _, _, size, _ in _terms(other, n_items, n_users, n_windows))
        except Exception:
            continue
        if shrunk < best_total:
            best, best_total = name, shrunk
    if best is None:
        return f"dataset={config.dataset!r} ({n_items} items, {n_users} users)"
    return f"{best}={getattr(config, best)}"


def check_memory(config, n_items: int, n_users: int, n_windows: int | None = None, *, device=None,
                 available: int | None = None) -> dict[str, int]:
    """Raise ``ValueError`` (one line) when a run of ``config`` on a dataset of these sizes cannot fit in memory.

    The message names the config field to blame (the one whose default would shrink the estimate
    most), the estimate and its largest terms, and the memory available::

        TrainConfig: dim=1000000000 needs about 65.2 EB (layer weights ...; item table 31×1000000000×4 B×4
        = 496.0 GB; ...) but 20.1 GB are available

    ``device`` (default: the config's, resolved; the host where it cannot be) decides which memory
    the model's part is compared with; ``available`` overrides the host's (for tests). Returns the
    estimate (:func:`estimate_memory`) when it fits, or when no memory figure is known.
    """
    terms = _terms(config, n_items, n_users, n_windows)
    estimate = {name: size for name, _, size, _ in terms}
    host = available if available is not None else available_memory()
    device = _device(config) if device is None else device
    gpu = _gpu_free(device) if getattr(device, "type", str(device)) == "cuda" else None
    if gpu is not None:                                  # the model on the GPU, the windows on the host
        parts = [([t for t in terms if not t[3]], gpu, f" on {device}"), ([t for t in terms if t[3]], host, "")]
    else:
        parts = [(terms, host, "")]
    for part, free, where in parts:
        total = sum(t[2] for t in part)
        if free is None or total <= free:
            continue
        largest = sorted(part, key=lambda t: -t[2])[:3]
        shown = "; ".join(f"{name} {formula} = {_size(size)}" for name, formula, size, _ in largest)
        blame = _culprit(config, n_items, n_users, n_windows, sum(t[2] for t in terms))
        raise ValueError(f"TrainConfig: {blame} needs about {_size(total)} ({shown}) but {_size(free)} are "
                         f"available{where}; choose smaller sizes")
    return estimate
