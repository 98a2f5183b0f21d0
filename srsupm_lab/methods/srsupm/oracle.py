"""The method ``oracle``: a backbone told the true motivation shift, the upper bound of shift-awareness.

On the synthetic world (:mod:`srsupm_lab.data.synthetic`) the generator records whether the user's
motivation switched just before each step (``meta["switch"]``, carried into every window as
``Windows.context``). SRSUPM *estimates* that shift from category labels (PMSA, §4.1) and learns
to use it; :class:`ShiftOracle` is *told* it, at training and at test time alike:

    h' = h + W_c h + s_c        c = 1 if the motivation switched before the target, else 0
    score(i) = ⟨h', e_i⟩

with a learned matrix ``W_c`` and vector ``s_c`` per shift state (initialised at zero, so the oracle
starts as its backbone): ``s_c`` alone could only move a global item bias, while a shift changes
*which* of the window's continuations are likely (after a switch, the last item's habitual
successors are not), which needs the window-dependent ``W_c h``.
The gap between the backbone alone and the oracle is what knowing the shift is worth in that
world at that budget; the share of it a shift-aware model closes says how much of that worth it
captures. The oracle is a measuring stick, not a recommender: real data has no such truth.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...backbones.base import Backbone
from ...families.protocol import Batch, Recommender
from ..base import Method

__all__ = ["ShiftOracle", "OracleMethod", "gap_closed"]


class ShiftOracle(Recommender):
    """A backbone whose user vector is shifted by a learned vector per true shift state (module doc)."""

    requires = frozenset({"context"})              # the batch carries Windows.context

    def __init__(self, backbone: Backbone, states: int = 2):
        super().__init__()
        if not isinstance(backbone, Backbone):
            raise TypeError(f"ShiftOracle needs a Backbone, got {type(backbone).__name__}")
        self.backbone, self.n_items = backbone, backbone.n_items
        self.requires = type(self).requires | backbone.requires                    # Caser reads users
        d = backbone.dim
        self.shift = nn.Embedding(states, d)                       # s_c
        self.transform = nn.Parameter(torch.zeros(states, d, d))   # W_c
        nn.init.zeros_(self.shift.weight)

    def _check(self, context: torch.Tensor | None, B: int) -> torch.Tensor:
        if context is None:
            raise ValueError("ShiftOracle: no ground truth (Windows.context is None): the oracle needs a dataset "
                             "whose generator records the shifts (the synthetic world)")
        if tuple(context.shape) != (B,):
            raise ValueError(f"ShiftOracle: context must have shape ({B},), got {tuple(context.shape)}")
        return context.long()

    def score_all(self, batch: Batch) -> torch.Tensor:
        """Scores of every item, ``[B, N+1]`` (column 0 is padding), told the batch's ``context``."""
        inputs = batch["inputs"]
        c = self._check(batch.get("context"), inputs.shape[0])
        h = self.backbone.encode(inputs, batch.get("users"))                       # (B, d)
        h = h + torch.einsum("bd,bed->be", h, self.transform[c]) + self.shift(c)   # (B, d)
        return h @ self.backbone.item_table().T                                    # (B, N+1)

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Cross-entropy over items 1..N at the target, with the true shift given."""
        logits = self.score_all(batch)[:, 1:]
        rec = F.cross_entropy(logits, batch["targets"] - 1)
        return rec, {"rec": rec.detach()}


class OracleMethod(Method):
    """The method ``oracle``: :class:`ShiftOracle` over the backbone; the synthetic world only (it needs the truth)."""

    name = "oracle"
    flat_switch = "oracle"
    requires = frozenset({"context"})
    summary = "the backbone told the synthetic world's true motivation shift (an upper bound, not a recommender)"

    def check(self, config) -> None:
        super().check(config)
        if config.dataset.lower() != "synthetic":
            raise ValueError(f"TrainConfig.method: 'oracle' is the backbone told the synthetic world's true shifts: "
                             f"it needs dataset='synthetic', got {config.dataset!r}")

    def build(self, backbone, config, dataset) -> ShiftOracle:
        return ShiftOracle(backbone)


def gap_closed(backbone: float, model: float, oracle: float) -> float:
    """Share of the backbone→oracle gap a model closes: (model − backbone) / (oracle − backbone).

    NaN when the oracle does not beat the backbone (there is no gap to close).
    """
    gap = oracle - backbone
    return float("nan") if gap <= 0 else (model - backbone) / gap
