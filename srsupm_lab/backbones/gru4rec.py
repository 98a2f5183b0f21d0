"""GRU4Rec backbone: a recurrent encoder of the window (method.md §2, Eq. 4).

Hidasi et al., "Session-based Recommendations with Recurrent Neural Networks", ICLR 2016, in the
form RecBole uses for sequential recommendation: item embedding -> embedding dropout -> GRU
(``n_layers`` layers, ``hidden_size`` units, no bias) -> linear map back to ``d``. ``h`` = the
output at the last position (the most recent item).

Left padding is exactly neutral: with a zero padding embedding, a zero initial state and no
bias terms, a GRU step on padding keeps the state at zero (``n = tanh(0) = 0``), so the state
that reaches the first real item is the same as without padding.
"""
from __future__ import annotations

import torch
from torch import nn

from .base import Backbone, Dropout, check_positive_int, check_probability


class GRU4Rec(Backbone):
    """Embedding dropout + GRU + dense; ``h`` = output at the last position."""

    causal_prefixes = True      # a recurrent state sees only what came before

    def __init__(self, n_items: int, dim: int = 64, max_len: int = 50, *, hidden_size: int | None = None,
                 n_layers: int = 1, dropout: float = 0.3):
        super().__init__(n_items, dim, max_len)
        hidden_size = 2 * self.dim if hidden_size is None else hidden_size  # RecBole: 128 for d = 64
        self.hidden_size = check_positive_int(hidden_size, "hidden_size", "GRU4Rec")
        check_positive_int(n_layers, "n_layers", "GRU4Rec")
        self.emb_dropout = Dropout(check_probability(dropout, "dropout", "GRU4Rec"))
        self.gru = nn.GRU(self.dim, self.hidden_size, num_layers=n_layers, bias=False, batch_first=True)
        self.dense = nn.Linear(self.hidden_size, self.dim)
        # RecBole's initialisation: Xavier for the embedding and the recurrent weights
        nn.init.xavier_normal_(self.item_embedding.weight)
        for weight in self.gru.parameters():
            nn.init.xavier_uniform_(weight)
        self._zero_padding_row()

    def sequence_output(self, item_seq: torch.Tensor) -> torch.Tensor:
        """Output at every position ``[B, L, d]``; position t only depends on items at <= t."""
        x = self.emb_dropout(self.item_embedding(item_seq))                 # (B, L, d)
        states, _ = self.gru(x)                                             # (B, L, hidden)
        return self.dense(states)                                           # (B, L, d)

    def _encode(self, item_seq: torch.Tensor, user_ids: torch.Tensor | None = None) -> torch.Tensor:
        return self.sequence_output(item_seq)[:, -1]                        # (B, d)
