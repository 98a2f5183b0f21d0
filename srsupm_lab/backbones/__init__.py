"""The five backbone encoders ``h_u = Enc(S_u)`` and their registry (method.md §2, Eq. 4).

>>> bb = build_backbone("sasrec", n_items=100, dim=16, max_len=8, n_layers=1)
>>> bb.encode(torch.tensor([[0, 0, 5, 7]])).shape
torch.Size([1, 16])

Options are the keyword arguments of each class (``BACKBONES[name].option_names()``); an
unknown option raises a TypeError naming it and listing the valid ones (never ignored).
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
    if cls.needs_users:
        if n_users is None:
            raise ValueError(f"backbone {key!r} embeds users: pass n_users (the number of users)")
        return cls(n_items, n_users, dim=dim, max_len=max_len, **options)
    return cls(n_items, dim=dim, max_len=max_len, **options)


__all__ = ["BACKBONES", "Backbone", "build_backbone", "BERT4Rec", "Caser", "GRU4Rec", "LightSANs", "SASRec"]
