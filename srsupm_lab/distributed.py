"""Data-parallel training with PyTorch's own engine (``torchrun`` + DistributedDataParallel).

    torchrun --nproc_per_node 4 -m srsupm_lab train --dataset beauty --backbone sasrec --srsupm --out runs/x
    torchrun --nproc_per_node 2 -m srsupm_lab train ... --device cpu          # gloo, for testing on a CPU

The :class:`~srsupm_lab.trainer.Trainer` needs no separate code path: when ``torchrun`` has set
``WORLD_SIZE > 1`` it calls :func:`init_from_env` and then, step by step,

* **one permutation for all.** Rank 0 draws the epoch's permutation and broadcasts it, so every
  rank cuts the *same* global batches (``batch_size`` is the global batch, as in one process);
* **a shard of each batch.** Rank ``r`` takes rows ``r, r + W, r + 2W, ...`` of the global batch
  (:func:`shard`). Its mean loss is scaled by ``W · n_r / n`` so that DDP's gradient *average*
  equals the gradient of the global batch's mean loss, also for an uneven last batch; a rank
  whose shard is empty runs one row with weight 0 (every rank must join every all-reduce);
* **gradients** are averaged by DDP around a :class:`LossModule` (DDP only hooks ``forward``);
* **training caches** (the PMSIM confidence of §7, a non-persistent float buffer) are merged
  after every epoch (:func:`sync_caches`): an entry refreshed on some ranks takes the mean of
  their values, the others keep theirs; within an epoch each rank sees its own refreshes;
* **evaluation** splits the users into W contiguous chunks, each rank ranks its chunk and the
  ranks are all-gathered (:func:`gather_chunks`), so every rank computes the same table;
* **files**: only rank 0 writes checkpoints, tables and ``results.json``; all ranks read the
  checkpoint on ``resume``.

With dropout off, W processes give the metrics and weights of one process up to float noise
(``tests/test_distributed.py`` checks it with gloo and 2 processes on CPU). With dropout, each
rank draws its own masks and PMSIM's in-batch negatives come from the rank's shard only, so the
runs are statistically, not bitwise, equivalent; exact resume is guaranteed for one process.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["init_from_env", "is_distributed", "rank", "rank_from_env", "world_size", "is_main", "local_device", "shard",
           "broadcast", "gather_chunks", "mean_over_ranks", "sync_caches", "LossModule", "barrier"]


def init_from_env(device_type: str | None = None) -> bool:
    """Join the process group ``torchrun`` describes (``WORLD_SIZE``, ``RANK``, ``MASTER_ADDR``...).

    Returns True when this process is one of several (the group is initialised, or already
    was); False for a plain single-process run. The backend is NCCL for CUDA devices, gloo
    otherwise (``device_type`` "cpu"/"cuda"; default: cuda when available).
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed")
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise RuntimeError(f"WORLD_SIZE={os.environ['WORLD_SIZE']} but {name} is not set; "
                               f"start the run with torchrun --nproc_per_node N -m srsupm_lab train ...")
    if device_type is None:
        device_type = "cuda" if torch.cuda.is_available() else "cpu"
    backend = "nccl" if device_type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    return dist.get_world_size() > 1


def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def rank_from_env() -> int:
    """This process's rank as ``torchrun`` announces it (before the group exists); 0 without torchrun."""
    return rank() if is_distributed() else int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    """Rank 0, or the only process: the one that writes files and shows progress."""
    return rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def local_device(device: torch.device) -> torch.device:
    """``cuda`` becomes ``cuda:LOCAL_RANK`` in a multi-process run; other devices are unchanged."""
    if is_distributed() and device.type == "cuda" and device.index is None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def shard(idx: torch.Tensor) -> tuple[torch.Tensor, float]:
    """This rank's rows of a global batch ``idx`` (B,) and the weight of its mean loss.

    Rank ``r`` of ``W`` takes ``idx[r::W]`` (``n_r`` rows); the weight ``W · n_r / B`` makes the
    average over ranks of ``weight · mean_r`` equal the global mean. An empty shard returns the
    batch's first row with weight 0.
    """
    W, r = world_size(), rank()
    if W == 1:
        return idx, 1.0
    part = idx[r::W]
    if part.numel() == 0:
        return idx[:1], 0.0
    return part, W * part.numel() / idx.numel()


def broadcast(tensor: torch.Tensor, src: int = 0) -> torch.Tensor:
    """Rank ``src``'s ``tensor`` on every rank (in place); a no-op in one process."""
    if is_distributed():
        dist.broadcast(tensor, src)
    return tensor


def chunk_bounds(n: int) -> list[tuple[int, int]]:
    """``W`` contiguous ``[start, stop)`` chunks of ``range(n)``, sizes differing by at most one."""
    W = world_size()
    base, extra = divmod(n, W)
    bounds, start = [], 0
    for r in range(W):
        stop = start + base + (1 if r < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


def gather_chunks(part: torch.Tensor, n: int) -> torch.Tensor:
    """Concatenate every rank's chunk (rank order, as in :func:`chunk_bounds`) into a tensor of length ``n``."""
    if not is_distributed():
        return part
    bounds = chunk_bounds(n)
    size = max(stop - start for start, stop in bounds)
    padded = part.new_zeros((size, *part.shape[1:]))
    padded[:part.shape[0]] = part
    pieces = [torch.empty_like(padded) for _ in bounds]
    dist.all_gather(pieces, padded)
    return torch.cat([p[:stop - start] for p, (start, stop) in zip(pieces, bounds)])


@torch.no_grad()
def mean_over_ranks(total: torch.Tensor, parts: dict) -> tuple[torch.Tensor, dict]:
    """Average a loss sum and its named parts over the ranks (one all-reduce); unchanged in one process."""
    if not is_distributed():
        return total, parts
    names = sorted(parts)
    stacked = torch.stack([total, *(torch.as_tensor(parts[k], device=total.device) for k in names)])
    dist.all_reduce(stacked)
    stacked /= world_size()
    return stacked[0], dict(zip(names, stacked[1:]))


@torch.no_grad()
def sync_caches(buffers: dict[str, torch.Tensor], before: dict[str, torch.Tensor]) -> None:
    """Merge training caches after an epoch: refreshed entries take the mean over the ranks that refreshed them.

    ``buffers`` are the live caches, ``before`` copies taken when the epoch began (identical on
    every rank). An entry that no rank changed keeps its value.
    """
    if not is_distributed():
        return
    for name, live in buffers.items():
        old = before[name]
        changed = (live != old).to(live.dtype)
        total = torch.where(changed.bool(), live, torch.zeros_like(live))
        dist.all_reduce(total)
        dist.all_reduce(changed)
        live.copy_(torch.where(changed > 0, total / changed.clamp_min(1), old))


class LossModule(nn.Module):
    """``forward(batch) = model.loss(batch)``: gives DDP a forward to hook (the models train through ``loss``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]):
        return self.model.loss(batch)
