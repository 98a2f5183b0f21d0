"""What every method of the lab provides: its options (with defaults and documentation) and its model.

A *method* is what is plugged onto a sequential backbone (method.md, "Methods"): SRSUPM's shift
mechanism, an oracle told the true shifts, or nothing at all (the backbone alone, ``none``). The
trainer, the evaluation, the diagnostics, the CLI and the grids call a method only through
:class:`Method`, never by its name:

=======================  ==========================================================================
``Method.Options``       a :class:`MethodOptions` dataclass: every option, its default, its help
``Method.build``         the model (the Recommender protocol: ``loss(batch)``, ``score(inputs, users)``)
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

Per-epoch diagnostics are the model's own (``model.epoch_diagnostics(valid, levels, batch)``, an
optional part of the Recommender protocol the trainer calls when present).
"""
from __future__ import annotations

import math
import typing
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, ClassVar

__all__ = ["Method", "MethodOptions", "option", "check_prefixes_exact"]


def option(default, help: str, choices: tuple | None = None):
    """A field of a :class:`MethodOptions` dataclass with its documentation (and allowed words)."""
    from dataclasses import field
    return field(default=default, metadata={"help": help, "choices": choices})


def _kind(annotation) -> str:
    """``bool``, ``int``, ``float`` or ``str`` from a field's annotation (string annotations allowed)."""
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    name = name.replace(" ", "")
    if name not in ("bool", "int", "float", "str"):
        raise TypeError(f"MethodOptions fields are bool, int, float or str, got {annotation!r}")
    return name


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


@dataclass
class MethodOptions:
    """Base of a method's options: a dataclass of ``option(...)`` fields, checked on construction.

    :meth:`from_dict` refuses unknown names (with the list of valid ones), checks each value's type
    and allowed words, then the method's own ranges (:meth:`check`); every error is one line that
    names ``method_options.<name>``, what is allowed and the value given.
    """

    method: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            value, kind = getattr(self, f.name), _kind(hints.get(f.name, f.type))
            where = f"method_options.{f.name} (method {self.method!r})"
            if kind == "bool" and not isinstance(value, bool):
                raise ValueError(f"{where}: must be true or false, got {value!r}")
            if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{where}: must be an integer, got {value!r}")
            if kind == "float":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise ValueError(f"{where}: must be a finite number, got {value!r}")
                setattr(self, f.name, float(value))
            if kind == "str" and not isinstance(value, str):
                raise ValueError(f"{where}: must be a string, got {value!r}")
            choices = f.metadata.get("choices")
            if choices and value not in choices:
                raise ValueError(f"{where}: must be one of {list(choices)}, got {value!r}")
        self.check()

    def check(self) -> None:
        """The method's own checks of ranges and combinations (raise ValueError naming the option)."""

    def fail(self, name: str, what: str) -> None:
        raise ValueError(f"method_options.{name} (method {self.method!r}): {what}, got {getattr(self, name)!r}")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {f.name: f.default for f in fields(cls) if f.default is not MISSING}

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", f.name) for f in fields(cls)}

    @classmethod
    def choices(cls) -> dict[str, tuple | None]:
        return {f.name: f.metadata.get("choices") for f in fields(cls)}

    @classmethod
    def from_dict(cls, values: dict | None, method: str | None = None) -> "MethodOptions":
        """The checked options from ``values`` (``method``: the method's name, for the messages)."""
        values = dict(values or {})
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            valid = list(cls.names()) or "none: it takes no options"
            raise KeyError(f"method_options: {unknown} not option(s) of method {method or cls.method!r}; its "
                           f"options are {valid}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class NoOptions(MethodOptions):
    """A method without options."""


class Method:
    """A method of the lab (the module doc lists what it provides). Subclasses set the class attributes
    and implement :meth:`build`; :func:`srsupm_lab.methods.register` makes one known by its name."""

    name: ClassVar[str] = ""
    #: one line: what the method is, and where it comes from
    summary: ClassVar[str] = ""
    Options: ClassVar[type[MethodOptions]] = NoOptions
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
        training part of the sequences), an ``nn.Module`` following the Recommender protocol."""
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
