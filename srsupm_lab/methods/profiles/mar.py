"""MAR, the Motivation-Aligned Recommender: backbone score + gated motivation-trait compatibility.

Rebuilds the third module of M-LLM³Rec (arXiv 2508.15262): recommendation as a compatibility
check between a user's inferred motivation and an item's traits. The paper's score and loss are
not public; the form below, the per-window motivation and the gate are **our choices**.

Score (Recommender protocol: ``score(inputs [B, L], users [B]) -> [B, N+1]``, column 0 = padding)::

    s(u, i) = <h_u, e_i> + g_u * c(u, i),    c(u, i) = <A m_u, B t_i> = m_u^T A^T B t_i

- ``h_u = backbone.encode(window)``, ``e_i`` = the backbone's item table (any Backbone).
- ``t_i``: item i's MOTE trait vector, a fixed buffer ``traits [N+1, d_t]`` (row 0 = 0, not
  trained; :func:`.mote.item_traits`).
- ``m_u``: the motivation vector of the **window** (causal: only the window's own items)::

      m = normalise( sum_j  decay**k_j * mass_{i_j} * t_{i_j} )

  over the window's items ``i_j``, ``k_j`` = steps back from the most recent item (the last
  column, as windows are left-padded, so ``k`` depends on the column only and one ``[L]``
  weight vector serves the whole batch). ``mass`` is MOTE's per-item mass
  (:meth:`.mote.TfidfSvdEncoder.masses`): with the TF-IDF encoder and the same ``decay``, ``m``
  **equals** the embedding (:func:`.mote.embed_profiles`) of the offline profile
  (:class:`.mope.OfflineProfiles`, ``top_k=None``) of the window's items; the default
  ``top_k=8`` profile differs only by its dropped light terms. Padding and items without known
  text have mass 0; a window with none of them gets ``m = 0``, hence ``c = 0``. A profile
  embedding computed elsewhere (an LLM profile of the user's input items at evaluation) can be
  passed as ``score(..., motivation=)`` instead.
- ``A, B [r, d_t]`` (``r = rank``, default the backbone's ``d``): a learned rank-``r`` bilinear
  map, both initialised to the same matrix with orthonormal rows (or columns when ``r > d_t``),
  so that training starts from ``c = <P m, P t>`` (the cosine of ``m`` and ``t`` when
  ``r >= d_t``). Over all items it costs ``[B, r] @ [r, N+1]``.
- the gate ``g``: ``gate="user"`` (default) ``g_u = gate_scale * 2 * sigmoid(w^T [h_u; m_u] + b)``,
  ``w = 0, b = 0`` at the start, so every user starts at ``g = gate_scale``, and the model can
  learn whose windows (short, cold-start, text-poor ones) lean on motivation; ``gate="scalar"``
  ``g = gate_scale``. ``gate_scale`` is a learned scalar (``gate_init``, default 1); at 0 the
  score is exactly the backbone's ``h @ E^T``.

Loss: softmax cross-entropy over items 1..N (padding column left out) at the target, as the plain
backbone recommender, plus the backbone's own auxiliary loss when it has one (entry ``"aux"``);
parts ``{"rec": ...}`` detached. One-pass ``[B, L]`` target rows are not supported.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...backbones.base import Backbone
from ...families.protocol import Batch, Recommender, as_batch, part
from .mope import DEFAULT_DECAY

GATES = ("user", "scalar")


def recency_weights(length: int, decay: float, device=None, dtype=torch.float32) -> torch.Tensor:
    """``[L]``: ``decay**(L-1-col)``, 1 at the last column (the most recent item of a left-padded window)."""
    return decay ** torch.arange(length - 1, -1, -1, device=device, dtype=dtype)


class MotivationAlignedRecommender(Recommender):
    """``s = <h, e> + g * <A m, B t>`` over a Backbone; see the module doc."""

    def __init__(self, backbone: Backbone, traits, masses=None, *, decay: float = DEFAULT_DECAY, rank: int | None = None,
                 gate: str = "user", gate_init: float = 1.0, seed: int = 0):
        super().__init__()
        if not isinstance(backbone, Backbone):
            raise TypeError(f"MotivationAlignedRecommender needs a Backbone (see srsupm_lab.backbones), "
                            f"got {type(backbone).__name__}")
        traits = torch.as_tensor(np.asarray(traits), dtype=torch.float32)
        n_rows = backbone.n_items + 1
        if traits.dim() != 2 or traits.shape[0] != n_rows:
            raise ValueError(f"MotivationAlignedRecommender: traits must have shape [n_items+1={n_rows}, d_t], "
                             f"got {tuple(traits.shape)}")
        masses = torch.ones(n_rows) if masses is None else torch.as_tensor(np.asarray(masses), dtype=torch.float32)
        if tuple(masses.shape) != (n_rows,) or bool((masses < 0).any()) or not bool(torch.isfinite(masses).all()):
            raise ValueError(f"MotivationAlignedRecommender: masses must be {n_rows} finite numbers >= 0, "
                             f"got shape {tuple(masses.shape)}")
        if not (isinstance(decay, (int, float)) and 0 < decay <= 1):
            raise ValueError(f"MotivationAlignedRecommender: decay must be in (0, 1], got {decay!r}")
        if gate not in GATES:
            raise ValueError(f"MotivationAlignedRecommender: gate must be one of {list(GATES)}, got {gate!r}")
        rank = backbone.dim if rank is None else rank
        if not (isinstance(rank, int) and rank >= 1):
            raise ValueError(f"MotivationAlignedRecommender: rank must be a positive integer, got {rank!r}")
        masses = masses.clone()
        masses[0] = 0.0
        traits = traits.clone()
        traits[0] = 0.0
        masses = torch.where(traits.norm(dim=1) > 0, masses, torch.zeros_like(masses))   # no trait, no weight
        self.backbone = backbone
        self.requires = type(self).requires | part(backbone, "requires")        # Caser reads users
        self.n_items = backbone.n_items
        self.decay = float(decay)
        self.gate_kind = gate
        self.register_buffer("traits", traits)                                      # (N+1, d_t), fixed
        self.register_buffer("masses", masses)                                      # (N+1,), fixed
        d_t = traits.shape[1]
        start = torch.randn(max(rank, d_t), min(rank, d_t), generator=torch.Generator().manual_seed(seed))
        q, _ = torch.linalg.qr(start)                                               # orthonormal columns
        init = q if rank >= d_t else q.T                                            # (rank, d_t)
        self.user_map = nn.Parameter(init.clone())                                  # A
        self.item_map = nn.Parameter(init.clone())                                  # B
        self.gate_scale = nn.Parameter(torch.tensor(float(gate_init)))
        if gate == "user":
            self.gate_net = nn.Linear(backbone.dim + d_t, 1)
            nn.init.zeros_(self.gate_net.weight)
            nn.init.zeros_(self.gate_net.bias)

    # ------------------------------------------------------------------ parts of the score
    def motivation(self, inputs: torch.Tensor) -> torch.Tensor:
        """``m [B, d_t]`` of left-padded windows ``inputs [B, L]`` (module doc), L2-normalised (0 if empty)."""
        weights = recency_weights(inputs.shape[1], self.decay, inputs.device, self.traits.dtype)   # (L,)
        weights = weights * self.masses[inputs]                                     # (B, L)
        summed = torch.einsum("bl,bld->bd", weights, self.traits[inputs])           # (B, d_t)
        return F.normalize(summed, dim=1)

    def compatibility(self, m: torch.Tensor) -> torch.Tensor:
        """``c [B, N+1] = (m A^T)(T B^T)^T``; column 0 is 0."""
        return (m @ self.user_map.T) @ (self.traits @ self.item_map.T).T

    def gate(self, h: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """``g [B, 1]`` (module doc)."""
        if self.gate_kind == "scalar":
            return self.gate_scale.expand(h.shape[0], 1)
        return self.gate_scale * 2 * torch.sigmoid(self.gate_net(torch.cat([h, m], dim=1)))

    def _scores(self, h: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return h @ self.backbone.item_table().T + self.gate(h, m) * self.compatibility(m)

    def _check_motivation(self, motivation: torch.Tensor, batch: int) -> torch.Tensor:
        if tuple(motivation.shape) != (batch, self.traits.shape[1]):
            raise ValueError(f"MotivationAlignedRecommender: motivation must have shape "
                             f"({batch}, {self.traits.shape[1]}), got {tuple(motivation.shape)}")
        return F.normalize(motivation.to(self.traits), dim=1)

    # ------------------------------------------------------------------ Recommender protocol
    def score(self, batch, items: torch.Tensor | None = None, motivation: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of every item ``[B, N+1]`` (column 0 = padding), or of the candidates ``items [B, C]``;
        ``motivation [B, d_t]`` overrides ``m``."""
        batch, items = as_batch(batch, items)
        if motivation is not None:
            batch = Batch(batch, motivation=motivation)
        return self.score_items(batch, items)

    def score_all(self, batch: Batch) -> torch.Tensor:
        """Scores of every item ``[B, N+1]``; a ``motivation`` entry of the batch overrides ``m``."""
        inputs, motivation = batch["inputs"], batch.get("motivation")
        h = self.backbone.encode(inputs, batch.get("users"))                        # (B, d)
        m = self.motivation(inputs) if motivation is None else self._check_motivation(motivation, inputs.shape[0])
        return self._scores(h, m)

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Cross-entropy over items 1..N at the target (+ the backbone's auxiliary loss)."""
        where = "MotivationAlignedRecommender.loss"
        missing = [k for k in ("inputs", "targets") if k not in batch]
        if missing:
            raise KeyError(f"{where}: batch lacks {missing}; it has {sorted(batch)}")
        inputs, targets, users = batch["inputs"], batch["targets"], batch.get("users")
        if tuple(targets.shape) != (inputs.shape[0],):
            raise ValueError(f"{where}: targets must have shape ({inputs.shape[0]},) (one target per window; "
                             f"one-pass rows are not supported), got {tuple(targets.shape)}")
        if self.backbone.check_inputs and not bool(((targets >= 1) & (targets <= self.n_items)).all()):
            raise ValueError(f"{where}: targets must be item ids in 1..{self.n_items}, "
                             f"found values in {int(targets.min())}..{int(targets.max())}")
        logits = self.score_all(Batch(inputs=inputs, users=users))[:, 1:]          # (B, N)
        rec = F.cross_entropy(logits, targets - 1)
        aux = self.backbone.auxiliary_loss(inputs, targets, users)
        if aux is None:
            return rec, {"rec": rec.detach()}
        return rec + aux, {"rec": rec.detach(), "aux": aux.detach()}
