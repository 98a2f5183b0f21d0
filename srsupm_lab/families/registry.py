"""What every method of the lab declares, and the registry that finds a method by name (method.md, "Methods").

A *method* is what is plugged onto a sequential backbone: SRSUPM's shift mechanism, an oracle told
the true shifts, motivation profiles, MTRec, or nothing at all (the backbone alone, ``none``). The
config, the trainer's caller, the CLI, the run folders and the grids reach a method only through
:class:`Method`, never by its name:

=======================  ==========================================================================
``Method.Options``       a :class:`~srsupm_lab.families.options.MethodOptions` dataclass: every option, its default, its help
``Method.requires``      the columns its batches must hold beyond items and targets (``{"levels"}``:
                         PMSA runs for it; ``{"context"}``: the world's ground truth), checked once
``Method.build``         the model (a :class:`~srsupm_lab.families.protocol.Recommender`)
``Method.check``         checks across the config's sections (dataset, loss, one-pass batching)
``Method.label``         the model's name in results (``SRSUPM+sasrec``)
``Method.work_factor``   how many user representations a step scores (the thread policy's K)
``Method.results_extra`` what a finished run records beside its metrics
``Method.engaged``       its verdict on one epoch's diagnostics (is the mechanism doing its job?)
``Method.report_columns`` the columns its reports select runs on, for any run (the collector adds them)
``Method.presets``       the method's options under a named preset (``paper``)
``Method.speed_options`` options that change speed only (a resumed run may change them)
``Method.legacy_values`` what a config stored before an option existed ran with
``Method.flat_switch``   the key (``srsupm: true``) that chose the method in configs of the flat shape
=======================  ==========================================================================

The registry maps a name to ``"module:class"`` and imports the method on first use (like
transformers' auto classes), so the layers below the methods (the config, the run folders) read a
method through this interface without importing ``srsupm_lab.methods``; ``register(cls)`` adds one
of your own (CONTRIBUTING.md, "A new method").
"""
from __future__ import annotations

from importlib import import_module
from typing import Any, ClassVar

from .options import MethodOptions, NoOptions

__all__ = ["Method", "get_method", "method_names", "register", "unregister", "all_options", "flat_switches"]


class Method:
    """A method of the lab (the module doc lists what it declares). Subclasses set the class attributes and
    implement :meth:`build`; :func:`register` makes one known by its name."""

    name: ClassVar[str] = ""
    #: one line: what the method is, and where it comes from
    summary: ClassVar[str] = ""
    Options: ClassVar[type[MethodOptions]] = NoOptions
    #: the columns of a batch the model reads beyond items, targets and row indices (``srsupm_lab.families.protocol.COLUMNS``)
    requires: ClassVar[frozenset[str]] = frozenset()
    #: values of the config's ``loss`` the method trains with (its first one is what it needs by default)
    losses: ClassVar[tuple[str, ...]] = ("ce",)
    #: whether the model trains on one-pass rows of prefixes (``TrainConfig.one_pass``)
    one_pass: ClassVar[bool] = False
    #: the method's options under a named preset of the config (``PRESETS``), e.g. the paper's literal readings
    presets: ClassVar[dict[str, dict]] = {}
    #: options that change speed only: a resumed run may change them
    speed_options: ClassVar[tuple[str, ...]] = ()
    #: options added after runs were stored whose value in those runs differs from today's default
    legacy_values: ClassVar[dict[str, Any]] = {}
    #: the boolean key that chose this method in configs of the flat shape, before methods had sections
    flat_switch: ClassVar[str | None] = None

    def options(self, values: dict | None) -> MethodOptions:
        """The checked options (:meth:`MethodOptions.from_dict`)."""
        return self.Options.from_dict(values, method=self.name)

    @property
    def wants_levels(self) -> bool:
        """Whether a run of this method needs the PMSA level of every window (``"levels"`` in ``requires``)."""
        return "levels" in self.requires

    def check(self, config) -> None:
        """Checks across the config's sections; raise ValueError naming the field. ``config`` is a
        validated :class:`~srsupm_lab.config.TrainConfig` whose ``method_options`` are resolved."""
        if config.loss not in self.losses:
            raise ValueError(f"TrainConfig.loss: method {self.name!r} trains with loss {list(self.losses)}, "
                             f"got {config.loss!r}")
        if config.one_pass and not self.one_pass:
            raise ValueError(f"TrainConfig.one_pass: method {self.name!r} trains on windows, not on one-pass rows")

    def build(self, backbone, config, dataset):
        """The model over ``backbone`` for ``config`` and its ``dataset`` (a SequenceDataset: item text, the
        training part of the sequences), a :class:`~srsupm_lab.families.protocol.Recommender`."""
        raise NotImplementedError(f"method {self.name!r} does not build a model")

    def label(self, backbone: str) -> str:
        """The model's name in results and tables."""
        return f"{self.name}+{backbone}"

    def work_factor(self, config) -> int:
        """User representations scored against every item per window in one step (1 for a backbone)."""
        return 1

    def results_extra(self, model) -> dict:
        """Extra entries of ``results.json`` measured on the best weights (none by default)."""
        return {}

    def report_columns(self, config: dict) -> dict:
        """Columns this method's reports read, for any run's config (sectioned; :func:`srsupm_lab.reproduce.collect.collect`
        adds them to every row, so give values for runs of other methods too); none by default."""
        return {}

    def report_column_names(self) -> tuple[str, ...]:
        """The names of :meth:`report_columns`, in order."""
        return ()

    def engaged(self, row: dict) -> bool | None:
        """The method's verdict on one epoch's diagnostics (a ``history.csv`` row), or None where it gives none."""
        return None


#: name -> "module:class" of the built-in methods, loaded on first use
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


def unregister(name: str) -> None:
    """Forget a method registered with :func:`register` (a built-in one stays known)."""
    if name not in _BUILTIN:
        _LOADED.pop(name, None)


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
