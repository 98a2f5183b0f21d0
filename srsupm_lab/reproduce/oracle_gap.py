"""How much of the backbone→oracle gap SRSUPM closes on the synthetic world.

The world (:mod:`srsupm_lab.data.synthetic`, its generative story in the module docstring, fixed
since these reports were made) switches each user's motivation before a step with probability 0.2; after a
switch the next item comes from another motivation's categories, otherwise it is often a habitual
successor of the last item. :class:`srsupm_lab.methods.srsupm.oracle.ShiftOracle` is told each switch; the
backbone is not; SRSUPM estimates the shift from the category labels (PMSA) and learns to use it.
For each seed, at the demo's budget (``BUDGET``), the three are trained alike and compared on the
test users; the report gives each seed's Recall@10 / NDCG@10 and the share of the gap closed,
``(SRSUPM − backbone) / (oracle − backbone)``, pooled over seeds.

    python -m srsupm_lab oracle-gap --seeds 1 2 3 --runs runs/oracle-gap --report reports
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..methods.srsupm.oracle import gap_closed

__all__ = ["BUDGET", "MODELS", "gap_configs", "run_gap", "gap_table", "write_gap_report"]

#: the demo's budget and model (python -m srsupm_lab demo)
BUDGET = {"dataset": "synthetic", "backbone": "sasrec", "max_len": 20, "lr": 0.001, "batch_size": 256, "epochs": 10,
          "patience": 3, "K": 5}
MODELS = {"backbone": {"method": "none"}, "srsupm": {"method": "srsupm"}, "oracle": {"method": "oracle"}}


def gap_configs(seeds, runs: str | Path, **common) -> list[dict]:
    """One TrainConfig dict per (model, seed), SRSUPM with the package's defaults."""
    return [{**BUDGET, "seed": seed, "progress": False, "resume": True, **MODELS[name], **common,
             "out_dir": str(Path(runs) / name / f"seed{seed}")} for seed in seeds for name in MODELS]


def run_gap(seeds, runs: str | Path, **common) -> None:
    """Train (or reuse, or resume) every run of :func:`gap_configs`."""
    from ..experiment import run_experiment
    for config in gap_configs(seeds, runs, **common):
        print(f"oracle gap: {config['out_dir']}", flush=True)
        run_experiment(config, levels=True)


def gap_table(runs: str | Path) -> pd.DataFrame:
    """One row per seed: each model's test Recall@10 / NDCG@10 and the share of the gap SRSUPM closes."""
    rows = {}
    for path in sorted(Path(runs).glob("*/seed*/results.json")):
        name, res = path.parent.parent.name, json.loads(path.read_text(encoding="utf-8"))
        overall = next(r for r in res["test"] if r.get("level", "all") in ("all", None))
        row = rows.setdefault(int(res["config"]["seed"]), {"seed": int(res["config"]["seed"])})
        row[f"{name}_recall@10"], row[f"{name}_ndcg@10"] = overall["recall@10"], overall["ndcg@10"]
        row[f"{name}_valid_recall@10"] = res["best_valid_recall@10"]
    table = pd.DataFrame(sorted(rows.values(), key=lambda r: r["seed"]))
    needed = {f"{m}_recall@10" for m in MODELS}
    if table.empty or not needed <= set(table.columns):
        return table
    table = table.dropna(subset=sorted(needed)).astype({"seed": int})
    table["gap_closed"] = [gap_closed(b, s, o) for b, s, o in
                           zip(table["backbone_recall@10"], table["srsupm_recall@10"], table["oracle_recall@10"])]
    return table.reset_index(drop=True)


def write_gap_report(runs: str | Path, report_dir: str | Path) -> Path:
    """``synthetic_oracle.csv`` and ``.md`` in ``report_dir``; returns the markdown path."""
    from ..atomic import atomic_write
    table = gap_table(runs)
    if table.empty or "gap_closed" not in table:
        raise FileNotFoundError(f"oracle gap: no complete seed (backbone, srsupm, oracle) below {runs}")
    report_dir = Path(report_dir)
    atomic_write(report_dir / "synthetic_oracle.csv", lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))
    mean = {m: table[f"{m}_recall@10"].mean() for m in MODELS}
    pooled = gap_closed(mean["backbone"], mean["srsupm"], mean["oracle"])
    lines = ["# The synthetic world: backbone, SRSUPM and the oracle told the true shifts", "",
             f"SASRec at the demo's budget ({BUDGET['epochs']} epochs, lr {BUDGET['lr']}, batch {BUDGET['batch_size']}, "
             f"L {BUDGET['max_len']}, patience {BUDGET['patience']}), SRSUPM with the package's defaults; test "
             "users of the embedded world (1,000). Regenerate: `python -m srsupm_lab oracle-gap --report-only "
             f"--runs {runs}`.", "",
             table.to_markdown(index=False, floatfmt=".4f"), "",
             f"Mean test Recall@10 over {len(table)} seeds: backbone {mean['backbone']:.4f}, SRSUPM "
             f"{mean['srsupm']:.4f}, oracle {mean['oracle']:.4f}; share of the gap SRSUPM closes: "
             + ("undefined (the oracle does not beat the backbone)" if pooled != pooled else f"{pooled:.0%}") + ".",
             "", "A negative share means SRSUPM ranks below the backbone alone: it closes none of the gap."]
    md = report_dir / "synthetic_oracle.md"
    atomic_write(md, lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8"))
    return md
