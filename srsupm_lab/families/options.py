"""Typed options, checked in one place: the config's fields and every method's options (method.md, "Methods").

A value's *kind* says what it may hold: ``bool``, ``int``, ``pos_int``, ``float`` (finite; an int is
read as a float), ``str``, ``dict`` (names to values), ``opt_str`` and ``opt_pos_int`` (or None).
:func:`kind_problem` says what is wrong with a value of a kind (or None), :func:`coerce` returns the
value as stored; :class:`~srsupm_lab.config.TrainConfig` and :class:`MethodOptions` both call them, so
the two never drift apart.

A method's options are a :class:`MethodOptions` dataclass of :func:`option` fields: each with its
default, its help and its allowed words. :meth:`MethodOptions.from_dict` refuses unknown names (with
the list of valid ones), checks each value's kind and words, then the method's own ranges
(:meth:`MethodOptions.check`); every error is one line naming ``method_options.<name>``.
"""
from __future__ import annotations

import math
import os
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, ClassVar

__all__ = ["KINDS", "kind_problem", "coerce", "option", "MethodOptions", "NoOptions"]

KINDS = ("bool", "int", "pos_int", "float", "str", "dict", "opt_str", "opt_pos_int")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def kind_problem(value, kind: str) -> str | None:
    """What is wrong with ``value`` as a ``kind`` (one of ``KINDS``), e.g. ``"must be an integer"``; None when fine."""
    if kind == "bool":
        return None if isinstance(value, bool) else "must be True or False"
    if kind == "int":
        return None if _is_int(value) else "must be an integer"
    if kind == "pos_int":
        return "must be an integer" if not _is_int(value) else None if value >= 1 else "must be a positive integer"
    if kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return None if ok else "must be a finite number"
    if kind == "str":
        return None if isinstance(value, str) else "must be a string"
    if kind == "dict":
        ok = isinstance(value, dict) and all(isinstance(k, str) for k in value)
        return None if ok else "must be a dict of option name -> value"
    if kind == "opt_str":
        return None if value is None or isinstance(value, (str, os.PathLike)) else "must be a string or None"
    if kind == "opt_pos_int":
        return None if value is None or (_is_int(value) and value >= 1) else "must be a positive integer or None"
    raise ValueError(f"kind_problem: unknown kind {kind!r}; kinds are {list(KINDS)}")


def coerce(value, kind: str):
    """``value`` (already checked by :func:`kind_problem`) as stored: a float as ``float``, a path as ``str``."""
    if kind == "float":
        return float(value)
    if kind == "opt_str" and isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def option(default, help: str, choices: tuple | None = None):
    """A field of a :class:`MethodOptions` dataclass with its documentation (and allowed words)."""
    return field(default=default, metadata={"help": help, "choices": choices})


def _kind(annotation) -> str:
    """``bool``, ``int``, ``float`` or ``str`` from a field's annotation (string annotations allowed)."""
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    name = name.replace(" ", "")
    if name not in ("bool", "int", "float", "str"):
        raise TypeError(f"MethodOptions fields are bool, int, float or str, got {annotation!r}")
    return name


@dataclass
class MethodOptions:
    """Base of a method's options: a dataclass of ``option(...)`` fields, checked on construction (module doc)."""

    method: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            value, kind = getattr(self, f.name), _kind(hints.get(f.name, f.type))
            where = f"method_options.{f.name} (method {self.method!r})"
            problem = kind_problem(value, kind)
            if problem:
                raise ValueError(f"{where}: {problem}, got {value!r}")
            setattr(self, f.name, coerce(value, kind))
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
