"""BERT4Rec backbone: a bidirectional transformer with a [MASK] token (method.md §2, Eq. 4).

Sun et al., "BERT4Rec: Sequential Recommendation with Bidirectional Encoder Representations
from Transformer", CIKM 2019.

SASRec's embedding and blocks (this class extends :class:`SASRec`) but every position attends
to every item of the window (padding keys masked). The [MASK] token is row ``n_items + 1`` of the embedding (``item_table()`` still
returns rows ``0..n_items`` only).

- **Next-item encoding** (``encode``): a [MASK] is appended after the input and ``h`` is the
  output at that position. To stay within ``max_len`` positions the oldest item is dropped
  when the window is already ``max_len`` long.
- **Cloze task** (``auxiliary_loss``): the window with its target appended, in the same layout
  as ``encode``; a fraction ``mask_prob`` of its items is replaced by [MASK] and predicted by
  cross-entropy over all items at the masked positions.

- **Training objective**: as published (Sun et al.; RecBole) the cloze task alone
  (``next_item_loss=False``, the default). ``next_item_loss=True`` adds the
  next-item cross-entropy at the appended [MASK] (the package's earlier objective, kept as an
  option; run folders stored before the change read as it: ``run_folder.upgrade_stored_config``); the SRSUPM plug-in always trains its own next-item loss and adds the cloze task.

Defaults follow RecBole's BERT4Rec (dropout 0.2, mask ratio 0.2). RecBole's version has no
output projection or bias; neither does this one (scores are ``<h, e_i>`` like every backbone).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import check_probability
from .length_groups import length_groups
from .sasrec import SASRec


class BERT4Rec(SASRec):
    """Bidirectional transformer encoder; ``h`` = output at an appended [MASK] position."""

    extra_rows = 1                                                   # the [MASK] token's embedding row
    causal = False                                                   # every position sees the whole window

    def __init__(self, n_items: int, dim: int = 64, max_len: int = 50, *, n_layers: int = 2,
                 n_heads: int = 2, inner_size: int = 256, hidden_dropout: float = 0.2,
                 attn_dropout: float = 0.2, layer_norm_eps: float = 1e-12, mask_prob: float = 0.2,
                 next_item_loss: bool = False):
        super().__init__(n_items, dim, max_len, n_layers=n_layers, n_heads=n_heads, inner_size=inner_size,
                         hidden_dropout=hidden_dropout, attn_dropout=attn_dropout, layer_norm_eps=layer_norm_eps)
        self.mask_prob = check_probability(mask_prob, "mask_prob", "BERT4Rec", allow_zero=False)
        self.mask_id = self.n_items + 1
        if not isinstance(next_item_loss, bool):
            raise ValueError(f"BERT4Rec: next_item_loss must be True or False, got {next_item_loss!r}")
        self.next_item_loss = next_item_loss


    def attention_mask(self, item_seq: torch.Tensor) -> torch.Tensor:
        """``[B, 1, 1, L]`` bool: every query sees every item (ids may include ``mask_id``).

        Each row holds at least one non-padding token (its last column, by the left-padding
        convention), so no query row has all keys masked.
        """
        return (item_seq != 0)[:, None, None, :]

    def _append(self, item_seq: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """``item_seq`` followed by the column ``last [B]``, oldest column dropped if needed."""
        keep = min(item_seq.shape[1], self.max_len - 1)
        return torch.cat([item_seq[:, item_seq.shape[1] - keep:], last[:, None]], dim=1)  # (B, keep+1)

    def _encode(self, item_seq: torch.Tensor, user_ids: torch.Tensor | None = None) -> torch.Tensor:
        masks = torch.full_like(item_seq[:, 0], self.mask_id)                        # (B,)
        return self.sequence_output(self._append(item_seq, masks))[:, -1]           # (B, d)

    def auxiliary_loss(self, item_seq: torch.Tensor, targets: torch.Tensor,
                       user_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Cloze loss: mean cross-entropy over items 1..N at randomly masked positions."""
        self._check_input(item_seq, user_ids)
        in_range = bool(((targets >= 1) & (targets <= self.n_items)).all())
        if tuple(targets.shape) != (item_seq.shape[0],) or not in_range:
            raise ValueError(f"BERT4Rec.auxiliary_loss: targets must be [B={item_seq.shape[0]}] item ids in "
                             f"1..{self.n_items}, got shape {tuple(targets.shape)}")
        full = self._append(item_seq, targets)                                       # (B, L')
        chosen = (torch.rand(full.shape, device=full.device) < self.mask_prob) & (full != 0)
        if not bool(chosen.any()):
            return self.item_embedding.weight.sum() * 0.0                           # nothing masked
        corrupted = full.masked_fill(chosen, self.mask_id)                           # (B, L')
        n_groups = self.groups(full)
        groups = length_groups(full, n_groups) if n_groups > 1 else [(slice(None), full.shape[1])]  # exact
        hidden, labels = [], []
        for rows, w in groups:                                                       # trimmed windows
            picked = chosen[rows, -w:]                                               # (b_g, w)
            hidden.append(self.sequence_output(corrupted[rows, -w:])[picked])        # (m_g, d)
            labels.append(full[rows, -w:][picked])                                   # (m_g,)
        hidden, labels = torch.cat(hidden), torch.cat(labels)                        # (M, d), (M,)
        logits = hidden @ self.item_table()[1:].T                                    # (M, N)
        return F.cross_entropy(logits, labels - 1)
