"""The SRSUPM plug-in over any backbone and its multi-task objective (method.md §3–§9, Eqs. 5–24).

    h = backbone.encode(S_u)                      §2      (B, d)
    Ẑ = priors(SIC(h))                            §3–§4   (B, K, d)
    s = mixed_scores(Ẑ, E)                        §8      (B, N)
    L = L_rec + λ1·L_PMSID + λ2·L_PMSIM + γ·L_reg  §9

Ablation switches: ``pmsid=False`` (no decomposition loss), ``pmsim=False`` (no matching
loss; both off is the paper's "w/o PMSID & PMSIM"), ``pmi=False`` (mean pooling instead of the
mixed prediction), ``priors=False`` (no level priors).

``level_temperature="learned"`` (a departure from the paper, for study) gives the level softmaxes of
Eq. 9 (α) and Eq. 19 (β) learnable scales of their own instead of 1/√d
(:mod:`srsupm_lab.methods.srsupm.temperature`); ``"fixed"`` (1/√d) is the paper's literal reading, the
package's default is :class:`~srsupm_lab.methods.srsupm.options.SRSUPMOptions`'.

Settings rejected as contradictory (``ValueError``): a loss switched off together with a weight
that is explicitly non-default and positive (``pmsid=False, lambda1=0.7``; ``pmsim=False,
lambda2=0.5``): the weight would be silently ignored. A switched-off loss with its default
weight, the paper's (``PAPER_READINGS``) or 0 is accepted, and its weight is then unused. ``pmsim=True`` with
``pmsid=False`` is allowed (the paper's "w/o PMSID" row); the PMSIM confidences then come from a
shift distribution α that no loss trains directly (only L_rec and L_reg shape Ẑ), so the
sampling is close to uniform within a group; the confidence cache is still refreshed.

**One encoder pass per user** (``one_pass=True``; GRU4Rec, SASRec with ``positions="from_start"``;
method.md §2, §7): :meth:`SRSUPM.training_data` gives one-pass rows and each target cell's window
row; :meth:`SRSUPM.loss_terms` reads a batch of rows as its T windows (``h`` from one pass per length
group, :mod:`.one_pass`) and computes the per-window terms on them (partners, other users' windows,
are still encoded window by window). **Choice:** such a batch holds all the windows of few users,
so ``same_user_negatives="mask"`` (:mod:`~srsupm_lab.methods.srsupm.pmsim`) drops the anchor's own
user's windows from the InfoNCE denominator; it is the default with ``one_pass`` (``None``: "mask"
with one pass, "keep" without, the per-window default unchanged). The per-window path expresses
the same rule: the equivalence tests compare the two (``tests/test_one_pass_srsupm.py``).
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...backbones.base import dropout
from ...families.protocol import Batch, Recommender, part
from ...backbones.prefixes import check_one_pass_backbone, prefix_encodings, prefix_parts, target_cells
from .one_pass import one_pass_windows
from .options import AUGMENTATIONS, SRSUPMOptions, unused_weight_error
from .pmsid import REG_FORMS, consistency_regulariser, decomposition_loss, level_confidence, shift_distribution, shift_logits
from .pmsim import SAME_USER_NEGATIVES, ShiftInformationMatching
from .prediction import mean_scores, mixed_scores
from .sic import LevelPriors, ShiftInformationConstruction
from .temperature import LevelTemperatures

_D = SRSUPMOptions.defaults()
DEFAULT_LAMBDA1 = _D["lambda1"]
DEFAULT_LAMBDA2 = _D["lambda2"]


class SRSUPM(Recommender):
    """Plug-in model following the Recommender protocol (``loss``, ``score``, ``prepare``; :mod:`srsupm_lab.families.protocol`).

    Parameters
    ----------
    backbone : Backbone
        Any backbone of ``srsupm_lab.backbones`` (``encode``, ``item_table``, ``auxiliary_loss``).
    K : int
        Number of shift levels (>= 3), one SIC branch per PMSA level.
    lambda1, lambda2, gamma : float
        Weights of L_PMSID, L_PMSIM, L_reg (>= 0).
    tau : float
        InfoNCE temperature (> 0).
    dropout : float
        Dropout inside the SIC branches.
    pmsid, pmsim, pmi, priors : bool
        Ablation switches (see module doc).
    hidden : int or None
        Inner width of each SIC branch (default ``d``).
    level_temperature : str
        Scale of the α/β logits: ``"fixed"`` (1/√d in Eqs. 9 and 19), ``"unit"`` (1) or
        ``"learned"`` (see :mod:`srsupm_lab.methods.srsupm.temperature`); the paper does not say.
    pmsim_similarity, singletons, false_negatives : str
        PMSIM readings the paper leaves open (:mod:`srsupm_lab.methods.srsupm.pmsim`): ``"cosine"``/``"dot"``,
        ``"self"``/``"drop"``, ``"keep"``/``"mask"``.
    reg_form : str
        Form of L_reg (:mod:`srsupm_lab.methods.srsupm.pmsid`): ``"raw_mean"``, ``"raw_sum"``, ``"normalised_mean"``,
        ``"normalised_sum"``; the paper does not say.
    augmentation : str
        The augmented view of Eq. 15 (the paper: "lightweight model-level augmentation applied to
        the basic view", which it does not specify): ``"encoder_dropout"`` (a second encoder pass
        with fresh dropout) or ``"view_dropout"`` (dropout at rate ``dropout`` on the basic view g
        of the same pass: no extra encoder pass).
    one_pass : bool
        Train on one encoder pass per user (module doc); needs a backbone with ``causal_prefixes``
        and no auxiliary loss.
    same_user_negatives : str or None
        PMSIM's in-batch negatives from the anchor's own user: ``"keep"`` or ``"mask"``
        (:mod:`srsupm_lab.methods.srsupm.pmsim`); None (default) means ``"mask"`` with ``one_pass``
        and ``"keep"`` without (module doc, **Choice**).
    """

    requires = frozenset({"levels"})                # PMSA levels: L_PMSID's labels, PMSIM's groups
    #: the engagement numbers the trainer shows each epoch (:mod:`.engagement`)
    progress_columns = {"alpha_info_share": "α info", "beta_entropy": "β H", "branch_cosine": "cos"}

    def __init__(self, backbone: nn.Module, K: int = 5, lambda1: float = DEFAULT_LAMBDA1,
                 lambda2: float = DEFAULT_LAMBDA2, gamma: float = _D["gamma"], tau: float = _D["tau"],
                 dropout: float = 0.1, pmsid: bool = True, pmsim: bool = True, pmi: bool = True, priors: bool = True,
                 hidden: int | None = None, level_temperature: str = _D["level_temperature"],
                 pmsim_similarity: str = _D["pmsim_similarity"], reg_form: str = _D["reg_form"],
                 augmentation: str = _D["augmentation"], singletons: str = _D["singletons"],
                 false_negatives: str = _D["false_negatives"], one_pass: bool = False,
                 same_user_negatives: str | None = None) -> None:
        super().__init__()
        for name in ("encode", "item_table", "auxiliary_loss"):
            if not callable(getattr(backbone, name, None)):
                raise TypeError(f"SRSUPM: backbone {type(backbone).__name__} has no method {name}(); "
                                f"build one with srsupm_lab.backbones.build_backbone")
        if isinstance(K, bool) or not isinstance(K, int) or K < 3:
            raise ValueError(f"SRSUPM: K must be an integer >= 3 (levels 0, 1..K-2, K-1), got {K!r}")
        for name, value in (("lambda1", lambda1), ("lambda2", lambda2), ("gamma", gamma)):
            if not float(value) >= 0.0:
                raise ValueError(f"SRSUPM: {name} must be >= 0, got {value!r}")
        if not float(tau) > 0.0:
            raise ValueError(f"SRSUPM: tau must be > 0, got {tau!r}")
        if one_pass:
            check_one_pass_backbone(backbone, "SRSUPM")
        if same_user_negatives is None:
            same_user_negatives = "mask" if one_pass else "keep"
        for switch, on, weight, value in (("pmsid", pmsid, "lambda1", lambda1), ("pmsim", pmsim, "lambda2", lambda2)):
            error = unused_weight_error(switch, on, weight, value)
            if error:
                raise ValueError(f"SRSUPM: {error}")
        self.backbone = backbone
        self.requires = type(self).requires | part(backbone, "requires")        # Caser reads users
        self.n_items, self.dim, self.K = int(backbone.n_items), int(backbone.dim), K
        self.lambda1 = float(lambda1) if pmsid else 0.0
        self.lambda2 = float(lambda2) if pmsim else 0.0
        self.gamma, self.tau = float(gamma), float(tau)
        self.use_pmsid, self.use_pmsim, self.use_pmi = bool(pmsid), bool(pmsim), bool(pmi)
        self.sic = ShiftInformationConstruction(self.dim, K, hidden=hidden, dropout=dropout)
        self.priors = LevelPriors(self.dim, K, enabled=priors)
        if reg_form not in REG_FORMS:
            raise ValueError(f"SRSUPM: reg_form must be one of {list(REG_FORMS)}, got {reg_form!r}")
        if augmentation not in AUGMENTATIONS:
            raise ValueError(f"SRSUPM: augmentation must be one of {list(AUGMENTATIONS)}, got {augmentation!r}")
        self.reg_form, self.augmentation = reg_form, augmentation
        self.view_dropout = float(dropout)            # the rate of the "view_dropout" augmentation
        if same_user_negatives not in SAME_USER_NEGATIVES:
            raise ValueError(f"SRSUPM: same_user_negatives must be one of {list(SAME_USER_NEGATIVES)}, "
                             f"got {same_user_negatives!r}")
        self.matching = ShiftInformationMatching(K, tau, pmsim_similarity, singletons, false_negatives,
                                                 same_user_negatives) if pmsim else None
        self.one_pass = bool(one_pass)
        #: the PMSA level of every training window (M,), kept by prepare() for one-pass batches
        self.register_buffer("train_levels", None, persistent=False)
        self.temperatures = LevelTemperatures(self.dim, level_temperature)
        #: score inference passes (no gradients) with the compiled mixture (prediction.mixed_scores,
        #: fused=True): the same scores up to float rounding, faster; speed only, so not a setting
        self.fused_mixture = False

    # ---------------------------------------------------------------- building blocks
    def _shift(self, inputs: torch.Tensor, users: torch.Tensor | None) -> torch.Tensor:
        """Ẑ (B, K, d) for windows ``inputs`` (B, L), in the module's current mode."""
        h = self.backbone.encode(inputs, users)                                   # (B, d)
        return self.priors(self.sic(h))                                           # (B, K, d)

    def _items(self) -> torch.Tensor:
        """Item table rows 1..N (N, d): the candidates (row 0 is padding)."""
        return self.backbone.item_table()[1:]

    def _predict(self, Z: torch.Tensor) -> torch.Tensor:
        """Scores (B, N) over items 1..N: mixed (§8) or mean-pooled (w/o PMI)."""
        if self.use_pmi:
            fused = self.fused_mixture and not torch.is_grad_enabled()            # inference only
            return mixed_scores(Z, self._items(), self.temperatures.beta, fused=fused)
        return mean_scores(Z, self._items())

    @property
    def confidence(self) -> torch.Tensor | None:
        """PMSIM confidence cache (M,) over the prepared training windows, or None."""
        return None if self.matching is None else self.matching.confidence

    # ---------------------------------------------------------------- Recommender protocol
    def prepare(self, train, levels: torch.Tensor) -> None:
        """Build PMSIM groups and the confidence cache from the training ``Windows`` and their levels (M,).

        With ``one_pass`` the levels are kept too (``train_levels``): a one-pass batch reads its
        windows' levels from them by window index.
        """
        device = next(self.parameters()).device
        if self.one_pass:
            self.train_levels = None if levels is None else torch.as_tensor(levels).long().to(device)
        if self.matching is None:
            return
        self.matching.prepare(train.inputs, train.users, train.targets, torch.as_tensor(levels), device=device)

    def training_data(self, train) -> dict[str, torch.Tensor] | None:
        """With ``one_pass``, the trainer's tensors: the one-pass rows of ``train``
        (:func:`~srsupm_lab.data.prefix_rows.prefix_rows`: ``inputs``, ``targets`` ``[R, L]``, ``users``)
        and ``window [R, L]``, the row in ``train`` of the window whose target sits in each cell
        (-1 = none); None without ``one_pass`` (the trainer batches the windows)."""
        if not self.one_pass:
            return None
        from ...data.prefix_rows import prefix_rows
        rows = prefix_rows(train)
        return {**rows.as_batch_data(), "window": rows.window}

    # ---------------------------------------------------------------- one-pass rows (module doc)
    def prefix_outputs(self, inputs: torch.Tensor, targets: torch.Tensor,
                       window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(h [T, d], targets [T], window [T])``: the backbone's encoding of every prefix with a target
        in one-pass rows ``inputs [B, L]`` (target matrix ``targets [B, L]``), its target and its
        window's row in the training ``Windows``, in the order :meth:`loss_terms` uses (length group
        by length group: :mod:`srsupm_lab.backbones.prefixes`), in the module's current mode."""
        parts = prefix_parts(self.backbone, inputs, targets)
        return prefix_encodings(self.backbone, inputs, parts), target_cells(targets, parts), target_cells(window, parts)

    def _one_pass_windows(self, batch: dict[str, torch.Tensor]) -> tuple[list, torch.Tensor, torch.Tensor]:
        """Checks a one-pass batch; ``(parts, targets [T], index [T])`` of its target cells (:mod:`.one_pass`)."""
        return one_pass_windows(self, batch)

    def batch_windows(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The rows in the training ``Windows`` of a batch's windows: ``index [B]`` per window, or for
        one-pass rows the ``window`` of every target cell ``[T]``, in :meth:`loss_terms`' order."""
        if batch["targets"].dim() == 2:
            return self._one_pass_windows(batch)[2]
        return batch["index"].long()

    # ---------------------------------------------------------------- the objective
    def loss_terms(self, batch: dict[str, torch.Tensor], refresh: bool = True) -> tuple[dict, torch.Tensor]:
        """The weighted terms of Eq. 24 and the shift representations they are computed from.

        Returns ``({name: unweighted loss}, views)``: names ``rec`` (L_rec), ``pmsid`` (L_PMSID, when
        on), ``pmsim`` (L_PMSIM, when on), ``reg`` (L_reg) and, for BERT4Rec, ``aux`` (its cloze
        loss); :attr:`weights` gives each one's weight in Eq. 24;
        ``views`` is the SIC output Ẑ of the one encoder pass (the windows, then their PMSIM
        partners and, with ``augmentation="encoder_dropout"``, the windows again), so that
        ``torch.autograd.grad(term, views)`` measures how much each term pulls on Ẑ
        (:mod:`srsupm_lab.methods.srsupm.engagement`). ``refresh=False`` leaves the PMSIM confidence cache as it is
        (for measurements that must not change the training state).

        A batch of one-pass rows (``targets [B, L]`` and ``window [B, L]``, from :meth:`training_data`)
        stands for its T target cells' windows: the same terms over those T windows, with ``h`` from
        one pass over the rows (module doc); a per-window batch has ``targets [B]``, ``levels [B]``
        and ``index [B]``.
        """
        for key in ("inputs", "targets", "users"):
            if key not in batch:
                raise KeyError(f"SRSUPM.loss: batch lacks {key!r} (has {sorted(batch)})")
        if batch["targets"].dim() == 2:
            return self._one_pass_terms(batch, refresh)
        inputs, targets, users = batch["inputs"], batch["targets"], batch["users"]
        B = inputs.shape[0]
        if self.use_pmsid and "levels" not in batch:
            raise KeyError(f"SRSUPM.loss: pmsid=True needs batch['levels'] (PMSA level per window); has {sorted(batch)}")
        if self.use_pmsim:
            if "index" not in batch:
                raise KeyError(f"SRSUPM.loss: pmsim=True needs batch['index'] (row in the training Windows); "
                               f"has {sorted(batch)}")
            index = batch["index"].long()
            self.matching.check_index(index)
            if inputs.shape[1] != self.matching.inputs.shape[1]:
                raise ValueError(f"SRSUPM.loss: batch windows have length {inputs.shape[1]} but the prepared "
                                 f"training windows have {self.matching.inputs.shape[1]}")

        if self.use_pmsim:
            partner = self.matching.sample(index)                                  # (B,)
            rows, row_users = [inputs, self.matching.inputs[partner]], [users, self.matching.users[partner]]
            if self.augmentation == "encoder_dropout":
                # the windows once more: dropout masks are drawn per row, so this third block is the
                # windows' augmented view (a second pass with fresh dropout)
                rows, row_users = rows + [inputs], row_users + [users]
            views = self._shift(torch.cat(rows), torch.cat(row_users))            # (2B or 3B, K, d)
            Z, Z_partner = views[:B], views[B:2 * B]                               # (B, K, d) each
            if self.augmentation == "encoder_dropout":
                g_aug = views[2 * B:].sum(dim=1)                                   # (B, d)
            else:                                                                  # lightweight: dropout on g
                g_aug = dropout(Z.sum(dim=1), self.view_dropout, self.training)    # (B, d)
        else:
            views = Z = self._shift(inputs, users)                                 # (B, K, d)

        matched = (index, partner, Z_partner, g_aug) if self.use_pmsim else None
        terms = self._terms(Z, targets, batch.get("levels"), matched, refresh)
        aux = self.backbone.auxiliary_loss(inputs, targets, users)
        if aux is not None:                                                       # BERT4Rec's cloze loss
            terms["aux"] = aux
        return terms, views

    def _one_pass_terms(self, batch: dict[str, torch.Tensor], refresh: bool) -> tuple[dict, torch.Tensor]:
        """:meth:`loss_terms` of a batch of one-pass rows: the per-window terms of its T target cells' windows."""
        inputs = batch["inputs"]
        parts, targets, index = self._one_pass_windows(batch)
        T = index.shape[0]
        levels = self.train_levels[index] if self.use_pmsid else None            # (T,)
        if self.use_pmsim:
            self.matching.check_index(index)
            if inputs.shape[1] != self.matching.inputs.shape[1]:
                raise ValueError(f"SRSUPM.loss: batch rows have length {inputs.shape[1]} but the prepared "
                                 f"training windows have {self.matching.inputs.shape[1]}")
            partner = self.matching.sample(index)                                 # (T,) drawn as per window
            hs = [prefix_encodings(self.backbone, inputs, parts),                                  # (T, d) the windows, one pass
                  self.backbone.encode(self.matching.inputs[partner], self.matching.users[partner])]  # (T, d)
            if self.augmentation == "encoder_dropout":
                hs.append(prefix_encodings(self.backbone, inputs, parts))                          # fresh dropout masks
            views = self.priors(self.sic(torch.cat(hs)))                          # (2T or 3T, K, d)
            Z, Z_partner = views[:T], views[T:2 * T]
            if self.augmentation == "encoder_dropout":
                g_aug = views[2 * T:].sum(dim=1)                                  # (T, d)
            else:
                g_aug = dropout(Z.sum(dim=1), self.view_dropout, self.training)   # (T, d)
            matched = (index, partner, Z_partner, g_aug)
        else:
            views = Z = self.priors(self.sic(prefix_encodings(self.backbone, inputs, parts)))      # (T, K, d)
            matched = None
        return self._terms(Z, targets, levels, matched, refresh), views

    def _terms(self, Z: torch.Tensor, targets: torch.Tensor, levels: torch.Tensor | None, matched: tuple | None,
               refresh: bool) -> dict[str, torch.Tensor]:
        """L_rec, L_PMSID, L_PMSIM, L_reg of windows with shift representations ``Z [B, K, d]``.

        ``matched`` is ``(index [B], partner [B], Z_partner [B, K, d], g_aug [B, d])`` with PMSIM on.
        """
        terms = {"rec": F.cross_entropy(self._predict(Z), targets - 1)}           # items 1..N -> classes 0..N-1
        e_v = self.backbone.item_table()[targets]                                 # (B, d)
        logits = shift_logits(Z, e_v, self.temperatures.alpha)                   # (B, K)
        if self.use_pmsid:
            terms["pmsid"] = decomposition_loss(logits, levels)
        if self.use_pmsim:
            index, partner, Z_partner, g_aug = matched
            if refresh:
                levels = self.matching.levels[index]                              # (B,) partner shares it
                self.matching.refresh(index, level_confidence(logits, levels))
                partner_logits = shift_logits(Z_partner, e_v, self.temperatures.alpha)  # (B, K) same target
                self.matching.refresh(partner, level_confidence(partner_logits, levels))
            terms["pmsim"] = self.matching.loss(g_aug, Z_partner.sum(dim=1), index)  # g = Σ_k ẑ_k
        terms["reg"] = consistency_regulariser(Z, self.reg_form)
        return terms

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(L, parts)`` with L = L_rec + λ1 L_PMSID + λ2 L_PMSIM + γ L_reg (Eq. 24).

        ``parts`` holds the unweighted losses (``rec``, ``pmsid``, ``pmsim``, ``reg``, and ``aux``
        for BERT4Rec); a switched-off loss reports 0.
        """
        terms, _ = self.loss_terms(batch)
        weights = self.weights
        total = sum(weights[name] * value for name, value in terms.items())
        zero = terms["rec"].new_zeros(())
        parts = {name: terms[name].detach() if name in terms else zero for name in ("rec", "pmsid", "pmsim", "reg")}
        if "aux" in terms:
            parts["aux"] = terms["aux"].detach()
        return total, parts

    @property
    def weights(self) -> dict[str, float]:
        """The weight of each loss term in Eq. 24 (``rec`` and BERT4Rec's ``aux`` weigh 1)."""
        return {"rec": 1.0, "pmsid": self.lambda1, "pmsim": self.lambda2, "reg": self.gamma, "aux": 1.0}

    def score_all(self, batch: Batch) -> torch.Tensor:
        """Full-ranking scores (B, N+1); column 0 (padding) is -inf."""
        s = self._predict(self._shift(batch["inputs"], batch.get("users")))      # (B, N)
        return F.pad(s, (1, 0), value=float("-inf"))                              # (B, N+1)

    def epoch_diagnostics(self, valid, valid_levels, batch: dict | None) -> dict[str, float]:
        """The engagement numbers of :mod:`~srsupm_lab.methods.srsupm.engagement` (the trainer's ``eng_*``
        columns): on validation windows, and ``batch`` (a fixed training batch) for the gradient shares."""
        from .engagement import measure
        return measure(self, valid, valid_levels, batch=batch)

    # ---------------------------------------------------------------- analysis hooks (eval mode, no grad)
    @contextmanager
    def _evaluating(self):
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.train(was_training)

    def shift_representations(self, inputs: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        """Ẑ (B, K, d)."""
        with self._evaluating():
            return self._shift(inputs, users)

    def shift_distribution(self, inputs: torch.Tensor, users: torch.Tensor | None, targets: torch.Tensor) -> torch.Tensor:
        """α (B, K) of each window towards its target (Eq. 9)."""
        with self._evaluating():
            Z = self._shift(inputs, users)
            return shift_distribution(Z, self.backbone.item_table()[targets], self.temperatures.alpha)

    def basic_view(self, inputs: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        """g = Σ_k ẑ_k (B, d) (Eq. 15)."""
        with self._evaluating():
            return self._shift(inputs, users).sum(dim=1)
