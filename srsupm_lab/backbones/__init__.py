"""The five backbone encoders ``h_u = Enc(S_u)`` and their registry (method.md §2, Eq. 4).

>>> bb = build_backbone("sasrec", n_items=100, dim=16, max_len=8, n_layers=1)
>>> bb.encode(torch.tensor([[0, 0, 5, 7]])).shape
torch.Size([1, 16])

Options are the keyword arguments of each class (``BACKBONES[name].option_names()``); an
unknown option raises a TypeError naming it and listing the valid ones (never ignored).
``register_backbone("name", cls)`` adds a backbone of your own (CONTRIBUTING.md, "A new backbone"):
the config, the memory estimate and the shared tests then know it by that name.
"""
from __future__ import annotations

import torch  # noqa: F401  (used by the doctest above)

from .base import Backbone
from .bert4rec import BERT4Rec
from .caser import Caser
from .gru4rec import GRU4Rec
from .lightsans import LightSANs
from .sasrec import SASRec

BACKBONES: dict[str, type[Backbone]] = {
    "gru4rec": GRU4Rec,
    "sasrec": SASRec,
    "caser": Caser,
    "bert4rec": BERT4Rec,
    "lightsans": LightSANs,
}


_BUILTIN = tuple(BACKBONES)


def register_backbone(name: str, cls: type[Backbone]) -> type[Backbone]:
    """Make the :class:`Backbone` subclass ``cls`` known as ``name`` (lower case); a built-in name is refused."""
    if not (isinstance(cls, type) and issubclass(cls, Backbone)):
        raise TypeError(f"register_backbone: needs a Backbone subclass, got {cls!r}")
    if not isinstance(name, str) or not name or name != name.lower():
        raise ValueError(f"register_backbone: the name must be a non-empty lower-case string, got {name!r}")
    if name in _BUILTIN and BACKBONES[name] is not cls:
        raise ValueError(f"register_backbone: {name!r} is a built-in backbone's name")
    BACKBONES[name] = cls
    return cls


def unregister_backbone(name: str) -> None:
    """Forget a backbone added with :func:`register_backbone` (a built-in one stays)."""
    if name not in _BUILTIN:
        BACKBONES.pop(name, None)


def build_backbone(name: str, n_items: int, n_users: int | None = None, dim: int = 64,
                   max_len: int = 50, **options) -> Backbone:
    """A freshly initialised backbone ``name`` (one of ``BACKBONES``; case-insensitive).

    ``n_users`` is required by Caser (it embeds users) and ignored by the others.
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; known backbones: {', '.join(BACKBONES)}")
    cls = BACKBONES[key]
    valid = cls.option_names()
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f"backbone {key!r}: unknown option(s) {', '.join(unknown)}; "
                        f"valid options: {', '.join(valid)}")
    if "users" in cls.requires:
        if n_users is None:
            raise ValueError(f"backbone {key!r} embeds users: pass n_users (the number of users)")
        return cls(n_items, n_users, dim=dim, max_len=max_len, **options)
    return cls(n_items, dim=dim, max_len=max_len, **options)


__all__ = ["BACKBONES", "Backbone", "build_backbone", "register_backbone", "unregister_backbone", "BERT4Rec", "Caser", "GRU4Rec", "LightSANs", "SASRec"]
