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
# # 08 · The mental reward, step by step, on a world where a click is not satisfaction
#
# MTRec (arXiv 2509.22807) reads a log as the decisions of users who each get a private *mental
# reward* from what they take, learns that reward by distributional inverse RL (QR-IQL), then trains
# the recommender to prefer what the reward says is worth taking (`β · L_align`). The lab's rebuild,
# equation by equation, is `docs/mtrec_method.md`; lesson 7 (`tutorials/07_mental_reward.md`) derives
# the formulas. Here they run on the **clickbait world** (`srsupm_lab.data.satisfaction_world`), where
# the truth is kept, so the question can be asked: does a reward learned from clicks find what users felt?
#
# Below: the world; one user's windows as transitions `(s, a, s')`; the quantile head `Q_λ`, its soft
# value `V*` and reward `r*` checked by hand; the reward fitted by QR-IQL and by IQ-Learn; the learned
# reward against the true satisfaction on held-out users; the recommender aligned with it against the
# backbone alone and the oracle; an explorer over `N`, `α` and `β`. Runs on a CPU in about a minute
# with the defaults.

# %%
# %matplotlib inline
import contextlib
import io
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from srsupm_lab import load_dataset
from srsupm_lab.analysis.policy_metrics import policy_metrics, policy_summary
from srsupm_lab.analysis.reward_satisfaction import satisfaction_scores, spearman
from srsupm_lab.backbones import build_backbone
from srsupm_lab.config import TrainConfig
from srsupm_lab.data.satisfaction_world import window_satisfaction
from srsupm_lab.data.windows import leave_one_out
from srsupm_lab.experiment import load_trained, run_experiment
from srsupm_lab.methods.mtrec import (A_N, A_P, RewardModel, next_window_index, normalise_rewards, quantile_levels,
                                      reward_stats, sample_negatives, train_reward_model)
from srsupm_lab.run_folder import load_results
from srsupm_lab.threads import apply_thread_policy

threads = apply_thread_policy("small")   # one torch thread: the models here are small (srsupm_lab.threads)

# %% tags=["parameters"]
n_users = 800               # users of the clickbait world (its default; docs/mtrec_method.md section 9)
seed = 1                    # the world, the held-out users and every initialisation (as reward_satisfaction_table)
backbone = "sasrec"         # the reward network's own encoder, and the recommender's backbone
max_len = 20                # L, the window length
dim = 64                    # embedding size d of the reward models and the recommenders
heldout = 0.2               # share of users the reward models never see; the Spearman is measured on them
n_quantiles = 10            # N, quantile atoms per action (the paper's 10)
alpha = 0.5                 # alpha of the chi-square regulariser psi of IQ-Learn and QR-IQL (the paper: 0.5)
reward_epochs = 3           # stage 1: epochs of each reward model (QR-IQL, IQ-Learn; also inside the mtrec runs)
beta = 0.3                  # stage 2: weight of L_align in the recommender's loss (chosen on validation: reports/mtrec/beta)
epochs = 8                  # recommenders: maximum epochs (early stopping on validation, patience 3)
grid_n = [1, 10]            # explorer: the N of its small refits
grid_alpha = [0.1, 0.5, 2.0]  # explorer: the alpha of its small refits
grid_beta = [0.0, 0.3, 1.0]   # explorer: the beta of its recommender runs (0: the backbone alone)
grid_epochs = 2             # explorer: epochs of each small refit
grid_dim = 32               # explorer: embedding size of each small refit
out_dir = "runs/08_mental_reward"   # run folders of the recommenders (gitignored)

# %% [markdown]
# ## 1. The clickbait world
# A tenth of the items are clickbait: wherever users pick by popularity, a clickbait item weighs three
# times its popularity, so it is clicked more; but it satisfies little (expected 0.1 against 0.85 for an
# item that fits the user's current motivation). Satisfaction is never shown to a model: it acts only
# through behaviour, an unsatisfied user ending her session or switching motivation more often.

# %%
# NBVAL_CHECK_OUTPUT
ds = load_dataset("synthetic-clickbait", n_users=n_users, seed=seed)
meta = ds.meta
items = np.concatenate(ds.sequences)
sat = np.concatenate(meta["satisfaction"])
bait = meta["clickbait"][items]
item_kind = np.where(meta["clickbait"][1:], "clickbait", "normal")
clicks = np.bincount(items, minlength=ds.n_items + 1)[1:]
world = pd.DataFrame({
    "items": pd.Series(item_kind).value_counts(),
    "share of interactions": pd.Series(np.where(bait, "clickbait", "normal")).value_counts(normalize=True),
    "clicks per item": pd.Series(clicks).groupby(item_kind).mean(),
    "mean satisfaction": pd.Series(sat).groupby(np.where(bait, "clickbait", "normal")).mean(),
})
print(f"{ds.n_users} users, {ds.n_items} items, {items.size} interactions")
world.round(3)

# %%
item_sat = pd.Series(sat).groupby(items).mean().reindex(range(1, ds.n_items + 1))
fig, ax = plt.subplots(figsize=(6.5, 3.8))
for kind, colour in (("normal", "tab:blue"), ("clickbait", "tab:red")):
    rows = item_kind == kind
    ax.scatter(clicks[rows], item_sat.to_numpy()[rows], s=10, alpha=0.6, c=colour, label=kind)
ax.set(xscale="log", xlabel="interactions with the item (log)", ylabel="its mean realised satisfaction",
       title="Clickbait: clicked more, satisfying less")
ax.legend()
plt.show()

# %% [markdown]
# ## 2. The user's MDP on the log
# A training window `m` (history `h_t`, target `i_t`) is the transition `s = (h_t, i_t)`, `a = a_P`,
# `s'` = the same user's next window (`next_window_index`; her last training window is terminal). A
# sampled negative `j` (an item she did not take) is `s = (h_t, j)`, `a = a_N`, and `s' = (h_t, i_t)`:
# a skip leaves the history as it was (`negative_next="positive"`, `docs/mtrec_method.md` §1).
#
# The users are split first: a `heldout` share is never seen by a reward model and scores it in
# section 6 (their training windows only; no test window is read).

# %%
split = leave_one_out(ds, max_len=max_len)
held_users = torch.from_numpy(np.random.default_rng(seed).permutation(ds.n_users)[:max(1, round(heldout * ds.n_users))])
is_held = torch.isin(split.train.users, held_users)
fit, held = split.train.subset(~is_held), split.train.subset(is_held)
fit_next = next_window_index(fit.inputs, fit.targets, fit.users)
negatives = sample_negatives(fit.targets, ds.n_items, 1, torch.Generator().manual_seed(seed))   # one per window
fit_truth = window_satisfaction(ds, fit)
print(f"{len(fit)} windows of {ds.n_users - len(held_users)} users to fit on, {len(held)} windows of "
      f"{len(held_users)} held-out users to score ({int(window_satisfaction(ds, held)['clickbait'].sum())} on clickbait)")

# one user with at least five training windows, one of them on a clickbait item
windows_of = pd.DataFrame({"user": fit.users.numpy(), "bait": fit_truth["clickbait"].numpy()}).groupby("user")["bait"]
user = int(windows_of.agg(["size", "sum"]).query("size >= 5 and sum >= 1").index[0])
rows = torch.where(fit.users == user)[0]


def item_name(i):
    return f"{int(i)}{'*' if meta['clickbait'][int(i)] else ''}"


transitions = []
for m in rows.tolist():
    h = " ".join(item_name(i) for i in fit.inputs[m][fit.inputs[m] > 0][-3:])
    nxt = int(fit_next[m])
    transitions.append({"window": m, "s = (h, i)": f"(... {h}, {item_name(fit.targets[m])})", "a": "a_P",
                        "s'": "terminal" if nxt < 0 else f"window {nxt}",
                        "true satisfaction": round(float(fit_truth["satisfaction"][m]), 2)})
    transitions.append({"window": m, "s = (h, i)": f"(... {h}, {item_name(negatives[m, 0])})", "a": "a_N",
                        "s'": f"(h, {item_name(fit.targets[m])})", "true satisfaction": None})
print(f"user {user}'s training windows (last 3 history items; * = clickbait; the satisfaction is hidden from "
      f"every model):")
pd.DataFrame(transitions).set_index(["window", "a"])

# %% [markdown]
# ## 3. The quantile head
# `Q_λ` is the backbone's architecture with its own weights and a head of `2 × N` atoms: for a state
# `s = (h, i)`, `λ_j(s, a_P)` and `λ_j(s, a_N)`, head `j` estimating the `τ_j = (2j − 1)/(2N)`
# quantile; `Q(s, a) = (1/N) Σ_j λ_j(s, a)`. Here at initialisation, for the user's first window (the
# same window after training is drawn in section 5).

# %%
def reward_model(n, d=dim, s=seed):
    torch.manual_seed(s)
    return RewardModel(build_backbone(backbone, ds.n_items, n_users=ds.n_users, dim=d, max_len=max_len),
                       n_quantiles=n)


def session_atoms(model):
    """Atoms [W, 2, 2, N] of the user's windows: candidates (target, negative), actions (a_P, a_N)."""
    model.eval()
    with torch.no_grad():
        return model(fit.inputs[rows], torch.cat([fit.targets[rows, None], negatives[rows]], 1), fit.users[rows])


def plot_atoms(atoms, title, ax):
    tau = quantile_levels(atoms.shape[-1]).numpy()
    for a, name, colour in ((A_P, "a_P (take)", "tab:green"), (A_N, "a_N (skip)", "tab:grey")):
        ax.plot(tau, atoms[0, 0, a].numpy(), "o-", c=colour, label=f"λ_j(s, {name})")
        ax.axhline(float(atoms[0, 0, a].mean()), c=colour, ls=":", lw=1)
    ax.set(xlabel="τ_j", ylabel="atom", title=title)
    ax.legend(fontsize=8)


qr_model = reward_model(n_quantiles)
atoms0 = session_atoms(qr_model)                        # (W, 2, 2, N)
fig, ax = plt.subplots(figsize=(6, 3.5))
plot_atoms(atoms0, f"window {int(rows[0])}, s = (h, {item_name(fit.targets[rows[0]])}): at initialisation "
                   f"(dotted: Q)", ax)
plt.show()

# %% [markdown]
# ## 4. Soft value and reward for her session
# `V*(s) = log Σ_a exp Q(s, a)` and `r*(s, a) = Q(s, a) − γ V*(s')`, `V*(s') = 0` at a terminal state.
# Computed here by hand in float64 from the atoms and checked against `RewardModel.rewards` (which
# batches them over every window).

# %%
def session_table(model, atoms):
    q = atoms.double().mean(-1).numpy()                                   # (W, 2 candidates, 2 actions)
    v = np.log(np.exp(q).sum(-1))                                         # (W, 2) V* of each state
    nxt = fit_next[rows].numpy() - int(rows[0])                           # next window within her session
    v_next_target = np.where(nxt >= 0, v[np.clip(nxt, 0, None), 0], 0.0)  # s' of (h, i_t): her next window
    r_target = q[:, 0] - model.gamma * v_next_target[:, None]             # (W, 2)
    r_negative = q[:, 1] - model.gamma * v[:, :1]                         # s' of (h, j) is (h, i_t)
    stored = model.rewards({"inputs": fit.inputs[rows], "targets": fit.targets[rows], "users": fit.users[rows]},
                           negatives=negatives[rows]).double().numpy()    # (W, 2, 2)
    gap = max(np.abs(stored[:, 0] - r_target).max(), np.abs(stored[:, 1] - r_negative).max())
    table = pd.DataFrame({"item": [item_name(i) for i in fit.targets[rows]], "Q(s,a_P)": q[:, 0, A_P],
                          "Q(s,a_N)": q[:, 0, A_N], "V*(s)": v[:, 0], "V*(s')": v_next_target,
                          "r*(s,a_P)": r_target[:, A_P], "r*(s,a_N)": r_target[:, A_N],
                          "r*(neg,a_P)": r_negative[:, A_P], "true satisfaction": fit_truth["satisfaction"][rows]},
                         index=pd.Index(rows.numpy(), name="window"))
    return table, gap


table0, gap0 = session_table(qr_model, atoms0)
print(f"γ = {qr_model.gamma}; largest gap to RewardModel.rewards: {gap0:.1e}")
table0.round(3)

# %% [markdown]
# ## 5. Fitting the reward: QR-IQL (MTRec) and IQ-Learn (the IRL ablation)
# Stage 1 on the fitting users' windows (`train_reward_model`, Adam, batch 256, one fresh negative per
# window): QR-IQL with `N` atoms, one pinball loss per head on the two errors `u1 = λ_j − V*(s)` and
# `u2 = λ_j − γV*(s')`; IQ-Learn with one atom, `−(Q − V) + (Q − γV')²/(4α)`. A small budget
# (`reward_epochs`); the losses are per epoch.

# %%
iq_model = reward_model(1)
losses = pd.DataFrame({
    "QR-IQL": train_reward_model(qr_model, fit, epochs=reward_epochs, next_index=fit_next, objective="qr_iql",
                                 alpha=alpha, seed=seed),
    "IQ-Learn": train_reward_model(iq_model, fit, epochs=reward_epochs, next_index=fit_next, objective="iq_learn",
                                   alpha=alpha, seed=seed)},
    index=pd.Index(range(1, reward_epochs + 1), name="epoch"))
losses.round(4)

# %%
atoms1 = session_atoms(qr_model)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5), sharey=True)
plot_atoms(atoms0, "at initialisation", axes[0])
plot_atoms(atoms1, f"after {reward_epochs} epochs of QR-IQL", axes[1])
fig.suptitle(f"window {int(rows[0])}, s = (h, {item_name(fit.targets[rows[0]])}): the {n_quantiles} atoms per action")
plt.show()
table1, gap1 = session_table(qr_model, atoms1)
print(f"user {user}'s session after QR-IQL (largest gap to RewardModel.rewards: {gap1:.1e}):")
table1.round(3)

# %% [markdown]
# ## 6. The learned reward against the true satisfaction
# Each model scores every held-out interaction by `r*(s, a_P)` (its next state: the user's next window).
# Spearman's correlation with the realised satisfaction, overall and within clickbait / normal
# interactions, and `auc_clickbait`: the probability that a normal interaction scores above a clickbait
# one (0.5: no separation). Two frames: random scores (the floor) and the expected satisfaction
# `satisfaction_table[true motivation, item]` (the ceiling: the realised satisfaction is noisy). The
# rows "advantage" score by `r*(s, a_P) − r*(s, a_N) = Q(s, a_P) − Q(s, a_N)`: what `L_align` acts on
# (section 8), free of `V*(s')`. The column "s' not terminal" leaves out each user's last training
# window, where `V*(s') = 0` lifts `r*` by about `γ V*`; the last column asks what the score follows
# instead of satisfaction: how often the item is clicked in the fitting users' windows.

# %%
held_next = next_window_index(held.inputs, held.targets, held.users)
truth = window_satisfaction(ds, held)
held_sat, held_bait = truth["satisfaction"].numpy(), truth["clickbait"].numpy()
item_clicks = np.bincount(fit.targets.numpy(), minlength=ds.n_items + 1)[held.targets.numpy()]
held_r = {name: model.rewards(held, next_index=held_next)[:, 0].double().numpy()      # (M, 2): [a_P, a_N]
          for name, model in (("QR-IQL", qr_model), ("IQ-Learn", iq_model))}
scores = {
    "MTRec reward (QR-IQL)": held_r["QR-IQL"][:, A_P],
    "IRL ablation (IQ-Learn)": held_r["IQ-Learn"][:, A_P],
    "QR-IQL advantage r_P − r_N": held_r["QR-IQL"][:, A_P] - held_r["QR-IQL"][:, A_N],
    "IQ-Learn advantage r_P − r_N": held_r["IQ-Learn"][:, A_P] - held_r["IQ-Learn"][:, A_N],
    "random (floor)": np.random.default_rng(seed).standard_normal(len(held)),
    "expected satisfaction (ceiling)": meta["satisfaction_table"][truth["motivation"].numpy(), held.targets.numpy()],
}
going_on = held_next.numpy() >= 0                    # s' is her next window (not her last training window)
reward_table = pd.DataFrame({name: {**satisfaction_scores(s, held_sat, held_bait),
                                    "spearman, s' not terminal": spearman(s[going_on], held_sat[going_on]),
                                    "spearman with item clicks": spearman(s, item_clicks)}
                             for name, s in scores.items()}).T
reward_table.drop(columns=["n_eval", "n_clickbait"]).round(3)

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
for ax, name in zip(axes[:2], list(scores)[:2]):
    for flag, label, colour in ((False, "normal", "tab:blue"), (True, "clickbait", "tab:red")):
        ax.scatter(held_sat[held_bait == flag], scores[name][held_bait == flag], s=5, alpha=0.4, c=colour, label=label)
    ax.set(title=f"{name}: ρ = {reward_table.loc[name, 'spearman']:.3f}", xlabel="true satisfaction",
           ylabel="r*(s, a_P)")
    ax.legend(markerscale=3)
bins = pd.qcut(held_sat, 10, labels=False)
for name in list(scores)[:4]:
    z = (scores[name] - scores[name].mean()) / scores[name].std()
    axes[2].plot(pd.Series(held_sat).groupby(bins).mean(), pd.Series(z).groupby(bins).mean(), "o-", label=name)
axes[2].set(title="binned: deciles of true satisfaction", xlabel="true satisfaction (decile mean)",
            ylabel="mean r*(s, a_P), z-scored")
axes[2].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 7. The recommender aligned with it
# Three runs of the package's experiment (`run_experiment`, all users' training windows, early stopping
# on validation Recall@10, tested on each user's last item): the backbone alone; `method="mtrec"`, whose
# stage 1 fits QR-IQL as above and whose stage 2 adds `β · L_align` with the z-scored `r*`; and the same
# with `reward="oracle"`, where the true satisfaction stands for `r*` (the upper bound, not in the paper).
# `satisfaction@10`: the expected satisfaction of the top 10 at the user's motivation of her test step;
# `clickbait@10`: the share of clickbait among them (`srsupm_lab.analysis.policy_metrics`).

# %%
per_user = {}                                                   # run folder -> one row per test user


def train(name, method="none", **options):
    config = TrainConfig(dataset="synthetic-clickbait", dataset_options={"n_users": n_users, "seed": seed},
                         backbone=backbone, method=method, method_options=options, max_len=max_len, dim=dim,
                         epochs=epochs, patience=3, seed=seed, device="cpu", progress=False, resume=True,
                         out_dir=f"{out_dir}/{name}")
    with contextlib.redirect_stdout(io.StringIO()):              # one line per epoch: the history below has them
        results = run_experiment(config)
    run = load_trained(config.out_dir)
    per_user[name] = policy_metrics(run.model, run.data.dataset, run.data.split, seed=seed)
    summary = policy_summary(per_user[name])
    return {"recall@10": results["test"][0]["recall@10"], "ndcg@10": results["test"][0]["ndcg@10"],
            "satisfaction@10": summary["satisfaction@10"], "clickbait@10": summary["clickbait@10"],
            "auc": summary["auc"], "best epoch": results["best_epoch"]}


mtrec_options = {"n_quantiles": n_quantiles, "alpha": alpha, "reward_epochs": reward_epochs}
runs = {f"{backbone} alone": train("none"),
        f"{backbone}+MTRec (β={beta:g})": train(f"mtrec-beta{beta:g}", "mtrec", beta=beta, **mtrec_options),
        f"{backbone}+oracle reward (β={beta:g})": train(f"oracle-beta{beta:g}", "mtrec", reward="oracle", beta=beta)}
pd.DataFrame(runs).T.round(4)

# %% [markdown]
# One seed: are the differences to the backbone alone larger than the spread over the 800 test users?
# The paired difference per user of satisfaction@10 and clickbait@10, its mean and a 95 % normal interval.

# %%
paired = {}
for name in (f"mtrec-beta{beta:g}", f"oracle-beta{beta:g}"):
    for column in ("satisfaction@10", "clickbait@10"):
        d = per_user[name][column].to_numpy() - per_user["none"][column].to_numpy()
        half = 1.96 * d.std(ddof=1) / np.sqrt(d.size)
        paired[name, column] = {"mean difference": d.mean(), "95% low": d.mean() - half, "95% high": d.mean() + half}
pd.DataFrame(paired).T.rename_axis(["run, minus the backbone alone", "measure"]).round(4)

# %%
history = {name: load_results(f"{out_dir}/{folder}")["history"]
           for name, folder in ((f"MTRec (β={beta:g})", f"mtrec-beta{beta:g}"), (f"oracle (β={beta:g})",
                                                                               f"oracle-beta{beta:g}"))}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
for name, h in history.items():
    axes[0].plot(h["epoch"], h["loss_align"], "o-", label=name)
    axes[1].plot(h["epoch"], h["loss_rec"], "o-", label=name)
axes[0].set(title="L_align per epoch (r* z-scored)", xlabel="epoch")
axes[1].set(title="L_rec (cross-entropy) per epoch", xlabel="epoch")
for ax in axes:
    ax.legend()
plt.show()

# %% [markdown]
# ## 8. N, α and β, one at a time
# `N` and `α` pick a small QR-IQL refit (`grid_epochs` epochs, `d = grid_dim`, on the same fitting users)
# and show its Spearman with the satisfaction of the held-out interactions. `β` scales the alignment: its
# push on the response probability of a taken item is `∂(β·L_align)/∂F = −β (r_P − r_N)/σ`, shown as the
# mean of `β (r_P − r_N)/σ` over clickbait and normal held-out interactions (positive: `F` is pushed up);
# and for each `β` a recommender was trained (section 7's MTRec settings, `N = n_quantiles`,
# `α = alpha`; `β = 0` is the backbone alone) with its satisfaction@10. All values are computed below,
# so the sliders only look them up (the committed copy shows the first values).

# %%
grid = {}
for n in grid_n:
    for a in grid_alpha:
        small = reward_model(n, d=grid_dim)
        train_reward_model(small, fit, epochs=grid_epochs, next_index=fit_next, alpha=a, seed=seed)
        r = small.rewards(held, next_index=held_next)[:, 0]                        # (M, 2): [a_P, a_N]
        _, scale = reward_stats(r)
        gap = ((r[:, A_P] - r[:, A_N]) / scale).double().numpy()
        grid[n, a] = {**satisfaction_scores(r[:, A_P].double().numpy(), held_sat, held_bait),
                      "push on clickbait (per unit β)": gap[held_bait].mean(),
                      "push on normal (per unit β)": gap[~held_bait].mean()}
beta_runs = {}
for b in grid_beta:
    if b == 0:
        beta_runs[b] = runs[f"{backbone} alone"]
    elif b == beta:
        beta_runs[b] = runs[f"{backbone}+MTRec (β={beta:g})"]
    else:
        beta_runs[b] = train(f"mtrec-beta{b:g}", "mtrec", beta=b, **mtrec_options)
grid_table = pd.DataFrame(grid).T.rename_axis(["N", "α"])
grid_table[["spearman", "spearman_clickbait", "spearman_normal", "auc_clickbait",
            "push on clickbait (per unit β)", "push on normal (per unit β)"]].round(3)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
heat = grid_table["spearman"].unstack("α")
image = axes[0].imshow(heat.to_numpy(), cmap="coolwarm", vmin=-0.3, vmax=0.3)
axes[0].set(xticks=range(len(heat.columns)), xticklabels=[f"{a:g}" for a in heat.columns], yticks=range(len(heat)),
            yticklabels=heat.index, xlabel="α", ylabel="N", title="Spearman(r*, satisfaction), held-out")
for (i, j), value in np.ndenumerate(heat.to_numpy()):
    axes[0].text(j, i, f"{value:.3f}", ha="center", va="center")
fig.colorbar(image, ax=axes[0])
betas = pd.DataFrame(beta_runs).T.sort_index()
axes[1].plot(betas.index, betas["satisfaction@10"], "o-", label="satisfaction@10")
axes[1].plot(betas.index, betas["clickbait@10"], "s-", label="clickbait@10")
axes[1].set(xlabel="β", title=f"recommenders by β (N={n_quantiles}, α={alpha:g})")
axes[1].legend()
grid_png = io.BytesIO()
fig.savefig(grid_png, format="png", dpi=70)                 # for the explorer's static snapshot below
plt.show()

# %%
import ipywidgets as widgets  # noqa: E402
from IPython.display import display, publish_display_data  # noqa: E402

from srsupm_lab.widgets.static import png_img, with_static_snapshot  # noqa: E402

out = widgets.Output()
controls = {"N": widgets.SelectionSlider(options=grid_n, value=n_quantiles if n_quantiles in grid_n else grid_n[0],
                                         description="N"),
            "α": widgets.SelectionSlider(options=grid_alpha, value=alpha if alpha in grid_alpha else grid_alpha[0],
                                         description="α"),
            "β": widgets.SelectionSlider(options=grid_beta, value=beta if beta in grid_beta else grid_beta[0],
                                         description="β")}


def view(n, a, b):
    fitted = grid[n, a]
    reward = pd.Series({"Spearman, all": fitted["spearman"], "Spearman, clickbait": fitted["spearman_clickbait"],
                        "Spearman, normal": fitted["spearman_normal"], "auc_clickbait": fitted["auc_clickbait"],
                        "β·push on clickbait": b * fitted["push on clickbait (per unit β)"],
                        "β·push on normal": b * fitted["push on normal (per unit β)"]},
                       dtype=float)
    recommender = pd.Series(beta_runs[b], dtype=float)
    return pd.concat({f"reward (N={n}, α={a:g}, β={b:g})": reward,
                      f"recommender (β={b:g}; N={n_quantiles}, α={alpha:g})": recommender}).to_frame("value").round(4)


def show(_=None):
    out.clear_output(wait=True)
    with out:
        display(view(controls["N"].value, controls["α"].value, controls["β"].value))


for control in controls.values():
    control.observe(show, names="value")
show()
first = view(controls["N"].value, controls["α"].value, controls["β"].value)
snapshot = png_img(grid_png.getvalue(), "Spearman by N and alpha; recommenders by beta") + first.to_html()
publish_display_data(with_static_snapshot(widgets.VBox([widgets.HBox(list(controls.values())), out])._repr_mimebundle_(),
                                          snapshot, "the reward and the recommender for one (N, α, β) (sliders)"))

# %% [markdown]
# ## 9. What it says
# The default run is one seed on one world at a small budget (β = 0.3, the value `reports/mtrec/beta/`
# chose on validation). Every sentence below is printed from the numbers above, its direction chosen by
# the code; the last cell reads the lab's report over seeds (`reports/mtrec/`), which is the measurement.

# %%
def move(a, b):
    """'a to b (higher)' with the direction read from the numbers."""
    return f"{a:.3f} to {b:.3f} ({'higher' if b > a else 'lower' if b < a else 'unchanged'})"


def interval(d):
    """A paired mean difference with its 95 % interval and whether the interval holds 0."""
    low, high = d["95% low"], d["95% high"]
    return (f"paired {d['mean difference']:+.4f}, 95 % {low:+.4f} to {high:+.4f}, "
            f"{'holds 0' if low <= 0 <= high else 'excludes 0'}")


share = world["items"] / world["items"].sum()
print(f"The world: clickbait is {share['clickbait']:.0%} of the items and {world.loc['clickbait', 'share of interactions']:.0%} "
      f"of the interactions ({world.loc['clickbait', 'clicks per item']:.0f} clicks per item against "
      f"{world.loc['normal', 'clicks per item']:.0f}); mean satisfaction {world.loc['clickbait', 'mean satisfaction']:.2f} "
      f"against {world.loc['normal', 'mean satisfaction']:.2f}.")
rt = reward_table
print(f"The learned reward against the true satisfaction ({len(held)} held-out interactions): Spearman "
      f"{rt.loc['MTRec reward (QR-IQL)', 'spearman']:+.3f} (QR-IQL), {rt.loc['IRL ablation (IQ-Learn)', 'spearman']:+.3f} "
      f"(IQ-Learn); random {rt.loc['random (floor)', 'spearman']:+.3f}, the expected satisfaction (ceiling) "
      f"{rt.loc['expected satisfaction (ceiling)', 'spearman']:+.3f}.")
for name in ("QR-IQL", "IQ-Learn"):
    row = rt.loc[f"{name} advantage r_P − r_N"]
    print(f"{name}'s advantage r_P − r_N (what L_align acts on): Spearman {row['spearman with item clicks']:+.3f} with how "
          f"often the item is clicked; auc_clickbait {row['auc_clickbait']:.3f} "
          f"({'clickbait ranked above normal' if row['auc_clickbait'] < 0.5 else 'normal ranked above clickbait'}).")
alone = runs[f"{backbone} alone"]
for label, folder in ((f"{backbone}+MTRec (β={beta:g})", f"mtrec-beta{beta:g}"),
                      (f"{backbone}+oracle reward (β={beta:g})", f"oracle-beta{beta:g}")):
    run = runs[label]
    print(f"{label} against {backbone} alone: Recall@10 {move(alone['recall@10'], run['recall@10'])}; "
          f"satisfaction@10 {move(alone['satisfaction@10'], run['satisfaction@10'])} "
          f"({interval(paired[folder, 'satisfaction@10'])}); clickbait@10 "
          f"{move(alone['clickbait@10'], run['clickbait@10'])} ({interval(paired[folder, 'clickbait@10'])}).")
print(f"N and α (small refits, {grid_epochs} epochs, d = {grid_dim}): Spearman from {grid_table['spearman'].min():+.3f} "
      f"to {grid_table['spearman'].max():+.3f}; push of L_align per unit β on clickbait "
      f"{grid_table['push on clickbait (per unit β)'].min():.3f} to {grid_table['push on clickbait (per unit β)'].max():.3f}, "
      f"on normal items {grid_table['push on normal (per unit β)'].min():.3f} to "
      f"{grid_table['push on normal (per unit β)'].max():.3f}.")

# %% [markdown]
# One seed, and the intervals are over users, not over training runs: a worked example, not a
# measurement. The measurement is `reports/mtrec/` (grid `mtrec-synthetic` of `reports/experiments.toml`:
# the same world, β = 0.3 chosen on validation, seeds 1–3, a paired bootstrap over the test users pooled
# over the seeds); its committed table, read here. `reports/README.md` reads it: GRU4Rec alone varies
# by ±.063 Recall@10 between seeds (one weak seed), so GRU4Rec's rows say more about that base than
# about the reward.

# %%
report = pd.read_csv(Path("..") / "reports" / "mtrec" / "mtrec_significance.csv")
report = report[(report.dataset == "synthetic-clickbait") & report.metric.isin(["recall@10", "satisfaction@10",
                                                                                "clickbait@10"])]
for (a, b), rows in report.groupby(["model_a", "model_b"], sort=False):
    cells = [f"{r.metric} {r.relative:+.1%} ({'p < .001' if r.p_value < 0.001 else f'p = {r.p_value:.3f}'})"
             for r in rows.itertuples()]
    print(f"{b} against {a}, seeds {rows.seeds.iloc[0]}: " + "; ".join(cells))
mine = runs[f"{backbone}+MTRec (β={beta:g})"]["clickbait@10"] - alone["clickbait@10"]
theirs = report[(report.model_b == f"{backbone}+mtrec") & (report.metric == "clickbait@10")].gain
settings = Path("..") / "reports" / "mtrec" / "runs" / "synthetic-clickbait" / f"{backbone}+mtrec" / "seed1" / "config.json"
if len(theirs) and settings.exists():
    theirs_config = json.loads(settings.read_text())
    agree = np.sign(mine) == np.sign(float(theirs.iloc[0]))
    print(f"On clickbait@10, {backbone}+MTRec's change in this notebook's one seed ({mine:+.4f}) and in the report over "
          f"seeds ({float(theirs.iloc[0]):+.4f}) {'agree' if agree else 'disagree'} in direction (the report's recommenders "
          f"train up to {theirs_config['epochs']} epochs after {theirs_config['method_options']['reward_epochs']} reward "
          f"epochs; this notebook's up to {epochs} after {reward_epochs}).")
