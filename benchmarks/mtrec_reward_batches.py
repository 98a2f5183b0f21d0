"""MTRec's stage 1 in batches of whole users against batches of windows, on the clickbait world's validation.

    python benchmarks/mtrec_reward_batches.py            # trains what is missing, then writes the table

The ``users`` runs (option ``reward_batches="users"``: one encoder pass serves ``V*(s)`` and ``V*(s')``)
are the grid ``mtrec-synthetic``'s +MTRec runs (SASRec, GRU4Rec; β 0.3; seeds 1–3) with that one option
changed; the ``windows`` runs are that grid's own folders (``reports/mtrec/runs``). Both compute the same
loss of the same windows (``tests/test_mtrec_user_batches.py``); the batches, and so the fit, differ.
Only validation figures are compared (the choice it informs is made on them). Writes
``reports/mtrec/reward_batches/README.md``'s table to stdout and ``compare.csv`` beside it.
"""
import argparse
import json
from pathlib import Path

import pandas as pd

from srsupm_lab.experiment import run_experiment
from srsupm_lab.reproduce.mtrec import mtrec_configs
from srsupm_lab.threads import apply_thread_policy

ROOT = Path(__file__).resolve().parents[1]


def best_validation(folder: Path) -> dict:
    """The run's validation figures at its best epoch (early stopping on validation Recall@10), from results.json."""
    res = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    valid = next(r for r in res["valid"] if str(r.get("level")) == "all")
    return {"valid_recall@10": valid["recall@10"], "valid_ndcg@10": valid["ndcg@10"], "best_epoch": res["best_epoch"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default=str(ROOT / "reports/mtrec/reward_batches/runs"))
    ap.add_argument("--windows-runs", default=str(ROOT / "reports/mtrec/runs"))
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    args = ap.parse_args()
    apply_thread_policy("large")
    rows = []
    for c in mtrec_configs("synthetic-clickbait", args.seeds, args.runs, ["sasrec+mtrec", "gru4rec+mtrec"], beta=0.3):
        c["method_options"] = {**c["method_options"], "reward_batches": "users"}
        run_experiment({**c, "progress": False, "resume": True})
        users = Path(c["out_dir"])
        windows = Path(args.windows_runs) / users.relative_to(args.runs)
        for path, batches in ((windows, "windows"), (users, "users")):
            rows.append({"model": users.parent.name, "seed": c["seed"], "batches": batches, **best_validation(path)})
    df = pd.DataFrame(rows)
    df.to_csv(Path(args.runs).parent / "compare.csv", index=False, float_format="%.6g")
    mean = df.groupby(["model", "batches"], sort=False)[["valid_recall@10", "valid_ndcg@10", "best_epoch"]].mean()
    print(df.to_markdown(index=False, floatfmt=".4f"))
    print()
    print(mean.to_markdown(floatfmt=".4f"))


if __name__ == "__main__":
    main()
