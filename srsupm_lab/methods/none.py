"""The method ``none``: a backbone used alone, score ``<h_u, e_i>`` over all items (method.md §2, §9).

:class:`BackboneRecommender` follows the Recommender protocol (:mod:`srsupm_lab.families.protocol`):
``score(batch) -> [B, N+1]`` (column 0 = padding, to be ignored) and
``loss(batch) -> (total, {"rec": ..., "aux": ...})``. The loss is the softmax cross-entropy over
items ``1..N`` (the padding column is sliced off, no ``-inf`` masking), plus the backbone's own
auxiliary loss when it has one (BERT4Rec's cloze task; the ``"aux"`` entry is present only then).

``loss="bce"`` is the backbones' original recipe instead (SASRec, Kang & McAuley 2018; Caser;
RecBole's ``loss_type="BPR"``/BCE family): binary cross-entropy on the target against **one**
sampled negative per window, ``−log σ(s_target) − log(1 − σ(s_neg))``, the negative drawn
uniformly from the other N−1 items (the original draws from items outside the user's history;
with N ≈ 12,000 items and histories of ≈ 9 the two differ for < 0.1 % of draws).

``one_pass=True`` trains a causal backbone (``Backbone.causal_prefixes``) on one encoder pass per
user instead of one per window (:mod:`srsupm_lab.data.prefix_rows`): the trainer then batches
rows of prefixes (``training_data``), each with a ``[B, L]`` target matrix, and the loss is the
same per-window loss averaged over every target in the batch.

BERT4Rec as published trains on the cloze task alone (Sun et al. 2019; RecBole): a backbone whose
``next_item_loss`` is False (BERT4Rec's default) contributes only its auxiliary cloze loss, and
``"rec"`` is then not part of the objective.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from ..backbones.base import Backbone
from ..backbones.prefixes import check_one_pass_backbone, prefix_encodings, prefix_parts, target_cells
from ..families.protocol import Batch, Recommender
from .base import Method, check_prefixes_exact

__all__ = ["BackboneRecommender", "BackboneAlone", "LOSSES"]


LOSSES = ("ce", "bce")


class BackboneRecommender(Recommender):
    """The plain sequential recommender: ``s_{u,i} = <Enc(S_u), e_i>``; ``loss`` is ``"ce"`` or ``"bce"``."""

    def __init__(self, backbone: Backbone, loss: str = "ce", one_pass: bool = False):
        super().__init__()
        if not isinstance(backbone, Backbone):
            raise TypeError(f"BackboneRecommender needs a Backbone (see srsupm_lab.backbones), "
                            f"got {type(backbone).__name__}")
        if loss not in LOSSES:
            raise ValueError(f"BackboneRecommender: loss must be one of {list(LOSSES)}, got {loss!r}")
        if one_pass:
            check_one_pass_backbone(backbone, "BackboneRecommender")
        self.backbone = backbone
        self.requires = type(self).requires | backbone.requires             # Caser reads users
        self.n_items = backbone.n_items
        self.loss_type = loss
        self.one_pass = bool(one_pass)

    def training_data(self, train) -> dict[str, torch.Tensor] | None:
        """With ``one_pass``, the trainer's tensors: one-pass rows of ``train`` (prefix_rows); else None."""
        if not self.one_pass:
            return None
        from ..data.prefix_rows import prefix_rows
        return prefix_rows(train).as_batch_data()

    def prefix_outputs(self, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(h [T, d], targets [T])``: the encoding of every prefix with a target in rows ``inputs [B, L]``
        (one ``sequence_output`` pass per length group: :mod:`srsupm_lab.backbones.prefixes`)."""
        parts = prefix_parts(self.backbone, inputs, targets)
        return prefix_encodings(self.backbone, inputs, parts), target_cells(targets, parts)

    def _check_rows(self, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        where = "BackboneRecommender.loss (one_pass rows)"
        if tuple(targets.shape) != tuple(inputs.shape):
            raise ValueError(f"{where}: targets must have the inputs' shape {tuple(inputs.shape)}, "
                             f"got {tuple(targets.shape)}")
        if not self.backbone.check_inputs:
            return
        set_ = targets != 0
        bad = torch.stack([((targets < 0) | (targets > self.n_items)).any(), (set_ & (inputs == 0)).any()]).tolist()
        if bad[0]:
            raise ValueError(f"{where}: targets must be item ids in 1..{self.n_items} (0 = none), "
                             f"found values in {int(targets.min())}..{int(targets.max())}")
        if bad[1]:
            row = int((set_ & (inputs == 0)).any(dim=1).nonzero()[0, 0])
            raise ValueError(f"{where}: row {row} has a target at a padding column")

    def score_all(self, batch: Batch) -> torch.Tensor:
        """Scores of every item, ``[B, N+1]``; column 0 (padding) carries no meaning."""
        h = self.backbone.encode(batch["inputs"], batch.get("users"))       # (B, d)
        return h @ self.backbone.item_table().T                             # (B, N+1)

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Cross-entropy over items 1..N at the target (+ the backbone's auxiliary loss)."""
        missing = [k for k in ("inputs", "targets", "users") if k not in batch]
        if missing:
            raise KeyError(f"BackboneRecommender.loss: batch lacks {missing}; it has {sorted(batch)}")
        inputs, targets, users = batch["inputs"], batch["targets"], batch["users"]
        if targets.dim() == 2:                                              # one-pass rows (training_data)
            if not self.backbone.causal_prefixes:
                raise ValueError(f"BackboneRecommender.loss: a [B, L] target matrix (one-pass rows) needs a "
                                 f"backbone with causal_prefixes; {type(self.backbone).__name__} has none")
            self.backbone._check_input(inputs, users)
            self._check_rows(inputs, targets)
            h, targets = self.prefix_outputs(inputs, targets)                # (T, d), (T,)
            rec = self._rec_loss(h, targets)
            return rec, {"rec": rec.detach()}
        if tuple(targets.shape) != (inputs.shape[0],):
            raise ValueError(f"BackboneRecommender.loss: targets must have shape ({inputs.shape[0]},), "
                             f"got {tuple(targets.shape)}")
        if self.backbone.check_inputs and not bool(((targets >= 1) & (targets <= self.n_items)).all()):
            raise ValueError(f"BackboneRecommender.loss: targets must be item ids in 1..{self.n_items}, "
                             f"found values in {int(targets.min())}..{int(targets.max())}")
        aux = self.backbone.auxiliary_loss(inputs, targets, users)
        if aux is not None and not self.backbone.next_item_loss:           # BERT4Rec as published
            return aux, {"aux": aux.detach()}
        rec = self._rec_loss(self.backbone.encode(inputs, users), targets)
        parts = {"rec": rec.detach()}
        if aux is None:
            return rec, parts
        parts["aux"] = aux.detach()
        return rec + aux, parts

    def _rec_loss(self, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The next-item loss of user vectors ``h [B, d]`` at ``targets [B]``, averaged over B."""
        E = self.backbone.item_table()                                      # (N+1, d), row 0 = padding
        if self.loss_type == "bce":
            offset = torch.randint(1, self.n_items, targets.shape, device=targets.device)
            negatives = (targets - 1 + offset) % self.n_items + 1           # (B,) uniform over items ≠ target
            pos = (h * E[targets]).sum(dim=1)                               # (B,)
            neg = (h * E[negatives]).sum(dim=1)                             # (B,)
            return F.softplus(-pos).mean() + F.softplus(neg).mean()         # −log σ(pos) − log(1 − σ(neg))
        logits = h @ E[1:].T                                                # (B, N): padding left out before
        return F.cross_entropy(logits, targets - 1)                         # the product, no sliced copy


class BackboneAlone(Method):
    """The method ``none``: the backbone trained alone with ``loss`` (ce or bce), per window or one pass per user."""

    name = "none"
    summary = "the backbone alone: <h_u, e_i> over all items (method.md §2)"
    losses = LOSSES
    one_pass = True

    def check(self, config) -> None:
        super().check(config)
        check_prefixes_exact(config)

    def build(self, backbone, config, dataset) -> BackboneRecommender:
        return BackboneRecommender(backbone, loss=config.loss, one_pass=config.one_pass)

    def label(self, backbone: str) -> str:
        return backbone

