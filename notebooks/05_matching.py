# %% [markdown]
# # 05 · Matching: similar windows, confidence sampling, two views, InfoNCE (PMSIM)
#
# PMSIM (method.md §7; paper §4.7, Eqs. 11–18) asks windows that share their target **and**
# their shift level to look alike. This notebook takes it apart on the embedded synthetic world:
#
# 1. the similar-window groups N(u) (Eq. 11): how big they are, how many windows have no partner;
# 2. confidence-aware sampling (Eqs. 12–14): partners are drawn in proportion to the
#    confidence cache c(u') = α_level(u');
# 3. the two views (Eq. 15): the augmented view (by default dropout on the window's basic view, no
#    second encoder pass; `augmentation="encoder_dropout"` makes it a second pass with fresh dropout)
#    and the supervised view (the sampled partner), both from basic views g = Σ_k ẑ_k;
# 4. the InfoNCE loss on them (Eqs. 16–18);
# 5. the paper's Fig. 8: densities of the L2 distances between basic views of windows sharing
#    target and level vs. sharing the target only, for a model trained with and without PMSIM.
#
# The defaults train two small models for a few epochs on a CPU (about 20 s in all,
# `reports/bench_notebooks_2026-12-01.txt`).
#
# **SRSUPM's status.** The SRSUPM paper (arXiv 2602.08667) has been withdrawn: after v1 (9 Feb 2026)
# and v2 (12 Mar 2026), its v3 (17 Apr 2026) is a withdrawal by its first author. The lab studies it
# as a withdrawn proposal whose ideas are still worth examining; its evidence (`reports/README.md`):
# on Beauty at lr 0.001 SRSUPM beats neither SASRec nor a capacity control, and PMSIM did not
# separate the views there (section 5).

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from srsupm_lab import leave_one_out, make_synthetic, pmsa
from srsupm_lab.analysis import shift as analysis
from srsupm_lab.analysis import shift_plots as analysis_plots
from srsupm_lab.backbones import build_backbone
from srsupm_lab.backbones.base import dropout
from srsupm_lab.methods.srsupm.pmsim import build_groups, info_nce
from srsupm_lab.methods.srsupm.model import SRSUPM
from srsupm_lab.trainer import Trainer
from srsupm_lab.threads import apply_thread_policy

threads = apply_thread_policy("small")   # one torch thread: the work here is small (srsupm_lab.threads)

# %% tags=["parameters"]
n_users = 400           # users of the synthetic world (make_synthetic)
n_items = 200           # items of the synthetic world
n_labels = 16           # categories of the synthetic world
backbone = "sasrec"     # gru4rec | sasrec | caser | bert4rec | lightsans
K = 5                   # number of shift levels
dim = 32                # embedding size d (paper: 64)
max_len = 20            # input length L (paper: 50)
lambda2 = 1.0           # weight of L_PMSIM (paper default 0.1; "larger kept helping")
tau = 0.5               # InfoNCE temperature (the package default; the paper gives none)
epochs = 8              # training epochs of each of the two models
batch_size = 256        # training batch size
lr = 0.01               # Adam learning rate (paper: 0.01)
draws = 20000           # partner draws in the sampling check
max_pairs = 200000      # at most this many same-target pairs for Fig. 8 (all of them when fewer)
seed = 0                # seed of the world, the training and the draws

# %% [markdown]
# ## 1. Similar-window groups (Eq. 11)
# N(u) holds the other training windows with the same target and the same PMSA level. The
# groups are built once, vectorised (`pmsim.build_groups`: sort by `target·K + level`, cut
# where the key changes). A window alone in its group has no partner: PMSIM then uses the
# window itself as its supervised view (a choice, method.md §7).

# %%
# NBVAL_CHECK_OUTPUT
ds = make_synthetic(n_users=n_users, n_items=n_items, n_labels=n_labels, seed=seed)
split = leave_one_out(ds, max_len=max_len)
_, train_levels = pmsa.assess(split.train.inputs, split.train.targets, ds.item_labels, K)
groups = build_groups(split.train.targets, train_levels, K)
sizes = groups["offsets"].diff()                              # (G,) windows per group
size_of_window = sizes[groups["group"]]                       # (M,) size of each window's group
print(f"{len(split.train)} training windows in {sizes.numel()} groups; "
      f"{int((size_of_window == 1).sum())} windows ({float((size_of_window == 1).float().mean()):.1%}) have no partner")
pd.Series(sizes.numpy()).describe().round(2).to_frame("windows per group").T

# %%
fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
ax.hist(size_of_window.numpy(), bins=np.arange(1, int(sizes.max()) + 2) - 0.5, color="#1f77b4")
ax.set(xlabel="size of the window's group |N(u)| + 1", ylabel="training windows", yscale="log",
       title="How many similar windows each window has")
plt.show()

# %% [markdown]
# ## 2. Two models: with and without PMSIM
# Same backbone, seed and data; the only difference is the PMSIM switch (the paper's "w/o
# PMSIM" row of Table 3). Training refreshes the confidence cache of every window it sees.

# %%
fits, models = {}, {}
for name, use_pmsim in (("SRSUPM", True), ("w/o PMSIM", False)):
    torch.manual_seed(seed)
    net = build_backbone(backbone, ds.n_items, n_users=ds.n_users, dim=dim, max_len=max_len)
    models[name] = SRSUPM(net, K=K, lambda2=lambda2 if use_pmsim else 0.0, tau=tau, pmsim=use_pmsim)
    fits[name] = Trainer(models[name], split.train, split.valid, split.test, train_levels=train_levels,
                         epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device="cpu",
                         progress=False).fit()
model = models["SRSUPM"]
pd.DataFrame({name: {"best epoch": f.best_epoch, "L_rec (last epoch)": f.history["loss_rec"].iloc[-1],
                     "L_PMSIM (last epoch)": f.history["loss_pmsim"].iloc[-1],
                     "valid recall@10": f.best_valid, "test recall@10": f.test.iloc[0]["recall@10"]}
              for name, f in fits.items()}).round(4)

# %% [markdown]
# ## 3. Confidence-aware sampling (Eqs. 12–14)
# The cache holds c(u') = α_level(u'), the probability a window's own shift distribution gives
# its own level, refreshed whenever the window passed through a forward pass. A partner of u is
# drawn from N(u) with probability c(u') / Σ_{N(u)} c. We take the largest group, draw many
# partners for one of its windows, and compare the observed frequencies with the cache.

# %%
matching = model.matching
conf = model.confidence
print(f"confidence cache: {conf.numel()} windows, mean {float(conf.mean()):.3f}, "
      f"range {float(conf.min()):.3f}..{float(conf.max()):.3f} (initial value 1/K = {1 / K:.3f})")
g = int(torch.argmax(sizes))
members = matching.order[matching.offsets[g]:matching.offsets[g + 1]]
anchor = int(members[0])
others = members[members != anchor]
gen = torch.Generator().manual_seed(seed)
print(f"group {g}: target {int(split.train.targets[anchor])}, level {int(train_levels[anchor])}, "
      f"{members.numel()} windows; anchor window {anchor}")


def draw_shares(cache_values):
    """Observed vs expected partner shares of the anchor with ``cache_values`` in the cache of ``others``."""
    saved = matching.confidence.clone()
    matching.refresh(others, cache_values)
    partners = matching.sample(torch.full((draws,), anchor), generator=gen)
    c = matching.confidence[others].double()
    matching.confidence.copy_(saved)                                      # put the trained cache back
    assert bool((partners != anchor).all()), "a window is never its own partner when it has others"
    return (partners[:, None] == others[None, :]).double().mean(dim=0), c / c.sum()


uneven = torch.linspace(0.02, 0.98, others.numel())[torch.randperm(others.numel(), generator=gen)]
shares = {"trained cache": draw_shares(conf[others].clone()), "uneven cache (set by hand)": draw_shares(uneven)}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
for ax, (name, (observed, expected)) in zip(axes, shares.items()):
    ax.scatter(expected.numpy(), observed.numpy(), s=12)
    lim = float(max(expected.max(), observed.max())) * 1.1
    ax.plot([0, lim], [0, lim], color="grey", ls="--", lw=1)
    ax.set(xlabel="c(u') / Σ c over N(u)  (Eq. 14)", ylabel=f"observed share of {draws:,} draws", title=name)
plt.show()
pd.DataFrame({name: {"largest |observed − expected|": float((o - e).abs().max()),
                     "binomial s.e. bound": float(np.sqrt(0.25 / draws)), "smallest expected": float(e.min()),
                     "largest expected": float(e.max())} for name, (o, e) in shares.items()}).round(4)

# %% [markdown]
# Both panels test the sampler, not the model: with the trained cache and with an uneven cache
# written by hand (the trained one put back afterwards), the observed shares should follow
# c(u') / Σ c within a few binomial standard errors, whatever the cache holds.

# %%
e = shares["trained cache"][1]
print(f"trained cache: mean {float(conf.mean()):.3f} (1/K = {1 / K:.3f}); in group {g} the expected shares span "
      f"{float(e.min()):.4f} to {float(e.max()):.4f} (largest / smallest: {float(e.max() / e.min()):.0f}) "
      f"(uniform would be {1 / others.numel():.4f} each)")
for name, (o, e) in shares.items():
    worst = float((o - e).abs().max())
    print(f"{name}: largest |observed − expected| {worst:.4f}, "
          f"{'within' if worst <= 3 * np.sqrt(0.25 / draws) else 'beyond'} 3 binomial s.e. ({3 * np.sqrt(0.25 / draws):.4f})")

# %% [markdown]
# ## 4. The two views and InfoNCE (Eqs. 15–18)
# For a batch of windows: the **basic view** g = Σ_k ẑ_k (eval mode, `model.basic_view`), the
# **augmented view** (the default `augmentation="view_dropout"`: dropout at rate `dropout` on the
# training-mode basic view itself, one encoder pass; `"encoder_dropout"` runs the window through the
# encoder a second time with fresh dropout), and the **supervised view** (the basic view of a sampled
# partner, in training mode, as in training). InfoNCE asks each augmented view to pick its own supervised view among the batch
# (cosine similarity / τ, in-batch negatives).

# %%
batch_index = torch.randperm(len(split.train), generator=gen)[:batch_size]
batch = split.train.subset(batch_index)
partner_index = matching.sample(batch_index, generator=gen)
partner = split.train.subset(partner_index)
g_basic = model.basic_view(batch.inputs, batch.users)                     # (B, d) eval mode
model.train()                                                             # dropout on, as in training
with torch.no_grad():
    g_train = model.priors(model.sic(model.backbone.encode(batch.inputs, batch.users))).sum(dim=1)
    if model.augmentation == "view_dropout":      # the default: a dropout on the basic view itself (Eq. 15)
        g_aug = dropout(g_train, model.view_dropout, True)
    else:                                         # "encoder_dropout": a second pass with fresh dropout
        g_aug = model.priors(model.sic(model.backbone.encode(batch.inputs, batch.users))).sum(dim=1)
    g_sup = model.priors(model.sic(model.backbone.encode(partner.inputs, partner.users))).sum(dim=1)
model.eval()
cos = torch.nn.functional.cosine_similarity
shuffled = g_sup[torch.randperm(g_sup.shape[0], generator=gen)]
views = pd.DataFrame({
    "cosine": [float(cos(g_basic, g_aug).mean()), float(cos(g_aug, g_sup).mean()), float(cos(g_aug, shuffled).mean())],
    "InfoNCE": [float("nan"), float(info_nce(g_aug, g_sup, tau)), float(info_nce(g_aug, shuffled, tau))],
}, index=["basic vs augmented (same window)", "augmented vs supervised (partner)", "augmented vs a random window"])
print(f"chance level of InfoNCE with {g_aug.shape[0]} in-batch candidates: log B = {np.log(g_aug.shape[0]):.3f}")
views.round(4)

# %% [markdown]
# The printout below reads the table. With cosine similarities in [−1, 1] each logit moves by at
# most 2/τ, so at τ = 1 the loss cannot go far below log B — which is why the weight λ2 and τ
# matter (the package's default τ = 0.5 was chosen on validation data, `reports/screening/`).

# %%
c = views["cosine"]
print(f"cosine basic vs augmented {c.iloc[0]:.3f}; partner {c.iloc[1]:.3f} "
      f"{'above' if c.iloc[1] > c.iloc[2] else 'not above'} a random window's {c.iloc[2]:.3f}; InfoNCE of true partners "
      f"{views['InfoNCE'].iloc[1]:.3f} {'below' if views['InfoNCE'].iloc[1] < views['InfoNCE'].iloc[2] else 'not below'} "
      f"shuffled partners' {views['InfoNCE'].iloc[2]:.3f} (log B = {np.log(g_aug.shape[0]):.3f})")

# %% [markdown]
# ## 5. View distances (paper Fig. 8)
# Over all pairs of training windows sharing a target (`analysis.view_distances`; drawn at random
# when there are more than `max_pairs`), the L2 distance between their basic views, split into
# pairs of one PMSIM group (same level) and the others (same target, different level). The
# *separation* is the probability that a same-level pair is closer than a target-only pair
# (0.5: the curves coincide). An untrained model gives the baseline: windows with the same level
# already share input structure before any training.

# %%
torch.manual_seed(seed)
untrained = SRSUPM(build_backbone(backbone, ds.n_items, n_users=ds.n_users, dim=dim, max_len=max_len), K=K)
dist = {name: analysis.view_distances(m, split.train, train_levels, max_pairs=max_pairs, seed=seed)
        for name, m in {**models, "untrained": untrained}.items()}
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), layout="constrained")
for ax, (name, d) in zip(axes, dist.items()):
    analysis_plots.plot_view_distances(d, ax=ax, title=f"{name}: separation {analysis.separation(d):.3f}")
plt.show()
pd.DataFrame({name: {"same-target pairs": d["total_pairs"], "same level": len(d[analysis.SAME_LEVEL]),
                     "target only": len(d[analysis.TARGET_ONLY]),
                     "mean distance, same level": d[analysis.SAME_LEVEL].mean(),
                     "mean distance, target only": d[analysis.TARGET_ONLY].mean(),
                     "separation": analysis.separation(d)} for name, d in dist.items()}).round(3)

# %% [markdown]
# Compare the separation of the two trained models with the untrained baseline (printed below).
# In the paper (Fig. 8, real data, full training) PMSIM moves the same-level curve clearly to the
# left of the target-only curve. Part of any gap comes from the inputs themselves (the untrained
# model), part from the recommendation loss (the model without PMSIM). On real data the lab found
# no effect of PMSIM: on Beauty, after 20 epochs of SASRec+SRSUPM, the
# separation was .625 with PMSIM and .627 without (`reports/README.md`, `reports/fig8.csv`).
# Raise `epochs` and `lambda2` to see how far PMSIM alone can move it.

# %%
sep = {name: analysis.separation(d) for name, d in dist.items()}
print(f"separation: SRSUPM {sep['SRSUPM']:.3f}, w/o PMSIM {sep['w/o PMSIM']:.3f} "
      f"(PMSIM {sep['SRSUPM'] - sep['w/o PMSIM']:+.3f}), untrained {sep['untrained']:.3f} "
      f"(one seed; 06_analysis shows how to test a difference over seeds)")

# %% [markdown]
# ## 6. Results
# The numbers of this run in one record.

# %%
record = {
    "K": K, "epochs": epochs, "lambda2": lambda2, "tau": tau,
    "groups": int(sizes.numel()), "windows without partner": int((size_of_window == 1).sum()),
    **{f"max |observed - expected| share, {name}": round(float((o - e).abs().max()), 4)
       for name, (o, e) in shares.items()},
    **{f"{name}: test recall@10": round(float(f.test.iloc[0]["recall@10"]), 4) for name, f in fits.items()},
    **{f"{name}: separation": round(analysis.separation(d), 3) for name, d in dist.items()},
}
pd.Series(record, name="value").to_frame()
