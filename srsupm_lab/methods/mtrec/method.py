"""The method ``mtrec``: a recommender aligned with users' mental reward (MTRec, Algorithm 2; docs/mtrec_method.md).

Two stages, not alternating (mtrec.md §3):

1. In ``prepare`` (before the first epoch), the mental reward model ``Q_λ``
   (:class:`~srsupm_lab.methods.mtrec.reward_model.RewardModel`, the backbone's own architecture with
   separate weights and an |A|×N quantile head) is trained on the training windows by QR-IQL
   (``reward="qr_iql"``) or by non-distributional IQ-Learn (``reward="irl"``, N = 1: the paper's
   "IRL" ablation), then frozen; or, ``reward="oracle"`` (an upper bound, not MTRec), no model at
   all: the dataset's true satisfaction stands for ``r*`` (below). ``r*(s, a)`` for every training window's target and its fixed
   sampled negatives is computed once in batched passes and kept (a cache: checkpoints store it,
   so a resumed run aligns with the same rewards). The reward model itself is not part of the
   recommender's weights and is dropped afterwards.
2. The recommender (the backbone, ``<h_u, e_i>`` over all items) trains with its cross-entropy
   plus ``β · L_align``: for the target and each negative ``c`` of a window,
   ``L_align = −mean(F(c)·r*(s_c, a_P) + (1 − F(c))·r*(s_c, a_N))`` with ``F = σ(score)``
   (:func:`~srsupm_lab.methods.mtrec.align.align_loss`; ``r*`` z-scored over the training set).

**The oracle** (an upper bound; the paper has none): on a world that records the
true satisfaction (``synthetic-clickbait``, :mod:`srsupm_lab.data.satisfaction_world`),
``r*(s_c, a_P)`` is the satisfaction of taking candidate ``c``: for the target, the interaction's
realised satisfaction (``meta["satisfaction"]`` at the window's step,
:func:`~srsupm_lab.data.satisfaction_world.window_satisfaction`); for a sampled negative ``j``, never
taken, its expected satisfaction ``satisfaction_table[m, j]`` at the window's true motivation ``m``;
``r*(s_c, a_N) = 0`` (a skip satisfies nothing, in that world's story). Any other dataset is refused
in one line. Then ``r_P − r_N > 0`` for every candidate, clickbait too, and with ``F = σ(score)`` the
alignment is served by raising every score: that oracle cannot move what it should (a positive
control that fails). The working control: ``oracle_outside="mean"`` gives the skip the value of an
outside option, ``r*(s_c, a_N) = `` the mean satisfaction of the catalogue at the window's
motivation, so ``r_P − r_N`` is negative for items worse than a random one (clickbait); and
``response="listwise"`` (:func:`~srsupm_lab.methods.mtrec.align.response_probability`) makes the
term invariant to a per-user shift of the scores.

Every reading the paper leaves open is an option below (the paper does not say any but N = 10 and
α = 0.5; docs/mtrec_method.md §7 lists them); β and the reward model's budget are not yet chosen on
validation data.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..base import Method, MethodOptions, option
from ..none import BackboneRecommender
from .align import NORMALISATIONS, RESPONSES, align_loss, normalise_rewards, response_probability, reward_stats
from .iql import SIGNS, STOP_GRADS, U2_FORMS, U2_WEIGHTS
from .reward_model import BATCHES, NEGATIVE_NEXT, STATES, TERMINALS

__all__ = ["MTRecMethod", "MTRecOptions", "MTRecRecommender", "REWARDS"]

#: how the mental reward is learned: MTRec's distributional QR-IQL, IQ-Learn with one atom (the "IRL" ablation),
#: or not learned: the true satisfaction of a world that records it (the upper bound)
REWARDS = ("qr_iql", "irl", "oracle")
#: the oracle's value of a skip: nothing, or the mean satisfaction of the catalogue at the motivation
ORACLE_OUTSIDE = ("zero", "mean")


@dataclass
class MTRecOptions(MethodOptions):
    """The options of the method ``mtrec`` (mtrec.md; ``N`` and ``α`` are the paper's, the rest our readings)."""

    method = "mtrec"

    reward: str = option("qr_iql", "stage 1: qr_iql (MTRec) | irl (non-distributional IQ-Learn, N=1: the paper's "
                                   "ablation) | oracle (the true satisfaction: synthetic-clickbait only)", REWARDS)
    n_quantiles: int = option(10, "stage 1: quantile atoms N per action (the paper: 10; irl uses 1)")
    alpha: float = option(0.5, "stage 1: the χ² regulariser ψ(x) = x − x²/(4α) (the paper: 0.5)")
    gamma: float = option(0.99, "stage 1: discount of V*(s') (the paper does not say; IQ-Learn's 0.99)")
    reward_epochs: int = option(2, "stage 1: epochs of the reward model over the training windows")
    reward_lr: float = option(0.001, "stage 1: Adam learning rate of the reward model")
    reward_batch_size: int = option(256, "stage 1: windows per batch of the reward model (the paper does not say)")
    reward_batches: str = option("windows", "stage 1: windows (a random permutation of windows; V*(s') in a second "
                                            "encoder pass) | users (whole users per batch, one encoder pass; the "
                                            "paper does not say)", BATCHES)
    state: str = option("pair", "stage 1: how s = (h, i) enters Q_λ: pair (Enc(h) with e_i) | append (Enc(h + [i])) "
                                "(the paper does not say)", STATES)
    negative_next: str = option("positive", "stage 1: s' of a skipped item: positive (the target's state) | "
                                            "logged_next | terminal (the paper does not say)", NEGATIVE_NEXT)
    terminal: str = option("zero", "stage 1: V*(s') at a user's last training window: zero (IQ-Learn) | self "
                                   "(V*(s), a truncation) (the paper does not say)", TERMINALS)
    monotone: bool = option(False, "stage 1: quantile heads constrained to ascend (the paper does not say)")
    temperature: float = option(1.0, "stage 1: soft-value temperature T of V* = T logsumexp(Q/T) (the paper's "
                                     "formulas imply 1)")
    stop_grad: str = option("none", "stage 1: detach V*(s') (next) or V*(s) and V*(s') (both) in the loss (the "
                                    "paper does not say)", STOP_GRADS)
    sign: str = option("target_minus_pred", "stage 1, qr_iql: sign of the pinball residuals (the paper does not "
                                            "say; heads reversed only)", SIGNS)
    u2_form: str = option("pinball", "stage 1, qr_iql: loss of the second error u2: pinball (the paper's) | "
                                     "squared (the reduction's)", U2_FORMS)
    u2_weight: str = option("alpha", "stage 1, qr_iql: weight of the u2 term: alpha (1/(4α)) | one (the paper "
                                     "does not say)", U2_WEIGHTS)
    n_negatives: int = option(1, "sampled negatives (skipped items, a_N) per window, fixed once")
    beta: float = option(1.0, "stage 2: weight β of L_align (the paper does not say)")
    normalise: str = option("zscore", "r* before L_align: z-scored over the training set | none", NORMALISATIONS)
    response: str = option("sigmoid", "F(i|h) for L_align: sigmoid of the score | softmax over items | listwise "
                                      "(softmax over the window's candidates: invariant to a per-user score shift)",
                           RESPONSES)
    oracle_outside: str = option("zero", "reward=oracle: the skip's value r*(s, a_N): zero | mean (the catalogue's "
                                         "mean satisfaction at the window's motivation, an outside option)",
                                 ORACLE_OUTSIDE)

    def check(self) -> None:
        for name in ("n_quantiles", "reward_epochs", "n_negatives", "reward_batch_size"):
            if getattr(self, name) < 1:
                self.fail(name, "must be a positive integer")
        if not 0.0 <= self.gamma <= 1.0:
            self.fail("gamma", "must lie in [0, 1]")
        for name in ("alpha", "reward_lr", "temperature"):
            if getattr(self, name) <= 0:
                self.fail(name, "must be > 0")
        if self.beta < 0:
            self.fail("beta", "must be >= 0")
        if self.oracle_outside != "zero" and self.reward != "oracle":
            self.fail("oracle_outside", f"applies to reward='oracle' only (reward is {self.reward!r})")


class MTRecRecommender(BackboneRecommender):
    """The backbone's recommender with MTRec's alignment term; ``prepare`` runs stage 1 (module doc)."""

    def __init__(self, backbone, reward_backbone, options: dict, seed: int = 0, dataset=None):
        super().__init__(backbone, loss="ce")
        self.options, self.seed = {**MTRecOptions.defaults(), **options}, int(seed)
        self._reward_backbone = [reward_backbone]           # a list: not a submodule, not in state_dict()
        self._dataset = [dataset]                           # the oracle's truth (a list: not module state)
        # r* [M, 1 + K, 2] of the prepared training windows: a cache checkpoints keep (float, non-persistent)
        k = self.options["n_negatives"]
        self.register_buffer("rewards", torch.zeros(0, 1 + k, 2), persistent=False)
        self.register_buffer("negatives", torch.zeros(0, k, dtype=torch.long), persistent=False)
        self.reward_losses: list[float] = []

    def prepare(self, train, levels=None) -> None:
        """Stage 1: train the reward model on ``train`` (Windows), then ``r*`` of every window, once."""
        from .reward_model import RewardModel, next_window_index, sample_negatives, train_reward_model
        o = self.options
        irl = o["reward"] == "irl"
        device = next(self.parameters()).device
        g = torch.Generator().manual_seed(self.seed)
        negatives = sample_negatives(train.targets, self.n_items, o["n_negatives"], generator=g)   # (M, K)
        r = None                                                                        # r* (M, 1 + K, 2)
        if o["reward"] == "oracle":
            r = oracle_rewards(self._dataset[0], train, negatives, outside=o["oracle_outside"])
        elif self._reward_backbone:
            nxt = next_window_index(train.inputs, train.targets, train.users)
            windows, nxt, negatives = train.to(device), nxt.to(device), negatives.to(device)
            model = RewardModel(self._reward_backbone[0], n_quantiles=1 if irl else o["n_quantiles"],
                                gamma=o["gamma"], temperature=o["temperature"], state=o["state"],
                                negative_next=o["negative_next"], terminal=o["terminal"],
                                monotone=o["monotone"]).to(device)
            losses = {"alpha": o["alpha"], "stop_grad": o["stop_grad"]}
            if not irl:
                losses.update(sign=o["sign"], u2_form=o["u2_form"], u2_weight=o["u2_weight"])
            self.reward_losses = train_reward_model(
                model, windows, epochs=o["reward_epochs"], batch_size=o["reward_batch_size"], lr=o["reward_lr"],
                next_index=nxt, negatives=negatives, objective="iq_learn" if irl else "qr_iql", seed=self.seed,
                batches=o["reward_batches"], **losses)
            r = model.rewards(windows, next_index=nxt, negatives=negatives)
        if r is not None:
            self.rewards = normalise_rewards(r, reward_stats(r, o["normalise"])).float().to(device)
            self._reward_backbone.clear()                   # frozen and used: the reward model goes
        self.negatives = negatives.to(device)

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``L_CE + β·L_align`` on the batch's windows (``batch["index"]``: their rows in the prepared windows)."""
        if "index" not in batch or self.rewards.shape[0] == 0:
            raise KeyError("MTRecRecommender.loss: needs batch['index'] and prepare(train) first (stage 1)")
        inputs, targets, users, index = batch["inputs"], batch["targets"], batch["users"], batch["index"].long()
        h = self.backbone.encode(inputs, users)                                          # (B, d)
        scores = h @ self.backbone.item_table().T                                       # (B, N+1), once
        rec = F.cross_entropy(scores[:, 1:], targets - 1)                               # L_CE over items 1..N
        items = torch.cat([targets[:, None], self.negatives[index]], dim=1)             # (B, 1 + K)
        prob = response_probability(scores, items, self.options["response"])           # (B, 1 + K)
        align = align_loss(prob, self.rewards[index], beta=1.0)
        return rec + self.options["beta"] * align, {"rec": rec.detach(), "align": align.detach()}


def oracle_rewards(dataset, windows, negatives: torch.Tensor, outside: str = "zero") -> torch.Tensor:
    """The oracle's ``r* [M, 1 + K, 2]`` (module doc): ``[:, 0, a_P]`` the target's realised satisfaction,
    ``[:, k, a_P]`` the expected satisfaction of negative ``k`` at the window's motivation; ``[..., a_N]`` 0
    (``outside="zero"``) or the mean of ``satisfaction_table[m, 1:]`` at the window's motivation ``m`` ("mean")."""
    from ...data.satisfaction_world import window_satisfaction
    if outside not in ORACLE_OUTSIDE:
        raise ValueError(f"oracle_rewards: outside must be one of {ORACLE_OUTSIDE}, got {outside!r}")
    truth = window_satisfaction(dataset, windows)                                    # (M,) each
    table = torch.as_tensor(dataset.meta["satisfaction_table"], dtype=torch.float64)  # (n_motivations, N+1)
    taken = torch.cat([truth["satisfaction"][:, None], table[truth["motivation"][:, None], negatives.cpu()]], 1)
    skip = torch.zeros_like(taken)                                                   # (M, 1 + K)
    if outside == "mean":
        skip = skip + table[:, 1:].mean(dim=1)[truth["motivation"]][:, None]          # column 0 is padding
    return torch.stack([taken, skip], dim=-1)                                        # (M, 1 + K, 2)


class MTRecMethod(Method):
    """MTRec: a mental reward learned by distributional inverse RL, the recommender aligned with it."""

    name = "mtrec"
    summary = "MTRec: the users' mental reward learned by QR-IQL, the recommender aligned with it (β·L_align)"
    Options = MTRecOptions

    def build(self, backbone, config, dataset) -> nn.Module:
        from ...backbones import build_backbone
        reward_backbone = build_backbone(config.backbone, dataset.n_items, n_users=dataset.n_users, dim=config.dim,
                                         max_len=config.max_len, **config.backbone_options)
        if config.method_options.get("reward") == "oracle" and "satisfaction" not in getattr(dataset, "meta", {}):
            raise ValueError(f"method_options.reward='oracle' (method 'mtrec'): needs a dataset that records the true "
                             f"satisfaction (meta['satisfaction']: synthetic-clickbait); dataset {dataset.name!r} has none")
        return MTRecRecommender(backbone, reward_backbone, config.method_options, seed=config.seed, dataset=dataset)

    def label(self, backbone: str) -> str:
        return f"MTRec+{backbone}"
