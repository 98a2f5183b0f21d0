"""A text per item, for the methods that read item text (motivation profiles; M-LLM³Rec's MOPE and MOTE).

No titles, descriptions or reviews are shipped; every text here is built from what ``data/`` holds,
and says only that:

=======================  ====================================================================
``beauty``, ``sports``   the S3-Rec attributes' names: the category path and the brand
                         (``<D>_attribute_names.json``; the brand placeholder "Unknown" left out)
``yelp``                 the business's categories (its S3-Rec attributes are unnamed ids)
``synthetic``            a generated description carrying the item's latent motivation topics
                         (:func:`synthetic_item_texts`, the story below)
``synthetic-clickbait``  the same descriptions (the clickbait world keeps ``motivation_categories``);
                         no text says which items are clickbait
any other dataset        its labels' names, when they are names; else one line saying it has no text
=======================  ====================================================================

**The synthetic world's descriptions** (fixed before any model was run on them): motivation ``m``
has the theme word ``MOTIVATION_THEMES[m]`` ("travel", "fitness", ...; ``theme<m>`` beyond the
list). An item's description names each of its categories and, for each, the theme of the
motivation that weighs that category most in the generator (``meta["motivation_categories"]``)::

    "category 03 travel category 11 cooking"

so a text encoder can recover which motivations an item serves, as a title would hint at it in
real data. Texts are indexed by item id; ``texts[0]`` (padding) is ``""``.
"""
from __future__ import annotations

import re

import numpy as np

from .dataset import SequenceDataset

__all__ = ["item_texts", "dataset_item_texts", "synthetic_item_texts", "MOTIVATION_THEMES", "NoItemText"]

#: the theme word of each latent motivation of the synthetic world (motivation m beyond the list: "theme<m>")
MOTIVATION_THEMES = ("travel", "fitness", "cooking", "gaming", "gardening", "music", "reading", "fashion",
                     "photography", "camping", "painting", "cycling")

#: label names that are ids, not words ("attribute 17", "category 03" of a folder): no text
_UNNAMED = re.compile(r"^(attribute|label|item)\s*\d+$", re.IGNORECASE)
#: attribute names that are placeholders, not words
_PLACEHOLDERS = {"unknown", "none", "n/a", ""}


class NoItemText(ValueError):
    """The dataset holds no text for its items (its labels are unnamed ids, or it has none)."""


def _theme(m: int) -> str:
    return MOTIVATION_THEMES[m] if m < len(MOTIVATION_THEMES) else f"theme{m}"


def synthetic_item_texts(ds: SequenceDataset) -> list[str]:
    """The synthetic world's item descriptions (the module doc's story), from ``ds.meta``."""
    mot = ds.meta.get("motivation_categories")
    if mot is None:
        raise NoItemText(f"dataset {ds.name!r}: no motivation_categories in its meta: not the synthetic world")
    owner = np.asarray(mot).argmax(axis=0)                      # (n_labels,) the motivation weighing each most
    texts = [""]
    for labels in ds.item_labels[1:]:
        texts.append(" ".join(f"{ds.label_names[c]} {_theme(int(owner[c]))}" for c in sorted(labels)))
    return texts


def item_texts(ds: SequenceDataset, names: list[str] | None = None, item_labels=None) -> list[str]:
    """Texts from labels: each item's label names joined by " | ", placeholders left out.

    ``names`` / ``item_labels`` default to the dataset's own labels (pass another label kind's, e.g. the
    S3-Rec attributes). Unnamed labels ("attribute 17") or none at all: :class:`NoItemText`, one line.
    """
    names = ds.label_names if names is None else names
    item_labels = ds.item_labels if item_labels is None else item_labels
    if not names or all(_UNNAMED.match(n.strip()) for n in names):
        raise NoItemText(f"dataset {ds.name!r} has no item text: its labels are unnamed ids or absent; a text "
                         f"method needs label names (categories, brands) or a synthetic world")
    texts = [""]
    for labels in item_labels[1:]:
        words = [names[j] for j in sorted(labels) if names[j].strip().lower() not in _PLACEHOLDERS
                 and not _UNNAMED.match(names[j].strip())]
        texts.append(" | ".join(dict.fromkeys(words)))
    return texts


def dataset_item_texts(ds: SequenceDataset, name: str, root=None) -> list[str]:
    """The texts of the module doc for ``ds``, loaded as ``name`` (a known name or a path) from ``root``.

    For an S3-Rec folder whose attributes are named (Beauty, Sports) the attribute names (category path
    and brand); otherwise the dataset's own label names; the synthetic world's descriptions.
    """
    if "motivation_categories" in ds.meta:
        return synthetic_item_texts(ds)
    attributes = _attributes(name, root)
    if attributes is not None and attributes.n_items == ds.n_items:
        try:
            return item_texts(ds, attributes.label_names, attributes.item_labels)
        except NoItemText:                                      # unnamed attribute ids (Yelp): the categories
            pass
    return item_texts(ds)


def _attributes(name: str, root) -> SequenceDataset | None:
    """The dataset loaded with its S3-Rec attributes as labels, or None where it has no attribute file."""
    import warnings

    from .loaders import load_dataset
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                     # items without attributes: said at the first load
            return load_dataset(name, root=root, labels="attributes")
    except (FileNotFoundError, ValueError, TypeError):
        return None
