"""The run folders of an experiment that trains named models on a per-dataset protocol, seed by seed.

Shared by the experiments declared as (dataset, model, seed) grids (:mod:`.cold_start`, :mod:`.one_pass`):
each has a protocol per dataset (``bases``) and the config fields of each model (``models``); a run lives in
``RUNS/<dataset>/<model>/seed<k>``.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["model_seed_configs"]


def model_seed_configs(kind: str, bases: dict, models: dict, dataset: str, seeds, runs: str | Path, names=None,
                       **common) -> list[dict]:
    """One TrainConfig dict per (model, seed), seeds outermost, with its out_dir below ``runs``; ``names`` picks
    models (default: all). An unknown dataset or model is one ValueError naming ``kind`` and the known ones."""
    if dataset not in bases:
        raise ValueError(f"{kind}: no base protocol for dataset {dataset!r}; known: {list(bases)}")
    names = list(models) if names is None else list(names)
    unknown = [m for m in names if m not in models]
    if unknown:
        raise ValueError(f"{kind}: unknown model(s) {unknown}; the models are {list(models)}")
    return [{**bases[dataset], "seed": seed, "progress": False, "resume": True, **models[m], **common,
             "out_dir": str(Path(runs) / dataset / m / f"seed{seed}")} for seed in seeds for m in names]
