"""Caser backbone: convolutional sequence embedding (method.md §2, Eq. 4).

Tang & Wang, "Personalized Top-N Sequential Recommendation via Convolutional Sequence Embedding",
WSDM 2018. The ``caser_len`` most recent items (the paper's ``L``, default 5) form a
``caser_len x d`` "image":

- horizontal filters of heights ``1..caser_len`` (``n_h`` each, spanning all ``d`` columns),
  ReLU, then max-pooling over time -> ``caser_len * n_h`` values (union-level patterns);
- ``n_v`` vertical filters of size ``caser_len x 1`` -> ``n_v * d`` values (point-level);
- concatenate, dropout, ``z = ReLU(FC(.))`` in ``R^d``;
- ``h = ReLU(W [z ; P_u] + b)`` with the user embedding ``P_u``: Caser's fused vector, scored
  against the shared item table (as in RecBole's Caser).

Windows shorter than ``caser_len`` are left-padded with id 0 (a zero embedding row).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import Backbone, Dropout, check_positive_int, check_probability


class Caser(Backbone):
    """Horizontal + vertical convolutions over the last ``caser_len`` items, fused with the user."""

    requires = frozenset({"users"})   # a user embedding: n_users, and user ids at every call
    group_by_length = False   # only the last caser_len columns are read: nothing to trim

    def __init__(self, n_items: int, n_users: int, dim: int = 64, max_len: int = 50, *,
                 caser_len: int = 5, n_v: int = 8, n_h: int = 16, dropout: float = 0.4):
        super().__init__(n_items, dim, max_len)
        self.n_users = check_positive_int(n_users, "n_users", "Caser")
        self.caser_len = check_positive_int(caser_len, "caser_len", "Caser")
        check_positive_int(n_v, "n_v", "Caser")
        check_positive_int(n_h, "n_h", "Caser")
        self.user_embedding = nn.Embedding(self.n_users, self.dim)
        self.conv_v = nn.Conv2d(1, n_v, kernel_size=(self.caser_len, 1))
        self.conv_h = nn.ModuleList(
            nn.Conv2d(1, n_h, kernel_size=(height, self.dim)) for height in range(1, self.caser_len + 1))
        self.dropout = Dropout(check_probability(dropout, "dropout", "Caser"))
        self.fc1 = nn.Linear(n_v * self.dim + n_h * self.caser_len, self.dim)
        self.fc2 = nn.Linear(2 * self.dim, self.dim)
        # RecBole's initialisation: N(0, 1/d) embeddings, Xavier-normal linear layers, zero biases
        for table in (self.item_embedding, self.user_embedding):
            nn.init.normal_(table.weight, mean=0.0, std=1.0 / self.dim)
        for fc in (self.fc1, self.fc2):
            nn.init.xavier_normal_(fc.weight)
            nn.init.zeros_(fc.bias)
        self._zero_padding_row()

    def recent_items(self, item_seq: torch.Tensor) -> torch.Tensor:
        """The last ``caser_len`` columns, left-padded with 0 when the window is shorter."""
        window = item_seq[:, -self.caser_len:]                              # (B, <=Lc)
        missing = self.caser_len - window.shape[1]
        return F.pad(window, (missing, 0), value=0) if missing > 0 else window  # (B, Lc)

    def _encode(self, item_seq: torch.Tensor, user_ids: torch.Tensor | None = None) -> torch.Tensor:
        B = item_seq.shape[0]
        image = self.item_embedding(self.recent_items(item_seq)).unsqueeze(1)  # (B, 1, Lc, d)
        out_v = self.conv_v(image).view(B, -1)                              # (B, n_v * d)
        out_h = [F.relu(conv(image)).squeeze(3).amax(dim=2)                 # (B, n_h) per height
                 for conv in self.conv_h]
        features = self.dropout(torch.cat([out_v, *out_h], dim=1))          # (B, n_v*d + n_h*Lc)
        z = F.relu(self.fc1(features))                                      # (B, d)
        fused = torch.cat([z, self.user_embedding(user_ids)], dim=1)        # (B, 2d)
        return F.relu(self.fc2(fused))                                      # (B, d)
