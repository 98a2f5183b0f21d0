"""A backbone used alone: score ``<h_u, e_i>`` over all items, cross-entropy loss (method.md §2, §9).

:class:`BackboneRecommender` follows the Recommender protocol shared with SRSUPM:
``score(inputs [B, L], users [B]) -> [B, N+1]`` (column 0 = padding, to be ignored) and
``loss(batch) -> (total, {"rec": ..., "aux": ...})``. The loss is the softmax cross-entropy over
items ``1..N`` (the padding column is sliced off, no ``-inf`` masking), plus the backbone's own
auxiliary loss when it has one (BERT4Rec's cloze task; the ``"aux"`` entry is present only then).

``loss="bce"`` is the backbones' original recipe instead (SASRec, Kang & McAuley 2018; Caser;
RecBole's ``loss_type="BPR"``/BCE family): binary cross-entropy on the target against **one**
sampled negative per window, ``−log σ(s_target) − log(1 − σ(s_neg))``, the negative drawn
uniformly from the other N−1 items (the original draws from items outside the user's history;
with N ≈ 12,000 items and histories of ≈ 9 the two differ for < 0.1 % of draws).

BERT4Rec as published trains on the cloze task alone (Sun et al. 2019; RecBole): a backbone whose
``next_item_loss`` is False (BERT4Rec's default) contributes only its auxiliary cloze loss, and
``"rec"`` is then not part of the objective.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .backbones.base import Backbone


LOSSES = ("ce", "bce")


class BackboneRecommender(nn.Module):
    """The plain sequential recommender: ``s_{u,i} = <Enc(S_u), e_i>``; ``loss`` is ``"ce"`` or ``"bce"``."""

    def __init__(self, backbone: Backbone, loss: str = "ce"):
        super().__init__()
        if not isinstance(backbone, Backbone):
            raise TypeError(f"BackboneRecommender needs a Backbone (see srsupm_lab.backbones), "
                            f"got {type(backbone).__name__}")
        if loss not in LOSSES:
            raise ValueError(f"BackboneRecommender: loss must be one of {list(LOSSES)}, got {loss!r}")
        self.backbone = backbone
        self.n_items = backbone.n_items
        self.loss_type = loss

    def score(self, inputs: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of every item, ``[B, N+1]``; column 0 (padding) carries no meaning."""
        h = self.backbone.encode(inputs, users)                             # (B, d)
        return h @ self.backbone.item_table().T                             # (B, N+1)

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Cross-entropy over items 1..N at the target (+ the backbone's auxiliary loss)."""
        missing = [k for k in ("inputs", "targets", "users") if k not in batch]
        if missing:
            raise KeyError(f"BackboneRecommender.loss: batch lacks {missing}; it has {sorted(batch)}")
        inputs, targets, users = batch["inputs"], batch["targets"], batch["users"]
        if tuple(targets.shape) != (inputs.shape[0],):
            raise ValueError(f"BackboneRecommender.loss: targets must have shape ({inputs.shape[0]},), "
                             f"got {tuple(targets.shape)}")
        if self.backbone.check_inputs and not bool(((targets >= 1) & (targets <= self.n_items)).all()):
            raise ValueError(f"BackboneRecommender.loss: targets must be item ids in 1..{self.n_items}, "
                             f"found values in {int(targets.min())}..{int(targets.max())}")
        aux = self.backbone.auxiliary_loss(inputs, targets, users)
        if aux is not None and not getattr(self.backbone, "next_item_loss", True):   # BERT4Rec as published
            return aux, {"aux": aux.detach()}
        if self.loss_type == "bce":
            h = self.backbone.encode(inputs, users)                         # (B, d)
            E = self.backbone.item_table()
            offset = torch.randint(1, self.n_items, targets.shape, device=targets.device)
            negatives = (targets - 1 + offset) % self.n_items + 1           # (B,) uniform over items ≠ target
            pos = (h * E[targets]).sum(dim=1)                               # (B,)
            neg = (h * E[negatives]).sum(dim=1)                             # (B,)
            rec = F.softplus(-pos).mean() + F.softplus(neg).mean()          # −log σ(pos) − log(1 − σ(neg))
        else:
            logits = self.score(inputs, users)[:, 1:]                       # (B, N), padding dropped
            rec = F.cross_entropy(logits, targets - 1)
        parts = {"rec": rec.detach()}
        if aux is None:
            return rec, parts
        parts["aux"] = aux.detach()
        return rec + aux, parts
