"""SRSUPM's options: every weight, switch and open reading of paper §4, with its default and meaning.

The one place that holds them: :class:`SRSUPMOptions` (its defaults are the setting the screening
chose on validation data, ``reports/screening/``), :data:`PAPER_READINGS` (the paper's most literal
reading of every open choice, the ``paper`` preset) and :data:`LEGACY_VALUES` (what runs stored
before an option existed trained with). The allowed words of each reading come from the module
that implements it. method.md's table "The settings of the open choices" explains each one.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..base import MethodOptions, option
from .pmsid import REG_FORMS
from .pmsim import FALSE_NEGATIVES, SAME_USER_NEGATIVES, SIMILARITIES, SINGLETONS
from .temperature import TEMPERATURE_MODES

__all__ = ["SRSUPMOptions", "AUGMENTATIONS", "PAPER_READINGS", "LEGACY_VALUES", "TAU_MIN", "TAU_WARN",
           "unused_weight_error"]

#: the two readings of the paper's "lightweight model-level augmentation applied to the basic view" (Eq. 15)
AUGMENTATIONS = ("view_dropout", "encoder_dropout")

# ranges that can train, with the measurement behind each (a 300-user synthetic world, GRU4Rec
# d=16 + SRSUPM K=3, 4 epochs, batch 128, CPU; valid Recall@10 after 4 epochs)
TAU_MIN = 1e-3       # L_PMSIM = InfoNCE on sim/τ (Eqs. 16-18, cosine) grows like 1/τ: τ=1e-3 still trains (.117, τ=1: .140),
                     # τ=1e-4 hardly (.043; L_PMSIM ≈ 200), τ=1e-30 not at all (loss ≈ 3e27, metrics frozen)
TAU_WARN = 100.0     # τ=1000: the logits lie within ±1/τ, L_PMSIM stays at log(batch) (4.83): no signal


@dataclass
class SRSUPMOptions(MethodOptions):
    """The options of the method ``srsupm`` (paper §4; Eq. 24's weights and the readings it leaves open)."""

    method = "srsupm"

    lambda1: float = option(0.4, "weight of L_PMSID (Eq. 24; the paper's best 0.4)")
    lambda2: float = option(0.3, "weight of L_PMSIM (Eq. 24)")
    gamma: float = option(0.1, "weight of L_reg (Eq. 24)")
    tau: float = option(0.5, "InfoNCE temperature (Eqs. 16-18)")
    dropout: float = option(0.1, "dropout inside the SIC branches (and of the view_dropout augmentation)")
    pmsid: bool = option(True, "ablation switch: the decomposition loss L_PMSID (§4.5)")
    pmsim: bool = option(True, "ablation switch: the matching loss L_PMSIM (§4.7)")
    pmi: bool = option(True, "ablation switch: the per-item mixture (§4.8; off = mean pooling)")
    priors: bool = option(True, "ablation switch: the level priors (§4.4)")
    level_temperature: str = option("unit", "scale of the α/β logits (Eqs. 9, 19; the paper does not say): fixed "
                                            "1/√d | unit 1 | learned", TEMPERATURE_MODES)
    pmsim_similarity: str = option("cosine", "InfoNCE similarity (Eqs. 16-18)", SIMILARITIES)
    reg_form: str = option("normalised_mean", "L_reg form (Eq. 10; the paper does not say)", REG_FORMS)
    augmentation: str = option("view_dropout", "augmented view (Eq. 15): view_dropout (dropout on the basic view) "
                                               "| encoder_dropout (a second encoder pass)", AUGMENTATIONS)
    singletons: str = option("self", "a window alone in its (target, level) group: self (pairs with itself) | "
                                     "drop (left out)", SINGLETONS)
    false_negatives: str = option("keep", "in-batch negatives sharing the anchor's (target, level): keep | mask",
                                  FALSE_NEGATIVES)
    same_user_negatives: str = option("auto", "in-batch negatives from the anchor's own user: keep | mask | auto "
                                              "(mask with one_pass, keep per window)", ("auto", *SAME_USER_NEGATIVES))
    fused_mixture: bool = option(False, "score evaluation passes with the torch.compile'd mixture (speed only)")

    def check(self) -> None:
        for switch, weight in (("pmsid", "lambda1"), ("pmsim", "lambda2")):
            error = unused_weight_error(switch, getattr(self, switch), weight, getattr(self, weight))
            if error:
                raise ValueError(f"method_options (method 'srsupm'): {error}")
        for name in ("lambda1", "lambda2", "gamma"):
            if getattr(self, name) < 0:
                self.fail(name, "must be >= 0")
        if not 0.0 <= self.dropout < 1.0:
            self.fail("dropout", "must lie in [0, 1)")
        if self.tau < TAU_MIN:
            self.fail("tau", f"must be >= {TAU_MIN:g}: L_PMSIM is InfoNCE on similarity/τ, so it grows like 1/τ and "
                             f"swamps the other losses (τ=1e-4 hardly trains, τ=1e-30 gives a loss of ~1e27)")
        if self.tau > TAU_WARN and self.pmsim:
            import warnings
            warnings.warn(f"method_options.tau={self.tau:g} > {TAU_WARN:g}: the InfoNCE logits lie within ±1/τ, so "
                          f"L_PMSIM stays near log(batch size) and gives almost no gradient", stacklevel=4)


#: the paper's most literal reading of every open choice (the ``paper`` preset): 1/√d level scale,
#: cosine InfoNCE at τ = 1, λ2 = 0.1, raw L_reg, the "lightweight" augmentation as a dropout on the basic view
PAPER_READINGS = {"lambda1": 0.4, "lambda2": 0.1, "gamma": 0.1, "tau": 1.0, "level_temperature": "fixed",
                  "pmsim_similarity": "cosine", "reg_form": "raw_mean", "augmentation": "view_dropout",
                  "singletons": "self", "false_negatives": "keep"}

#: options added after runs were stored whose value in those runs differs from today's default:
#: earlier runs drew the augmented view of Eq. 15 with a second encoder pass, scaled the level
#: softmaxes by 1/√d and used raw L_reg, cosine InfoNCE, self-pairs and kept negatives
LEGACY_VALUES = {"augmentation": "encoder_dropout", "level_temperature": "fixed", "reg_form": "raw_mean",
                 "pmsim_similarity": "cosine", "singletons": "self", "false_negatives": "keep"}


def unused_weight_error(switch: str, on: bool, weight: str, value: float) -> str | None:
    """Why a switched-off loss with an explicitly chosen positive weight is contradictory, or None.

    A loss switched off keeps a weight "left as it was": 0, the default, or the paper's reading; any
    other weight would be silently ignored, so it is an error.
    """
    if on or value in (0.0, SRSUPMOptions.defaults()[weight], PAPER_READINGS[weight]):
        return None
    loss = {"pmsid": "PMSID", "pmsim": "PMSIM"}[switch]
    return (f"{switch}=False contradicts {weight}={value!r}: the {loss} loss is off, so drop {weight} (or set it "
            f"to 0) or turn {switch} on")
