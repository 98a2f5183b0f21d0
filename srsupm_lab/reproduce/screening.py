"""Train the screening grid of SRSUPM's open readings (:mod:`srsupm_lab.methods.srsupm.screening`), on validation only.

The settings, their run configs, the table and the choice are SRSUPM's and live with it; training them is
an experiment, so it lives here, above the methods (a method never imports :mod:`srsupm_lab.experiment`).

    python -m srsupm_lab screen --dataset synthetic --epochs 10 --runs runs/screen --report reports
"""
from __future__ import annotations

from pathlib import Path

from ..experiment import run_experiment
from ..methods.srsupm.screening import screening_configs

__all__ = ["run_screening"]


def run_screening(dataset: str, epochs: int, seed: int, runs: str | Path, names=None, **common) -> None:
    """Train every screened setting in turn (a finished run folder is reused, an unfinished one resumed)."""
    for config in screening_configs(dataset, epochs, seed, runs, names, **common):
        print(f"screening {config['out_dir']}", flush=True)
        run_experiment(config, levels=True)
