# %% [markdown]
# # 00 · Quickstart: the whole SRSUPM loop in a few minutes
#
# One pass over everything the other notebooks take apart, on the embedded synthetic world
# (no data files, a CPU, well under a minute):
#
# 1. load a dataset and look at its size;
# 2. cut every user's sequence into leave-one-out windows (train / valid / test);
# 3. assess each training window's motivation shift with PMSA (paper §4.1, Eqs. 2–3);
# 4. train a backbone (SASRec) alone, then the same backbone with the SRSUPM plug-in (§4.2–4.7);
# 5. compare the two on the test users, overall and per shift level (paper Fig. 7);
# 6. where to go next.
#
# The world is kept small (`users`, `max_len`, `dim`, a few `epochs`) so the notebook runs
# quickly; these are short demonstration runs, not the paper's setting, and their numbers say
# little about which model is better. `04_train` runs a full experiment.
#
# **SRSUPM's status.** The SRSUPM paper (arXiv 2602.08667) has been withdrawn: after v1 (9 Feb 2026)
# and v2 (12 Mar 2026), its v3 (17 Apr 2026) is a withdrawal by its first author. The lab treats it
# as a studied, withdrawn proposal whose ideas (shift levels, one branch per level, matching) are
# still worth examining. Its evidence so far (`reports/README.md`): on Beauty at lr 0.001, SRSUPM
# beats neither SASRec nor a capacity control (the same extra head without the mechanism).

# %%
# %matplotlib inline
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import srsupm_lab
from srsupm_lab import leave_one_out, load_dataset, pmsa
from srsupm_lab.analysis import plots
from srsupm_lab.config import TrainConfig
from srsupm_lab.experiment import run_experiment
from srsupm_lab.threads import apply_thread_policy

threads = apply_thread_policy("small")   # one torch thread: the work here is small (srsupm_lab.threads)

# %% tags=["parameters"]
dataset = "synthetic"     # synthetic | beauty | sports | yelp (real ones ship in data/; SRSUPM_DATA overrides)
users = 600               # users of the synthetic world (make_synthetic n_users; ignored for real data)
backbone = "sasrec"       # gru4rec | sasrec | caser | bert4rec | lightsans
K = 5                     # number of shift levels (>= 3; paper best 5)
max_len = 20              # L, the input window length (paper: 50; shorter is quicker)
dim = 32                  # embedding size d (paper: 64)
epochs = 3                # training epochs per model (a short demonstration run)
lr = 0.003                # Adam learning rate (paper: 0.01)
batch_size = 256          # training batch size (paper: 128)
seed = 42                 # random seed (initialisation, batches)
device = "cpu"            # auto (cuda > mps > cpu) | cpu | cuda | mps
out_dir = "runs/00_quickstart"  # where both runs and the summary are written (gitignored)

# %% [markdown]
# ## 1. The data
# `load_dataset("synthetic")` builds the motivation world of `make_synthetic` (deterministic by its
# seed): users hold latent motivations, each a distribution over a few item categories, and switch
# motivation now and then. Every item carries a set of category labels, which is all PMSA needs.

# %%
# NBVAL_CHECK_OUTPUT
dataset_options = {"n_users": users} if dataset == "synthetic" else {}
ds = load_dataset(dataset, **dataset_options)
print(ds.stats().to_string())

# %% [markdown]
# ## 2. Leave-one-out windows
# Per user, the last item is the test target, the one before it the validation target, and every
# earlier position a training target whose input is the (at most `max_len`) items before it.

# %%
# NBVAL_CHECK_OUTPUT
split = leave_one_out(ds, max_len=max_len)
print(split)
print("training inputs:", tuple(split.train.inputs.shape), " targets:", tuple(split.train.targets.shape))

# %% [markdown]
# ## 3. Shift assessment (PMSA)
# For each window, `PMSD = 1 − |C(v) ∩ C_S| / |C(v) ∪ C_S|` compares the target's categories `C(v)`
# with the union `C_S` over the window; 0 is no shift, 1 a complete one. Eq. 3 maps PMSD to `K`
# levels: exactly 0 is level 0, exactly 1 level `K−1`, and (0, 1) is cut evenly in between.
# `pmsa.assess` does all windows at once. These levels supervise SRSUPM's `K` branches.

# %%
train_pmsd, train_levels = pmsa.assess(split.train.inputs, split.train.targets, ds.item_labels, K)
train_pmsd, train_levels = train_pmsd.numpy(), train_levels.numpy()
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), layout="constrained", width_ratios=[1.4, 1])
plots.pmsd_histogram(train_pmsd, bins=20, K=K, ax=axes[0], title=f"{dataset}: PMSD of the training windows")
plots.level_shares(train_levels, K, ax=axes[1])
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
level_counts = np.bincount(train_levels, minlength=K)
print(f"{train_pmsd.size} training windows; PMSD == 0: {np.mean(train_pmsd == 0):.4f}, "
      f"PMSD == 1: {np.mean(train_pmsd == 1):.4f}, mean PMSD: {train_pmsd.mean():.4f}")
print(pd.DataFrame({"windows": level_counts, "share": np.round(level_counts / level_counts.sum(), 4)},
                   index=pd.Index(range(K), name="level")).to_string())

# %% [markdown]
# Most windows sit in a middle level: the union over a whole window rarely contains *all* of the
# target's categories, and rarely *none*. `01_shift_assessment` explores this (and the real data).
#
# ## 4. Train the backbone alone and with SRSUPM
# `run_experiment` repeats steps 1–3 from a `TrainConfig`, builds the model, trains it with
# early stopping on validation Recall@10 and tests the best state with full ranking over all
# items (seen items masked), overall and per test level. The two configs differ only in `srsupm`.
# Each run is stored in its own folder under `out_dir` and reused when it is already there.

# %%
base = TrainConfig(dataset=dataset, dataset_options=dataset_options, backbone=backbone, K=K, max_len=max_len,
                   dim=dim, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device,
                   progress=False, resume=True)
runs = {}
for srsupm in (False, True):
    config = base.replace(method="srsupm" if srsupm else "none",
                          out_dir=str(Path(out_dir) / ("srsupm" if srsupm else "backbone")))
    results = run_experiment(config, levels=True)          # tables per shift level for the backbone too
    runs[results["model"]] = results
    print(f"{results['model']:>15}: {results['n_params']:,} parameters, best epoch {results['best_epoch']} "
          f"of {results['epochs_run']}, {results['timings']['seconds_per_epoch']:.1f} s per epoch")

# %%
fig, axes = plt.subplots(1, len(runs), figsize=(12, 3.4), layout="constrained", sharey=True)
for ax, (name, results) in zip(axes, runs.items()):
    h = results["history"]
    for col in ("valid_recall@10", "valid_ndcg@10"):
        ax.plot(h["epoch"], h[col], marker="o", ms=3, label=col.replace("valid_", ""))
    ax.set(title=f"{name}: validation", xlabel="epoch")
    ax.legend(frameon=False)
plt.show()

# %% [markdown]
# ## 5. Compare the test tables
# Overall first, then per PMSA level of the test window (paper Fig. 7): the bars are per level,
# the dashed lines the overall value of each model, and the tick labels count the test users in
# each level. With a few epochs, one seed and a few hundred test users the differences are
# noise-sized, whichever way they point (the sentence under the table is printed from its numbers);
# `06_analysis` shows how to test a gap, and the lab's full-setting evidence is in `reports/README.md`.

# %%
overall = pd.DataFrame({name: r["test_table"].set_index("level").loc["all"] for name, r in runs.items()}).T
overall.drop(columns="users").style.format("{:.4f}")

# %%
alone, plugged = runs                                   # the backbone alone, then +SRSUPM (the loop's order)
for metric in ("recall@10", "ndcg@10"):
    a, b = overall.loc[alone, metric], overall.loc[plugged, metric]
    side = "above" if b > a else "below" if b < a else "level with"
    print(f"{metric}: {plugged} {b:.4f} is {side} {alone} {a:.4f} ({(b - a) / a:+.1%}), "
          f"one seed, {int(overall.loc[alone, 'users'])} test users")

# %%
tables = {name: r["test_table"] for name, r in runs.items()}
fig, axes = plt.subplots(1, 2, figsize=(13, 3.8), layout="constrained")
plots.level_metric_bars(tables, "recall@10", ax=axes[0])
plots.level_metric_bars(tables, "ndcg@10", ax=axes[1])
plt.show()

# %%
per_level = pd.concat({name: t.set_index("level")[["users", "recall@10", "ndcg@10"]] for name, t in tables.items()},
                      axis=1)
per_level.round(4)

# %% [markdown]
# ## 6. Where next
# | notebook | what |
# |---|---|
# | `01_shift_assessment` | PMSD by hand, the level map, switch recovery, real data, bins, label noise, the shift explorer |
# | `02_backbones` | the five encoders side by side, a short training of each |
# | `03_shift_information` | SIC, priors and PMSID on a trained model; the Fig. 6 heatmap |
# | `04_train` | the experiment notebook (papermill): one full run, results on disk |
# | `05_matching` | similar-window groups, confidence sampling, the two views, Fig. 8 densities |
# | `06_analysis` | saved results beside the paper's figures and tables |
# | `07_motivation_profiles` | motivation profiles from item text, and cold start (M-LLM³Rec's idea) |
# | `08_mental_reward` | MTRec's mental reward on a world where a click is not satisfaction |
#
# ## 7. Results
# The overall test metrics of both runs, written to `out_dir/summary.json` (each run's own files
# are in its folder: config, history, per-level tables, results.json).

# %%
summary = {name: {"best_epoch": r["best_epoch"], "epochs_run": r["epochs_run"], "n_params": r["n_params"],
                  **{m: round(float(overall.loc[name, m]), 4) for m in ("recall@10", "recall@20", "ndcg@10", "ndcg@20")}}
           for name, r in runs.items()}
out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)
(out / "summary.json").write_text(json.dumps(summary, indent=2))
print(json.dumps(summary, indent=1))
