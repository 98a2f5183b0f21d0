# %% [raw]
# # ASSIGNMENT CONFIG
# name: a1_encoders
# init_cell: false
# check_all_cell: false
# export_cell: false
# run_tests: false
# solutions_pdf: false
# generate: true
# tests:
#   files: false

# %% [markdown]
# # Assignment 1 — Ranking metrics and a backbone of your own (lessons 1–2)
#
# You write three pieces of the library yourself: the full-ranking rank of a target (lesson 1,
# section 3), Recall@k and NDCG@k from ranks (lesson 1), and a new behaviour encoder that you add
# to the backbone registry and train (lesson 2). Hidden tests grade each question after you
# submit; the points are given with each question. Fill in every `...`, run the notebook top to
# bottom, and keep the function and class names as given.

# %%
import numpy as np
import torch

import srsupm_lab as sl
from srsupm_lab.backbones import Backbone
from srsupm_lab.threads import apply_thread_policy

threads = apply_thread_policy("small")   # tiny models: one torch thread

# %% [raw]
# # BEGIN QUESTION
# name: q1

# %% [markdown]
# **Question 1 (3 points, lesson 1).** Write `target_rank(scores, target, history)`: the 0-based
# rank of item `target` for ONE user under full ranking. `scores` is a 1-D tensor `[N+1]` (column 0
# is padding and is never ranked), `target` an item id in `1..N`, `history` a 1-D tensor of item ids
# the user has already seen, padded with 0 (those items leave the ranking, except the target
# itself). Ties count against the model:
#
#     rank = #{ ranked items i ≠ target : scores[i] >= scores[target] }
#
# Return a Python `int`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def target_rank(scores, target, history):
    """0-based rank of ``target`` among the ranked items of one user (ties against the model)."""
    # BEGIN SOLUTION
    ranked = torch.ones(scores.shape[0], dtype=torch.bool)
    ranked[0] = False                                    # padding
    ranked[torch.as_tensor(history, dtype=torch.long)] = False
    ranked[int(target)] = False                          # i ≠ target (and the target stays)
    return int(((scores >= scores[int(target)]) & ranked).sum())
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
# a hand case: items 1..5 score 0.5, 0.9, 0.1, 0.7, 0.3; the target is item 1 (0.5), nothing seen:
# items 2 (0.9) and 4 (0.7) score higher -> rank 2; column 0 (padding) scores highest but never counts
s = torch.tensor([9.0, 0.5, 0.9, 0.1, 0.7, 0.3])
assert target_rank(s, 1, torch.tensor([0, 0])) == 2

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# history leaves the ranking (item 2 seen -> rank 1), the target stays even when in the history,
# and a tie counts against the model (item 5 scores as much as the target -> one more)
s = torch.tensor([0.0, 0.5, 0.9, 0.1, 0.7, 0.5])
assert target_rank(s, 1, torch.tensor([0, 2, 1])) == 2            # item 4 above, item 5 tied
assert target_rank(s, 1, torch.tensor([0, 2, 4, 5])) == 0

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# brute force against the library's batched rule, on integer scores (many ties) and random histories
from srsupm_lab.evaluate import target_ranks
g = torch.Generator().manual_seed(1)
S = torch.randint(0, 6, (40, 31), generator=g).float()
T = torch.randint(1, 31, (40,), generator=g)
H = torch.randint(0, 31, (40, 7), generator=g)
expected = target_ranks(S, T, H)
assert [target_rank(S[u], int(T[u]), H[u]) for u in range(40)] == expected.tolist()

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2

# %% [markdown]
# **Question 2 (3 points, lesson 1).** Write `recall_ndcg_at_k(ranks, k)`: from the 0-based ranks of
# the targets of all test users (a 1-D tensor or array), return the pair `(recall, ndcg)` of mean
# Recall@k and mean NDCG@k as Python floats, with Recall@k = 1 if rank < k and NDCG@k =
# 1/log2(rank + 2) if rank < k (0 otherwise), averaged over users. Compute in float64.

# %% [raw]
# # BEGIN SOLUTION

# %%
def recall_ndcg_at_k(ranks, k):
    """Mean Recall@k and NDCG@k of 0-based ranks."""
    # BEGIN SOLUTION
    r = np.asarray(ranks, dtype=np.float64)
    hit = r < k
    return float(hit.mean()), float(np.where(hit, 1.0 / np.log2(r + 2.0), 0.0).mean())
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
# by hand: ranks 0, 3, 9 are hits at k = 10, ranks 10 and 50 are not
recall, ndcg = recall_ndcg_at_k(torch.tensor([0, 3, 9, 10, 50]), 10)
assert abs(recall - 0.6) < 1e-12
assert abs(ndcg - (1.0 + 1.0 / np.log2(5.0) + 1.0 / np.log2(11.0)) / 5) < 1e-12

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# the cut-off is strict (rank k is a miss) and a single user at rank 0 scores 1 on both
assert recall_ndcg_at_k(np.array([5]), 5) == (0.0, 0.0)
assert recall_ndcg_at_k(np.array([0]), 1) == (1.0, 1.0)

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# the library's per-user metrics on 500 random ranks, for two cut-offs
from srsupm_lab.evaluate import metrics_from_ranks
ranks = torch.randint(0, 60, (500,), generator=torch.Generator().manual_seed(2))
for k in (10, 20):
    lib = metrics_from_ranks(ranks, ks=(k,))
    recall, ndcg = recall_ndcg_at_k(ranks, k)
    assert abs(recall - float(lib[f"recall@{k}"].double().mean())) < 1e-6
    assert abs(ndcg - float(lib[f"ndcg@{k}"].double().mean())) < 1e-6

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3

# %% [markdown]
# **Question 3 (4 points, lesson 2).** Add a backbone of your own to the registry. `MeanPool` reads
# a window as a *bag of items*: its user vector is a linear map of the mean embedding of the
# window's real items (padding, id 0, is left out),
#
#     h_u = W · (1/n) Σ_{j : v_j ≠ 0} e_{v_j} + b,     n = the number of real items,
#
# with `W, b` a `torch.nn.Linear(dim, dim)` stored as `self.proj`. Subclass `Backbone` (see
# `srsupm_lab/backbones/gru4rec.py`, the shortest backbone): call `super().__init__(n_items, dim,
# max_len)` (it creates the item table `self.item_embedding`, row 0 = padding), create `self.proj`,
# and implement `_encode(self, item_seq, user_ids=None)` returning `h` of shape `[B, dim]`. Then
# register the class as `"meanpool"` in `sl.BACKBONES`, so that `sl.build_backbone("meanpool", ...)`
# builds it. The hidden tests build it, check `h` against a float64 recomputation, check that it
# ignores padding and order, and train it for two short epochs on the synthetic world.

# %% [raw]
# # BEGIN SOLUTION

# %%
class MeanPool(Backbone):
    """A bag-of-items encoder: a linear map of the mean embedding of the window's real items."""

    def __init__(self, n_items, dim=64, max_len=50):
        # BEGIN SOLUTION
        super().__init__(n_items, dim, max_len)
        self.proj = torch.nn.Linear(self.dim, self.dim)
        # END SOLUTION

    def _encode(self, item_seq, user_ids=None):
        # BEGIN SOLUTION
        e = self.item_embedding(item_seq)                                   # (B, L, d), padding row is 0
        n = (item_seq != 0).sum(dim=1, keepdim=True).clamp(min=1)           # (B, 1)
        return self.proj(e.sum(dim=1) / n)                                  # (B, d)
        # END SOLUTION


sl.BACKBONES["meanpool"] = MeanPool   # SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# registered, built by the registry with the shared arguments, one vector per window
bb = sl.build_backbone("meanpool", 30, dim=8, max_len=6)
assert isinstance(bb, Backbone)
assert tuple(bb.encode(torch.tensor([[0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]])).shape) == (2, 8)

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# h against a float64 recomputation from the item table and the linear map's weights
_ = torch.manual_seed(3)
bb = sl.build_backbone("meanpool", 30, dim=8, max_len=6).eval()
window = torch.tensor([[0, 0, 7, 2, 7, 11]])
E = bb.item_table().detach().double()
W, b = bb.proj.weight.detach().double(), bb.proj.bias.detach().double()
mean = (E[7] + E[2] + E[7] + E[11]) / 4
with torch.no_grad():
    assert torch.allclose(bb.encode(window)[0].double(), W @ mean + b, atol=1e-5)

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# a bag of items: more left padding and another order give the same vector
_ = torch.manual_seed(4)
bb = sl.build_backbone("meanpool", 30, dim=8, max_len=6).eval()
with torch.no_grad():
    a = bb.encode(torch.tensor([[0, 0, 0, 5, 9, 1]]))
    b = bb.encode(torch.tensor([[1, 9, 5]]))
    c = bb.encode(torch.tensor([[0, 0, 0, 9, 1, 5]]))
assert torch.allclose(a, b, atol=1e-6) and torch.allclose(a, c, atol=1e-6)

# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 1
""" # END TEST CONFIG
# it trains: two short epochs on the synthetic world lower the loss and beat a random ranking
# (Recall@10 of a random ranking of 500 items is 0.02)
import contextlib, io
world = sl.load_dataset("synthetic")
world_split = sl.leave_one_out(world, max_len=20)
_ = torch.manual_seed(0)
model = sl.BackboneRecommender(sl.build_backbone("meanpool", world.n_items, dim=16, max_len=20))
with contextlib.redirect_stdout(io.StringIO()):                     # the trainer logs each epoch
    fit = sl.Trainer(model, world_split.train, world_split.valid, epochs=2, batch_size=256, seed=0,
                     device="cpu", progress=False).fit()
assert fit.history["loss_rec"].iloc[-1] < fit.history["loss_rec"].iloc[0]
assert fit.history["valid_recall@10"].iloc[-1] > 0.04

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# **Try it.** Train your `MeanPool` beside SASRec for two epochs (as in lesson 2, section 4) and
# compare their validation Recall@10. What does a bag of items lose that an ordered encoder keeps?
