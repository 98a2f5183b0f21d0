"""The one tokenizer shared by the profile extractor (MOPE) and the trait encoder (MOTE).

Part of the lab's rebuild of M-LLM³Rec (arXiv 2508.15262); the paper says nothing about text
processing, so everything here is our choice. Both sides must split text into the same terms:
the offline profile counts terms (:mod:`.mope`), the TF-IDF encoder weighs the same terms
(:mod:`.mote`), and only then does a profile's embedding equal the recency-weighted sum of its
items' embeddings (the identity :mod:`.mar` relies on).

Rule: lower-case the text, take every run of two or more word characters (``\\b\\w\\w+\\b``,
scikit-learn's default token pattern), drop the :data:`STOP_WORDS`. ``"Creams & Moisturizers"``
-> ``["creams", "moisturizers"]``; ``"Women's"`` -> ``["women"]``.
"""
from __future__ import annotations

import re

#: glue words of category paths and short product texts; deliberately small (category names are
#: mostly nouns, and a long English stop list would drop words such as "front" or "top")
STOP_WORDS = frozenset({
    "a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "is", "it", "its", "of", "on",
    "or", "the", "to", "with",
})

_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def tokenize(text: str) -> list[str]:
    """The terms of ``text`` in order (repeats kept): lower-cased ``\\w\\w+`` runs minus stop words."""
    if not isinstance(text, str):
        raise TypeError(f"tokenize: expected a str, got {type(text).__name__}")
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOP_WORDS]
