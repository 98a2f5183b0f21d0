"""How much PMSA-level information trained SRSUPM runs carry in α, and whether their branches collapsed.

    python tools/decomposition_report.py runs/cpu/beauty/sasrec+srsupm*/seed1 --windows 20000 \
        --out reports/decomposition_beauty.csv

For each run folder (``config.json`` + ``checkpoint.pt``; best weights) it draws ``--windows``
training windows (seeded, the same draw for runs of the same dataset) and their PMSA levels, and
reports, with ``srsupm_lab.analysis.shift``:

* ``level_information`` (method.md §5, Eq. 9): L_PMSID as trained, the entropy of the level
  frequencies, the loss after the best rescaling of the logits (scale s and per-level bias), the
  nats of level information α carries beyond the frequencies, the best s, argmax accuracy;
* ``branch_diagnostics`` (§3–§5): mean cosine between branches and their spread;
* the scales of the level softmaxes (Eqs. 9 and 19) as multiples of the paper's 1/√d: 1 unless
  the run learned them (``level_temperature="learned"``).

A run without PMSID (``pmsid=False``) is a useful zero: nothing teaches its α the levels.
"""
import argparse
import math
import sys
from pathlib import Path

import pandas as pd
import torch

from srsupm_lab.analysis import shift as analysis
from srsupm_lab.analysis import branches as diagnostics
from srsupm_lab.experiment import load_trained


def run_row(out: Path, windows: int, seed: int) -> dict:
    run = load_trained(out)
    if not callable(getattr(run.model, "shift_representations", None)):
        raise ValueError(f"{out} is a run of method {run.config.method!r}: it has no shift distributions to analyse")
    train, levels = run.data.split.train, run.data.train_levels
    g = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(train), generator=g)[:windows]
    w, lv = train.subset(pick), levels[pick]
    with torch.no_grad():
        info = diagnostics.level_information(analysis.shift_distributions(run.model, w), lv)
        branches = diagnostics.branch_diagnostics(run.model, w, lv)
    c, o = run.config, run.config.method_options
    off = [name for name in ("pmsid", "pmsim", "pmi", "priors") if not o[name]]
    return {"run": str(out), "backbone": c.backbone, "without": "+".join(off) or "-", "best_epoch": run.best_epoch,
            "windows": len(w), **{k: info[k] for k in ("loss", "entropy", "calibrated", "information",
                                                       "best_scale", "accuracy", "majority")},
            "branch_cosine": branches["cosine"], "branch_spread": branches["spread"],
            "level_temperature": o["level_temperature"],
            **{f"{k}_scale_x": v * math.sqrt(c.dim) for k, v in run.model.temperatures.scales().items()}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run folders (config.json + checkpoint.pt)")
    ap.add_argument("--windows", type=int, default=20000, help="training windows drawn per run")
    ap.add_argument("--seed", type=int, default=0, help="seed of the window draw")
    ap.add_argument("--out", type=Path, default=None, help="also write the table here (CSV)")
    args = ap.parse_args(argv)
    if args.windows < 1:
        ap.error(f"--windows must be positive, got {args.windows}")
    table = pd.DataFrame([run_row(out, args.windows, args.seed) for out in args.runs])
    print(table.drop(columns="run").to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(args.out.name + ".tmp")
        table.to_csv(tmp, index=False)
        tmp.replace(args.out)                     # atomic: a stopped report leaves the old one
        print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
