"""The method ``srsupm``: SRSUPM plugged onto a backbone (paper §4; method.md §3–§9).

Builds :class:`~srsupm_lab.methods.srsupm.model.SRSUPM` from the config's backbone, its number of
PMSA levels ``K`` (one SIC branch per level) and the method's options
(:class:`~srsupm_lab.methods.srsupm.options.SRSUPMOptions`). With ``TrainConfig.one_pass`` (gru4rec, or
sasrec with positions='from_start') it trains on one encoder pass per user (method.md §2, §7).
"""
from __future__ import annotations

from ..base import Method, check_prefixes_exact
from .options import LEGACY_VALUES, PAPER_READINGS, SRSUPMOptions

__all__ = ["SRSUPMMethod"]


class SRSUPMMethod(Method):
    """SRSUPM: PMSA-supervised shift branches (SIC), PMSID, PMSIM and the per-item mixture."""

    name = "srsupm"
    flat_switch = "srsupm"
    summary = "SRSUPM: shift branches supervised by PMSA, PMSID, PMSIM, the per-item mixture (paper §4)"
    Options = SRSUPMOptions
    requires = frozenset({"levels"})                                   # PMSA runs for it (paper §4.1)
    presets = {"paper": PAPER_READINGS}
    speed_options = ("fused_mixture",)
    legacy_values = LEGACY_VALUES
    one_pass = True

    def check(self, config) -> None:
        super().check(config)
        check_prefixes_exact(config)

    def build(self, backbone, config, dataset):
        from .model import SRSUPM
        o = dict(config.method_options)
        if o["same_user_negatives"] == "auto":                         # mask with one pass, keep per window
            o["same_user_negatives"] = None
        model = SRSUPM(backbone, K=config.K, one_pass=config.one_pass,
                       **{k: v for k, v in o.items() if k != "fused_mixture"})
        model.fused_mixture = o["fused_mixture"]                       # speed only: the same model
        return model

    def label(self, backbone: str) -> str:
        return f"SRSUPM+{backbone}"

    def work_factor(self, config) -> int:
        return config.K

    def results_extra(self, model) -> dict:
        return {"level_scales": model.temperatures.scales()}           # the best weights' α, β scales

    def engaged(self, row: dict) -> bool:
        from .engagement import is_engaged
        return is_engaged(row)

    def report_columns(self, config: dict) -> dict:
        from .frame import report_columns
        return report_columns(config)

    def report_column_names(self) -> tuple[str, ...]:
        from .frame import REPORT_COLUMNS
        return REPORT_COLUMNS
