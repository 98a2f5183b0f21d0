"""Inference cost of each backbone alone and with SRSUPM (paper Table 2; method.md §8, §10).

    table = inference_table("beauty", repeats=5, device="cuda")     # one row per backbone
    write_table2(table, "reports")                                  # table2.csv + table2.md

What is timed is one **full-ranking pass** over the test users, exactly as the evaluation
runs it (:func:`srsupm_lab.evaluate.evaluate`: every item scored, seen items masked, ranks
computed), in batches of ``batch_size`` users, on ``device``. Weights do not change the cost,
so freshly initialised models are timed (no training needed). The two models of a backbone
are timed alternately (alone, +SRSUPM, alone, +SRSUPM, ...) after one warm-up pass each, and
each time is the median of ``repeats`` passes, so a slow drift of the machine hits both alike.
The paper's Table 2 gives no unit; compare the **ratio** columns.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch

from . import paper
from ...atomic import atomic_write
from ...trainer import resolve_device

__all__ = ["time_pass", "inference_table", "write_table2", "device_label"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_label(device: torch.device) -> str:
    """A short description of where the timings were taken."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.machine()} CPU, {torch.get_num_threads()} torch threads, {os.cpu_count()} cores"


def time_pass(model, windows, device, batch_size: int = 1024, mask_history: bool = True,
              clock=time.perf_counter) -> float:
    """Seconds of one full-ranking evaluation pass of ``model`` over ``windows`` (synchronised on CUDA),
    by ``clock`` (wall clock; ``time.process_time`` for CPU seconds, steadier on a loaded machine)."""
    from ...evaluate import evaluate
    _sync(device)
    t0 = clock()
    evaluate(model, windows, mask_history=mask_history, batch_size=batch_size, device=device)
    _sync(device)
    return clock() - t0


def inference_table(dataset: str = "beauty", backbones: Sequence[str] | None = None, K: int = 5,
                    repeats: int = 5, device="auto", batch_size: int = 1024, root=None, max_len: int = 50,
                    dim: int = 64, seed: int = 0, fused_mixture: bool = False, **dataset_options) -> pd.DataFrame:
    """Median seconds of a full-ranking test pass per backbone, alone and +SRSUPM, with the paper's ratio.

    Columns: ``backbone``, ``alone_s``, ``srsupm_s``, ``ratio`` (SRSUPM / alone), ``paper_ratio``
    (Table 2, Beauty), ``users``, ``items``, ``repeats``, ``device``, ``fused_mixture``.
    ``fused_mixture`` scores +SRSUPM with the compiled mixture (``SRSUPM.fused_mixture``; its
    compilation falls in the warm-up pass, not in the timed ones). ``dataset_options`` go to
    :func:`~srsupm_lab.data.load_dataset` (e.g. the synthetic world's size).
    """
    from ...backbones import BACKBONES, build_backbone
    from ...data import leave_one_out, load_dataset
    from ..none import BackboneRecommender
    from .model import SRSUPM

    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"inference_table: repeats must be a positive integer, got {repeats!r}")
    backbones = list(BACKBONES) if backbones is None else [b.lower() for b in backbones]
    unknown = [b for b in backbones if b not in BACKBONES]
    if unknown:
        raise ValueError(f"inference_table: unknown backbone(s) {unknown}; known backbones are {list(BACKBONES)}")
    device = resolve_device(device)
    ds = load_dataset(dataset, root=root, **dataset_options)
    test = leave_one_out(ds, max_len=max_len).test
    paper_t2 = paper.table2().set_index("backbone")
    rows = []
    for name in backbones:
        models = []
        for plug in (False, True):
            torch.manual_seed(seed)
            bb = build_backbone(name, ds.n_items, n_users=ds.n_users, dim=dim, max_len=max_len)
            model = SRSUPM(bb, K=K) if plug else BackboneRecommender(bb)
            if plug:
                model.fused_mixture = bool(fused_mixture)
            models.append(model.to(device).eval())
        times: list[list[float]] = [[], []]
        for model in models:                                            # warm-up (allocator, kernels)
            time_pass(model, test, device, batch_size)
        for _ in range(repeats):
            for i, model in enumerate(models):
                times[i].append(time_pass(model, test, device, batch_size))
        alone, plugged = statistics.median(times[0]), statistics.median(times[1])
        rows.append({"backbone": name, "alone_s": alone, "srsupm_s": plugged, "ratio": plugged / alone,
                     "paper_ratio": float(paper_t2.loc[name, "ratio"]) if name in paper_t2.index else float("nan"),
                     "users": len(test), "items": ds.n_items, "repeats": repeats, "device": device_label(device),
                     "fused_mixture": bool(fused_mixture)})
    return pd.DataFrame(rows)


def write_table2(table: pd.DataFrame, reports_dir, dataset: str = "beauty") -> dict[str, Path]:
    """``table2.csv`` and ``table2.md`` (written atomically) in ``reports_dir``."""
    reports = Path(reports_dir)
    reports.mkdir(parents=True, exist_ok=True)
    csv, md = reports / "table2.csv", reports / "table2.md"
    atomic_write(csv, lambda tmp: table.to_csv(tmp, index=False))
    first = table.iloc[0]
    lines = [f"## Table 2 — inference cost on {dataset}, alone and with SRSUPM\n",
             f"One full-ranking pass over {first['users']} test users × {first['items']} items, seen items masked; "
             f"median of {first['repeats']} passes on {first['device']}"
             + ("; +SRSUPM scored with the fused (torch.compile) mixture" if first.get("fused_mixture", False) else "")
             + ". The paper gives no unit: compare ratios.\n",
             "| backbone | alone (s) | +SRSUPM (s) | ratio | paper ratio |", "|---|---:|---:|---:|---:|"]
    for _, r in table.iterrows():
        lines.append(f"| {r['backbone']} | {r['alone_s']:.3f} | {r['srsupm_s']:.3f} | {r['ratio']:.2f}× | "
                     f"{r['paper_ratio']:.2f}× |")
    text = "\n".join(lines) + "\n"
    atomic_write(md, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return {"table2": csv, "table2_md": md}
