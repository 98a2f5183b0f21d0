# %% [markdown]
# # 01 · Shift assessment (PMSA): how far does a user's motivation move?
#
# SRSUPM starts by measuring, for every training window, how far the next item's categories lie
# from the categories of the window before it (paper §4.1, Eqs. 2–3; `docs/method.md` §1).
# This notebook builds that measurement up from one hand example to whole datasets:
#
# 1. PMSD by hand, with `pmsa.pmsd` on Python sets (Eq. 2);
# 2. the level map: which PMSD lands in which of the `K` levels, for K = 3..7 (Eq. 3);
# 3. PMSD and level distributions on the embedded synthetic world;
# 4. whether PMSA finds the generator's true motivation switches (`ds.meta["switch"]`);
# 5. the same on Beauty, Sports and Yelp when the parameter `datasets` asks for them;
# 6. even bins (the paper) against quantile bins (an extension);
# 7. what label noise does to the levels (paper §5.6.2);
# 8. the shift explorer widget, to try K, p and the dataset yourself.
#
# The default run reads the three real datasets that ship in `data/` (Beauty, Sports, Yelp; the
# parameter `datasets = ["synthetic"]` reads none) and takes about ten seconds on a CPU.

# %%
# %matplotlib inline
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from srsupm_lab import leave_one_out, load_dataset, pmsa
from srsupm_lab.analysis import plots
from srsupm_lab.widgets.shift_explorer import available_datasets, shift_explorer
from srsupm_lab.threads import apply_thread_policy

threads = apply_thread_policy("small")   # one torch thread: the work here is small (srsupm_lab.threads)

# %% tags=["parameters"]
datasets = ["synthetic", "beauty", "sports", "yelp"]  # datasets to assess (the real three ship in data/)
K = 5                     # number of shift levels for the distributions (paper: 3..7, best 5)
max_len = 50              # L, the input window length (paper: 50)
noise_ps = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]  # label-noise probabilities to compare (paper §5.6.2, Table 4)
noise_seed = 0            # seed of the label-noise draw
data_root = None          # folder holding the real datasets (default: SRSUPM_DATA, else the repository's data/)
out_dir = "runs/01_shift_assessment"  # where the summary table is written (gitignored)

# %% [markdown]
# ## 1. PMSD by hand (Eq. 2)
# A user bought a cleanser and a lipstick; the next item is an eye shadow palette. With `C(x)` the
# categories of item `x` and `C_S` their union over the window,
#
#     PMSD(S, v) = 1 − |C(v) ∩ C_S| / |C(v) ∪ C_S|
#
# 0 means the target brings nothing new (no shift), 1 means it shares nothing with the window
# (complete shift). `pmsa.pmsd` is the definition on plain Python sets; it is the reference the
# fast, vectorised `pmsa.assess` is tested against.

# %%
# NBVAL_CHECK_OUTPUT
history = [{"Skin Care", "Face", "Cleansers"}, {"Makeup", "Lips"}]
target = {"Makeup", "Eyes", "Eyeshadow"}
c_s = set().union(*history)
print("C_S        =", sorted(c_s))
print("C(v) ∩ C_S =", sorted(target & c_s))
print("C(v) ∪ C_S =", sorted(target | c_s))
value = pmsa.pmsd(history, target)
print(f"PMSD = 1 - {len(target & c_s)}/{len(target | c_s)} = {value:.4f}, level at K=5: {pmsa.shift_level(value, 5)}")
print("the lipstick again:", pmsa.pmsd(history, {"Makeup", "Lips"}), "(not 0: the cleanser's categories are in the union)")
print("all five categories:", pmsa.pmsd(history, c_s), "  nothing shared:", pmsa.pmsd(history, {"Tools"}))

# %% [markdown]
# ## 2. The level map (Eq. 3)
# `K ≥ 3` levels: exactly 0 is level 0, exactly 1 is level `K−1`, and the open interval (0, 1) is
# cut evenly into `K−2` levels, `level = 1 + min(K−3, ⌊PMSD·(K−2)⌋)`. The two end levels are single
# points: a window lands there only when the target's categories are all in the window (0) or
# none of them are (1).

# %%
ax = plots.level_map(range(3, 8))
ax.figure

# %%
# NBVAL_CHECK_OUTPUT
probe = np.array([0.0, 0.1, 0.25, 1 / 3, 0.5, 0.75, 0.9, 1.0])
level_table = pd.DataFrame({f"K={k}": pmsa.shift_level(probe, k) for k in range(3, 8)},
                           index=pd.Index(np.round(probe, 3), name="PMSD"))
print(level_table.to_string())

# %% [markdown]
# ## 3. PMSD and levels on the synthetic world
# The embedded world (`make_synthetic`) has latent motivations, each a distribution over a few
# categories; a user switches motivation before a step with probability 0.2. Every training window
# (sliding window, leave-one-out) gets a PMSD and a level at once with `pmsa.assess`, which turns
# label sets into bitsets and never loops over windows.

# %%
ds = load_dataset("synthetic")
split = leave_one_out(ds, max_len=max_len)
train_pmsd, train_levels = pmsa.assess(split.train.inputs, split.train.targets, ds.item_labels, K)
train_pmsd, train_levels = train_pmsd.numpy(), train_levels.numpy()
print(ds)
print(split)

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), layout="constrained", width_ratios=[1.4, 1])
plots.pmsd_histogram(train_pmsd, bins=20, K=K, ax=axes[0], title="synthetic: PMSD of the training windows")
plots.level_shares(train_levels, K, ax=axes[1])
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
counts = np.bincount(train_levels, minlength=K)
print(f"{train_pmsd.size} training windows; PMSD == 0: {np.mean(train_pmsd == 0):.4f}, "
      f"PMSD == 1: {np.mean(train_pmsd == 1):.4f}, mean PMSD: {train_pmsd.mean():.4f}")
print("windows per level:", dict(enumerate(counts.tolist())))

# %% [markdown]
# Most windows sit in the upper middle level: `C_S` is a union over up to 50 items, so a target
# rarely brings *only* categories already seen (PMSD = 0) and rarely *none* (PMSD = 1). Section 5
# compares the real datasets with this shape (and `data/README.md` reports it for them).
#
# ## 4. Does PMSA find the true motivation switches?
# The generator records, for every step, whether the user switched motivation just before it
# (`ds.meta["switch"]`). The training windows are laid out user by user, target positions
# `1..n−3` (0-based), so the flags of their targets come out of one flat array with index
# arithmetic, no loop over windows.

# %%
lengths = ds.lengths()
flat_items = np.concatenate(ds.sequences)
flat_switch = np.concatenate(ds.meta["switch"])
position = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
is_train_target = (position >= 1) & (position <= np.repeat(lengths, lengths) - 3)
switched = flat_switch[is_train_target]
assert np.array_equal(flat_items[is_train_target], split.train.targets.numpy()), "window order differs"


def auc(score, positive):
    """P(score of a switch > score of a non-switch), ties count one half (Mann–Whitney)."""
    neg = np.sort(score[~positive])
    lo, hi = np.searchsorted(neg, score[positive], "left"), np.searchsorted(neg, score[positive], "right")
    return float((lo + 0.5 * (hi - lo)).sum() / (neg.size * positive.sum()))


# %%
# NBVAL_CHECK_OUTPUT
by_level = (pd.DataFrame({"level": train_levels, "switched": switched})
            .groupby("level")["switched"].agg(windows="size", share_switched="mean").round(3))
print(f"base rate of a true switch: {switched.mean():.3f}")
print(by_level.to_string())
print(f"mean PMSD: switch {train_pmsd[switched].mean():.3f}, no switch {train_pmsd[~switched].mean():.3f}; "
      f"AUC of PMSD as a switch detector: {auc(train_pmsd, switched):.3f}")

# %%
ax = plots.pmsd_histogram({"motivation kept": train_pmsd[~switched], "motivation switched": train_pmsd[switched]},
                          bins=20, K=K, title="PMSD of windows whose target follows a true switch, or not")
ax.figure

# %% [markdown]
# The higher the level, the larger the share of true switches: level `K−1` holds far more
# switches than the base rate, level 0 almost none. PMSA is a noisy detector, though. A switch to
# a motivation the user had before shares categories with the long window; and a user who keeps
# the motivation may still buy from one of its categories not seen yet. A shorter window makes
# the union smaller and the detector sharper; the paper keeps the whole (truncated) window.

# %%
# NBVAL_CHECK_OUTPUT
for last in (1, 3, 10, max_len):
    short_pmsd, _ = pmsa.assess(split.train.inputs[:, -last:], split.train.targets, ds.item_labels, K)
    print(f"window = last {last:>2} items: AUC {auc(short_pmsd.numpy(), switched):.3f}")

# %% [markdown]
# ### Your own interactions
# Any table of `user, item, timestamp` (with an optional label column) becomes a dataset the same way
# the shipped ones are made: items sorted by time per user, the 5-core filter (`k`), ids read as text
# and numbered from 1 (`data/README.md`, "Your own data"). A file works as well:
# `load_dataset("my_log.csv")` (or `.tsv`, `.parquet`), and `train --dataset my_log.csv` on the command line.
# Here a small table is made by hand, then assessed like the synthetic world.

# %%
from srsupm_lab.data import dataset_from_frame

log = pd.DataFrame({
    "user": ["ann"] * 6 + ["bob"] * 5 + ["cy"] * 5,
    "item": ["tent", "stove", "boots", "novel", "tent", "atlas",
             "novel", "atlas", "poems", "stove", "novel",
             "boots", "tent", "stove", "poems", "atlas"],
    "timestamp": [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5],
    "labels": ["camping", "camping|cooking", "camping|hiking", "books", "camping", "books|travel",
               "books", "books|travel", "books", "camping|cooking", "books",
               "camping|hiking", "camping", "camping|cooking", "books", "books|travel"],
})
own = dataset_from_frame(log, label_column="labels", k=1)
own_split = leave_one_out(own, max_len=max_len, history=False)
own_pmsd, own_levels = pmsa.assess(own_split.train.inputs, own_split.train.targets, own.item_labels, K)
print(own.stats().to_string())
pd.DataFrame({"user": [own.meta["id2user"][int(u)] for u in own_split.train.users],
              "target": [own.meta["id2item"][int(i)] for i in own_split.train.targets],
              "PMSD": own_pmsd.numpy().round(3), "level": own_levels.numpy()})

# %% [markdown]
# ## 5. Beauty, Sports and Yelp
# The three datasets of the paper ship with the repository (`data/`, category-only labels,
# `*_item2categories.json`); `datasets` chooses which to assess (papermill:
# `-p datasets synthetic,beauty`). Each takes a second or two:
# reading the files and building the windows dominates; `assess` itself is about 0.2 s for
# 130 000 windows.

# %%
if isinstance(datasets, str):                          # papermill -p datasets synthetic,beauty
    datasets = [name.strip() for name in datasets.split(",") if name.strip()]
assessed = {"synthetic": (train_pmsd, train_levels)}
real = [name for name in datasets if name != "synthetic"]
for name in real:
    real_ds = load_dataset(name, root=data_root)
    real_split = leave_one_out(real_ds, max_len=max_len, history=False)
    values, levels = pmsa.assess(real_split.train.inputs, real_split.train.targets, real_ds.item_labels, K)
    assessed[name] = (values.numpy(), levels.numpy())
print("assessed:", list(assessed), "| found on this machine:", available_datasets(data_root))

# %%
if real:
    fig, axes = plt.subplots(1, 2, figsize=(13, 3.8), layout="constrained", width_ratios=[1.4, 1])
    plots.pmsd_histogram({n: v for n, (v, _) in assessed.items()}, bins=10, K=K, ax=axes[0])
    plots.level_shares({n: lv for n, (_, lv) in assessed.items()}, K, ax=axes[1])
    plt.show()
else:
    print("only the synthetic world was asked for (parameter `datasets`)")

# %%
# NBVAL_CHECK_OUTPUT
fullest = {name: np.bincount(lv, minlength=K) / lv.size for name, (_, lv) in assessed.items()}
ref = fullest["synthetic"]
for name in real:
    share, level = fullest[name].max(), int(fullest[name].argmax())
    word = "more" if share > ref.max() else "less" if share < ref.max() else "as"
    print(f"{name}: {share:.1%} of its training windows in one level ({level}), {word} concentrated than "
          f"the synthetic world ({ref.max():.1%} in level {int(ref.argmax())})")

# %% [markdown]
# For reference, `data/README.md` reports on the training windows (L = 50, category
# labels): Beauty 2.71 % at PMSD = 0, 24.45 % at 1, mean 0.835; Sports 1.47 %, 24.13 %, 0.834;
# Yelp 0.41 %, 10.36 %, 0.883. With even bins and K = 5 most windows fall into level 3.
#
# ## 6. Even bins against quantile bins
# The paper cuts (0, 1) evenly. On real data that leaves one middle level with most windows and
# the others nearly empty, so some branches of the model see few examples. Quantile bins (an
# extension, `bins="quantile"` in `TrainConfig`) put the cut points at the quantiles of the
# training windows' PMSD inside (0, 1), so the middle levels hold about equal shares (PMSD takes
# few distinct values, and ties keep them from being exact). The end levels do not change: they
# are defined by the exact values 0 and 1.

# %%
_, quantile_levels = pmsa.assess(split.train.inputs, split.train.targets, ds.item_labels, K, bins="quantile")
fig, axes = plt.subplots(1, 2, figsize=(13, 3.6), layout="constrained")
plots.level_shares({"even": train_levels, "quantile": quantile_levels.numpy()}, K, ax=axes[0],
                   title=f"synthetic: level shares, K={K}")
plots.level_map([K], bins="quantile", pmsd_values=train_pmsd, ax=axes[1])
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
print("quantile cut points:", np.round(pmsa.level_edges(K, "quantile", train_pmsd), 4).tolist())
print("even cut points:    ", np.round(pmsa.level_edges(K), 4).tolist())

# %% [markdown]
# ## 7. Label noise (paper §5.6.2)
# The paper tests robustness by dropping each (item, label) pair with probability `p`; an item
# that would lose every label keeps one. The paper's
# Table 4 shows the effect on accuracy (a slow decline); here is the effect on the supervision.
# With fewer labels per item, exact containment (PMSD = 0) and exact disjointness (PMSD = 1)
# both become likelier, so the two end levels grow with `p` and the middle levels lose windows,
# while the mean PMSD hardly moves: noise changes which branch a window trains, not the average.

# %%
noisy_pmsd = {}
for p in noise_ps:                                    # a loop over noise levels, each one vectorised
    labels = pmsa.drop_labels(ds.item_labels, p, seed=noise_seed)
    noisy_pmsd[p] = pmsa.assess(split.train.inputs, split.train.targets, labels, K)[0].numpy()
noise_table = plots.noise_effect_table(noisy_pmsd, K)

fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), layout="constrained")
plots.noise_effect(noise_table, kind="levels", ax=axes[0])
plots.noise_effect(noise_table, kind="mean", ax=axes[1])
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
print(noise_table.drop(columns="windows").round(4).to_string(index=False))

# %% [markdown]
# ## 8. The shift explorer
# Move `K` and `p`, or pick another dataset (Beauty, Sports and Yelp appear when their folders
# are found). PMSD is computed once per dataset and noise level and cached; changing `K` only
# re-bins, so the panels follow the sliders at once. The controls are ordinary ipywidgets
# (`explorer.K.value = 3` works too) and `explorer.current` holds the numbers on screen.

# %%
explorer = shift_explorer(K=K, root=data_root)
explorer

# %% [markdown]
# The explorer's output carries a static snapshot of its first view for readers without a
# kernel (GitHub, nbviewer). Its controls can also be driven from code; here `K = 4`:

# %%
explorer.K.value = 4
explorer.figure

# %% [markdown]
# ## 9. Results
# One row per assessed dataset, written to `out_dir/pmsa_summary.csv`.

# %%
summary = pd.DataFrame([{"dataset": name, "windows": int(v.size), "pmsd=0": float(np.mean(v == 0)),
                         "pmsd=1": float(np.mean(v == 1)), "mean_pmsd": float(v.mean()),
                         **{f"level_{k}": float(s) for k, s in enumerate(np.bincount(lv, minlength=K) / lv.size)}}
                        for name, (v, lv) in assessed.items()])
out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)
summary.to_csv(out / "pmsa_summary.csv", index=False)
(out / "switch_recovery.json").write_text(json.dumps(
    {"K": K, "base_rate": float(switched.mean()), "auc": auc(train_pmsd, switched),
     "share_switched_per_level": {int(k): float(v) for k, v in by_level["share_switched"].items()}}, indent=2))
summary.round(4)
