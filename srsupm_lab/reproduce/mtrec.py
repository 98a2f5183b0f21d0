"""The MTRec experiment: SASRec and GRU4Rec alone, +MTRec, +IRL (and +oracle reward) (MTRec §5, Table 1).

Declared in ``reports/experiments.toml`` (grid kind ``mtrec``): every (model, seed) is a run folder
``RUNS/<dataset>/<model>/seed<k>`` trained as usual (early stopping on validation). After it finishes,
its per-user policy metrics (:func:`srsupm_lab.analysis.policy_metrics.policy_metrics`: AUC over the
full candidates and against 100 sampled negatives, the NCIS log weights of the trained and the untrained
model, satisfaction@10 where the world carries it) are measured once on its best weights and kept in
the run folder (``policy_metrics.csv``), so the report regenerates from folders kept without their
checkpoints. :func:`mtrec_report` writes, per dataset × model, the mean ± sd over seeds of the test
Recall/NDCG@10/20, AUC, NCIS (trained − untrained, as the paper reports it) and satisfaction@10; the
paired bootstrap of each +MTRec / +IRL / +oracle against its backbone alone, pooled over the seeds
both finished; and the paper's Table 1 (SASRec row) beside ours.

Protocols: on Beauty the lab's protocol at lr 0.001 exactly as the decisive experiment's arms use it
(:data:`srsupm_lab.reproduce.decisive.PROTOCOL` with lr 0.001: batch 128, d 64, L 50, patience 10, at most
200 epochs), so ``beauty/sasrec`` pairs with that experiment's SASRec; on the clickbait world a small
budget like the cold-start experiment's synthetic one. ``+oracle`` (MTRec aligned with the world's true
satisfaction instead of a learned reward) exists only where the data carry one
(:data:`SATISFACTION_DATASETS`).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..run_folder import POLICY_FILE
from .decisive import PROTOCOL

__all__ = ["MODELS", "BASES", "SATISFACTION_DATASETS", "PAPER_TABLE1_SASREC", "mtrec_models", "mtrec_configs",
           "measure_policy", "policy_file", "DEFAULT_NEGATIVES", "mtrec_report"]

_MTREC, _IRL, _ORACLE = ({"method": "mtrec"}, {"method": "mtrec", "method_options": {"reward": "irl"}},
                         {"method": "mtrec", "method_options": {"reward": "oracle"}})
#: the positive control that can move satisfaction: the oracle with an outside option for a skip, aligned listwise
#: over the window's candidates (invariant to a per-user score shift; srsupm_lab/methods/mtrec/method.py)
_ORACLE_LISTWISE = {"method": "mtrec", "method_options": {"reward": "oracle", "oracle_outside": "mean",
                                                          "response": "listwise", "n_negatives": 10}}
#: model folder name -> the config fields that make it (on top of the dataset's base)
MODELS = {"sasrec": {"backbone": "sasrec", "method": "none", "loss": "ce"},
          "sasrec+mtrec": {"backbone": "sasrec", **_MTREC}, "sasrec+irl": {"backbone": "sasrec", **_IRL},
          "gru4rec": {"backbone": "gru4rec", "method": "none", "loss": "ce"},
          "gru4rec+mtrec": {"backbone": "gru4rec", **_MTREC}, "gru4rec+irl": {"backbone": "gru4rec", **_IRL},
          "sasrec+oracle": {"backbone": "sasrec", **_ORACLE},
          "sasrec+oracle-listwise": {"backbone": "sasrec", **_ORACLE_LISTWISE}}
#: the datasets whose interactions carry a true satisfaction (meta["satisfaction_table"]): +oracle runs there only
SATISFACTION_DATASETS = ("synthetic-clickbait",)
#: the training protocol per dataset: the decisive experiment's at lr 0.001 on Beauty; a small budget on the world
BASES = {"beauty": {**PROTOCOL, "lr": 0.001},
         "synthetic-clickbait": {"dataset": "synthetic-clickbait", "backbone": "sasrec", "max_len": 20, "epochs": 20,
                                 "patience": 3}}
#: reward-model options per dataset for the models of the method mtrec: on Beauty stage 1 trains in batches of whole
#: users (one encoder pass; level with the windows' path on the clickbait world's validation: reports/mtrec/reward_batches/)
STAGE1 = {"beauty": {"reward_batches": "users"}}
#: the paper's Table 1, SASRec's row: (base, -IRL, -MTRec) per (dataset, metric)
PAPER_TABLE1_SASREC = {("Electronics", "auc"): (0.8325, 0.8366, 0.8328),
                       ("Electronics", "ncis"): (0.8243, 0.8681, 0.8833),
                       ("Books", "auc"): (0.8675, 0.8681, 0.8798), ("Books", "ncis"): (3.1755, 3.1946, 3.4634)}
#: the test metrics taken from results.json and the policy figures from policy_metrics.csv
TEST_METRICS = ("recall@10", "ndcg@10", "recall@20", "ndcg@20")
#: per-user columns of policy_metrics.csv compared by the paired bootstrap (those a run has)
PER_USER = ("auc", "auc_sampled", "weight", "satisfaction@10", "clickbait@10")


def mtrec_models(dataset: str) -> list[str]:
    """The models of the experiment on ``dataset`` (``+oracle`` only where the data carry satisfaction)."""
    return [m for m in MODELS if "+oracle" not in m or dataset in SATISFACTION_DATASETS]


def weighs_alignment(model: str) -> bool:
    """Whether ``model``'s method has an alignment weight β (its options declare one)."""
    from dataclasses import fields

    from ..methods import get_method
    return any(f.name == "beta" for f in fields(get_method(MODELS[model]["method"]).Options))


def mtrec_configs(dataset: str, seeds, runs: str | Path, models=None, beta: float | None = None,
                  **common) -> list[dict]:
    """One TrainConfig dict per (model, seed), seeds outermost, with its out_dir below ``runs``; ``beta`` (chosen on
    validation, :mod:`srsupm_lab.reproduce.mtrec_beta`) sets L_align's weight of the models of the method mtrec."""
    if dataset not in BASES:
        raise ValueError(f"mtrec: no base protocol for dataset {dataset!r}; known: {list(BASES)}")
    allowed = mtrec_models(dataset)
    models = allowed if models is None else list(models)
    unknown = [m for m in models if m not in allowed]
    if unknown:
        raise ValueError(f"mtrec: unknown model(s) {unknown} on {dataset}; the models are {allowed}")
    def weighted(m):
        extra = {**STAGE1.get(dataset, {}), **({} if beta is None else {"beta": float(beta)})}
        if not extra or not weighs_alignment(m):
            return MODELS[m]
        return {**MODELS[m], "method_options": {**MODELS[m].get("method_options", {}), **extra}}
    return [{**BASES[dataset], "seed": seed, **weighted(m), **common,
             "out_dir": str(Path(runs) / dataset / m / f"seed{seed}")} for seed in seeds for m in models]


#: the sampled negatives of the sampled AUC that ``policy_metrics.csv`` holds (other values: :func:`policy_file`)
DEFAULT_NEGATIVES = 100


def policy_file(n_negatives: int = DEFAULT_NEGATIVES) -> str:
    """The file of a run folder that caches its policy metrics measured with ``n_negatives`` sampled negatives:
    ``policy_metrics.csv`` for the default, ``policy_metrics_negatives<N>.csv`` otherwise, so a measurement
    asked with other options is never answered from another's cache."""
    if isinstance(n_negatives, bool) or not isinstance(n_negatives, int) or n_negatives < 1:
        raise ValueError(f"policy metrics: the number of sampled negatives must be a positive integer, got "
                         f"{n_negatives!r}")
    return POLICY_FILE if n_negatives == DEFAULT_NEGATIVES else f"{Path(POLICY_FILE).stem}_negatives{n_negatives}.csv"


def measure_policy(folder: Path, n_negatives: int = DEFAULT_NEGATIVES) -> Path | None:
    """The policy metrics of a finished run (:func:`policy_file`), measured on its best weights once (None: not
    finished, or kept without the checkpoint the measurement needs). The untrained model is the run's config at
    initialisation: the seed, the data and the model built in the order the run built them (as
    :func:`srsupm_lab.experiment.load_trained` does). The run's data is checked against its checkpoint first
    (:func:`srsupm_lab.run_check.check_run`)."""
    from ..analysis.policy_metrics import policy_metrics
    from ..atomic import atomic_write
    from ..experiment import build_model, prepare_data
    from ..run_check import load_checked
    from ..trainer import seed_everything
    folder = Path(folder)
    out = folder / policy_file(n_negatives)
    if out.exists():
        return out
    if not ((folder / "results.json").exists() and (folder / "checkpoint.pt").exists()):
        return None
    run = load_checked(folder)
    seed_everything(run.config.seed)
    prepare_data(run.config)                              # consumes the RNG as the run did before building
    untrained, _ = build_model(run.config, run.data.dataset)
    table = policy_metrics(run.model, run.data.dataset, run.data.split, untrained.eval(),
                           mask_history=run.config.mask_history, n_negatives=n_negatives, seed=0)
    atomic_write(out, lambda tmp: table.to_csv(tmp, index=False))
    return out


def _finished(runs: Path) -> tuple[pd.DataFrame, list[str]]:
    """Finished runs with their policy metrics (dataset, model, seed, folder); and those left out (no checkpoint)."""
    rows, left = [], []
    for path in sorted(runs.glob("*/*/seed*/results.json")):
        folder = path.parent
        if measure_policy(folder) is None:
            left.append(folder.relative_to(runs).as_posix())
            continue
        seed = int(json.loads(path.read_text(encoding="utf-8"))["config"]["seed"])
        rows.append({"dataset": folder.parent.parent.name, "model": folder.parent.name, "seed": seed,
                     "folder": folder})
    return pd.DataFrame(rows), left


def _run_row(folder: Path, policy: pd.DataFrame, cap: float) -> dict:
    from ..analysis.policy_metrics import policy_summary
    res = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    test = next(r for r in res["test"] if str(r.get("level")) == "all")
    return {**{m: test[m] for m in TEST_METRICS}, **policy_summary(policy, cap),
            "best_epoch": res["best_epoch"], "epochs": res["epochs_run"]}


def _per_user(policy: pd.DataFrame, cap: float) -> dict:
    from ..analysis.policy_metrics import capped_weights
    cols = {"weight": capped_weights(policy["log_w"], cap)}
    cols.update({c: policy[c].to_numpy() for c in PER_USER if c in policy})
    return cols


def _significance(done: pd.DataFrame, policies: dict, cap: float, n_boot: int) -> pd.DataFrame:
    from ..analysis.significance import paired_bootstrap, paired_bootstrap_values
    from ..experiment import user_ranks
    rows = []
    for dataset, g in done.groupby("dataset", sort=False):
        for model, m in g[g["model"].str.contains("+", regex=False)].groupby("model", sort=False):
            backbone = model.split("+")[0]
            base = g[g["model"] == backbone].set_index("seed")["folder"]
            other = m.set_index("seed")["folder"]
            seeds = sorted(set(base.index) & set(other.index))
            if not seeds:
                continue
            ra = [user_ranks(base[s]) for s in seeds]
            rb = [user_ranks(other[s]) for s in seeds]
            pa, pb = [policies[base[s]] for s in seeds], [policies[other[s]] for s in seeds]
            users = pa[0]["user"].to_numpy()
            if any(not np.array_equal(t["user"].to_numpy(), users) for t in [*ra, *rb, *pa, *pb]):
                raise ValueError(f"mtrec: the runs of {dataset}/{backbone} and {dataset}/{model} do not evaluate the "
                                 f"same test users in the same order")
            ranks = paired_bootstrap(np.stack([t["rank"].to_numpy() for t in ra]),
                                     np.stack([t["rank"].to_numpy() for t in rb]), n_boot=n_boot)
            va, vb = [_per_user(t, cap) for t in pa], [_per_user(t, cap) for t in pb]
            names = [c for c in PER_USER if c in va[0] and c in vb[0]]
            values = paired_bootstrap_values({c: np.stack([v[c] for v in va]) for c in names},
                                             {c: np.stack([v[c] for v in vb]) for c in names}, n_boot=n_boot)
            for _, r in pd.concat([ranks[ranks["metric"].isin(["recall@10", "ndcg@10"])], values]).iterrows():
                rows.append({"dataset": dataset, "model_a": backbone, "model_b": model,
                             "seeds": " ".join(map(str, seeds)), **r.to_dict()})
    return pd.DataFrame(rows)


def _paper_beside_ours(summary: pd.DataFrame) -> list[str]:
    """The block "the paper's Table 1 beside ours": AUC and NCIS for base / +IRL / +MTRec."""
    rows = [{"source": "paper (Amazon, CTR-style SASRec)", "dataset": ds, "backbone": "sasrec",
             **{f"AUC {k}": v for k, v in zip(("base", "IRL", "MTRec"), PAPER_TABLE1_SASREC[(ds, "auc")])},
             **{f"NCIS {k}": v for k, v in zip(("base", "IRL", "MTRec"), PAPER_TABLE1_SASREC[(ds, "ncis")])}}
            for ds in ("Electronics", "Books")]
    means = summary.set_index(["dataset", "model"])
    for dataset in dict.fromkeys(summary["dataset"]):
        for backbone in ("sasrec", "gru4rec"):
            keys = {"base": backbone, "IRL": f"{backbone}+irl", "MTRec": f"{backbone}+mtrec"}
            if not any((dataset, k) in means.index for k in keys.values()):
                continue
            get = lambda key, col: (means.loc[(dataset, key), col] if (dataset, key) in means.index
                                    and col in means.columns else np.nan)
            rows.append({"source": "ours (full ranking; NCIS: §7 row 7)", "dataset": dataset, "backbone": backbone,
                         **{f"AUC {k}": get(v, "auc mean") for k, v in keys.items()},
                         **{f"NCIS {k}": get(v, "ncis_gain mean") for k, v in keys.items()}})
    return ["## The paper's Table 1 beside ours", "",
            "No cell matches, and none is expected to: the paper used Amazon Books and Electronics (one target "
            "sample per user, CTR-style backbones scoring a (history, candidate) pair against a sampled negative) "
            "and did not give its NCIS cap or normalisation; we use Beauty and the clickbait world, next-item "
            "backbones ranked over every item, and the NCIS reading of docs/mtrec_method.md §7, row 7 (capped at "
            "the value in this report's header; on a world with a satisfaction the self-normalised NCIS, on "
            "Beauty the capped mean weight, so the two datasets' NCIS are not on one scale). Only the direction "
            "of the differences can be compared: the paper's NCIS rises from base to IRL to MTRec and its AUC "
            "barely moves.", "",
            pd.DataFrame(rows).to_markdown(index=False, floatfmt=".4f")]


def mtrec_report(runs: str | Path, report_dir: str | Path, n_boot: int = 2000, cap: float | None = None) -> Path:
    """``mtrec_runs.csv``, ``mtrec.csv``, ``mtrec_significance.csv`` and ``mtrec.md`` in ``report_dir``; the
    markdown's path. No finished run with its policy metrics: nothing is written, one line says so."""
    from ..analysis.policy_metrics import NCIS_CAP
    from ..atomic import atomic_write
    cap = NCIS_CAP if cap is None else cap
    runs, report_dir = Path(runs), Path(report_dir)
    done, left = _finished(runs)
    if done.empty:
        raise FileNotFoundError(f"mtrec: no finished run with its policy metrics below {runs}; the report in "
                                f"{report_dir} is left as it is")
    policies = {f: pd.read_csv(f / POLICY_FILE) for f in done["folder"]}              # each file read once
    per_run = pd.DataFrame([{"dataset": r.dataset, "model": r.model, "seed": r.seed,
                             **_run_row(r.folder, policies[r.folder], cap)} for r in done.itertuples()])
    shown = [c for c in (*TEST_METRICS, "auc", "auc_sampled", "ncis", "ncis_untrained", "ncis_gain", "weight",
                         "capped", "satisfaction@10", "clickbait@10") if c in per_run]
    grouped = per_run.groupby(["dataset", "model"], sort=False)[shown]
    summary = pd.concat([grouped.mean().add_suffix(" mean"), grouped.std(ddof=1).add_suffix(" sd")], axis=1)
    summary.insert(0, "seeds", grouped.size())
    summary = summary.reset_index()
    sig = _significance(done, policies, cap, n_boot)
    report_dir.mkdir(parents=True, exist_ok=True)
    for name, table in (("mtrec_runs.csv", per_run), ("mtrec.csv", summary), ("mtrec_significance.csv", sig)):
        atomic_write(report_dir / name, lambda tmp, t=table: t.to_csv(tmp, index=False, float_format="%.6g"))
    view = summary[["dataset", "model", "seeds"]].copy()
    for c in shown:
        view[c] = ["" if np.isnan(m) else f"{m:.4f}" + ("" if np.isnan(s) else f" ± {s:.4f}")
                   for m, s in zip(summary[f"{c} mean"], summary[f"{c} sd"])]
    lines = ["# MTRec: the backbones alone, +MTRec, +IRL (and +oracle) on the lab's protocol", "",
             f"Test metrics (full ranking, history masked) and the policy metrics of "
             f"`srsupm_lab/analysis/policy_metrics.py` on each run's best weights: AUC over every candidate "
             f"(`auc`) and against 100 sampled negatives (`auc_sampled`); NCIS over each user's validation and test "
             f"steps against the training popularity, weights capped at {cap:g} (`ncis`, `ncis_untrained`, and the "
             f"paper's report `ncis_gain` = trained − untrained; `weight` the capped mean weight, `capped` the "
             f"share of users at the cap); satisfaction@10 and the clickbait share of the top 10 where the world "
             f"carries them. Mean ± sd (ddof 1) over seeds. Regenerate: `python -m srsupm_lab reproduce --plan "
             f"reports/experiments.toml --only <grid> --report-only`.", "",
             view.to_markdown(index=False), "", "## Against the backbone alone", "",
             "Paired bootstrap over the test users, pooled over the seeds both finished (Recall/NDCG from the "
             "ranks; AUC, the capped weight and satisfaction as per-user means; the self-normalised NCIS is a "
             "ratio and is not bootstrapped).", ""]
    cols = ["dataset", "model_a", "model_b", "seeds", "metric", "a", "b", "gain", "relative", "ci_low", "ci_high",
            "p_value", "seed_ci_low", "seed_ci_high", "seed_p_value"]
    lines.append("None yet." if sig.empty else sig[cols].to_markdown(index=False, floatfmt=".4f"))
    lines += ["", *_paper_beside_ours(summary)]
    if left:
        lines += ["", "## Left out", "", "Finished without their policy metrics and without the checkpoint to measure "
                  "them: " + ", ".join(left)]
    md = report_dir / "mtrec.md"
    atomic_write(md, lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8"))
    return md
