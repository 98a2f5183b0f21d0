"""SASRec backbone: causal self-attention over the window (method.md §2, Eq. 4).

Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018.

Item embeddings plus learned absolute position embeddings, LayerNorm and dropout, then
``n_layers`` transformer blocks (multi-head causal self-attention + position-wise feed-forward),
each sub-layer wrapped as ``LayerNorm(x + Dropout(sublayer(x)))`` as in RecBole's SASRec (the
paper's pre-LN variant differs only in where the norm sits). ``h`` = output at the last
position (the most recent item).

Left padding: by default (``positions="from_end"``, Kang & McAuley's left-padded input) positions
are numbered from the right (the most recent item always has position ``max_len - 1``);
``positions="from_start"`` (RecBole's convention) numbers them from the window's first item
(position 0). Padding keys are masked either way, so padding changes nothing in the real
positions. Only with positions from the start is the output at column t of a user's whole
sequence the representation of the prefix ending there (``causal_prefixes``), which the one-pass
training of :mod:`srsupm_lab.data.prefix_rows` relies on.
Every position may also attend to itself, so a padding query row never has all keys masked
(no NaN); padding rows' outputs are never read.

The blocks defined here (:class:`MultiHeadSelfAttention`, :class:`FeedForward`,
:class:`TransformerBlock`) are reused by BERT4Rec (bidirectional mask) and LightSANs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import Backbone, Dropout, attention, check_positive_int, check_probability, init_normal


class MultiHeadSelfAttention(nn.Module):
    """``LayerNorm(x + Dropout(W_o · MHA(x)))`` with a boolean attention mask (True = may attend)."""

    def __init__(self, dim: int, n_heads: int, attn_dropout: float, hidden_dropout: float, eps: float):
        super().__init__()
        if dim % n_heads != 0:
            raise ValueError(f"dim={dim} is not divisible by n_heads={n_heads}")
        self.n_heads = n_heads
        self.attn_dropout = attn_dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = Dropout(hidden_dropout)
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, L, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)                              # 3 x (B, L, d)
        q, k, v = (t.view(B, L, self.n_heads, d // self.n_heads).transpose(1, 2) for t in (q, k, v))
        y = attention(q, k, v, mask, self.attn_dropout, self.training)      # (B, nh, L, hs)
        y = y.transpose(1, 2).reshape(B, L, d)                              # (B, L, d)
        return self.norm(x + self.dropout(self.out(y)))


class FeedForward(nn.Module):
    """Position-wise ``LayerNorm(x + Dropout(W2 · GELU(W1 x)))``."""

    def __init__(self, dim: int, inner_size: int, hidden_dropout: float, eps: float):
        super().__init__()
        self.fc1 = nn.Linear(dim, inner_size)
        self.fc2 = nn.Linear(inner_size, dim)
        self.dropout = Dropout(hidden_dropout)
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.dropout(self.fc2(F.gelu(self.fc1(x)))))  # (B, L, d)


class TransformerBlock(nn.Module):
    """Self-attention then feed-forward."""

    def __init__(self, dim, n_heads, inner_size, attn_dropout, hidden_dropout, eps):
        super().__init__()
        self.attn = MultiHeadSelfAttention(dim, n_heads, attn_dropout, hidden_dropout, eps)
        self.ffn = FeedForward(dim, inner_size, hidden_dropout, eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.ffn(self.attn(x, mask))                                 # (B, L, d)


def check_transformer_options(where: str, dim: int, n_layers, n_heads, inner_size,
                              hidden_dropout, attn_dropout, layer_norm_eps) -> None:
    """Validate the options shared by the three transformer backbones."""
    check_positive_int(n_layers, "n_layers", where)
    check_positive_int(n_heads, "n_heads", where)
    check_positive_int(inner_size, "inner_size", where)
    check_probability(hidden_dropout, "hidden_dropout", where)
    check_probability(attn_dropout, "attn_dropout", where)
    if dim % n_heads != 0:
        raise ValueError(f"{where}: dim={dim} must be divisible by n_heads={n_heads}")
    if not (isinstance(layer_norm_eps, float) and layer_norm_eps > 0):
        raise ValueError(f"{where}: layer_norm_eps must be a positive float, got {layer_norm_eps!r}")


#: how position ids are counted: from the window's end (Kang & McAuley) or its start (RecBole)
POSITIONS = ("from_end", "from_start")


class SASRec(Backbone):
    """Causal transformer encoder; ``h`` = output at the last (most recent) position.

    Subclasses change who may attend to whom by overriding :meth:`attention_mask` (BERT4Rec:
    bidirectional) and may reserve extra embedding rows with ``extra_rows`` (its [MASK] token).
    """

    extra_rows = 0
    attention_maps = True     # B×heads×L×L scores per layer (the memory estimate)
    #: the attention is causal (BERT4Rec, bidirectional, sets this False)
    causal = True

    def __init__(self, n_items: int, dim: int = 64, max_len: int = 50, *, n_layers: int = 2,
                 n_heads: int = 2, inner_size: int = 256, hidden_dropout: float = 0.5,
                 attn_dropout: float = 0.5, layer_norm_eps: float = 1e-12, positions: str = "from_end"):
        super().__init__(n_items, dim, max_len, extra_rows=self.extra_rows)
        check_transformer_options(type(self).__name__, self.dim, n_layers, n_heads, inner_size,
                                  hidden_dropout, attn_dropout, layer_norm_eps)
        if positions not in POSITIONS:
            raise ValueError(f"{type(self).__name__}: positions must be one of {list(POSITIONS)}, got {positions!r}")
        self.positions = positions
        self.position_embedding = nn.Embedding(self.max_len, self.dim)
        self.norm = nn.LayerNorm(self.dim, eps=layer_norm_eps)
        self.dropout = Dropout(hidden_dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(self.dim, n_heads, inner_size, attn_dropout, hidden_dropout, layer_norm_eps)
            for _ in range(n_layers))
        self.apply(init_normal)
        self._zero_padding_row()

    def attention_mask(self, item_seq: torch.Tensor) -> torch.Tensor:
        """``[B, 1, L, L]`` bool: query i sees key j iff j <= i and j is an item, or j == i."""
        L = item_seq.shape[1]
        causal = torch.ones(L, L, dtype=torch.bool, device=item_seq.device).tril()   # (L, L)
        eye = torch.eye(L, dtype=torch.bool, device=item_seq.device)                 # (L, L)
        keys = (item_seq != 0)[:, None, None, :]                                     # (B, 1, 1, L)
        return (causal & keys) | eye                                                 # (B, 1, L, L)

    @classmethod
    def prefixes_exact(cls, options: dict) -> bool:
        return cls.causal and options.get("positions", "from_end") == "from_start"

    @property
    def causal_prefixes(self) -> bool:
        """True when column t of a sequence's output equals the encoding of its prefix ending at t."""
        return self.prefixes_exact({"positions": self.positions})

    def position_ids(self, item_seq: torch.Tensor) -> torch.Tensor:
        """``[L]`` right-aligned ids (``from_end``), or ``[B, L]`` ids counted from each row's first item."""
        if self.positions == "from_end":
            return self._position_ids(item_seq.shape[1], item_seq.device)           # (L,)
        return ((item_seq != 0).cumsum(dim=1) - 1).clamp(min=0)                     # (B, L), padding -> 0

    def sequence_output(self, item_seq: torch.Tensor) -> torch.Tensor:
        """Output at every position ``[B, L, d]``; position t only depends on items at <= t."""
        positions = self.position_ids(item_seq)                                      # (L,) or (B, L)
        x = self.item_embedding(item_seq) + self.position_embedding(positions)      # (B, L, d)
        x = self.dropout(self.norm(x))
        mask = self.attention_mask(item_seq)
        for block in self.blocks:
            x = block(x, mask)                                                       # (B, L, d)
        return x

    def _encode(self, item_seq: torch.Tensor, user_ids: torch.Tensor | None = None) -> torch.Tensor:
        return self.sequence_output(item_seq)[:, -1]                                 # (B, d)
