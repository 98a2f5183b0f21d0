# %% [raw]
# # ASSIGNMENT CONFIG
# name: a2_motivation_shift
# init_cell: false
# check_all_cell: false
# export_cell: false
# run_tests: false
# solutions_pdf: false
# generate: true
# tests:
#   files: false

# %% [markdown]
# # Assignment 2 — Motivation shift: levels, mixtures, contrast and a fair comparison (lessons 3–6)
#
# Four pieces of SRSUPM's pipeline and of its evaluation, written by you: a balanced shift binning
# over PMSD (lesson 3), the shift distribution α and the mixed score (lesson 4), the InfoNCE loss of
# PMSIM (lesson 5) and a paired bootstrap interval (lesson 6). Hidden tests grade each question
# after you submit; the points are given with each question. Fill in every `...`, run the
# notebook top to bottom, and keep the function names as given. `docs/method.md` has the equations.

# %%
import numpy as np
import torch

import srsupm_lab as sl
from srsupm_lab import pmsa
from srsupm_lab.threads import apply_thread_policy

threads = apply_thread_policy("small")   # tiny models: one torch thread

# %% [raw]
# # BEGIN QUESTION
# name: q1

# %% [markdown]
# **Question 1 (3 points, lesson 3).** Eq. 3 cuts PMSD's open interval (0, 1) into `K − 2` *even*
# bins, so on real data most windows land in one level. Write `quantile_shift_levels(pmsd, K)`, a
# *balanced* binning: PMSD = 0 is level 0, PMSD = 1 is level `K − 1`, and the values strictly
# inside (0, 1) are cut at the `K − 3` points
#
#     c_j = np.quantile(inner, j / (K − 2)),   j = 1 … K − 3,   inner = the values of pmsd in (0, 1)
#
# (NumPy's default interpolation); a value `x` in (0, 1) gets level `1 + #{j : c_j ≤ x}`. `pmsd` is a
# 1-D array of values in [0, 1] (with at least one inside (0, 1)); return an int64 array of levels.

# %% [raw]
# # BEGIN SOLUTION

# %%
def quantile_shift_levels(pmsd, K):
    """Levels 0..K-1 of PMSD values: 0 and 1 fixed, the inside cut at its own quantiles."""
    # BEGIN SOLUTION
    x = np.asarray(pmsd, dtype=np.float64)
    inner = x[(x > 0) & (x < 1)]
    cuts = np.quantile(inner, np.arange(1, K - 2) / (K - 2))                 # (K-3,)
    level = 1 + np.searchsorted(cuts, x, side="right")
    return np.where(x == 0, 0, np.where(x == 1, K - 1, level)).astype(np.int64)
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# by hand: the inside values .1 ... .6 are cut at .35 (K = 4) or at .2667 and .4333 (K = 5)
values = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0])
assert np.asarray(quantile_shift_levels(values, 4)).tolist() == [0, 1, 1, 1, 2, 2, 2, 3]
assert np.asarray(quantile_shift_levels(values, 5)).tolist() == [0, 1, 1, 2, 2, 3, 3, 4]

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# the library's quantile bins on the PMSD of the synthetic world's training windows
world = sl.load_dataset("synthetic")
world_split = sl.leave_one_out(world, max_len=20)
world_pmsd, _ = pmsa.assess(world_split.train.inputs, world_split.train.targets, world.item_labels, 5)
x = world_pmsd.numpy().astype(np.float64)
for K in (3, 5, 7):
    expected = pmsa.shift_level(x, K, pmsa.level_edges(K, "quantile", x))
    assert np.array_equal(np.asarray(quantile_shift_levels(x, K)), expected)

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# balanced: 3000 distinct inside values split into K - 2 = 4 levels of 750 each (± 1), the ends kept
inside = np.random.default_rng(0).uniform(0.01, 0.99, 3000)
levels = np.asarray(quantile_shift_levels(np.concatenate([[0.0, 0.0], inside, [1.0]]), 6))
assert levels[:2].tolist() == [0, 0] and levels[-1] == 5
counts = np.bincount(levels[2:-1], minlength=6)
assert counts[0] == 0 and counts[5] == 0 and counts[1:5].max() - counts[1:5].min() <= 2

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2

# %% [markdown]
# **Question 2 (3 points, lesson 4).** SRSUPM keeps `K` shift representations per window, `Z` of
# shape `[B, K, d]`. Write
#
# * `shift_distribution(Z, e, scale)`: α `[B, K]` with `α_{b,k} = softmax_k(⟨z_{b,k}, e_b⟩ · scale)`,
#   where `e` `[B, d]` holds each window's target embedding (Eq. 9);
# * `mixed_scores(Z, E, scale)`: the score `[B, N+1]` of every row `i` of the item table `E`
#   `[N+1, d]`, `s_{b,i} = Σ_k β_{b,i,k} ⟨z_{b,k}, e_i⟩` with `β_{b,i,k} = softmax_k(⟨z_{b,k}, e_i⟩ · scale)`
#   (each item picks its own level, Eqs. 19–22).
#
# Vectorised (no Python loop over windows or items). The package's default scale is 1
# (`level_temperature="unit"`); the paper-literal reading is `1/√d`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def shift_distribution(Z, e, scale):
    """α [B, K] of each window towards its target."""
    # BEGIN SOLUTION
    return torch.softmax(torch.einsum("bkd,bd->bk", Z, e) * scale, dim=1)
    # END SOLUTION


def mixed_scores(Z, E, scale):
    """The β-weighted mixture of the K levels' scores, [B, N+1]."""
    # BEGIN SOLUTION
    logits = torch.einsum("bkd,nd->bkn", Z, E)                              # (B, K, N+1)
    beta = torch.softmax(logits * scale, dim=1)                             # over levels
    return (beta * logits).sum(dim=1)                                       # (B, N+1)
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# α against a float64 loop, at two scales
g = torch.Generator().manual_seed(5)
Z, e = torch.randn(3, 4, 6, generator=g, dtype=torch.float64), torch.randn(3, 6, generator=g, dtype=torch.float64)
for scale in (1.0, 6 ** -0.5):
    got = shift_distribution(Z, e, scale)
    for b in range(3):
        logits = [float(Z[b, k] @ e[b]) * scale for k in range(4)]
        top = max(logits)
        weights = [np.exp(v - top) for v in logits]
        assert np.allclose(got[b].tolist(), [w / sum(weights) for w in weights], atol=1e-9)

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# the mixture against a float64 loop over windows, items and levels
g = torch.Generator().manual_seed(6)
Z, E = torch.randn(2, 3, 5, generator=g, dtype=torch.float64), torch.randn(7, 5, generator=g, dtype=torch.float64)
got = mixed_scores(Z, E, 0.5)
assert tuple(got.shape) == (2, 7)
for b in range(2):
    for i in range(7):
        dots = np.array([float(Z[b, k] @ E[i]) for k in range(3)])
        beta = np.exp(0.5 * dots) / np.exp(0.5 * dots).sum()
        assert abs(float(got[b, i]) - float((beta * dots).sum())) < 1e-9

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# the package's SRSUPM (scale 1): its α towards the targets, and its full-ranking scores
world = sl.load_dataset("synthetic")
world_split = sl.leave_one_out(world, max_len=20)
_ = torch.manual_seed(0)
srsupm = sl.SRSUPM(sl.build_backbone("sasrec", world.n_items, dim=16, max_len=20, n_layers=1), K=5,
                   level_temperature="unit").eval()
x, u, t = world_split.test.inputs[:32], world_split.test.users[:32], world_split.test.targets[:32]
with torch.no_grad():
    Zm, Em = srsupm.shift_representations(x, u), srsupm.backbone.item_table()
    assert torch.allclose(shift_distribution(Zm, Em[t], 1.0), srsupm.shift_distribution(x, u, t), atol=1e-5)
    assert torch.allclose(mixed_scores(Zm, Em, 1.0)[:, 1:], srsupm.score(x, u)[:, 1:], atol=1e-4)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3

# %% [markdown]
# **Question 3 (3 points, lesson 5).** Write `info_nce(anchor, positive, tau)`: PMSIM's contrastive
# loss (Eqs. 16–18) with cosine similarity. Row `b` of `anchor` `[B, d]` must pick row `b` of
# `positive` `[B, d]`; the other rows of `positive` are its negatives:
#
#     L = − (1/B) Σ_b log( exp(cos(a_b, p_b)/τ) / Σ_j exp(cos(a_b, p_j)/τ) )
#
# Return a 0-dimensional tensor. Use a numerically stable form (a log-softmax or a cross-entropy).

# %% [raw]
# # BEGIN SOLUTION

# %%
def info_nce(anchor, positive, tau):
    """Cosine InfoNCE: anchor row b must pick positive row b among all rows."""
    # BEGIN SOLUTION
    a = torch.nn.functional.normalize(anchor, dim=1)
    p = torch.nn.functional.normalize(positive, dim=1)
    logits = a @ p.T / tau                                                  # (B, B)
    return torch.nn.functional.cross_entropy(logits, torch.arange(a.shape[0]))
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# by hand: two orthogonal unit vectors that are their own positives; each row's logits are
# (1/τ, 0), so the loss is log(1 + exp(-1/τ))
eye = torch.eye(2, dtype=torch.float64)
for tau in (1.0, 0.5, 0.1):
    assert abs(float(info_nce(eye, eye, tau)) - np.log1p(np.exp(-1 / tau))) < 1e-9

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# a float64 loop over anchors and candidates; cosine ignores the vectors' lengths
g = torch.Generator().manual_seed(7)
A = torch.randn(5, 4, generator=g, dtype=torch.float64)
P = A + 0.7 * torch.randn(5, 4, generator=g, dtype=torch.float64)
cos = lambda x, y: float(x @ y) / float(x.norm() * y.norm())
expected = -np.mean([cos(A[b], P[b]) / 0.3 - np.log(sum(np.exp(cos(A[b], P[j]) / 0.3) for j in range(5)))
                     for b in range(5)])
assert abs(float(info_nce(A, P, 0.3)) - expected) < 1e-9
assert abs(float(info_nce(3.0 * A, 0.2 * P, 0.3)) - expected) < 1e-9

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# the package's PMSIM loss on a batch of 64, and stable where exp(1/τ) overflows float32
from srsupm_lab.methods.srsupm.pmsim import info_nce as library_info_nce
g = torch.Generator().manual_seed(8)
A, P = torch.randn(64, 16, generator=g), torch.randn(64, 16, generator=g)
assert torch.allclose(info_nce(A, P, 0.5), library_info_nce(A, P, 0.5), atol=1e-5)
assert torch.isfinite(info_nce(A, P, 0.005))

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q4

# %% [markdown]
# **Question 4 (3 points, lesson 6).** Two models were evaluated on the same `U` test users; `a`
# and `b` are their per-user values (e.g. Recall@10, 0 or 1). Write
# `paired_bootstrap(a, b, n_boot, seed, level=0.95)` returning `(gain, low, high)`: `gain` is the
# mean of `b − a`, and `(low, high)` is the percentile interval of the paired bootstrap: draw the
# resampled users as
#
#     idx = np.random.default_rng(seed).integers(0, U, size=(n_boot, U))
#
# (row `r` = one resample of the users, the SAME users for both models), take each resample's mean
# of `b − a`, and return the `100·(1 − level)/2` and `100·(1 + level)/2` percentiles of those
# `n_boot` means (`np.percentile`). Return three Python floats.

# %% [raw]
# # BEGIN SOLUTION

# %%
def paired_bootstrap(a, b, n_boot, seed, level=0.95):
    """Mean gain of b over a and its paired percentile bootstrap interval."""
    # BEGIN SOLUTION
    diff = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)   # (U,)
    idx = np.random.default_rng(seed).integers(0, len(diff), size=(n_boot, len(diff)))
    means = diff[idx].mean(axis=1)                                             # (n_boot,)
    low, high = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return float(diff.mean()), float(low), float(high)
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# the same draws, averaged row by row and read off the sorted means by hand (linear interpolation)
rng = np.random.default_rng(11)
a, b = (rng.random(200) < 0.3).astype(float), (rng.random(200) < 0.4).astype(float)
idx = np.random.default_rng(3).integers(0, 200, size=(500, 200))
means = sorted(sum(b[j] - a[j] for j in row) / 200 for row in idx)
def percentile(sorted_values, q):
    pos = q / 100 * (len(sorted_values) - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (pos - lo) * (sorted_values[hi] - sorted_values[lo])
gain, low, high = paired_bootstrap(a, b, 500, 3, level=0.9)
assert abs(gain - (b - a).mean()) < 1e-12
assert abs(low - percentile(means, 5)) < 1e-9 and abs(high - percentile(means, 95)) < 1e-9

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# paired: two models that agree on every user differ by exactly 0 in every resample, however
# noisy the users are, and a constant gain is found exactly
a = np.random.default_rng(12).random(300)
assert paired_bootstrap(a, a.copy(), 200, 0) == (0.0, 0.0, 0.0)
assert np.allclose(paired_bootstrap(a, a + 0.25, 200, 0), 0.25, atol=1e-12)

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# the interval's width matches the normal approximation 2 · 1.96 · sd(b − a) / √U within 10 %
rng = np.random.default_rng(13)
a, b = (rng.random(2000) < 0.2).astype(float), (rng.random(2000) < 0.25).astype(float)
gain, low, high = paired_bootstrap(a, b, 4000, 1)
width = 2 * 1.959964 * (b - a).std() / np.sqrt(2000)
assert low < gain < high and abs((high - low) / width - 1) < 0.1

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# **Try it.** Compute PMSA levels of the synthetic world's training windows with Eq. 3's even bins
# (`pmsa.assess`) and with your `quantile_shift_levels`, and compare the number of windows per
# level. Which binning gives PMSID (lesson 4) a harder task, and why?
