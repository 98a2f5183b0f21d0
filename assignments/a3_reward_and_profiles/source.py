# %% [raw]
# # ASSIGNMENT CONFIG
# name: a3_reward_and_profiles
# init_cell: false
# check_all_cell: false
# export_cell: false
# run_tests: false
# solutions_pdf: false
# generate: true
# tests:
#   files: false

# %% [markdown]
# # Assignment 3 — A mental reward and a motivation profile (lessons 7–8)
#
# Four pieces of the course's RL and language chapters, written by you: the soft value and the
# reward a Q function implies (lesson 7), QR-IQL's quantile levels and pinball loss (lesson 7),
# MOTE's TF-IDF item vectors (lesson 8) and MAR's motivation vector of a window (lesson 8). Hidden
# tests grade each question after you submit; the points are given with each question. Fill in
# every `...`, run the notebook top to bottom, and keep the function names as given.
# `docs/mtrec_method.md` and `docs/profiles_method.md` have the equations.

# %%
import numpy as np
import torch

import srsupm_lab as sl
from srsupm_lab.methods.profiles import tokenize
from srsupm_lab.threads import apply_thread_policy

threads = apply_thread_policy("small")   # tiny models: one torch thread

# %% [raw]
# # BEGIN QUESTION
# name: q1

# %% [markdown]
# **Question 1 (3 points, lesson 7).** Write
#
# * `soft_value(q)`: `V*(s) = log Σ_a exp Q(s, a)` of each row of a Q table `q` `[B, A]` (a tensor),
#   returned as a tensor `[B]`. It must stay finite when the Q values are large (`Q = 1000`): subtract
#   each row's maximum before exponentiating, or use a log-sum-exp;
# * `implied_reward(q_taken, q_next, terminal, gamma)`: the reward of each logged transition,
#   `r*(s, a) = Q(s, a) − γ V*(s')`, with `V*(s') = 0` where `terminal` is True. `q_taken` `[B]` is
#   `Q(s, a)` of the action taken, `q_next` `[B, A]` the Q row of the next state, `terminal` `[B]`
#   bool. Return a tensor `[B]`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def soft_value(q):
    """V*(s) = log Σ_a exp Q(s, a), row by row, without overflow."""
    # BEGIN SOLUTION
    top = q.max(dim=1, keepdim=True).values                                 # (B, 1)
    return top[:, 0] + torch.log(torch.exp(q - top).sum(dim=1))             # (B,)
    # END SOLUTION


def implied_reward(q_taken, q_next, terminal, gamma):
    """r*(s, a) = Q(s, a) − γ V*(s'), V*(s') = 0 at the end of a log."""
    # BEGIN SOLUTION
    v_next = torch.where(terminal, torch.zeros_like(q_taken), soft_value(q_next))
    return q_taken - gamma * v_next
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
# by hand in float64: log(e^1 + e^0.2), log 2 + 0.5 for two equal values, and three actions
q = torch.tensor([[1.0, 0.2], [0.5, 0.5]], dtype=torch.float64)
assert torch.allclose(soft_value(q), torch.tensor([np.log(np.e + np.exp(0.2)), np.log(2) + 0.5],
                                                  dtype=torch.float64), atol=1e-12)
q3 = torch.tensor([[0.0, 1.0, 2.0]], dtype=torch.float64)
assert abs(float(soft_value(q3)[0]) - np.log(1 + np.e + np.e ** 2)) < 1e-12

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# stable: large Q values in float32 give 1000 + log(1 + e^-1) and -1000 + log 2, not inf or nan
big = soft_value(torch.tensor([[1000.0, 999.0], [-1000.0, -1000.0]]))
assert torch.isfinite(big).all()
assert abs(float(big[0]) - (1000 + np.log1p(np.exp(-1)))) < 1e-3
assert abs(float(big[1]) - (-1000 + np.log(2))) < 1e-3

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# rewards by hand: r = Q - γ·log(e^a + e^b), and Q itself at a terminal transition
r = implied_reward(torch.tensor([0.5, -0.2, 1.5], dtype=torch.float64),
                   torch.tensor([[0.3, 0.3], [1.0, -1.0], [9.0, 9.0]], dtype=torch.float64),
                   torch.tensor([False, False, True]), 0.9)
expected = [0.5 - 0.9 * (0.3 + np.log(2)), -0.2 - 0.9 * np.log(np.e + np.exp(-1.0)), 1.5]
assert np.allclose(r.tolist(), expected, atol=1e-12)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2

# %% [markdown]
# **Question 2 (3 points, lesson 7).** MTRec's `N` quantile heads sit at the midpoint levels
# `τ_j = (2j − 1)/(2N)`, `j = 1 … N`, and each learns its quantile through the pinball loss
# `p_τ(u) = u · (τ − 1[u < 0])` of the residual `u = target − prediction`. Write
#
# * `midpoint_levels(n)`: the `n` levels as a float64 tensor `[n]`;
# * `pinball(u, tau)`: `p_τ(u)` elementwise (tensors that broadcast);
# * `quantile_heads_loss(atoms, y)`: `Σ_j p_τj(y − λ_j)` for the `N` atoms `λ_1 … λ_N` of one
#   action (a float64 tensor `[N]`, in order) and a target `y` (a float), as a 0-dimensional tensor.

# %% [raw]
# # BEGIN SOLUTION

# %%
def midpoint_levels(n):
    """τ_j = (2j − 1)/(2n), j = 1..n."""
    # BEGIN SOLUTION
    return (2 * torch.arange(1, n + 1, dtype=torch.float64) - 1) / (2 * n)
    # END SOLUTION


def pinball(u, tau):
    """p_τ(u) = u · (τ − 1[u < 0])."""
    # BEGIN SOLUTION
    return u * (tau - (u < 0).to(u.dtype))
    # END SOLUTION


def quantile_heads_loss(atoms, y):
    """Σ_j p_τj(y − λ_j) over the heads of one action."""
    # BEGIN SOLUTION
    return pinball(y - atoms, midpoint_levels(atoms.shape[0])).sum()
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
# the levels by hand, and the pinball loss's two slopes
assert np.allclose(midpoint_levels(4).tolist(), [0.125, 0.375, 0.625, 0.875], atol=1e-15)
assert np.allclose(midpoint_levels(1).tolist(), [0.5], atol=1e-15)
u = torch.tensor([2.0, -2.0, 0.0], dtype=torch.float64)
assert np.allclose(pinball(u, torch.tensor(0.25, dtype=torch.float64)).tolist(), [0.5, 1.5, 0.0], atol=1e-15)

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# by hand: atoms (-1, 0, 0.5, 2), y = 0.25: residuals 1.25, 0.25, -0.25, -1.75 at τ = 1/8, 3/8, 5/8, 7/8
# cost 1.25/8 + 0.25·3/8 + 0.25·3/8 + 1.75/8 = 0.5625
loss = quantile_heads_loss(torch.tensor([-1.0, 0.0, 0.5, 2.0], dtype=torch.float64), 0.25)
assert abs(float(loss) - 0.5625) < 1e-12

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# brute force: the constant that minimises the mean pinball loss over a skewed sample is its τ-quantile
sample = torch.as_tensor(np.random.default_rng(0).exponential(1.0, 801))
grid = torch.linspace(0, 4, 801, dtype=torch.float64)                     # step 0.005
for tau in (0.1, 0.5, 0.9):
    mean_loss = torch.stack([pinball(sample - c, torch.tensor(tau, dtype=torch.float64)).mean() for c in grid])
    best = float(grid[int(mean_loss.argmin())])
    assert abs(best - float(np.quantile(sample.numpy(), tau))) < 0.011

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3

# %% [markdown]
# **Question 3 (3 points, lesson 8).** Write `tfidf_matrix(corpus)`: MOTE's TF-IDF of a list of
# texts, returning `(vocabulary, X)`. `vocabulary` is the sorted list of the distinct terms of the
# corpus (split each text with `tokenize`, imported above); `X` is a float64 NumPy array
# `[n_texts, n_terms]` with, for text `d` and term `w`,
#
#     tf(d, w) = how often w occurs in d,   idf(w) = ln((1 + n) / (1 + df(w))) + 1,
#
# `n` the number of texts and `df(w)` the number of texts holding `w`; each row of `tf · idf` is
# then divided by its L2 norm (a row of zeros stays zero).

# %% [raw]
# # BEGIN SOLUTION

# %%
def tfidf_matrix(corpus):
    """(sorted vocabulary, L2-normalised tf-idf rows) of a list of texts."""
    # BEGIN SOLUTION
    tokens = [tokenize(text) for text in corpus]
    vocabulary = sorted({w for words in tokens for w in words})
    column = {w: j for j, w in enumerate(vocabulary)}
    tf = np.zeros((len(corpus), len(vocabulary)))
    for d, words in enumerate(tokens):
        for w in words:
            tf[d, column[w]] += 1
    df = (tf > 0).sum(axis=0)
    x = tf * (np.log((1 + len(corpus)) / (1 + df)) + 1)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return vocabulary, np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
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
# by hand: three texts; "garden" is in two of them (idf = ln(4/3) + 1), the other terms in one
# (idf = ln 2 + 1); text 0 = garden + tools, text 1 = garden twice + book
corpus = ["garden tools", "garden book garden", "reading"]
vocabulary, X = tfidf_matrix(corpus)
assert list(vocabulary) == sorted(set(tokenize(" ".join(corpus))))
col = {w: j for j, w in enumerate(vocabulary)}
rare, common = np.log(2) + 1, np.log(4 / 3) + 1
row1 = np.array([2 * common, rare]) / np.hypot(2 * common, rare)
assert abs(X[1, col["garden"]] - row1[0]) < 1e-12 and abs(X[1, col["book"]] - row1[1]) < 1e-12
assert abs(X[2, col["reading"]] - 1.0) < 1e-12

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# every row has norm 1 and no negative weight (synthetic item texts)
from srsupm_lab.data.item_text import dataset_item_texts
world = sl.load_dataset("synthetic")
texts = dataset_item_texts(world, "synthetic")[1:]                         # 500 item texts
vocabulary, X = tfidf_matrix(texts)
assert X.shape == (len(texts), len(vocabulary)) and (X >= 0).all()
assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-12)

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# the vectorizer MOTE fits (scikit-learn's TfidfVectorizer, raw counts, smoothed idf, L2 rows)
from sklearn.feature_extraction.text import TfidfVectorizer
from srsupm_lab.data.item_text import dataset_item_texts
texts = dataset_item_texts(sl.load_dataset("synthetic"), "synthetic")[1:]  # 500 item texts
vocabulary, X = tfidf_matrix(texts)
reference = TfidfVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None, dtype=np.float64)
R = reference.fit_transform(texts).toarray()
assert list(vocabulary) == list(reference.get_feature_names_out())
assert np.allclose(X, R, atol=1e-12)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q4

# %% [markdown]
# **Question 4 (3 points, lesson 8).** MAR reads a window's motivation from the texts of its items:
#
#     m = normalise( Σ_j decay^{k_j} · mass_j · t_j )
#
# over the columns `j` of a left-padded window (`k_j` = how many columns `j` lies before the last
# one, so the newest item weighs 1, the one before `decay`, ...), with `t_j` the trait vector of the
# item in column `j` (a row of `traits` `[N+1, d_t]`) and `mass_j` how much text it has (`masses`
# `[N+1]`; padding, id 0, has mass 0). `normalise` divides by the L2 norm (a zero vector stays
# zero). Write `window_motivation(windows, traits, masses, decay)` for a batch of windows `[B, L]`
# (int64 tensor), returning a float tensor `[B, d_t]`. Vectorised: no loop over windows.

# %% [raw]
# # BEGIN SOLUTION

# %%
def window_motivation(windows, traits, masses, decay):
    """MAR's motivation vector m [B, d_t] of left-padded windows [B, L]."""
    # BEGIN SOLUTION
    L = windows.shape[1]
    recency = decay ** torch.arange(L - 1, -1, -1, dtype=traits.dtype)        # (L,) 1 at the last column
    weights = recency * masses[windows]                                      # (B, L)
    summed = torch.einsum("bl,bld->bd", weights, traits[windows])            # (B, d_t)
    return torch.nn.functional.normalize(summed, dim=1)
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
# by hand: items 1 and 2 with traits (1, 0) and (0, 1), masses 1 and 2, decay 0.5; the window
# [0, 1, 2] sums 0.5·1·(1, 0) + 1·2·(0, 1) = (0.5, 2); an all-padding window stays zero
traits = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
masses = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
m = window_motivation(torch.tensor([[0, 1, 2], [0, 0, 0]]), traits, masses, 0.5)
assert np.allclose(m[0].tolist(), np.array([0.5, 2.0]) / np.hypot(0.5, 2.0), atol=1e-12)
assert np.allclose(m[1].tolist(), [0.0, 0.0])

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# a float64 loop over windows and columns, on random traits; more left padding changes nothing
g = torch.Generator().manual_seed(9)
traits = torch.randn(21, 5, generator=g, dtype=torch.float64)
masses = torch.rand(21, generator=g, dtype=torch.float64)
masses[0] = 0.0
windows = torch.randint(1, 21, (6, 4), generator=g)
windows[0, :2] = 0
m = window_motivation(windows, traits, masses, 0.7)
for b in range(6):
    total = sum(0.7 ** (3 - j) * float(masses[windows[b, j]]) * traits[windows[b, j]] for j in range(4))
    assert np.allclose(m[b].tolist(), (total / total.norm()).tolist(), atol=1e-12)
padded = torch.cat([torch.zeros(6, 3, dtype=torch.long), windows], dim=1)
assert torch.allclose(window_motivation(padded, traits, masses, 0.7), m, atol=1e-12)

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# the package's MAR model, built on random traits, reads the same motivation from test windows
from srsupm_lab.methods.profiles import MotivationAlignedRecommender
world = sl.load_dataset("synthetic")
world_split = sl.leave_one_out(world, max_len=20)
g = torch.Generator().manual_seed(10)
traits = torch.nn.functional.normalize(torch.rand(world.n_items + 1, 8, generator=g), dim=1)
masses = torch.rand(world.n_items + 1, generator=g)
masses[0] = 0.0
mar = MotivationAlignedRecommender(sl.build_backbone("sasrec", world.n_items, dim=16, max_len=20, n_layers=1),
                                   traits, masses, decay=0.8)
x = world_split.test.inputs[:64]
with torch.no_grad():
    assert torch.allclose(window_motivation(x, traits, masses, 0.8), mar.motivation(x), atol=1e-5)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# **Try it.** Fit `tfidf_matrix` on the synthetic world's item texts
# (`srsupm_lab.data.item_text.dataset_item_texts`) and list the five terms with the lowest idf.
# Why does MOTE's weighting push them down, where the offline profile of lesson 8 counted them
# first?
