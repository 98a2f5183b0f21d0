"""What every method of the lab provides, gathered for the methods (method.md, "Methods").

The method interface (:class:`~srsupm_lab.families.registry.Method`) and the typed options
(:class:`~srsupm_lab.families.options.MethodOptions`, :func:`~srsupm_lab.families.options.option`) live below the methods,
so that the config and the run folders read them without importing this package; they are
re-exported here for the methods. The model a method builds follows
:class:`~srsupm_lab.families.protocol.Recommender`. :func:`check_prefixes_exact` is the one-pass check the
methods that train on one-pass rows share.
"""
from __future__ import annotations

from ..families.options import MethodOptions, NoOptions, option
from ..families.registry import Method

__all__ = ["Method", "MethodOptions", "NoOptions", "option", "check_prefixes_exact"]


def check_prefixes_exact(config) -> None:
    """Refuse ``TrainConfig.one_pass`` on a backbone whose outputs are not its prefixes' encodings
    (``Backbone.prefixes_exact``: gru4rec, or sasrec with positions='from_start'), in one line.

    For the methods that train on one-pass rows (``Method.one_pass``), from their :meth:`Method.check`.
    """
    if not config.one_pass:
        return
    from ..backbones import BACKBONES
    if not BACKBONES[config.backbone].prefixes_exact(config.backbone_options):
        raise ValueError(f"TrainConfig.one_pass: needs a backbone whose outputs are its prefixes' encodings: "
                         f"gru4rec, or sasrec with backbone_options positions='from_start' (backbone is "
                         f"{config.backbone!r})")
