# %% [markdown]
# # 02 · The five backbones: what each encoder sees
#
# SRSUPM is a plug-in: it takes the user representation `h_u = Enc(S_u)` of any sequential
# encoder (paper §4.2, Eq. 4; `docs/method.md` §2) and builds its shift branches on top.
# The paper plugs it into five backbones; this notebook puts them side by side:
#
# 1. one batch of left-padded windows, the input every backbone reads;
# 2. the five encoders: output shapes and parameter counts;
# 3. what each sees: how much `h_u` moves when one position of the window changes;
# 4. causality: which encoders let an earlier position see later items;
# 5. a short training of each backbone alone on the synthetic world, with the test table.
#
# Everything comes from `srsupm_lab`; the notebook defines no model. The default run takes about
# 15 s on a CPU (`reports/bench_notebooks_2026-12-01.txt`: 11.5 s beside one busy process).

# %%
# %matplotlib inline
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from srsupm_lab import BACKBONES, TrainConfig, build_backbone, leave_one_out, load_dataset, run_experiment
from srsupm_lab.analysis import plots
from srsupm_lab.threads import apply_thread_policy

threads = apply_thread_policy("small")   # one torch thread: the work here is small (srsupm_lab.threads)

# %% tags=["parameters"]
dim = 32                  # embedding size d for the side-by-side encoders and the training (paper: 64)
max_len = 20              # input length L (paper: 50); short keeps the demo fast
epochs = 3                # training epochs per backbone (a demonstration, not a converged run)
batch_size = 256          # training batch size (paper: 128)
lr = 0.005                # Adam learning rate (paper: 0.01)
seed = 0                  # random seed (initialisation, batches)
dataset = "synthetic"     # synthetic | beauty | sports | yelp (real ones ship in data/ and take much more time)
train_users = 500         # users of the synthetic world in the training demo (None: the whole default world of 1000)
out_dir = "runs/02_backbones"  # where the comparison table is written (gitignored)

# %% [markdown]
# ## 1. The input: left-padded windows
# Every backbone reads a `[B, L]` tensor of item ids, **left-padded** with 0: the most recent item
# sits in the last column (method.md, "Split and training windows"). Here are four test windows of
# the synthetic world (input `v_1..v_{n−1}`, target `v_n`).

# %%
ds = load_dataset(dataset)
split = leave_one_out(ds, max_len=max_len)
batch = split.test.subset(slice(0, 4))
print(ds)
print("inputs", tuple(batch.inputs.shape), "targets", batch.targets.tolist())
print(batch.inputs[:, -10:])

# %% [markdown]
# ## 2. The five encoders
# | backbone | encoder | `h_u` is | reads |
# |---|---|---|---|
# | GRU4Rec | a GRU over the window | the last hidden state | left to right |
# | SASRec | causal self-attention | the last position's output | left to right |
# | Caser | horizontal + vertical convolutions over the last few items, fused with a user embedding | the fused vector | the last `caser_len` items only (5) |
# | BERT4Rec | bidirectional self-attention, a `[MASK]` appended | the output at the `[MASK]` | every item sees every item |
# | LightSANs | low-rank attention over `k` latent interests + decoupled positions | the last position's output | every item sees a summary of all |
#
# All of them own the same item table `E` and score items with `⟨h_u, e_i⟩`.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(seed)
encoders = {name: build_backbone(name, ds.n_items, n_users=ds.n_users, dim=dim, max_len=max_len).eval()
            for name in BACKBONES}
with torch.no_grad():
    h = {name: bb.encode(batch.inputs, batch.users) for name, bb in encoders.items()}
overview = pd.DataFrame({
    "class": [type(bb).__name__ for bb in encoders.values()],
    "h_u shape": [tuple(h[name].shape) for name in encoders],
    "parameters": [sum(p.numel() for p in bb.parameters()) for bb in encoders.values()],
    "item table E": [tuple(bb.item_table().shape) for bb in encoders.values()],
    "embeds users": [bb.needs_users for bb in encoders.values()],
}, index=list(encoders))
print(overview.to_string())

# %% [markdown]
# The item table alone holds `(N+1)·d` of the parameters; Caser also embeds every user, so its
# count grows with the number of users.
#
# ## 3. What each encoder sees
# Take one full window and make `L` copies; in copy `j` replace the item at position `j` by another
# item. Encoding all copies in one batch gives `‖h(edited_j) − h(original)‖` per position: how
# much each position of the window matters to `h_u` (untrained weights, so this shows the
# architecture's reach, not learned preferences).

# %%
full = split.test.inputs[(split.test.inputs != 0).all(dim=1)][:1]          # one window with no padding
user = split.test.users[(split.test.inputs != 0).all(dim=1)][:1]
L = full.shape[1]
edited = full.repeat(L, 1)                                                 # (L, L), row j edits column j
edited[torch.arange(L), torch.arange(L)] = edited[torch.arange(L), torch.arange(L)] % ds.n_items + 1
with torch.no_grad():
    reach = pd.DataFrame({name: (bb.encode(edited, user.repeat(L)) - bb.encode(full, user)).norm(dim=1).numpy()
                          for name, bb in encoders.items()}, index=pd.RangeIndex(-L, 0, name="position"))
fig, ax = plt.subplots(figsize=(11, 2.8), layout="constrained")
relative = np.log10(np.clip((reach / reach.max()).T.to_numpy(), 1e-4, 1))             # log scale: 1e-4 .. 1
image = ax.imshow(relative, aspect="auto", cmap="magma_r", vmin=-4, vmax=0)
ax.set_yticks(range(len(encoders)), list(encoders))
ax.set_xticks(range(L), [str(p) for p in reach.index])
ax.set_xlabel("position in the window (−1 = most recent item)")
ax.set_title("log10 ‖Δh_u‖ when one position changes, relative to the backbone's largest change")
fig.colorbar(image, ax=ax, shrink=0.8, label="log10 relative change")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
print("positions that move h_u, per backbone:")
print((reach > 1e-6).sum().to_string())

# %% [markdown]
# Caser reads only its last 5 items; BERT4Rec drops the oldest item of a full window to make
# room for its `[MASK]` token; the others use the whole window. Untrained, SASRec and LightSANs
# are dominated by the most recent item (its embedding is the residual path into the last
# position), GRU4Rec forgets smoothly, and BERT4Rec's `[MASK]` output mixes all positions.
#
# ## 4. Causality
# Change the items **after** position `t` and compare each encoder's outputs at positions `≤ t`
# (`sequence_output`, all positions at once). A left-to-right encoder (GRU4Rec, SASRec) leaves
# them unchanged. BERT4Rec is bidirectional by design, and LightSANs pools the whole window into
# its latent interests; both are still safe for next-item prediction because `h_u` is read at
# the end of the input and a window never contains its own target.

# %%
# NBVAL_CHECK_OUTPUT
t = L // 2
later = full.clone()
later[:, t + 1:] = later[:, t + 1:] % ds.n_items + 1
rows = {}
with torch.no_grad():
    for name, bb in encoders.items():
        if not hasattr(bb, "sequence_output"):
            rows[name] = {"has sequence_output": False, "positions <= t unchanged": "n/a"}
            continue
        moved = (bb.sequence_output(full)[:, :t + 1] - bb.sequence_output(later)[:, :t + 1]).abs().max().item()
        rows[name] = {"has sequence_output": True, "positions <= t unchanged": moved < 1e-5}
print(f"items after position {t} (of 0..{L - 1}) changed:")
print(pd.DataFrame(rows).T.to_string())

# %% [markdown]
# ## 5. A short training of each backbone
# Each backbone alone (no SRSUPM), trained for a few epochs on a smaller synthetic world
# (`train_users` users, same generator) with
# `run_experiment` and tested with full ranking (method.md §10): ties against the model, seen
# items masked, per PMSA level of the test window. The numbers are a demonstration of the
# pipeline, not converged results; `04_train` runs one model properly. BERT4Rec trains on its cloze
# task alone, as published (a masked item predicted from both sides; `next_item_loss=True` adds the
# next-item loss), a task unlike the test's next-item ranking, so a few epochs say even less about it.

# %%
world = {"n_users": train_users} if dataset == "synthetic" and train_users else {}
results = {}
for name in BACKBONES:
    config = TrainConfig(dataset=dataset, backbone=name, dim=dim, max_len=max_len, epochs=epochs,
                         batch_size=batch_size, lr=lr, seed=seed, progress=False, dataset_options=world)
    results[name] = run_experiment(config, levels=True)    # per-level tables for every backbone
comparison = pd.DataFrame({name: {"parameters": r["n_params"], "best epoch": r["best_epoch"],
                                  **r["test_table"].iloc[0][["recall@10", "recall@20", "ndcg@10", "ndcg@20"]].to_dict(),
                                  "seconds per epoch": r["timings"]["seconds_per_epoch"]}
                           for name, r in results.items()}).T
comparison.style.format({c: "{:.4f}" for c in ["recall@10", "recall@20", "ndcg@10", "ndcg@20"]} |
                        {"seconds per epoch": "{:.2f}", "parameters": "{:,.0f}", "best epoch": "{:.0f}"})

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 3.8), layout="constrained")
for name, r in results.items():
    axes[0].plot(r["history"]["epoch"], r["history"]["valid_recall@10"], marker="o", label=name)
axes[0].set(title="validation Recall@10 per epoch", xlabel="epoch", ylabel="valid_recall@10", xticks=range(1, epochs + 1))
axes[0].legend(frameon=False)
plots.level_metric_bars({name: r["test_table"] for name, r in results.items()}, metric="recall@10", ax=axes[1])
plt.show()

# %% [markdown]
# The per-level bars are the backbone side of the paper's Fig. 7. After so few epochs they are
# noisy (the end levels hold few test users). Below, per backbone, the hardest level among those
# with at least 20 test users, and whether it is the complete-shift level `K−1` (PMSD = 1, the
# target shares no category with the window), where an encoder that follows the window's
# categories has little to go on. That level is what SRSUPM's shift branches aim at
# (`03_shift_information`, `04_train`).

# %%
complete = str(config.K - 1)                                   # the complete-shift level
for name, r in results.items():
    levels = r["test_table"][(r["test_table"]["level"].astype(str) != "all") & (r["test_table"]["users"] >= 20)]
    hardest = levels.loc[levels["recall@10"].astype(float).idxmin()]
    at_complete = levels[levels["level"].astype(str) == complete]["recall@10"]
    note = ("it is the complete-shift level" if str(hardest["level"]) == complete else
            f"the complete-shift level {complete} scores {float(at_complete.iloc[0]):.3f}" if len(at_complete) else
            f"level {complete} has under 20 test users")
    print(f"{name:>9}: hardest level {hardest['level']} (Recall@10 {float(hardest['recall@10']):.3f}, "
          f"{int(hardest['users'])} users; all {float(r['test_table'].iloc[0]['recall@10']):.3f}); {note}")
#
# ## 6. Results
# The comparison table, written to `out_dir/backbones.csv` with each backbone's learning history.

# %%
out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)
comparison.to_csv(out / "backbones.csv", index_label="backbone")
for name, r in results.items():
    r["history"].to_csv(out / f"history_{name}.csv", index=False)
(out / "settings.json").write_text(json.dumps({"dataset": dataset, "world": world, "dim": dim, "max_len": max_len, "epochs": epochs,
                                               "batch_size": batch_size, "lr": lr, "seed": seed}, indent=2))
comparison[["recall@10", "ndcg@10"]].astype(float).round(4)
