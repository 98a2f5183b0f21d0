"""The motivation-profile method's core (srsupm_lab.methods.profiles): MOPE offline, MOTE, MAR."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from srsupm_lab.backbones import build_backbone
from srsupm_lab.methods.profiles import (ItemTraits, MotivationAlignedRecommender, OfflineProfiles,
                                         SentenceTransformerEncoder, TfidfSvdEncoder, embed_profiles, fit_on_items,
                                         item_traits, normalise_profile, profile_terms, profile_text, tokenize)

pytest.importorskip("sklearn", reason="the TF-IDF encoder needs scikit-learn")

# a tiny hand-written item-text table: id 0 = padding
TEXTS = ["", "Nail Polish Red", "Skin Care Face", "Nail Care", "Hair Care", "Makeup Eyes Mascara",
         "Skin Care Face Masks", "Hair Care Styling Tools & Combs", "Fragrance Women's", "", "Makeup Face Powder"]
N = len(TEXTS) - 1


# ------------------------------------------------------------------ MOPE, offline
def test_tokenize_rule():
    assert tokenize("Creams & Moisturizers") == ["creams", "moisturizers"]
    assert tokenize("Women's Tools and Combs of X") == ["women", "tools", "combs"]


def test_offline_profile_matches_hand_computation():
    # user [1, 3, 2], decay 0.5: item 2 (k=0, w=1) skin care face; item 3 (w=.5) nail care;
    # item 1 (w=.25) nail polish red -> care 1.5, face 1, skin 1, nail .75, polish .25, red .25
    # top 3 = care, face, skin (tie face/skin broken alphabetically), sum 3.5
    (p,) = OfflineProfiles(top_k=3, decay=0.5).profiles([[1, 3, 2]], TEXTS)
    assert list(p["facets"]) == ["care", "face", "skin"]
    assert p["facets"] == pytest.approx({"care": 1.5 / 3.5, "face": 1 / 3.5, "skin": 1 / 3.5})
    assert p["summary"] == "3 item(s); leading facets: care 0.43, face 0.29, skin 0.29"
    (full,) = OfflineProfiles(top_k=None, decay=0.5).profiles([[1, 3, 2]], TEXTS)
    want = {"care": 1.5, "face": 1.0, "skin": 1.0, "nail": 0.75, "polish": 0.25, "red": 0.25}
    assert full["facets"] == pytest.approx({t: w / 4.75 for t, w in want.items()})
    assert list(full["facets"]) == ["care", "face", "skin", "nail", "polish", "red"]


def test_offline_profile_edges_and_determinism():
    ext = OfflineProfiles(top_k=4, decay=0.8, max_items=2)
    lists = [[0, 0, 4], [9], [], [5, 1, 2, 1], np.array([10, 10])]
    a, b = ext.profiles(lists, TEXTS), ext.profiles(lists, TEXTS)
    assert json.dumps(a) == json.dumps(b)                     # deterministic, and JSON-able
    assert json.loads(json.dumps(a)) == a
    assert a[0] == {"facets": {"care": 0.5, "hair": 0.5}, "summary": "1 item(s); leading facets: care 0.50, hair 0.50"}
    assert a[1] == {"facets": {}, "summary": "1 item(s); no text"}                  # item 9 has no text
    assert a[2] == {"facets": {}, "summary": "0 item(s); no text"}
    assert set(a[3]["facets"]) <= set(tokenize(TEXTS[2] + " " + TEXTS[1]))          # max_items=2: items 2, 1
    assert a[4]["facets"] == pytest.approx({"face": 1 / 3, "makeup": 1 / 3, "powder": 1 / 3})
    for p in a:
        assert not p["facets"] or sum(p["facets"].values()) == pytest.approx(1.0)
        assert "\n" not in p["summary"]
    with pytest.raises(ValueError, match="user 1 has item id 11"):
        ext.profiles([[1], [11]], TEXTS)
    with pytest.raises(ValueError, match="padding"):
        ext.profiles([[1]], ["x"] + TEXTS[1:])


def test_profile_format_helpers():
    p = normalise_profile({"facets": {"nail polish": 3, "skin care": 1}, "summary": "likes\n nails", "x": 1})
    assert p == {"facets": {"nail polish": 0.75, "skin care": 0.25}, "summary": "likes nails"}
    assert profile_terms(p) == pytest.approx({"nail": 0.375, "polish": 0.375, "skin": 0.125, "care": 0.125})
    assert profile_text(p) == "nail polish 0.75, skin care 0.25. likes nails"
    fixed = normalise_profile({"facets": {"aesthetics": 1}, "summary": ""}, facets=["functionality", "aesthetics"])
    assert fixed["facets"] == {"functionality": 0.0, "aesthetics": 1.0}
    for bad in ({"facets": {}, "summary": ""}, {"facets": {"a": -1}, "summary": ""}, {"facets": {"a": 1}},
                {"facets": {"a": True}, "summary": ""}, [1]):
        with pytest.raises(ValueError):
            normalise_profile(bad)
    with pytest.raises(ValueError, match="not one of"):
        normalise_profile({"facets": {"price": 1}, "summary": ""}, facets=["functionality"])


# ------------------------------------------------------------------ MOTE
TRAIN_IDS = [1, 2, 3, 4, 5, 6, 7]                 # items 8, 10 are "held out": fragrance, women, powder unseen


def _encoder(dim=4, **kw):
    return fit_on_items(TfidfSvdEncoder(dim=dim, random_state=0, **kw), TEXTS, TRAIN_IDS)


def test_tfidf_svd_shapes_norms_determinism():
    enc = _encoder(dim=4)
    assert enc.n_components_ == 4
    out = enc.transform(TEXTS)
    assert out.shape == (len(TEXTS), 4) and out.dtype == np.float32
    norms = np.linalg.norm(out, axis=1)
    assert norms[[0, 9]] == pytest.approx([0, 0])                       # empty texts: zero rows
    assert norms[[1, 2, 3, 4, 5, 6, 7, 10]] == pytest.approx(np.ones(8), abs=1e-5)
    assert norms[8] == pytest.approx(0)                                  # only unseen words
    again = _encoder(dim=4).transform(TEXTS)
    np.testing.assert_array_equal(out, again)


def test_tfidf_svd_fitted_on_train_only():
    enc = _encoder(dim=4)
    vocab = set(enc.vectorizer.vocabulary_)
    assert {"fragrance", "women", "powder"}.isdisjoint(vocab) and "nail" in vocab
    a, b = enc.transform(["Nail Care zzzunseen powder", "Nail Care"])
    np.testing.assert_array_equal(a, b)                                  # an unseen word changes nothing


def test_tfidf_small_vocabulary_skips_svd():
    enc = TfidfSvdEncoder(dim=64).fit(["nail polish", "nail care", "hair care"])   # 4 terms <= 64
    assert enc.n_components_ == 4
    out = enc.transform(["nail polish", "hair care"])
    assert out.shape == (2, 64) and np.allclose(np.linalg.norm(out, axis=1), 1)
    # the identity projection keeps TF-IDF cosines exactly
    x = enc.vectorizer.transform(["nail polish", "hair care"]).toarray()
    assert float(out[0] @ out[1]) == pytest.approx(float(x[0] @ x[1]), abs=1e-6)
    few_texts = TfidfSvdEncoder(dim=8).fit(["a1 b1 c1 d1 e1", "f1 g1 h1 i1 j1"])    # 10 terms, 2 texts
    assert few_texts.n_components_ == 2 and few_texts.transform(["a1"]).shape == (1, 8)
    with pytest.raises(RuntimeError, match="fit"):
        TfidfSvdEncoder().transform(["x"])


def test_item_traits_and_profile_embedding_share_a_space():
    enc = _encoder(dim=4)
    traits = item_traits(enc, TEXTS)
    assert isinstance(traits, ItemTraits)
    assert traits.vectors.shape == (N + 1, 4) and traits.masses.shape == (N + 1,)
    assert not traits.vectors[0].any() and traits.masses[0] == 0 and traits.masses[9] == 0
    # a one-item offline profile (all terms) lands on its item's trait vector
    profiles = OfflineProfiles(top_k=None).profiles([[6], [2]], TEXTS)
    emb = embed_profiles(enc, profiles)
    np.testing.assert_allclose(emb, traits.vectors[[6, 2]], atol=1e-5)


def test_sentence_transformer_encoder_optional():
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="sentence-transformers"):
            SentenceTransformerEncoder("/nonexistent")
        pytest.skip("sentence_transformers is not installed (its missing-package error was checked)")
    path = os.environ.get("SRSUPM_ST_MODEL")
    if not path or not os.path.isdir(path):
        pytest.skip("no local sentence-transformers model: set SRSUPM_ST_MODEL to a model folder (no download)")
    enc = SentenceTransformerEncoder(path)
    out = enc.fit(TEXTS).transform(TEXTS)
    assert out.shape == (len(TEXTS), enc.dim) and not out[0].any()
    assert np.allclose(np.linalg.norm(out[1:9], axis=1), 1, atol=1e-4)


# ------------------------------------------------------------------ MAR
@pytest.fixture
def model(one_thread):
    torch.manual_seed(0)
    enc = _encoder(dim=6)
    traits = item_traits(enc, TEXTS)
    backbone = build_backbone("gru4rec", n_items=N, dim=8, max_len=5)
    return MotivationAlignedRecommender(backbone, traits.vectors, traits.masses, decay=0.8), enc


WINDOWS = torch.tensor([[0, 0, 1, 3, 2], [4, 7, 9, 1, 6], [0, 0, 0, 0, 9], [0, 0, 0, 5, 5], [10, 8, 2, 2, 1]])


def test_mar_score_shape_and_gate_zero_equals_backbone(model):
    mar, _ = model
    mar.eval()
    s = mar.score(WINDOWS)
    assert s.shape == (len(WINDOWS), N + 1)
    with torch.no_grad():
        mar.gate_scale.zero_()
        h = mar.backbone.encode(WINDOWS)
        direct = h @ mar.backbone.item_embedding.weight[: N + 1].T
        torch.testing.assert_close(mar.score(WINDOWS), direct, rtol=0, atol=0)
    scalar = MotivationAlignedRecommender(mar.backbone, mar.traits, mar.masses, gate="scalar", gate_init=0.0).eval()
    with torch.no_grad():
        torch.testing.assert_close(scalar.score(WINDOWS), direct, rtol=0, atol=0)


def test_mar_gradient_reaches_gate_and_map(model):
    mar, _ = model
    mar.train()
    batch = {"inputs": WINDOWS, "targets": torch.tensor([4, 2, 3, 6, 7]), "users": torch.arange(5)}
    total, parts = mar.loss(batch)
    assert set(parts) == {"rec"} and not parts["rec"].requires_grad
    total.backward()
    for name in ("gate_scale", "user_map", "item_map", "gate_net.weight", "gate_net.bias"):
        grad = dict(mar.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    assert mar.backbone.item_embedding.weight.grad.abs().sum() > 0
    assert not mar.traits.requires_grad and "traits" not in dict(mar.named_parameters())
    with pytest.raises(ValueError, match="1..10"):
        mar.loss({**batch, "targets": torch.tensor([0, 2, 3, 6, 7])})


def test_mar_window_motivation_equals_loop_and_offline_profile(model):
    mar, enc = model
    m = mar.motivation(WINDOWS)
    T, mass = mar.traits.numpy(), mar.masses.numpy()
    for b, row in enumerate(WINDOWS.tolist()):                          # loop in the test only
        acc = np.zeros(T.shape[1])
        items = [i for i in row if i != 0]
        for k, item in enumerate(reversed(items)):                     # k = steps back from the most recent
            acc += 0.8 ** k * mass[item] * T[item]
        norm = np.linalg.norm(acc)
        want = acc / norm if norm > 0 else acc
        np.testing.assert_allclose(m[b].numpy(), want, atol=1e-5)
    # the same vector is the TF-IDF embedding of the offline profile (all terms) of the window's items
    profiles = OfflineProfiles(top_k=None, decay=0.8).profiles(WINDOWS.tolist(), TEXTS)
    np.testing.assert_allclose(m.numpy(), embed_profiles(enc, profiles), atol=1e-5)
    assert not m[2].any()                                              # a window of text-less items


def test_mar_motivation_override_and_checks(model):
    mar, enc = model
    mar.eval()
    profiles = OfflineProfiles(top_k=None, decay=0.8).profiles(WINDOWS.tolist(), TEXTS)
    given = torch.from_numpy(embed_profiles(enc, profiles))
    with torch.no_grad():
        torch.testing.assert_close(mar.score(WINDOWS, motivation=given), mar.score(WINDOWS), atol=1e-5, rtol=0)
        with pytest.raises(ValueError, match="motivation must have shape"):
            mar.score(WINDOWS, motivation=given[:, :3])
    with pytest.raises(ValueError, match="traits must have shape"):
        MotivationAlignedRecommender(mar.backbone, np.zeros((N, 6)))
    with pytest.raises(ValueError, match="gate"):
        MotivationAlignedRecommender(mar.backbone, mar.traits, gate="none")
