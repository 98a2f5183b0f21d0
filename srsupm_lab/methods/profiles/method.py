"""The method ``profiles``: motivation profiles from item text, fused with the backbone (M-LLM³Rec's idea, rebuilt).

Builds :class:`~srsupm_lab.methods.profiles.mar.MotivationAlignedRecommender` over the config's
backbone. Its item traits come from MOTE (:class:`~srsupm_lab.methods.profiles.mote.TfidfSvdEncoder`)
fitted on the texts of the items that appear in the **training** part of the sequences only (every
user's items but her last two: the leave-one-out split's training windows), applied to every
item's text (:func:`srsupm_lab.data.item_text.dataset_item_texts`). The motivation of a window is
MOPE's offline profile of its own items, embedded in the same space (:mod:`.mar`, exact for the
TF-IDF encoder). Trained with the backbone's cross-entropy over all items. Nothing here uses the
network; the LLM backend of MOPE (:class:`~srsupm_lab.methods.profiles.mope.LLMProfiles`) is for
profiles of held-out users, outside training.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..base import Method, MethodOptions, option
from .mar import GATES

__all__ = ["ProfilesMethod", "ProfilesOptions"]


@dataclass
class ProfilesOptions(MethodOptions):
    """The options of the method ``profiles`` (the paper does not say any of them: our choices, documented)."""

    method = "profiles"

    text_dim: int = option(64, "MOTE: dimensions of the item traits (TF-IDF + truncated SVD)")
    decay: float = option(0.8, "MOPE: weight of an item k steps before the window's last, decay**k")
    gate: str = option("user", "MAR: the weight of the compatibility, per user (learned from h and m) or one scalar",
                       GATES)
    gate_init: float = option(1.0, "MAR: the gate's scale at the start (0: the backbone alone)")
    min_df: int = option(1, "MOTE: a word must occur in this many training items' texts")

    def check(self) -> None:
        if self.text_dim < 1:
            self.fail("text_dim", "must be a positive integer")
        if not 0.0 < self.decay <= 1.0:
            self.fail("decay", "must lie in (0, 1]")
        if self.min_df < 1:
            self.fail("min_df", "must be a positive integer")


def training_items(dataset) -> np.ndarray:
    """The items of the leave-one-out training part: every user's sequence but its last two items."""
    parts = [seq[:-2] for seq in dataset.sequences if len(seq) > 2]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


class ProfilesMethod(Method):
    """Motivation profiles from item text: MOPE (offline), MOTE (TF-IDF + SVD), MAR (gated compatibility)."""

    name = "profiles"
    summary = "motivation profiles from item text: MOPE, MOTE, MAR fused with the backbone (M-LLM³Rec's idea)"
    Options = ProfilesOptions

    def build(self, backbone, config, dataset):
        from ...data.item_text import dataset_item_texts
        from .mar import MotivationAlignedRecommender
        from .mote import TfidfSvdEncoder, fit_on_items, item_traits
        o = config.method_options
        texts = dataset_item_texts(dataset, config.dataset, root=config.data_root)
        train = training_items(dataset)
        if train.size == 0:
            raise ValueError(f"method 'profiles': dataset {config.dataset!r} has no training items to fit MOTE on")
        encoder = fit_on_items(TfidfSvdEncoder(o["text_dim"], random_state=config.seed, min_df=o["min_df"]),
                               texts, train)
        traits = item_traits(encoder, texts)
        return MotivationAlignedRecommender(backbone, traits.vectors, traits.masses, decay=o["decay"],
                                            gate=o["gate"], gate_init=o["gate_init"], seed=config.seed)

    def label(self, backbone: str) -> str:
        return f"profiles+{backbone}"
