# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Train one model: the experiment notebook
#
# One run of the pipeline (paper §5.1): load a dataset, assess every window's motivation shift
# (PMSA, method.md §1), train a backbone alone or with the SRSUPM plug-in (§2–§9) with early
# stopping on validation Recall@10, and test the best checkpoint with full ranking, overall and
# per shift level (§10).
#
# It is built to run headless with papermill; every parameter below can be set with `-p` (a dict with
# `-y`, e.g. `-y "method_options: {lambda1: 0.3, pmsim: false}"`):
#
# ```bash
# papermill notebooks/04_train.ipynb out.ipynb -p dataset beauty -p epochs 1 --log-output   # a first look on a CPU
# papermill notebooks/04_train.ipynb out.ipynb -p dataset beauty -p device cuda --log-output  # the full run, on a GPU
# papermill --help-notebook notebooks/04_train.ipynb      # lists the parameters
# ```
#
# With `progress = False` the trainer prints one line per epoch (loss parts, validation
# Recall@10, seconds, time left); `--log-output` shows those lines in the terminal as they come.
#
# **How long.** SASRec + SRSUPM on Beauty (131,413 training windows, batch 256) trains at about
# **93 s per epoch on one CPU thread**, plus about 7 s per validation pass; SASRec alone at about
# 35 s, **2.7× faster** (`reports/bench_step_floor_2026-12-05.txt`, the CPU-seconds clock); and at
# about **9 s per epoch on one GPU** (an H200, `reports/gpu/bench_train_gpu.txt`). So `-p epochs 1`
# takes about two minutes on a CPU (one epoch, plus loading, PMSA and the test), and the default
# budget of up to 200 epochs with early stopping (patience 10) is a job for a GPU: the lab's +SRSUPM
# runs on Beauty stopped after 39–59 epochs (the decisive experiment in `reports/README.md`), which
# at 93 s an epoch is one to two hours on one CPU thread and under ten minutes on a GPU.
#
# **SRSUPM's status.** The SRSUPM paper (arXiv 2602.08667) has been withdrawn: after v1 (9 Feb 2026)
# and v2 (12 Mar 2026), its v3 (17 Apr 2026) is a withdrawal by its first author. The lab studies it
# as a withdrawn proposal whose ideas are still worth examining; its evidence (`reports/README.md`):
# on Beauty at lr 0.001, SRSUPM beats neither SASRec nor a capacity control.
#
# The defaults train SASRec + SRSUPM briefly on a small synthetic world on a CPU in well under a minute.
# With real data the defaults switch to the paper's L = 50 and up to 200 epochs (early stopping).
# With `dataset="beauty"` (or `sports`, `yelp`) the real data is read from `data_root`, the
# `SRSUPM_DATA` environment variable or the repository's `data/`, and the run uses a
# GPU when one is present. Results land in `out_dir` as JSON and CSV; an existing finished run
# there is never overwritten silently (`resume=True` reuses or continues it, `overwrite=True`
# starts over).

# %%
# %matplotlib inline
import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

import srsupm_lab
from srsupm_lab.methods.srsupm import paper
from srsupm_lab.config import TrainConfig
from srsupm_lab.experiment import run_experiment
from srsupm_lab.threads import apply_thread_policy

threads = apply_thread_policy("small")   # srsupm_lab.threads; run_experiment re-decides from the run's size

# %% tags=["parameters"]
dataset = "synthetic"     # synthetic | beauty | sports | yelp | ml-100k | a folder in the S3-Rec layout
data_root = None          # folder holding the real datasets (default: SRSUPM_DATA, else the repository's data/)
labels = "categories"     # item labels for PMSA: categories (default) | attributes (S3-Rec ids)
backbone = "sasrec"       # gru4rec | sasrec | caser | bert4rec | lightsans
method = "srsupm"         # plugged onto the backbone: none (the backbone alone) | srsupm | oracle (synthetic only)
method_options = {}       # the method's options as a dict, empty for its defaults (train --help lists them)
K = 5                     # number of shift levels (3 or more; paper best 5)
bins = "even"             # PMSA level bins: even (paper, Eq. 3) | quantile (extension)
noise_p = 0.0             # label noise on the training supervision, p in [0, 1] (paper §5.6.2)
synthetic_users = 500     # size of the synthetic world (ignored for real data)
max_len = None            # input length L; None: 50 (paper) on real data, 20 on the synthetic world
dim = 64                  # embedding size d
epochs = None             # maximum epochs; None: 200 on real data (early stopping ends it), 4 on synthetic
patience = 10             # epochs without a better validation Recall@10 before stopping
batch_size = 256          # training batch size (paper: 128)
lr = 0.001                # Adam learning rate (paper: 0.01)
seed = 42                 # random seed (data noise, initialisation, batches)
device = "auto"           # auto (cuda > mps > cpu) | cpu | cuda | cuda:1 | mps
out_dir = "runs/04_train" # where config.json, history.csv, *_levels.csv, results.json go
resume = True             # reuse a finished run in out_dir, or continue an interrupted one
overwrite = False         # start over even if out_dir holds a run (never together with resume)
progress = False          # False: one line per epoch (papermill --log-output shows it live) | True: tqdm bars

# %% [markdown]
# ## 1. The configuration
# Every parameter is checked before anything runs: an unknown dataset, backbone or method, an option
# the method does not have, `K < 3` or a noise level outside [0, 1] stops here with the list of valid
# values. The method's options are shown resolved: every default filled in.

# %%
synthetic = str(dataset).lower() == "synthetic"
max_len = (20 if synthetic else 50) if max_len is None else max_len    # only None means "the default":
epochs = (4 if synthetic else 200) if epochs is None else epochs        # 0 is refused by TrainConfig below
config = TrainConfig(
    dataset=dataset, dataset_options={"n_users": synthetic_users} if synthetic else {},
    max_len=max_len, dim=dim, data_root=data_root, labels=labels, backbone=backbone, method=method,
    method_options=method_options, K=K, bins=bins, noise_p=noise_p, epochs=epochs, patience=patience,
    batch_size=batch_size, lr=lr, seed=seed, device=device, out_dir=out_dir, resume=resume, progress=progress,
)
settings = config.to_dict()
options = settings.pop("method_options")                   # one row per option of the method, resolved
pd.Series({**settings, **{f"method_options.{k}": v for k, v in options.items()}}, name="value").to_frame()

# %% [markdown]
# ## 2. Train and test
# `run_experiment` loads the data, builds the leave-one-out windows, assesses their shift levels,
# trains with early stopping, and tests the best checkpoint. A checkpoint is written atomically
# after every epoch, so a stopped run resumes where it stopped.

# %%
results = run_experiment(config, overwrite=overwrite, levels=True)   # per-level tables whatever the method
print(f"{results['model']} on {results['data']['name']}: best epoch {results['best_epoch']} of "
      f"{results['epochs_run']} ({'stopped early' if results['stopped_early'] else 'epoch budget used'})")
print(f"{results['data']['train_windows']} training windows, {results['data']['test_users']} test users, "
      f"{results['n_params']:,} parameters ({results['n_params_backbone']:,} in the backbone)")

# %% [markdown]
# ## 3. Learning curves
# Training loss (and its parts for SRSUPM: recommendation, decomposition, matching,
# regulariser) and validation Recall@10 / NDCG@10 per epoch; the dashed line marks the epoch
# whose state was tested.

# %%
history = results["history"]
loss_cols = [c for c in history.columns if c.startswith("loss_")] or ["loss"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for col in loss_cols:
    axes[0].plot(history["epoch"], history[col], marker="o", ms=3, label=col.replace("loss_", ""))
axes[0].set(title="training loss", xlabel="epoch", yscale="log")
axes[0].legend()
for col in ("valid_recall@10", "valid_ndcg@10"):
    axes[1].plot(history["epoch"], history[col], marker="o", ms=3, label=col.replace("valid_", ""))
axes[1].axvline(results["best_epoch"], color="grey", ls="--", lw=1)
axes[1].set(title="validation", xlabel="epoch")
axes[1].legend()
fig.tight_layout()

# %% [markdown]
# ## 4. Test metrics, overall and per shift level
# Full ranking over all items, seen items masked, ties counted against the model (method.md
# §10). Each row after "all" holds the test users whose last step has that PMSA level (paper
# Fig. 7); with the paper's even bins most users fall in level K−2 (see `01_shift_assessment`).

# %%
test_table = results["test_table"]
test_table.style.format({c: "{:.4f}" for c in test_table.columns if "@" in c})

# %% [markdown]
# ## 5. Beside the paper
# For Beauty, Sports and Yelp the paper's Table 1 (of the withdrawn paper) reports the same metrics;
# the synthetic world has no published counterpart. The lab did not reproduce Table 1's gain
# (`reports/README.md`).

# %%
overall = test_table[test_table["level"] == "all"].iloc[0]
side = pd.DataFrame({
    "this run": [overall[m] for m in paper.METRICS],
    "paper": [paper.paper_value(dataset, backbone, method == "srsupm", m) for m in paper.METRICS],
}, index=list(paper.METRICS))
side

# %% [markdown]
# ## 6. Results on disk
# Everything above is in `out_dir`: the resolved config, the per-epoch history, the per-level
# tables (CSV) and `results.json` (metrics, timings, parameter counts, environment).

# %%
out = Path(out_dir)
summary = {"model": results["model"], "dataset": results["data"]["name"], "best_epoch": results["best_epoch"],
           **{m: round(float(overall[m]), 4) for m in paper.METRICS},
           "seconds_per_epoch": round(results["timings"]["seconds_per_epoch"], 2)}
print(json.dumps(summary, indent=1))
print(sorted(p.name for p in out.iterdir() if not p.name.startswith(".")))
