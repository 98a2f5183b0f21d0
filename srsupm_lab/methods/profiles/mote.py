"""MOTE, the Motivation-Oriented Trait Encoder: items and profiles as vectors in one space.

Rebuilds the second module of M-LLM³Rec (arXiv 2508.15262): items are turned into "abstract
traits" that a user's motivation can be compared with. The paper's encoder and dimensions are
not public; the interface and both encoders here are **our choices**.

- :class:`TextEncoder`: ``fit(texts) -> self``, ``transform(texts) -> np.ndarray [n, d]`` with
  L2-normalised rows (a text with no known term gives a zero row).
- :class:`TfidfSvdEncoder` (default): scikit-learn TF-IDF over :func:`.text.tokenize`'s terms,
  then TruncatedSVD to ``dim`` columns, rows L2-normalised. Fit it on the **training items'**
  texts only (:func:`fit_on_items`): a term that only held-out items carry is then unknown and
  changes nothing. It is linear before the last normalisation, which gives the identity MAR uses
  (:meth:`TfidfSvdEncoder.masses`).
- :class:`SentenceTransformerEncoder` (optional): a local ``sentence_transformers`` model.

Helpers put items and profiles in the same space: :func:`item_traits` (the trait table
``[N+1, d]``, row 0 = padding = 0, plus each item's mass) and :func:`embed_profiles` (a profile's
facet text, :func:`.mope.profile_terms` for TF-IDF, :func:`.mope.profile_text` otherwise).
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from .mope import profile_terms, profile_text
from .text import tokenize


def _l2_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _check_texts(texts, where: str) -> list[str]:
    texts = list(texts)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"{where}: texts[{bad}] is a {type(texts[bad]).__name__}, expected str")
    return texts


class TextEncoder(ABC):
    """MOTE's interface: ``fit`` on texts, then ``transform`` texts to L2-normalised rows ``[n, dim]``."""

    dim: int

    @abstractmethod
    def fit(self, texts: Sequence[str]) -> "TextEncoder":
        """Learn whatever the encoder learns from ``texts`` (the training items' texts); returns self."""

    @abstractmethod
    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """``[len(texts), dim]`` float32, rows of norm 1 (0 for a text the encoder cannot place)."""

    def masses(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's weight in a motivation sum (:mod:`.mar`): 1 for a non-zero row, else 0.

        Encoders that are linear before their last normalisation override this so that a
        weighted sum of normalised rows equals the encoding of the concatenated texts.
        """
        return (np.linalg.norm(self.transform(texts), axis=1) > 0).astype(np.float32)


class TfidfSvdEncoder(TextEncoder):
    """TF-IDF (scikit-learn, smooth idf, raw term counts) + TruncatedSVD, rows L2-normalised.

    With ``V`` the vocabulary learnt by :meth:`fit`: ``x(text) = counts(text) * idf`` in ``R^V``,
    ``z(text) = x(text) @ P`` with ``P [V, k]`` the SVD's components (fitted on the L2-normalised
    TF-IDF rows, ``random_state`` fixed: deterministic), ``transform = z / |z|`` padded with zero
    columns to ``dim``. Sizes: when ``V <= dim`` the SVD is skipped and ``P`` is the identity
    (``k = V``, nothing lost); otherwise ``k = min(dim, number of fit texts)`` (scikit-learn
    returns no more components than rows); ``n_components_`` holds ``k``. Unknown terms are
    ignored (``min_df`` is scikit-learn's: terms in fewer fit texts are unknown too).

    Linearity gives the identity behind MAR's per-window motivation: for terms weighted
    ``w = sum_j r_j counts(text_j)``, ``encode(w) = normalise(sum_j r_j * masses_j * transform_j)``
    with ``masses_j = |z(text_j)|`` (:meth:`masses`, :meth:`transform_terms`).
    """

    def __init__(self, dim: int = 64, *, random_state: int = 0, min_df: int = 1):
        if not (isinstance(dim, int) and dim >= 1):
            raise ValueError(f"TfidfSvdEncoder: dim must be a positive integer, got {dim!r}")
        self.dim, self.random_state, self.min_df = dim, random_state, min_df
        self.vectorizer = None
        self.components_: np.ndarray | None = None        # P, [V, k]
        self.n_components_: int | None = None

    def fit(self, texts) -> "TfidfSvdEncoder":
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = _check_texts(texts, "TfidfSvdEncoder.fit")
        vectorizer = TfidfVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None, min_df=self.min_df,
                                     norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=False,
                                     dtype=np.float64)
        try:
            x = vectorizer.fit_transform(texts)
        except ValueError as err:                       # "empty vocabulary"
            raise ValueError(f"TfidfSvdEncoder.fit: no term in the {len(texts)} fit text(s) ({err})") from None
        n_terms = x.shape[1]
        if n_terms <= self.dim:
            components = np.eye(n_terms)
        else:
            from sklearn.decomposition import TruncatedSVD

            svd = TruncatedSVD(n_components=min(self.dim, x.shape[0]), random_state=self.random_state)
            svd.fit(x)
            components = svd.components_.T                  # (V, k)
        self.vectorizer, self.components_ = vectorizer, np.ascontiguousarray(components)
        self.n_components_ = components.shape[1]
        return self

    def _fitted(self, where: str):
        if self.vectorizer is None:
            raise RuntimeError(f"TfidfSvdEncoder.{where}: call fit(texts) first")

    def _project(self, x) -> np.ndarray:
        """``x [n, V]`` (sparse or dense) @ P, zero-padded to ``dim`` columns (not normalised)."""
        z = np.asarray(x @ self.components_, dtype=np.float64)
        out = np.zeros((z.shape[0], self.dim), dtype=np.float64)
        out[:, : z.shape[1]] = z
        return out

    def raw(self, texts: Sequence[str]) -> np.ndarray:
        """``z(text) = (counts(text) * idf) @ P`` for each text, ``[n, dim]`` float64, not normalised."""
        self._fitted("raw")
        from sklearn.feature_extraction.text import CountVectorizer

        texts = _check_texts(texts, "TfidfSvdEncoder.raw")
        counter = CountVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None,
                                  vocabulary=self.vectorizer.vocabulary_, dtype=np.float64)
        counts = counter.transform(texts)                                   # (n, V) raw term counts
        return self._project(counts.multiply(self.vectorizer.idf_[None, :]).tocsr())

    def transform(self, texts) -> np.ndarray:
        self._fitted("transform")
        texts = _check_texts(texts, "TfidfSvdEncoder.transform")
        return _l2_rows(self._project(self.vectorizer.transform(texts))).astype(np.float32)

    def masses(self, texts) -> np.ndarray:
        """``|z(text)|``: the norm of the un-normalised projection of the raw-count TF-IDF vector."""
        return np.linalg.norm(self.raw(texts), axis=1).astype(np.float32)

    def transform_terms(self, weighted_terms: Sequence[Mapping[str, float]]) -> np.ndarray:
        """Encode bags of terms ``{term: weight}`` as the text with those term counts would be.

        ``normalise((w * idf) @ P)``; terms outside the vocabulary are ignored. ``[n, dim]`` float32.
        """
        self._fitted("transform_terms")
        import scipy.sparse as sp

        vocab, idf = self.vectorizer.vocabulary_, self.vectorizer.idf_
        rows, cols, vals = [], [], []
        for r, bag in enumerate(weighted_terms):
            for term, weight in bag.items():
                c = vocab.get(term)
                if c is not None:
                    rows.append(r)
                    cols.append(c)
                    vals.append(float(weight) * idf[c])
        x = sp.csr_matrix((vals, (rows, cols)), shape=(len(weighted_terms), len(vocab)))
        return _l2_rows(self._project(x)).astype(np.float32)


class SentenceTransformerEncoder(TextEncoder):
    """A local ``sentence_transformers`` model (optional; no download: ``model_path`` is a folder).

    ``fit`` learns nothing (the model is pre-trained); ``transform`` returns its normalised
    embeddings (an empty text gives a zero row). The package is imported on construction; when
    it is missing, an ImportError names it.
    """

    def __init__(self, model_path: str, *, device: str = "cpu", batch_size: int = 64):
        try:
            st = importlib.import_module("sentence_transformers")
        except ImportError:
            raise ImportError("SentenceTransformerEncoder needs the package 'sentence-transformers' "
                              "(pip install sentence-transformers); it is not installed") from None
        from pathlib import Path

        if not Path(model_path).is_dir():
            raise FileNotFoundError(f"SentenceTransformerEncoder: no local model folder at {model_path!r} "
                                    f"(models are never downloaded here)")
        self.model = st.SentenceTransformer(str(model_path), device=device, local_files_only=True)
        self.batch_size = batch_size
        self.dim = int(self.model.get_sentence_embedding_dimension())

    def fit(self, texts) -> "SentenceTransformerEncoder":
        return self

    def transform(self, texts) -> np.ndarray:
        texts = _check_texts(texts, "SentenceTransformerEncoder.transform")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        keep = [i for i, t in enumerate(texts) if t.strip()]
        if keep:
            emb = self.model.encode([texts[i] for i in keep], batch_size=self.batch_size,
                                    convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
            out[keep] = emb
        return out


# ---------------------------------------------------------------------------- items and profiles
class ItemTraits(NamedTuple):
    """MOTE's item table: ``vectors [N+1, d]`` (row 0 = padding = 0) and ``masses [N+1]`` (mass 0 = 0)."""

    vectors: np.ndarray
    masses: np.ndarray


def fit_on_items(encoder: TextEncoder, item_texts: Sequence[str], item_ids) -> TextEncoder:
    """Fit ``encoder`` on the texts of ``item_ids`` only (e.g. the items of the training windows)."""
    ids = np.unique(np.asarray(item_ids, dtype=np.int64).reshape(-1))
    ids = ids[ids != 0]
    if ids.size == 0 or ids[0] < 0 or ids[-1] >= len(item_texts):
        raise ValueError(f"fit_on_items: item ids must be a non-empty set in 1..{len(item_texts) - 1}")
    texts = list(item_texts)
    return encoder.fit([texts[i] for i in ids])


def item_traits(encoder: TextEncoder, item_texts: Sequence[str]) -> ItemTraits:
    """Every item's trait vector and mass under a fitted ``encoder``; padding row 0 is zero."""
    texts = list(item_texts)
    if not texts or texts[0] != "":
        raise ValueError("item_traits: item_texts[0] is padding and must be the empty string")
    vectors = np.asarray(encoder.transform(texts), dtype=np.float32)
    masses = np.asarray(encoder.masses(texts), dtype=np.float32).copy()
    vectors[0] = 0.0
    masses[0] = 0.0
    return ItemTraits(vectors, masses)


def embed_profiles(encoder: TextEncoder, profiles: Sequence[Mapping]) -> np.ndarray:
    """Profiles in the items' space, ``[n, d]`` L2-normalised (zero for an empty profile).

    A TF-IDF encoder reads the profile's weighted terms (:func:`.mope.profile_terms`), so an
    offline profile with ``top_k=None`` lands exactly on MAR's window motivation; other encoders
    read :func:`.mope.profile_text`.
    """
    if isinstance(encoder, TfidfSvdEncoder):
        return encoder.transform_terms([profile_terms(p) for p in profiles])
    return np.asarray(encoder.transform([profile_text(p) for p in profiles]), dtype=np.float32)
