"""MOPE, the Motivation-Oriented Profile Extractor: a user's few items' texts -> a motivation profile.

Rebuilds the first module of M-LLM³Rec (arXiv 2508.15262, CIKM 2025): "an LLM extracts
motivational signals from a user's few interactions" into a structured profile (facets such as
functionality or aesthetics, per secondary summaries). The paper's prompt, LLM and profile format
are not public; the interface, the profile format, the offline extractor and the prompt below are
**our choices**.

The profile (JSON-able, the same for every extractor)
-----------------------------------------------------
``{"facets": {name: weight, ...}, "summary": str}``

- ``facets``: what motivates the user, each a name with a weight >= 0; the weights sum to 1
  (an empty dict when nothing is known, e.g. items without text). Ordered by weight, heaviest
  first (ties: by name), except with fixed facet names (:class:`LLMProfiles` ``facets=[...]``),
  which keep the given order.
- ``summary``: one line of text for people (and for sentence encoders).

Its text forms, read by the trait encoder (:mod:`.mote`): :func:`profile_terms` (a weighted bag
of terms: each facet's weight split evenly over the terms of its name; the summary is not part of
it) and :func:`profile_text` (one line: facets with weights, then the summary).

Extractors (:class:`ProfileExtractor`): ``profiles(user_item_lists, item_texts) -> list[dict]``,
one profile per user; ``user_item_lists[u]`` = item ids oldest first (0 = padding, skipped);
``item_texts[i]`` = the text of item ``i`` (``item_texts[0] == ""``).

- :class:`OfflineProfiles` (default): deterministic, no network, recency-weighted term counts.
- :class:`LLMProfiles`: asks an OpenAI-compatible chat endpoint (:mod:`.chat`).
"""
from __future__ import annotations

import json
import math
import re
from abc import ABC, abstractmethod
from typing import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from .chat import ChatClient
from .text import tokenize

#: recency decay shared by the offline profile and MAR's per-window motivation (our choice: the
#: item k steps before the most recent one weighs 0.8**k, so the last 5 items hold ~2/3 of a long
#: history's weight)
DEFAULT_DECAY = 0.8


# ---------------------------------------------------------------------------- profile format
def profile_terms(profile: Mapping) -> dict[str, float]:
    """A profile as a weighted bag of terms: each facet's weight split evenly over its name's terms.

    For an offline profile (one term per facet) this is ``profile["facets"]`` itself.
    """
    out: dict[str, float] = {}
    for name, weight in profile["facets"].items():
        terms = tokenize(name)
        for term in terms:
            out[term] = out.get(term, 0.0) + float(weight) / len(terms)
    return out


def profile_text(profile: Mapping) -> str:
    """A profile as one line: ``"nail 0.43, polish 0.29. <summary>"`` (facets with weight > 0)."""
    facets = ", ".join(f"{name} {float(w):.2f}" for name, w in profile["facets"].items() if w > 0)
    summary = " ".join(str(profile.get("summary", "")).split())
    return ". ".join(part for part in (facets, summary) if part)


def normalise_profile(obj, facets: Sequence[str] | None = None) -> dict:
    """A checked profile ``{"facets", "summary"}`` from a parsed answer; ``ValueError`` (short reason) if bad.

    Facet weights must be finite numbers >= 0 with a positive sum; they are divided by that sum.
    With ``facets`` (fixed names) a key outside them is an error and a missing one gets 0; the
    result keeps their order. Without, keys are the answer's (stripped, non-empty), heaviest first.
    The summary is collapsed to one line. Other keys of the answer are dropped.
    """
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    raw, summary = obj.get("facets"), obj.get("summary")
    if not isinstance(raw, dict) or not raw:
        raise ValueError("'facets' must be a non-empty object {name: weight}")
    if not isinstance(summary, str):
        raise ValueError("'summary' must be a string")
    weights: dict[str, float] = {}
    for name, w in raw.items():
        key = " ".join(str(name).split())
        if not key:
            raise ValueError("a facet has an empty name")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ValueError(f"facet {key!r} has weight {w!r}, expected a number >= 0")
        if facets is not None and key not in facets:
            raise ValueError(f"facet {key!r} is not one of {list(facets)}")
        weights[key] = weights.get(key, 0.0) + float(w)
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("facet weights sum to 0")
    if facets is not None:
        ordered = [(name, weights.get(name, 0.0)) for name in facets]
    else:
        ordered = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
    return {"facets": {k: w / total for k, w in ordered}, "summary": " ".join(summary.split())}


def user_item_arrays(user_item_lists, n_texts: int, where: str) -> list[np.ndarray]:
    """Each user's item ids as an int64 array, padding (0) removed; ids must lie in ``0..n_texts-1``."""
    arrays = [np.asarray(items, dtype=np.int64).reshape(-1) for items in user_item_lists]
    if arrays:
        flat = np.concatenate(arrays)
        bad = (flat < 0) | (flat >= n_texts)
        if bad.any():
            lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=len(arrays))
            user = int(np.searchsorted(np.cumsum(lengths), int(np.flatnonzero(bad)[0]), side="right"))
            raise ValueError(f"{where}: user {user} has item id {int(flat[bad][0])}, outside 0..{n_texts - 1} "
                             f"(item_texts holds {n_texts} entries, index 0 = padding)")
    return [a[a != 0] for a in arrays]


def _check_texts(item_texts, where: str) -> list[str]:
    texts = list(item_texts)
    if not texts or texts[0] != "":
        raise ValueError(f"{where}: item_texts[0] is padding and must be the empty string")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"{where}: item_texts[{bad}] is a {type(texts[bad]).__name__}, expected str")
    return texts


# ---------------------------------------------------------------------------- extractors
class ProfileExtractor(ABC):
    """MOPE's interface: one motivation profile (module doc) per user from her items' texts."""

    @abstractmethod
    def profiles(self, user_item_lists: Sequence[Sequence[int]], item_texts: Sequence[str]) -> list[dict]:
        """``user_item_lists[u]``: item ids oldest first (0 skipped); ``item_texts[i]``: item i's text."""


class OfflineProfiles(ProfileExtractor):
    """The default MOPE stand-in: recency-weighted term counts, deterministic, no network (our design).

    For a user whose items (padding removed, the last ``max_items`` kept when given) are
    ``i_1 .. i_n`` (oldest first), the item ``k`` steps before the most recent one
    (``k = n - j`` for ``i_j``) weighs ``decay**k``. A term's score is the sum over her items of
    weight × the term's count in the item's text (:func:`.text.tokenize`; a repeated item counts
    each time). The facets are the ``top_k`` terms by score (all terms when ``top_k`` is None;
    ties broken by the term, alphabetically), their weights the scores divided by the kept
    scores' sum. The summary is exactly ``"{n} item(s); leading facets: t1 0.43, t2 0.29, t3 0.29"``
    (the first three facets, weights with two decimals), or ``"{n} item(s); no text"`` when
    no term was found.

    With ``top_k=None`` the profile's TF-IDF embedding (:func:`.mote.embed_profiles`) equals
    MAR's motivation vector of a window holding the same items (:mod:`.mar`); ``top_k`` drops the
    light terms, which is the only difference. Counting is one sparse product
    (users × items) @ (items × terms); only building the output dicts walks over the users.
    """

    def __init__(self, top_k: int | None = 8, decay: float = DEFAULT_DECAY, max_items: int | None = None):
        if top_k is not None and not (isinstance(top_k, int) and top_k >= 1):
            raise ValueError(f"OfflineProfiles: top_k must be a positive integer or None, got {top_k!r}")
        if not (isinstance(decay, (int, float)) and 0 < decay <= 1):
            raise ValueError(f"OfflineProfiles: decay must be a number in (0, 1], got {decay!r}")
        if max_items is not None and not (isinstance(max_items, int) and max_items >= 1):
            raise ValueError(f"OfflineProfiles: max_items must be a positive integer or None, got {max_items!r}")
        self.top_k, self.decay, self.max_items = top_k, float(decay), max_items

    def term_scores(self, user_item_lists, item_texts) -> tuple[sp.csr_matrix, list[str], np.ndarray]:
        """``(scores [U, V] csr, vocabulary [V], items used per user [U])``: the recency-weighted counts."""
        where = "OfflineProfiles"
        texts = _check_texts(item_texts, where)
        arrays = user_item_arrays(user_item_lists, len(texts), where)
        if self.max_items is not None:
            arrays = [a[-self.max_items:] for a in arrays]
        # item x term counts, built once over the item table
        vocab: dict[str, int] = {}
        rows, cols = [], []
        for item, text in enumerate(texts):
            for term in tokenize(text):
                rows.append(item)
                cols.append(vocab.setdefault(term, len(vocab)))
        counts = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(vocab)))
        # user x item recency weights from one flat array of all (user, item) pairs
        lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=len(arrays))
        flat = np.concatenate(arrays) if arrays else np.zeros(0, np.int64)
        owner = np.repeat(np.arange(len(arrays)), lengths)
        ends = np.cumsum(lengths)
        steps_back = ends[owner] - 1 - np.arange(flat.size)                    # k: 0 for the most recent
        weights = self.decay ** steps_back.astype(np.float64)
        recency = sp.csr_matrix((weights, (owner, flat)), shape=(len(arrays), len(texts)))
        terms = sorted(vocab, key=vocab.get)
        return (recency @ counts).tocsr(), terms, lengths

    def profiles(self, user_item_lists, item_texts) -> list[dict]:
        scores, terms, lengths = self.term_scores(user_item_lists, item_texts)
        names = np.array(terms, dtype=object)
        out = []
        for u in range(scores.shape[0]):
            lo, hi = scores.indptr[u], scores.indptr[u + 1]
            value, index = scores.data[lo:hi], scores.indices[lo:hi]
            keep = value > 0
            value, index = value[keep], index[keep]
            # heaviest first, ties by term; scores rounded for the order only (sums of equal
            # weights taken in another order may differ in the last bit)
            order = sorted(range(value.size), key=lambda j: (-round(float(value[j]), 12), names[index[j]]))
            if self.top_k is not None:
                order = order[: self.top_k]
            total = float(sum(value[j] for j in order))
            facets = {str(names[index[j]]): float(value[j]) / total for j in order}
            n = int(lengths[u])
            if facets:
                lead = ", ".join(f"{t} {w:.2f}" for t, w in list(facets.items())[:3])
                summary = f"{n} item(s); leading facets: {lead}"
            else:
                summary = f"{n} item(s); no text"
            out.append({"facets": facets, "summary": summary})
        return out


# ---------------------------------------------------------------------------- LLM extractor
#: the system message of every MOPE request
SYSTEM_PROMPT = ("You infer the motivations behind a user's choices from the texts of the items she chose. "
                 "Answer with one JSON object and nothing else.")

#: the user message; {items} is one numbered line per item, oldest first; {facet_rule} says which keys
USER_PROMPT = (
    "Items the user interacted with, oldest first:\n"
    "{items}\n"
    "Infer what motivates her choices. Reply with JSON of the form "
    '{{"facets": {{"<facet>": <weight>, ...}}, "summary": "<one sentence>"}}.\n'
    "Facets: {facet_rule}\n"
    "Weights are numbers in [0, 1] that sum to 1. The summary names the kinds of items she seeks, "
    "in words taken from the item texts."
)

_FENCE = re.compile(r"```[ \t]*(?:json)?[ \t]*\n?(.*?)```", re.S | re.I)


def parse_answer(content: str, facets: Sequence[str] | None = None) -> dict:
    """The profile in an answer's content: bare JSON or the first fenced ```json block; ValueError if bad."""
    match = _FENCE.search(content)
    text = match.group(1) if match else content
    try:
        obj = json.loads(text.strip())
    except json.JSONDecodeError as err:
        raise ValueError(f"not JSON ({err.msg} at character {err.pos})") from None
    return normalise_profile(obj, facets)


class LLMProfiles(ProfileExtractor):
    """MOPE with an LLM: one chat request per user (cached on disk), the answer checked as a profile.

    The prompt is :data:`SYSTEM_PROMPT` + :data:`USER_PROMPT`: the user's last ``max_items``
    items' texts, one numbered line each, oldest first (whitespace collapsed, cut at
    ``max_chars``; an empty text reads ``(no text)``), and the facet rule:

    - ``facets=None`` (default; our choice): "up to ``n_facets`` short phrases taken from the
      item texts, the most important first" -- free facets that live in the items' vocabulary,
      so a TF-IDF trait encoder can embed them;
    - ``facets=[names]``: "exactly these keys: ..." (e.g. the paper's functionality,
      aesthetics, ...); such names need a sentence encoder to be embedded meaningfully.

    The answer is parsed by :func:`parse_answer` and checked by :func:`normalise_profile`; a bad
    one raises a one-line ``ValueError`` naming the endpoint, the user and the answer's first 80
    characters. Transport, retries and cache: :class:`.chat.ChatClient` (``client_options`` go to
    it: ``api_key_env``, ``timeout``, ``max_retries``, ``backoff``, ``max_backoff``,
    ``cache_dir``); ``self.client.stats`` counts requests, retries and cache hits.
    Users are asked one after another (the endpoint's rate, not Python, bounds the speed).
    """

    def __init__(self, base_url: str, model: str, *, facets: Sequence[str] | None = None, n_facets: int = 5,
                 max_items: int = 20, max_chars: int = 200, **client_options):
        if facets is not None:
            facets = [" ".join(str(f).split()) for f in facets]
            if not facets or not all(facets) or len(set(facets)) != len(facets):
                raise ValueError(f"LLMProfiles: facets must be distinct non-empty names, got {facets!r}")
        for name, value in (("n_facets", n_facets), ("max_items", max_items), ("max_chars", max_chars)):
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"LLMProfiles: {name} must be a positive integer, got {value!r}")
        self.client = ChatClient(base_url, model, **client_options)
        self.facets, self.n_facets, self.max_items, self.max_chars = facets, n_facets, max_items, max_chars

    def messages(self, texts: Sequence[str]) -> list[dict]:
        """The chat messages for one user whose items' texts are ``texts`` (oldest first)."""
        kept = list(texts)[-self.max_items:]
        lines = []
        for j, text in enumerate(kept, 1):
            clean = " ".join(text.split())[: self.max_chars]
            lines.append(f"{j}. {clean or '(no text)'}")
        if self.facets is None:
            rule = f"up to {self.n_facets} short phrases taken from the item texts, the most important first."
        else:
            rule = "exactly these keys: " + ", ".join(self.facets) + "."
        user = USER_PROMPT.format(items="\n".join(lines), facet_rule=rule)
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]

    def profile(self, texts: Sequence[str], user="?") -> dict:
        """One user's profile from her items' texts (oldest first); cached answers are not asked again."""
        # a cached answer that does not parse is poisoned (asked again); a fresh one that does not parse is the
        # endpoint's, one ValueError naming it (ChatClient.complete)
        return self.client.complete(self.messages(texts), f"user {user}",
                                    lambda content: parse_answer(content, self.facets))

    def profiles(self, user_item_lists, item_texts, users: Sequence | None = None) -> list[dict]:
        """One profile per user; ``users`` (default 0, 1, ...) names them in errors."""
        texts = _check_texts(item_texts, "LLMProfiles")
        arrays = user_item_arrays(user_item_lists, len(texts), "LLMProfiles")
        names = list(range(len(arrays))) if users is None else list(users)
        if len(names) != len(arrays):
            raise ValueError(f"LLMProfiles: {len(names)} user names for {len(arrays)} item lists")
        return [self.profile([texts[i] for i in a], names[u]) for u, a in enumerate(arrays)]
