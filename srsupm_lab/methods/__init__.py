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

``get_method(name)`` returns the :class:`~srsupm_lab.methods.base.Method`; ``register(cls)`` adds a
method of your own (CONTRIBUTING.md, "A new method"). Methods load on first use, so reading the
registry imports no model code.
"""
from __future__ import annotations

from importlib import import_module

from .base import Method, MethodOptions, option

__all__ = ["Method", "MethodOptions", "option", "get_method", "method_names", "register", "all_options",
           "flat_switches"]

#: name -> "module:class", loaded on first use
_BUILTIN = {
    "none": "srsupm_lab.methods.none:BackboneAlone",
    "srsupm": "srsupm_lab.methods.srsupm.method:SRSUPMMethod",
    "oracle": "srsupm_lab.methods.srsupm.oracle:OracleMethod",
    "profiles": "srsupm_lab.methods.profiles.method:ProfilesMethod",
    "mtrec": "srsupm_lab.methods.mtrec.method:MTRecMethod",
}
_LOADED: dict[str, Method] = {}


def method_names() -> tuple[str, ...]:
    """Every known method's name, the built-in ones first."""
    return tuple(dict.fromkeys([*_BUILTIN, *_LOADED]))


def get_method(name: str) -> Method:
    """The method called ``name``; an unknown name is one line with the known ones."""
    if not isinstance(name, str) or name not in method_names():
        raise ValueError(f"TrainConfig.method: must be one of {list(method_names())}, got {name!r}")
    if name not in _LOADED:
        module, cls = _BUILTIN[name].split(":")
        _LOADED[name] = getattr(import_module(module), cls)()
    return _LOADED[name]


def register(cls: type[Method]) -> type[Method]:
    """Make the method class ``cls`` known by ``cls.name`` (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Method)) or not cls.name:
        raise TypeError(f"register: needs a Method subclass with a name, got {cls!r}")
    if cls.name in _BUILTIN and _BUILTIN[cls.name] != f"{cls.__module__}:{cls.__name__}":
        raise ValueError(f"register: {cls.name!r} is a built-in method's name")
    _LOADED[cls.name] = cls()
    return cls


def all_options() -> dict[str, dict[str, tuple]]:
    """``{method: {option: (default, help, choices)}}`` for every known method (the CLI's help)."""
    out = {}
    for name in method_names():
        opts = get_method(name).Options
        out[name] = {k: (opts.defaults()[k], opts.help()[k], opts.choices()[k]) for k in opts.names()}
    return out


def flat_switches() -> dict[str, str]:
    """``{switch: method}``: the boolean keys that chose a method in configs of the flat shape (``Method.flat_switch``)."""
    return {get_method(n).flat_switch: n for n in method_names() if get_method(n).flat_switch}
