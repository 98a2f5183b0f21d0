"""LightSANs backbone: low-rank decomposed self-attention (method.md §2, Eq. 4).

Fan et al., "Lighter and Better: Low-Rank Decomposed Self-Attention Networks for Next-Item
Recommendation", SIGIR 2021. Two changes to SASRec's attention, per head of size ``hs``:

- **Item-to-interest aggregation.** Keys and values of the ``L`` positions are pooled into
  ``k`` latent interests, ``K~ = softmax_L(K Theta)^T K`` (``Theta in R^{d x k}`` learned; the
  same for values with its own ``Theta``), and every item attends to the ``k`` interests
  instead of the ``L`` items: ``softmax(Q K~^T / sqrt(hs)) V~``, linear in ``L``.
- **Decoupled position encoding.** Positions are not added to the item embeddings; they get
  their own attention term, ``softmax((P W_Q^P)(P W_K^P)^T / sqrt(2 hs)) V``, added to the item
  term (``P`` = LayerNorm of the learned position embeddings).

Choices, documented: (1) softmax over keys / interests (the paper's row-wise attention; RecBole
normalises these scores over dim -2, the query axis, and scales the position term twice);
(2) padding positions are excluded from the interest pooling and from the position keys
(RecBole pools them in). (3) As in RecBole, the pooling is **not causal**: every position sees
a summary of the whole window. That is harmless here because ``h`` is the last position's
output and a leave-one-out window never contains its own target. ``h`` = output at the last
position. Defaults follow RecBole's LightSANs (k = 5, dropout 0.5).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .base import Backbone, Dropout, attention, check_positive_int, init_normal
from .sasrec import FeedForward, check_transformer_options


class ItemToInterest(nn.Module):
    """Pool ``[B, L, d]`` into ``[B, k, d]``: interest j = sum_t softmax_t(x_t . theta_j) x_t."""

    def __init__(self, dim: int, k_interests: int):
        super().__init__()
        self.theta = nn.Parameter(torch.randn(dim, k_interests))            # RecBole: N(0, 1)

    def forward(self, x: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        weights = (x @ self.theta).masked_fill(~real[:, :, None], float("-inf"))  # (B, L, k)
        weights = weights.softmax(dim=1)                                    # over the L positions
        return weights.transpose(1, 2) @ x                                  # (B, k, d)


class LowRankAttention(nn.Module):
    """``LayerNorm(x + Dropout(W_o [item-to-interest attention + position attention]))``."""

    def __init__(self, dim, n_heads, k_interests, attn_dropout, hidden_dropout, eps):
        super().__init__()
        self.n_heads = n_heads
        self.attn_dropout = attn_dropout
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.pool_key = ItemToInterest(dim, k_interests)
        self.pool_value = ItemToInterest(dim, k_interests)
        self.pos_norm = nn.LayerNorm(dim, eps=eps)
        self.pos_query, self.pos_key = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = Dropout(hidden_dropout)
        self.norm = nn.LayerNorm(dim, eps=eps)

    def heads(self, t: torch.Tensor) -> torch.Tensor:
        """``[..., n, d] -> [..., nh, n, hs]``."""
        *lead, n, d = t.shape
        return t.view(*lead, n, self.n_heads, d // self.n_heads).transpose(-3, -2)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        B, L, d = x.shape
        hs = d // self.n_heads
        q = self.heads(self.query(x))                                       # (B, nh, L, hs)
        keys, values = self.key(x), self.value(x)                           # (B, L, d)
        k_int = self.heads(self.pool_key(keys, real))                       # (B, nh, k, hs)
        v_int = self.heads(self.pool_value(values, real))                   # (B, nh, k, hs)
        item_ctx = attention(q, k_int, v_int, None, self.attn_dropout, self.training)  # (B, nh, L, hs)

        p = self.pos_norm(pos)                                              # (L, d)
        pos_q = self.heads(self.pos_query(p)).expand(B, -1, -1, -1)         # (B, nh, L, hs)
        pos_k = self.heads(self.pos_key(p)).expand(B, -1, -1, -1)           # (B, nh, L, hs)
        pos_ctx = attention(pos_q, pos_k, self.heads(values), real[:, None, None, :],  # (B, nh, L, hs)
                            0.0, self.training, scale=1.0 / math.sqrt(2 * hs))

        y = (item_ctx + pos_ctx).transpose(1, 2).reshape(B, L, d)           # (B, L, d)
        return self.norm(x + self.dropout(self.out(y)))


class LightSANsBlock(nn.Module):
    """Low-rank attention then feed-forward."""

    def __init__(self, dim, n_heads, k_interests, inner_size, attn_dropout, hidden_dropout, eps):
        super().__init__()
        self.attn = LowRankAttention(dim, n_heads, k_interests, attn_dropout, hidden_dropout, eps)
        self.ffn = FeedForward(dim, inner_size, hidden_dropout, eps)

    def forward(self, x, pos, real):
        return self.ffn(self.attn(x, pos, real))                            # (B, L, d)


class LightSANs(Backbone):
    """Low-rank decomposed self-attention encoder; ``h`` = output at the last position."""

    def __init__(self, n_items: int, dim: int = 64, max_len: int = 50, *, n_layers: int = 2,
                 n_heads: int = 2, k_interests: int = 5, inner_size: int = 256,
                 hidden_dropout: float = 0.5, attn_dropout: float = 0.5, layer_norm_eps: float = 1e-12):
        super().__init__(n_items, dim, max_len)
        check_transformer_options("LightSANs", self.dim, n_layers, n_heads, inner_size,
                                  hidden_dropout, attn_dropout, layer_norm_eps)
        self.k_interests = check_positive_int(k_interests, "k_interests", "LightSANs")
        self.position_embedding = nn.Embedding(self.max_len, self.dim)
        self.norm = nn.LayerNorm(self.dim, eps=layer_norm_eps)
        self.dropout = Dropout(hidden_dropout)
        self.blocks = nn.ModuleList(
            LightSANsBlock(self.dim, n_heads, self.k_interests, inner_size, attn_dropout,
                           hidden_dropout, layer_norm_eps)
            for _ in range(n_layers))
        self.apply(init_normal)  # touches Linear / Embedding / LayerNorm, not the Theta matrices
        self._zero_padding_row()

    def sequence_output(self, item_seq: torch.Tensor) -> torch.Tensor:
        """Output at every position ``[B, L, d]`` (not causal: see the module docstring)."""
        real = item_seq != 0                                                # (B, L)
        pos = self.position_embedding(self._position_ids(item_seq.shape[1], item_seq.device))  # (L, d)
        x = self.dropout(self.norm(self.item_embedding(item_seq)))          # (B, L, d)
        for block in self.blocks:
            x = block(x, pos, real)                                         # (B, L, d)
        return x

    def _encode(self, item_seq: torch.Tensor, user_ids: torch.Tensor | None = None) -> torch.Tensor:
        return self.sequence_output(item_seq)[:, -1]                        # (B, d)
