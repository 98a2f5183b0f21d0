"""The motivation-profile method, the lab's rebuild of M-LLM³Rec (arXiv 2508.15262, CIKM 2025).

MOPE (:mod:`.mope`: user items' texts -> motivation profile, offline or by an LLM over
:mod:`.chat`), MOTE (:mod:`.mote`: items and profiles as vectors in one space) and MAR
(:mod:`.mar`: backbone score + gated motivation-trait compatibility). Not registered here; the
method registry wires it.
"""
from .chat import ChatClient, LLMRequestError
from .mar import MotivationAlignedRecommender, recency_weights
from .mope import (DEFAULT_DECAY, LLMProfiles, OfflineProfiles, ProfileExtractor, normalise_profile, parse_answer,
                   profile_terms, profile_text)
from .mote import (ItemTraits, SentenceTransformerEncoder, TextEncoder, TfidfSvdEncoder, embed_profiles, fit_on_items,
                   item_traits)
from .text import STOP_WORDS, tokenize

__all__ = [
    "ChatClient", "DEFAULT_DECAY", "ItemTraits", "LLMProfiles", "LLMRequestError", "MotivationAlignedRecommender",
    "OfflineProfiles", "ProfileExtractor", "STOP_WORDS", "SentenceTransformerEncoder", "TextEncoder",
    "TfidfSvdEncoder", "embed_profiles", "fit_on_items", "item_traits", "normalise_profile", "parse_answer",
    "profile_terms", "profile_text", "recency_weights", "tokenize",
]
