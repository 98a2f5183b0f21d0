# %% [markdown]
# # 03 · Shift information: SIC, priors and PMSID on a trained model
#
# SRSUPM turns one user representation `h` into `K` shift representations, one branch per
# PMSA level (SIC, method.md §3; paper §4.3), adds a learnable prior per level (§4; Eq. 8), and
# teaches branch `k` to be the one that matches the target when the window's shift level is `k`
# (PMSID, §5; Eq. 9). This notebook trains SASRec + SRSUPM briefly on the embedded synthetic
# world and looks inside:
#
# 1. the shapes: `h → z_k → ẑ_k` for a batch;
# 2. the priors, distinct at initialisation and after training;
# 3. the shift distribution α per PMSA level: the paper's Fig. 6 heatmap, and its diagonal;
# 4. what the branches look like **without PMSID** (a second model, `pmsid=False`): do they
#    collapse into one?
# 5. one user at a time, with the model explorer widget.
#
# The defaults train two small models for a few epochs on a CPU (about 15 s in all,
# `reports/bench_notebooks_2026-12-01.txt`); the numbers are those of a short run, not of a converged
# one. `04_train` runs the full experiment.
#
# **SRSUPM's status.** The SRSUPM paper (arXiv 2602.08667) has been withdrawn: after v1 (9 Feb 2026)
# and v2 (12 Mar 2026), its v3 (17 Apr 2026) is a withdrawal by its first author. The lab studies it
# as a withdrawn proposal whose ideas are still worth examining; its evidence (`reports/README.md`):
# on Beauty at lr 0.001 SRSUPM beats neither SASRec nor a capacity control, and its mechanism adds
# nothing beyond its extra head. This notebook shows what the mechanism does inside, not that it helps.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from srsupm_lab import leave_one_out, make_synthetic, pmsa
from srsupm_lab.analysis import shift as analysis
from srsupm_lab.analysis import shift_plots as analysis_plots
from srsupm_lab.analysis import branches as diagnostics
from srsupm_lab.backbones import build_backbone
from srsupm_lab.methods.srsupm.model import SRSUPM
from srsupm_lab.trainer import Trainer
from srsupm_lab.widgets.model_explorer import model_explorer
from srsupm_lab.threads import apply_thread_policy

threads = apply_thread_policy("small")   # one torch thread: the work here is small (srsupm_lab.threads)

# %% tags=["parameters"]
n_users = 400           # users of the synthetic world (make_synthetic)
n_items = 200           # items of the synthetic world
n_labels = 16           # categories of the synthetic world
backbone = "sasrec"     # gru4rec | sasrec | caser | bert4rec | lightsans
K = 5                   # number of shift levels = number of SIC branches
bins = "even"           # PMSA level bins: even (paper, Eq. 3) | quantile (extension)
dim = 32                # embedding size d (paper: 64)
max_len = 20            # input length L (paper: 50)
lambda1 = 1.0           # weight of L_PMSID (paper best 0.4; larger makes a short run show more)
gamma = 0.0             # weight of L_reg, which pulls adjacent branches together (§6)
level_temperature = "unit"  # scale of the α/β logits: unit (1, the default) | fixed (1/√d, paper-literal) | learned
epochs = 8              # training epochs of each of the two models
batch_size = 256        # training batch size
lr = 0.01               # Adam learning rate (paper: 0.01)
seed = 0                # seed of the world and of the training

# %% [markdown]
# ## 1. Data, PMSA levels and two models
# The synthetic world has categories and latent motivations; PMSA gives every training window
# a level `0..K−1` (method.md §1). Both models share the backbone type, the seed and the data;
# they differ only in the PMSID switch. PMSIM (matching, notebook 05) is off in both here, so the
# branches are shaped by L_rec (+ L_PMSID) alone.

# %%
# NBVAL_CHECK_OUTPUT
ds = make_synthetic(n_users=n_users, n_items=n_items, n_labels=n_labels, seed=seed)
split = leave_one_out(ds, max_len=max_len)
train_pmsd, train_levels = pmsa.assess(split.train.inputs, split.train.targets, ds.item_labels, K, bins)
edges = "even" if bins == "even" else pmsa.level_edges(K, bins, train_pmsd.numpy())
_, test_levels = pmsa.assess(split.test.inputs, split.test.targets, ds.item_labels, K, edges)
print(split)
pd.DataFrame({"training windows": torch.bincount(train_levels, minlength=K).numpy(),
              "test users": torch.bincount(test_levels, minlength=K).numpy()},
             index=pd.Index(range(K), name="level"))

# %%
fits, models = {}, {}
for name, use_pmsid in (("SRSUPM", True), ("w/o PMSID", False)):
    torch.manual_seed(seed)
    net = build_backbone(backbone, ds.n_items, n_users=ds.n_users, dim=dim, max_len=max_len)
    models[name] = SRSUPM(net, K=K, lambda1=lambda1 if use_pmsid else 0.0, gamma=gamma,
                          pmsid=use_pmsid, pmsim=False, level_temperature=level_temperature)
    fits[name] = Trainer(models[name], split.train, split.valid, split.test, train_levels=train_levels,
                         test_levels=test_levels, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                         device="cpu", progress=False).fit()
model = models["SRSUPM"]
pd.DataFrame({name: {"best epoch": f.best_epoch, "L_rec (last epoch)": f.history["loss_rec"].iloc[-1],
                     "L_PMSID (last epoch)": f.history["loss_pmsid"].iloc[-1],
                     "test recall@10": f.test.iloc[0]["recall@10"], "test ndcg@10": f.test.iloc[0]["ndcg@10"]}
              for name, f in fits.items()}).round(4)

# %% [markdown]
# ## 2. SIC and the priors: from `h` to `ẑ_k`
# The backbone gives `h` (B, d); SIC's `K` residual blocks give `z` (B, K, d) (Eqs. 5–7), and the
# level priors give `ẑ_k = z_k + p_k` (Eq. 8). The priors start orthogonal and of norm 1
# (`sic.LevelPriors`); training moves them.

# %%
# NBVAL_CHECK_OUTPUT
batch = split.test.subset(slice(0, 8))
model.eval()
with torch.no_grad():
    h = model.backbone.encode(batch.inputs, batch.users)
    z = model.sic(h)
    z_hat = model.priors(z)
print("h", tuple(h.shape), "-> z", tuple(z.shape), "-> ẑ", tuple(z_hat.shape))
print("ẑ − z equals the priors for every window:",
      bool(torch.allclose(z_hat - z, model.priors.priors.expand_as(z), atol=1e-6)))

# %%
P = model.priors.priors.detach()
cos = torch.nn.functional.normalize(P, dim=1) @ torch.nn.functional.normalize(P, dim=1).T
pd.DataFrame({"norm": P.norm(dim=1).numpy(),
              "max |cos| with another prior": (cos - torch.eye(K)).abs().max(dim=1).values.numpy()},
             index=pd.Index(range(K), name="prior p_k")).round(3)

# %% [markdown]
# ## 3. The shift distribution per level (paper Fig. 6)
# For every training window, α_k = softmax_k(⟨e_v, ẑ_k⟩·s) towards its own target (Eq. 9), with
# the level scale s the paper leaves open: 1 by default (`level_temperature="unit"`), the
# paper-literal 1/√d with `"fixed"` (method.md §5);
# averaging α over the windows of each PMSA level gives a K×K matrix. PMSID pulls α towards
# the window's own level, so a trained model should put more mass on the diagonal than the
# uniform 1/K. Beside it, the same matrix for the model trained without PMSID.

# %%
heat = {name: analysis.mean_shift_distribution(m, split.train, train_levels) for name, m in models.items()}
top = max(float(np.nanmax(t.to_numpy())) for t in heat.values())     # one colour scale for both
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
for ax, (name, table) in zip(axes, heat.items()):
    analysis_plots.plot_alpha_heatmap(table, ax=ax, title=f"{name}: mean α per level", vmax=top)
plt.show()
pd.DataFrame({name: analysis.diagonal_dominance(t) for name, t in heat.items()}).round(3)

# %% [markdown]
# Read the table with the level counts of section 1 in mind. `diagonal_weighted` is the mean α
# at a window's own level, what L_PMSID raises (chance: `uniform`). Below, per level (row), α at the
# own level with and without PMSID, and the branch that takes the most α in that row. With the
# paper's even bins most windows sit in one level (K−2), so favouring that branch for everyone is
# the cheapest way to lower L_PMSID; `argmax_on_diagonal` counts the rows whose largest α is the own
# level's. With the paper-literal 1/√d scale (`level_temperature="fixed"`) the lab found the logits
# too small for L_PMSID to move α within a short run (`reports/README.md`, "The mechanism").

# %%
with_p, without_p = heat["SRSUPM"], heat["w/o PMSID"]
rows = pd.DataFrame({"α own, SRSUPM": np.diag(with_p.to_numpy()), "α own, w/o PMSID": np.diag(without_p.to_numpy()),
                     "fullest branch, SRSUPM": with_p.to_numpy().argmax(axis=1)},
                    index=pd.Index(range(K), name="level"))
print(rows.round(3).to_string())
higher = int((rows["α own, SRSUPM"] > rows["α own, w/o PMSID"]).sum())
ratio = rows["α own, SRSUPM"] / rows["α own, w/o PMSID"]
print(f"α at the own level is higher with PMSID in {higher} of {K} levels "
      f"(ratio {ratio.min():.2f} to {ratio.max():.2f}); the fullest branch is the own level in "
      f"{int((rows['fullest branch, SRSUPM'] == rows.index).sum())} of {K} rows")

# %% [markdown]
# How much does α actually *know* about the level? L_PMSID mixes two things: the scale of the
# logits ⟨e_v, ẑ_k⟩·s (s = 1 with the default unit scale) and what they say. `diagnostics.level_information` separates them: it
# rescales the logits (a scale s and one bias per level, fitted by L-BFGS) and reports the
# loss it then reaches (`calibrated`) beside the entropy of the level frequencies (`entropy`,
# what knowing only how common each level is scores). Their difference, `information`, is the
# nats α carries about the level beyond its frequencies; `best_scale` > 1 says α is flatter
# than what it knows. On Beauty (`reports/screening/`) this is how we found that α carries 0.3 %
# of the level entropy with the paper-literal setting after two epochs, and 9 % with the default.

# %%
pd.DataFrame({name: diagnostics.level_information(analysis.shift_distributions(m, split.train), train_levels)
              for name, m in models.items()}).round(3)

# %% [markdown]
# ## 4. Without PMSID the branches collapse
# Nothing but their initialisation and priors tells the K branches apart when no loss asks
# them to differ: L_rec only sees the mixture. We measure how alike they are on the training
# windows (`diagnostics.branch_diagnostics`): the mean cosine between ẑ_k of different branches
# (1 = identical directions), the spread of the branches around their mean relative to their
# length, and how peaked α is (entropy / log K; 1 = uniform).

# %%
diag = {name: diagnostics.branch_diagnostics(m, split.train, train_levels) for name, m in models.items()}
fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), layout="constrained")
for ax, (name, d) in zip(axes, diag.items()):
    analysis_plots.plot_branch_similarity(d["similarity"], ax=ax, title=f"{name}: cosine between branches")
plt.show()
collapse = pd.DataFrame({name: {k: v for k, v in d.items() if k != "similarity"} for name, d in diag.items()})
collapse.round(3)

# %% [markdown]
# Branches that stay close to one another (cosine near 1, small spread) give the mixture of
# Eqs. 19–22 little to choose from. The printout says which way this run went. The weight γ of
# L_reg (§6, a parameter above) works against the separation: it pulls adjacent branches together.

# %%
a, b = collapse["SRSUPM"], collapse["w/o PMSID"]
print(f"branch cosine {a['cosine']:.3f} with PMSID, {b['cosine']:.3f} without "
      f"({'more' if a['cosine'] < b['cosine'] else 'less'} distinct with PMSID); spread {a['spread']:.3f} against "
      f"{b['spread']:.3f}; α entropy / log K {a['alpha_entropy']:.3f} against {b['alpha_entropy']:.3f} "
      f"({'more' if a['alpha_entropy'] < b['alpha_entropy'] else 'less'} peaked with PMSID)")

# %% [markdown]
# ## 5. One user at a time: the model explorer
# Pick a test user: the history with its categories, α over the branches (the window's PMSA
# level in red), and the top-10 of each branch alone (⟨ẑ_k, e_i⟩) next to the model's mixture,
# seen items masked as in evaluation; the last row gives the target's rank under each.
# A trained run folder opens the same way, with its own data and best weights:
# `model_explorer("runs/04_train")` after notebook 04 (Beauty from `data/`, or any dataset).
# Without a kernel, the output shows a static snapshot of the view below.

# %%
explorer = model_explorer(model, ds, split.test, levels=test_levels)
explorer.user.value = int(torch.argmax((test_levels == K - 1).int()))    # a user whose target is a complete shift
explorer

# %%
pd.DataFrame({name: ids for name, ids in explorer.current["topk"].items()}).rename_axis("rank").T

# %% [markdown]
# ## 6. Results
# The numbers of this run in one record.

# %%
record = {
    "K": K, "bins": bins, "epochs": epochs, "lambda1": lambda1, "gamma": gamma,
    **{f"{name}: test recall@10": round(float(f.test.iloc[0]["recall@10"]), 4) for name, f in fits.items()},
    **{f"{name}: alpha at own level": round(analysis.diagonal_dominance(t)["diagonal_weighted"], 3)
       for name, t in heat.items()},
    **{f"{name}: branch cosine": round(d["cosine"], 3) for name, d in diag.items()},
}
pd.Series(record, name="value").to_frame()
