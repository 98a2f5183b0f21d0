# %% [raw]
# # ASSIGNMENT CONFIG
# name: a4_serving
# init_cell: false
# check_all_cell: false
# export_cell: false
# run_tests: false
# solutions_pdf: false
# generate: true
# tests:
#   files: false

# %% [markdown]
# # Assignment 4 — The selection step of a recommendation service (lesson 9)
#
# You write two pieces of a service yourself: the exact top-k of a batch of users with the items
# they have seen left out (lesson 9, sections 1–2), and the recall of an approximate top-k against
# the exact one (lesson 9, section 3). Hidden tests grade each question after you submit; the points
# are given with each question. Fill in every `...`, run the notebook top to bottom, and keep the
# function names as given.

# %%
import torch

from srsupm_lab.threads import apply_thread_policy

threads = apply_thread_policy("small")   # one torch thread

# %% [raw]
# # BEGIN QUESTION
# name: q1

# %% [markdown]
# **Question 1 (3 points, lesson 9).** Write `top_k_unseen(scores, seen, k)`: for each row of
# `scores [B, N+1]` (a float tensor; column 0 is padding), the `k` best item ids, best first, as a
# `[B, k]` integer tensor. Never column 0, never an item of the row's `seen [B, H]` (item ids padded
# with 0), never an item whose score is NaN or `-inf`; ties go to the smaller item id; a row with
# fewer than `k` such items ends in 0 (so does every row when `k > N`). Leave `scores` unchanged,
# and use tensor operations (no Python loop over rows or items).

# %% [raw]
# # BEGIN SOLUTION

# %%
def top_k_unseen(scores, seen, k):
    """The ``k`` best unseen items of each row of ``scores``, best first (0 where a row runs out)."""
    # BEGIN SOLUTION
    s = scores.float().nan_to_num(nan=float("-inf"), neginf=float("-inf"))   # a copy
    s[:, 0] = float("-inf")                                                   # padding
    s.scatter_(1, seen.long(), float("-inf"))                                 # seen items leave
    values, order = torch.sort(s, dim=1, descending=True, stable=True)        # ties by item id
    width = min(k, s.shape[1])
    items = order[:, :width].clone()
    items[values[:, :width] == float("-inf")] = 0
    if width < k:
        items = torch.cat([items, items.new_zeros(items.shape[0], k - width)], dim=1)
    return items
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
# by hand: padding scores highest but is never ranked, item 3 is seen, items 2 and 4 tie (2 first)
s = torch.tensor([[9.0, 1.0, 2.0, 8.0, 2.0, 0.5]])
assert top_k_unseen(s, torch.tensor([[3, 0]]), 3).tolist() == [[2, 4, 1]]

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# NaN and -inf are never recommended, a row that runs out ends in 0, k beyond the catalogue pads
# with 0, and the input is left unchanged
s = torch.tensor([[100.0, float("nan"), 1.0, -float("inf"), 3.0, 2.0], [0.0, 0.3, 0.1, 0.2, 0.4, 0.5]])
before = s.clone()
out = top_k_unseen(s, torch.tensor([[4, 0, 0], [2, 2, 5]]), 4)
assert out.tolist() == [[5, 2, 0, 0], [4, 1, 3, 0]]
assert top_k_unseen(s[1:], torch.tensor([[0]]), 7).tolist() == [[5, 4, 1, 3, 2, 0, 0]]
assert torch.equal(s.nan_to_num(), before.nan_to_num()) and torch.isnan(s[0, 1])

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# a plain-Python brute force on integer scores (many ties) and random histories
import math
def brute(scores, seen, k):
    out = []
    for row, hist in zip(scores.tolist(), seen.tolist()):
        banned = set(hist) | {0}
        ok = sorted((-v, i) for i, v in enumerate(row) if i not in banned and not math.isnan(v) and v != -math.inf)
        items = [i for _, i in ok[:k]]
        out.append(items + [0] * (k - len(items)))
    return out
g = torch.Generator().manual_seed(7)
S = torch.randint(0, 6, (30, 41), generator=g).float()
H = torch.randint(0, 41, (30, 9), generator=g)
assert top_k_unseen(S, H, 10).tolist() == brute(S, H, 10)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2

# %% [markdown]
# **Question 2 (3 points, lesson 9).** An approximate stage (an index, or a cheaper score) returns
# `approx [B, k]` item ids for each query; the exact stage returns `exact [B, k]` (0 = no item, where
# a row ran out). Write `recall_against_exact(approx, exact)`: the share of the exact lists' items
# (zeros not counted) that the approximate list of the same query also holds, in any position,
# pooled over all queries, as a Python `float` (0.0 when the exact lists hold no item). Tensor
# operations only.

# %% [raw]
# # BEGIN SOLUTION

# %%
def recall_against_exact(approx, exact):
    """Share of the exact top-k items (0 excluded) that the approximate top-k of the same query holds."""
    # BEGIN SOLUTION
    approx, exact = torch.as_tensor(approx), torch.as_tensor(exact)
    found = (exact[:, :, None] == approx[:, None, :]).any(dim=2) & (exact > 0)   # (B, k) per exact item
    return float(found.sum()) / max(int((exact > 0).sum()), 1)
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
# by hand: 6 exact items, 4 of them found (in another order); the zeros are not items
exact = torch.tensor([[1, 2, 3, 4], [5, 6, 0, 0]])
approx = torch.tensor([[4, 3, 9, 8], [6, 7, 5, 0]])
assert abs(recall_against_exact(approx, exact) - 4 / 6) < 1e-12

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# the exact list against itself is 1, against lists of other items 0, and empty exact lists give 0
exact = torch.tensor([[3, 1, 2], [7, 5, 6]])
assert recall_against_exact(exact.flip(1), exact) == 1.0
assert recall_against_exact(exact + 10, exact) == 0.0
assert recall_against_exact(torch.tensor([[1, 2]]), torch.tensor([[0, 0]])) == 0.0

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# Python sets on random lists: the exact top-10 of h·E against the top-10 of half the dimensions
g = torch.Generator().manual_seed(3)
E, h = torch.randn(301, 16, generator=g), torch.randn(25, 16, generator=g)
exact = torch.topk((h @ E.T)[:, 1:], 10).indices + 1
approx = torch.topk((h[:, :8] @ E[:, :8].T)[:, 1:], 10).indices + 1
found = sum(len(set(a) & set(e)) for a, e in zip(approx.tolist(), exact.tolist()))
assert abs(recall_against_exact(approx, exact) - found / 250) < 1e-12

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# **Try it.** In lesson 9's section 3, compute the recall of the IVF index at each `nprobe` with your
# `recall_against_exact` and compare it with the library's `recall_at_k`. Which `nprobe` would you
# serve, and what does the answer depend on?
