"""Shift information matching (method.md §7 / Eqs. 11–18): similar-window groups, confidence cache, sampling, InfoNCE.

* **Groups (Eq. 11).** Training windows sharing (target, level) form one group. They are
  found once, vectorised: sort the windows by the key ``target·K + level`` and cut the sorted
  order where the key changes (CSR layout: ``order`` lists window ids group after group,
  ``offsets[g]:offsets[g+1]`` is group ``g``'s slice of ``order``).
* **Confidence (Eqs. 12–13).** ``c(u) = α_{level(u)}(u)`` kept in a per-window cache,
  initialised to ``1/K`` and refreshed (no grad) whenever a window's α is computed.
* **Sampling (Eq. 14).** For a whole batch at once, draw ``u' ∈ N(u) = group(u) \\ {u}`` with
  probability ``c(u') / Σ_{N(u)} c`` by an exact segment-wise inverse CDF: one float64
  cumulative sum of the confidences in group order; for row ``u`` a uniform number in
  ``[0, Σ_{N(u)} c)`` is placed in its group's range of that cumulative sum, stepping over
  ``u``'s own interval, and ``torch.searchsorted`` returns the window whose interval holds it.
  An empty ``N(u)`` (a group of one) gives ``u' = u``. The cumulative sum costs O(M) per call
  (M = number of training windows), trivial next to a forward pass.
* **Loss (Eqs. 16–18).** InfoNCE with in-batch negatives and temperature ``τ``. Three readings
  the paper leaves open are settings (**the paper does not say**):

  - ``similarity``: ``"cosine"`` (the paper's "normalized inner-product similarity"; the logits
    lie in ±1/τ, so τ = 1 keeps the loss near its chance level log B) or ``"dot"`` (the raw
    inner product, scaled by 1/τ);
  - ``singletons``: a window alone in its (target, level) group has no partner; ``"self"`` pairs
    it with itself (u' = u, the augmented view must then find its own basic view) and
    ``"drop"`` leaves it out of the loss;
  - ``false_negatives``: an in-batch negative whose window shares the anchor's (target, level)
    group is a positive by Eq. 11; ``"keep"`` counts it as a negative (plain InfoNCE) and
    ``"mask"`` removes it from the denominator;
  - ``same_user_negatives``: an in-batch negative whose window belongs to the anchor's user
    (another prefix of the same sequence, which the one-pass batches of
    :class:`~srsupm_lab.methods.srsupm.model.SRSUPM` hold by the user's whole history);
    ``"keep"`` counts it (plain InfoNCE, the default) and ``"mask"`` removes it from the
    denominator, so that an anchor is never asked to tell its partner from the partners of its
    own user's neighbouring windows (method.md §7, **Choice**).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

#: Confidences are floored here so that every candidate keeps a non-empty interval.
MIN_CONFIDENCE = 1e-6
SIMILARITIES = ("cosine", "dot")
SINGLETONS = ("self", "drop")
FALSE_NEGATIVES = ("keep", "mask")
SAME_USER_NEGATIVES = ("keep", "mask")


def build_groups(targets: torch.Tensor, levels: torch.Tensor, K: int) -> dict[str, torch.Tensor]:
    """CSR groups of windows sharing (target, level) (Eq. 11), without a Python loop.

    Returns ``order`` (M,) window ids sorted by group, ``offsets`` (G+1,) group boundaries in
    ``order``, ``group`` (M,) each window's group id and ``position`` (M,) each window's place
    in ``order``.
    """
    M = targets.shape[0]
    key = targets.long() * K + levels.long()                                   # (M,)
    order = torch.argsort(key, stable=True)                                    # (M,) grouped window ids
    _, counts = torch.unique_consecutive(key[order], return_counts=True)       # (G,)
    offsets = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])        # (G+1,)
    group = torch.empty(M, dtype=torch.long, device=targets.device)
    group[order] = torch.repeat_interleave(torch.arange(counts.shape[0], device=targets.device), counts)
    position = torch.empty(M, dtype=torch.long, device=targets.device)
    position[order] = torch.arange(M, device=targets.device)
    return {"order": order, "offsets": offsets, "group": group, "position": position}


def info_nce(anchor: torch.Tensor, positive: torch.Tensor, tau: float, similarity: str = "cosine",
             keep: torch.Tensor | None = None, group: torch.Tensor | None = None,
             user: torch.Tensor | None = None) -> torch.Tensor:
    """InfoNCE (Eqs. 16–18): row ``b`` of ``anchor`` (B, d) must pick row ``b`` of ``positive`` (B, d).

    ``similarity`` is ``"cosine"`` or ``"dot"`` (module doc). ``keep`` (B,) bool, if given, selects
    the anchors that enter the mean (the others are left out; all rows still serve as negatives).
    ``group`` (B,) int, if given, masks the false negatives: column ``j ≠ b`` is dropped from row
    ``b``'s denominator when ``group[j] == group[b]``. ``user`` (B,) int, if given, masks the
    same-user negatives the same way (column ``j ≠ b`` dropped when ``user[j] == user[b]``). With no
    anchor kept the loss is 0.
    """
    if anchor.shape != positive.shape or anchor.dim() != 2:
        raise ValueError(f"info_nce: expected two (B, d) tensors, got {tuple(anchor.shape)} and {tuple(positive.shape)}")
    if similarity not in SIMILARITIES:
        raise ValueError(f"info_nce: similarity must be one of {list(SIMILARITIES)}, got {similarity!r}")
    a, p = (F.normalize(anchor, dim=1), F.normalize(positive, dim=1)) if similarity == "cosine" else (anchor, positive)
    logits = a @ p.t() / tau                                                   # (B, B) sim / τ
    B = a.shape[0]
    if group is not None:
        same = (group.view(-1, 1) == group.view(1, -1)) & ~torch.eye(B, dtype=torch.bool, device=a.device)
        logits = logits.masked_fill(same, float("-inf"))                       # false negatives out
    if user is not None:
        mine = (user.view(-1, 1) == user.view(1, -1)) & ~torch.eye(B, dtype=torch.bool, device=a.device)
        logits = logits.masked_fill(mine, float("-inf"))                       # same-user negatives out
    losses = F.cross_entropy(logits, torch.arange(B, device=a.device), reduction="none")   # (B,)
    if keep is None:
        return losses.mean()
    keep = keep.to(losses.dtype)
    return (losses * keep).sum() / keep.sum().clamp_min(1.0)


class ShiftInformationMatching(nn.Module):
    """Holds the training windows, their groups and confidence cache; samples supervised partners.

    All state is a non-persistent buffer: it follows ``.to(device)`` but is not saved in a
    ``state_dict`` (it is rebuilt by :meth:`prepare` before training).
    """

    _STATE = ("inputs", "users", "targets", "levels", "order", "offsets", "group", "position", "confidence")

    def __init__(self, K: int, tau: float = 1.0, similarity: str = "cosine", singletons: str = "self",
                 false_negatives: str = "keep", same_user_negatives: str = "keep") -> None:
        super().__init__()
        for name, value, allowed in (("similarity", similarity, SIMILARITIES), ("singletons", singletons, SINGLETONS),
                                     ("false_negatives", false_negatives, FALSE_NEGATIVES),
                                     ("same_user_negatives", same_user_negatives, SAME_USER_NEGATIVES)):
            if value not in allowed:
                raise ValueError(f"PMSIM: {name} must be one of {list(allowed)}, got {value!r}")
        self.K, self.tau = K, float(tau)
        self.similarity, self.singletons, self.false_negatives = similarity, singletons, false_negatives
        self.same_user_negatives = same_user_negatives
        for name in self._STATE:
            self.register_buffer(name, None, persistent=False)

    @property
    def prepared(self) -> bool:
        return self.confidence is not None

    def __len__(self) -> int:
        return 0 if self.targets is None else int(self.targets.shape[0])

    def prepare(self, inputs: torch.Tensor, users: torch.Tensor, targets: torch.Tensor, levels: torch.Tensor,
                device: torch.device | str | None = None) -> None:
        """Store the training windows (the supervised views are drawn from them) and build the groups."""
        M = targets.shape[0]
        if inputs.dim() != 2 or inputs.shape[0] != M or users.shape != (M,) or levels.shape != (M,):
            raise ValueError(f"PMSIM prepare: inputs (M, L), users (M,), targets (M,), levels (M,) must agree, got "
                             f"{tuple(inputs.shape)}, {tuple(users.shape)}, {tuple(targets.shape)}, {tuple(levels.shape)}")
        if M == 0:
            raise ValueError("PMSIM prepare: the training windows are empty")
        if levels.dtype.is_floating_point or int(levels.min()) < 0 or int(levels.max()) >= self.K:
            raise ValueError(f"PMSIM prepare: levels must be integers in 0..{self.K - 1}")
        device = targets.device if device is None else device
        self.inputs, self.users = inputs.long().to(device), users.long().to(device)
        self.targets, self.levels = targets.long().to(device), levels.long().to(device)
        for name, value in build_groups(self.targets, self.levels, self.K).items():
            setattr(self, name, value)
        self.confidence = torch.full((M,), 1.0 / self.K, device=device)

    def _require(self) -> None:
        if not self.prepared:
            raise RuntimeError("PMSIM: call prepare(train, levels) before training (no training windows known)")

    def check_index(self, index: torch.Tensor) -> None:
        self._require()
        if index.dim() != 1 or index.dtype.is_floating_point:
            raise ValueError(f"PMSIM: index must be a 1-D integer tensor, got {tuple(index.shape)} {index.dtype}")
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= len(self)):
            raise ValueError(f"PMSIM: index must lie in 0..{len(self) - 1} (rows of the prepared training windows)")

    def members(self, window: int) -> torch.Tensor:
        """All window ids of ``window``'s group (itself included), in group order."""
        self._require()
        g = int(self.group[window])
        return self.order[self.offsets[g]:self.offsets[g + 1]]

    @torch.no_grad()
    def refresh(self, index: torch.Tensor, confidence: torch.Tensor) -> None:
        """Write fresh ``α_level`` values (B,) for windows ``index`` (B,) into the cache (Eq. 13)."""
        self._require()
        self.confidence[index] = confidence.detach().to(self.confidence.dtype).clamp_min(MIN_CONFIDENCE)

    @torch.no_grad()
    def sample(self, index: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Partners ``u'`` (B,) for windows ``index`` (B,), ``u' ∈ N(u)`` with prob. ∝ ``c(u')`` (Eq. 14)."""
        self._require()
        index = index.long().to(self.order.device)
        c = self.confidence[self.order].double()                              # (M,) in group order
        cum = torch.cumsum(c, 0)                                              # (M,) cum[j] = Σ c[:j+1]
        cum0 = torch.cat([cum.new_zeros(1), cum])                             # (M+1,) cum0[j] = Σ c[:j]
        g = self.group[index]                                                 # (B,)
        start, end = self.offsets[g], self.offsets[g + 1]                     # (B,), (B,)
        pos = self.position[index]                                            # (B,) own place
        own = c[pos]                                                          # (B,) own interval width
        total = cum0[end] - cum0[start] - own                                 # (B,) Σ_{N(u)} c
        r = torch.rand(index.shape[0], dtype=torch.float64, device=c.device, generator=generator)
        x = cum0[start] + r * total                                           # (B,) point in group range
        x = torch.where(x >= cum0[pos], x + own, x)                           # (B,) step over own interval
        j = torch.searchsorted(cum, x, right=True)                            # (B,) interval holding x
        j = torch.minimum(torch.maximum(j, start), end - 1)                   # (B,) rounding guard
        # rounding guard: should x land in the own interval, take a neighbour inside the group
        j = torch.where(j == pos, torch.where(pos > start, pos - 1, pos + 1), j)
        alone = (end - start) == 1                                            # (B,) N(u) empty
        return torch.where(alone, index, self.order[torch.where(alone, pos, j)])

    def alone(self, index: torch.Tensor) -> torch.Tensor:
        """(B,) bool: the windows ``index`` whose (target, level) group holds only themselves (N(u) empty)."""
        self._require()
        g = self.group[index.long()]
        return (self.offsets[g + 1] - self.offsets[g]) == 1

    def loss(self, g_aug: torch.Tensor, g_sup: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """``L_PMSIM``: InfoNCE between augmented views (B, d) and supervised views (B, d).

        ``index`` (B,), the windows' rows in the prepared training windows, is needed by
        ``singletons="drop"``, ``false_negatives="mask"`` and ``same_user_negatives="mask"`` (module doc).
        """
        keep = group = user = None
        if self.singletons == "drop" or self.false_negatives == "mask" or self.same_user_negatives == "mask":
            if index is None:
                raise ValueError("PMSIM loss: singletons='drop' / false_negatives='mask' / same_user_negatives='mask' "
                                 "need the windows' index")
            index = index.long()
            if self.singletons == "drop":
                keep = ~self.alone(index)
            if self.false_negatives == "mask":
                group = self.group[index]
            if self.same_user_negatives == "mask":
                user = self.users[index]
        return info_nce(g_aug, g_sup, self.tau, self.similarity, keep=keep, group=group, user=user)

    def candidates(self, index: torch.Tensor) -> torch.Tensor:
        """(B,) how many columns enter each anchor's InfoNCE denominator (its partner included) for
        windows ``index``: B, less the anchor's same-user windows when ``same_user_negatives="mask"``
        (``log`` of it is the loss's chance value; the false-negative mask is not counted)."""
        index = index.long()
        B = index.shape[0]
        if self.same_user_negatives != "mask":
            return torch.full((B,), B, dtype=torch.long, device=index.device)
        user = self.users[index]
        return B - (user.view(-1, 1) == user.view(1, -1)).sum(dim=1) + 1
