"""The methods a backbone can be trained with, by name (method.md, "Methods"): one registry.

============  ======================================================  ========================================
name          what                                                    where
============  ======================================================  ========================================
``none``      the backbone alone (full cross-entropy, or BCE)         :mod:`srsupm_lab.methods.none`
``srsupm``    SRSUPM: PMSA-supervised shift branches, PMSID, PMSIM,   :mod:`srsupm_lab.methods.srsupm`
              the per-item mixture (paper §4)
``oracle``    the backbone told the synthetic world's true shifts     :mod:`srsupm_lab.methods.srsupm.oracle`
``profiles``  motivation profiles from item text (MOPE, MOTE, MAR)    :mod:`srsupm_lab.methods.profiles`
``mtrec``     the recommender aligned with a mental reward learned    :mod:`srsupm_lab.methods.mtrec`
              by distributional inverse RL (QR-IQL)
============  ======================================================  ========================================

``get_method(name)`` returns the :class:`~srsupm_lab.families.registry.Method`; ``register(cls)`` adds a
method of your own (CONTRIBUTING.md, "A new method"). The registry lives below the methods
(:mod:`srsupm_lab.families.registry`, so the config reads it without importing this package); methods load on
first use, so reading the registry imports no model code.
"""
from __future__ import annotations

from ..families.options import MethodOptions, option
from ..families.registry import Method, all_options, flat_switches, get_method, method_names, register, unregister

__all__ = ["Method", "MethodOptions", "option", "get_method", "method_names", "register", "unregister", "all_options",
           "flat_switches"]
