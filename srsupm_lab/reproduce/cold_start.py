"""The cold-start experiment: SASRec alone, +profiles and +SRSUPM seen through their users' first k items.

Declared in ``reports/experiments.toml`` (grid kind ``cold-start``): every (model, seed) is a run folder
trained as usual (early stopping on validation); after it finishes, its per-user cold-start ranks
(:func:`srsupm_lab.analysis.cold_start.cold_start_ranks`: k = 1, 2, 3, 5 and the full history, full
ranking and the sampled-100 protocol) are measured once on its best weights and kept in the run
folder (``cold_start_ranks.csv``), so the report regenerates from folders kept without their
checkpoints. :func:`cold_start_report` writes, per (k, protocol), each model's metrics (mean over
the seeds it finished, named in ``seeds``) and the paired bootstrap of each model against SASRec alone, pooled over the seeds both
finished.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..run_folder import COLD_START_FILE
from .decisive import PROTOCOL
from .model_seeds import model_seed_configs

__all__ = ["MODELS", "BASES", "cold_start_configs", "measure_cold_start", "cold_start_report"]

#: model folder name -> the config fields that make it (on top of the dataset's base)
MODELS = {"sasrec": {"method": "none"}, "sasrec+profiles": {"method": "profiles"},
          "sasrec+srsupm": {"method": "srsupm"}}
#: the training protocol per dataset: the demo's budget on the synthetic world; on Beauty the decisive
#: experiment's protocol at lr 0.001 (:data:`.decisive.PROTOCOL`, the paper's batch 128), the one the MTRec
#: grid trains on too, so SASRec alone and +SRSUPM are the same runs as the decisive arms (a) and (e)
BASES = {"synthetic": {"dataset": "synthetic", "backbone": "sasrec", "max_len": 20, "epochs": 20, "patience": 3},
         "beauty": {**PROTOCOL, "lr": 0.001}}


def cold_start_configs(dataset: str, seeds, runs: str | Path, models=None, **common) -> list[dict]:
    """One TrainConfig dict per (model, seed), seeds outermost, with its out_dir below ``runs``."""
    return model_seed_configs("cold start", BASES, MODELS, dataset, seeds, runs, models, **common)


def measure_cold_start(folder: Path, n_negatives: int = 100) -> Path | None:
    """``cold_start_ranks.csv`` of a finished run, measured on its best weights once (None: not finished, or
    kept without the checkpoint the measurement needs)."""
    from ..analysis.cold_start import cold_start_ranks
    from ..atomic import atomic_write
    from ..experiment import load_trained
    out = Path(folder) / COLD_START_FILE
    if out.exists():
        return out
    if not ((Path(folder) / "results.json").exists() and (Path(folder) / "checkpoint.pt").exists()):
        return None
    run = load_trained(folder)
    ranks = cold_start_ranks(run.model, run.data.dataset, run.data.split, n_negatives=n_negatives, seed=0)
    atomic_write(out, lambda tmp: ranks.to_csv(tmp, index=False))
    return out


def _finished(runs: Path) -> pd.DataFrame:
    rows = []
    for path in sorted(runs.glob("*/*/seed*/results.json")):
        folder = path.parent
        ranks = measure_cold_start(folder)
        if ranks is None:
            continue
        seed = int(json.loads(path.read_text(encoding="utf-8"))["config"]["seed"])
        rows.append({"dataset": folder.parent.parent.name, "model": folder.parent.name, "seed": seed,
                     "ranks": ranks})
    return pd.DataFrame(rows)


def cold_start_report(runs: str | Path, report_dir: str | Path, n_boot: int = 2000) -> Path:
    """``cold_start.csv``, ``cold_start_significance.csv`` and ``cold_start.md`` in ``report_dir``; the path of
    the markdown. No finished run with its cold-start ranks: nothing is written, one line says so."""
    from ..analysis.cold_start import cold_start_table
    from ..analysis.significance import paired_bootstrap
    from ..atomic import atomic_write
    runs, report_dir = Path(runs), Path(report_dir)
    done = _finished(runs)
    if done.empty:
        raise FileNotFoundError(f"cold start: no finished run with its cold-start ranks below {runs}; the report in "
                                f"{report_dir} is left as it is")
    ranks = {path: pd.read_csv(path, dtype={"k": str}) for path in done["ranks"]}         # each file read once
    tables, sig = [], []
    for (dataset, model), g in done.groupby(["dataset", "model"], sort=False):
        per_seed = [cold_start_table(ranks[path]).assign(seed=seed) for seed, path in zip(g["seed"], g["ranks"])]
        mean = pd.concat(per_seed).groupby(["k", "protocol"], sort=False).mean(numeric_only=True).reset_index()
        tables.append(mean.drop(columns="seed").assign(dataset=dataset, model=model,
                                                       seeds=" ".join(map(str, sorted(g["seed"])))))
    table = pd.concat(tables, ignore_index=True)
    table["users"] = table["users"].round().astype(int)                  # the same users in every seed
    for dataset, g in done.groupby("dataset", sort=False):
        base = g[g["model"] == "sasrec"].set_index("seed")["ranks"]
        for model, m in g[g["model"] != "sasrec"].groupby("model", sort=False):
            seeds = sorted(set(base.index) & set(m["seed"]))
            if not seeds:
                continue
            a = [ranks[base[s]] for s in seeds]
            b = [ranks[path] for path in m.set_index("seed").loc[seeds, "ranks"]]
            for (k, protocol), _ in a[0].groupby(["k", "protocol"], sort=False):
                pick = lambda t: t[(t["k"] == k) & (t["protocol"] == protocol)]["rank"].to_numpy()
                res = paired_bootstrap([pick(t) for t in a], [pick(t) for t in b], n_boot=n_boot)
                for _, r in res[res["metric"].isin(["recall@10", "ndcg@10"])].iterrows():
                    sig.append({"dataset": dataset, "k": k, "protocol": protocol, "model_a": "sasrec",
                                "model_b": model, "seeds": " ".join(map(str, seeds)), **r.to_dict()})
    sig = pd.DataFrame(sig)
    report_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(report_dir / "cold_start.csv", lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))
    atomic_write(report_dir / "cold_start_significance.csv",
                 lambda tmp: sig.to_csv(tmp, index=False, float_format="%.6g"))
    shown = ["dataset", "k", "protocol", "model", "seeds", "users", "recall@10", "ndcg@10", "recall@20"]
    lines = ["# Cold start: the test target from the user's first k items", "",
             "Full ranking (every item, the k seen ones masked) beside the sampled protocol (the target among 100 "
             "items drawn uniformly from the unseen ones); `all` is the usual test window. Means over seeds; "
             "the paired bootstrap of each model against SASRec alone pools the seeds both finished. Regenerate: "
             "`python -m srsupm_lab reproduce --plan reports/experiments.toml --only <grid> --report-only`.", "",
             table[shown].to_markdown(index=False, floatfmt=".4f"), "", "## Against SASRec alone", ""]
    cols = ["dataset", "k", "protocol", "model_b", "seeds", "metric", "a", "b", "relative", "ci_low", "ci_high",
            "p_value", "seed_ci_low", "seed_ci_high", "seed_p_value"]
    lines.append("None yet." if sig.empty else sig[cols].to_markdown(index=False, floatfmt=".4f"))
    md = report_dir / "cold_start.md"
    atomic_write(md, lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8"))
    return md
