"""Data path: SequenceDataset, loaders (fixtures + the real data when present), leave-one-out windows."""
import json
import os

import numpy as np
import pytest
import torch

from srsupm_lab import pmsa
from srsupm_lab.data import SequenceDataset, leave_one_out, load_dataset, make_synthetic
from srsupm_lab.data.loaders import data_roots


def _write_s3rec(folder, lines, labels, stem=None, kind="categories"):
    folder.mkdir(parents=True, exist_ok=True)
    stem = stem or folder.name
    (folder / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    (folder / f"{stem}_item2{kind}.json").write_text(json.dumps(labels))
    return folder


# ---------------------------------------------------------------- leave-one-out against a plain loop
def _brute_windows(seqs, L):
    tr, va, te = [], [], []
    for u, s in enumerate(seqs):
        s = list(s)
        n = len(s)
        if n < 3:
            continue
        pad = lambda xs: [0] * (L - len(xs[-L:])) + xs[-L:]
        for t in range(2, n - 1):                        # 1-based t = 2..n-2
            tr.append((pad(s[:t - 1]), s[t - 1], u))
        va.append((pad(s[:n - 2]), s[n - 2], u, s[:n - 2]))
        te.append((pad(s[:n - 1]), s[n - 1], u, s[:n - 1]))
    return tr, va, te


@pytest.mark.parametrize("L", [1, 3, 50])
def test_leave_one_out_matches_definition(L):
    rng = np.random.default_rng(L)
    seqs = [rng.integers(1, 30, rng.integers(1, 12)) for _ in range(60)]
    ds = SequenceDataset("t", seqs, [frozenset()] + [frozenset({i % 4}) for i in range(1, 30)], ["a", "b", "c", "d"])
    with pytest.warns(UserWarning, match="dropped"):
        sp = leave_one_out(ds, max_len=L)
    tr, va, te = _brute_windows(seqs, L)
    assert sp.dropped_users == sum(len(s) < 3 for s in seqs)
    assert sp.train.inputs.tolist() == [w[0] for w in tr]
    assert sp.train.targets.tolist() == [w[1] for w in tr]
    assert sp.train.users.tolist() == [w[2] for w in tr]
    for part, ref in ((sp.valid, va), (sp.test, te)):
        assert part.inputs.tolist() == [w[0] for w in ref]
        assert part.targets.tolist() == [w[1] for w in ref]
        assert part.users.tolist() == [w[2] for w in ref]
        hist = [[i for i in row if i] for row in part.history.tolist()]
        assert hist == [w[3] for w in ref]                     # full history, not truncated to L
    assert len(sp.train) == sum(max(len(s) - 3, 0) for s in seqs)


def test_leave_one_out_bad_input():
    ds = SequenceDataset("t", [np.array([1, 2])], [frozenset(), frozenset({0}), frozenset({0})], ["a"])
    with pytest.raises(ValueError, match="max_len"):
        leave_one_out(ds, max_len=0)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="3 or more"):
        leave_one_out(ds)


def test_sequence_dataset_bad_input():
    labels = [frozenset(), frozenset({0})]
    with pytest.raises(ValueError, match="empty sequence"):
        SequenceDataset("t", [np.array([1]), np.array([], dtype=np.int64)], labels, ["a"])
    with pytest.raises(ValueError, match="no user"):
        SequenceDataset("t", [], labels, ["a"])
    with pytest.raises(ValueError, match="item 5"):
        SequenceDataset("t", [np.array([1, 5])], labels, ["a"])
    with pytest.raises(ValueError, match=">= 1"):
        SequenceDataset("t", [np.array([0, 1])], labels, ["a"])


# ---------------------------------------------------------------- loaders on fixtures
def test_load_s3rec_fixture(tmp_path):
    folder = _write_s3rec(tmp_path / "Toy", ["1 1 2 3 4", "2 3 2 1", "3 4 4 2 1 3"],
                          {"1": ["Hair", "Care"], "2": ["Nails"], "3": [], "4": ["Care"]})
    with pytest.warns(UserWarning, match="1 item"):
        ds = load_dataset(folder)
    assert ds.n_users == 3 and ds.n_items == 4 and ds.n_interactions == 12
    assert ds.label_names == ["Care", "Hair", "Nails"]                      # sorted names
    assert ds.item_labels == [frozenset(), frozenset({0, 1}), frozenset({2}), frozenset(), frozenset({0})]
    assert [s.tolist() for s in ds.sequences] == [[1, 2, 3, 4], [3, 2, 1], [4, 4, 2, 1, 3]]
    st = ds.stats()
    assert st.loc["interactions", "Toy"] == 12 and st.loc["items with no label", "Toy"] == 1


def test_load_by_name_uses_root_and_env(tmp_path, monkeypatch):
    _write_s3rec(tmp_path / "Beauty", ["1 1 2 3"], {"1": ["a"], "2": ["b"], "3": ["a", "b"]})
    assert load_dataset("beauty", root=tmp_path).n_items == 3
    monkeypatch.setenv("SRSUPM_DATA", str(tmp_path))
    assert load_dataset("Beauty").name == "beauty"


def test_attribute_labels(tmp_path):
    folder = _write_s3rec(tmp_path / "Toy", ["1 1 2"], {"1": [7, 9, 9], "2": [9]}, kind="attributes")
    (folder / "Toy_attribute_names.json").write_text(json.dumps({"7": {"name": "Brand X"}, "9": {"name": "Soap"}}))
    ds = load_dataset(folder, labels="attributes")
    assert ds.label_names == ["Brand X", "Soap"] and ds.item_labels[1] == frozenset({0, 1})


def test_loader_bad_input(tmp_path, monkeypatch):
    monkeypatch.delenv("SRSUPM_DATA", raising=False)
    with pytest.raises(ValueError, match="known names are synthetic, synthetic-clickbait, beauty"):
        load_dataset("amazon-books")
    with pytest.raises(FileNotFoundError, match=r"looked in: .*nowhere.*SRSUPM_DATA"):
        load_dataset("yelp", root=tmp_path / "nowhere")
    bad = _write_s3rec(tmp_path / "Bad", ["1 1 2", "2 3 x 4"], {str(i): ["a"] for i in range(1, 5)})
    with pytest.raises(ValueError, match=r"Bad\.txt:2: malformed"):
        load_dataset(bad)
    miss = _write_s3rec(tmp_path / "Miss", ["1 1 2 3"], {"1": ["a"], "4": ["b"], "6": ["c"]})
    with pytest.raises(ValueError, match=r"no entry for 2 item\(s\) of Miss\.txt, e\.g\. item \[2, 3\]"):
        load_dataset(miss)
    (miss / "Miss_item2categories.json").write_text("{\"1\": [\"a\"],\n oops")
    with pytest.raises(ValueError, match=r"Miss_item2categories\.json:2: malformed JSON"):
        load_dataset(miss)
    with pytest.raises(FileNotFoundError, match="item2attributes"):
        load_dataset(miss, labels="attributes")
    with pytest.raises(ValueError, match="labels must be"):
        load_dataset(miss, labels="brands")
    empty = _write_s3rec(tmp_path / "Empty", ["1"], {})
    with pytest.raises(ValueError, match=r"Empty\.txt:1: a user with no items"):
        load_dataset(empty)


# ---------------------------------------------------------------- the synthetic world
def test_synthetic_is_deterministic_and_well_formed():
    a, b, c = make_synthetic(seed=3), make_synthetic(seed=3), make_synthetic(seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a.sequences, b.sequences))
    assert not all(np.array_equal(x, y) for x, y in zip(a.sequences, c.sequences))
    assert all(1 <= len(s) <= 3 for s in a.item_labels[1:])
    assert all(len(s) >= 5 for s in a.sequences)
    sw = np.concatenate(a.meta["switch"])
    assert abs(sw.mean() - 0.2 * (1 - 1 / np.mean([len(s) for s in a.sequences]))) < 0.03
    for m, s in zip(a.meta["motivation"], a.meta["switch"]):   # switch flags agree with motivation changes
        assert np.array_equal(s[1:], m[1:] != m[:-1]) and not s[0]


def test_synthetic_pmsa_sees_the_true_switches():
    ds = make_synthetic(seed=0, switch_rate=0.3)
    sp = leave_one_out(ds)
    p, _ = pmsa.assess(sp.train.inputs, sp.train.targets, ds.item_labels, K=5)
    # the step of each training target: its index in the user's sequence
    first = np.zeros(ds.n_users, dtype=np.int64)
    counts = np.bincount(sp.train.users.numpy(), minlength=ds.n_users)
    pos = np.arange(len(sp.train)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    switched = np.array([ds.meta["switch"][u][t] for u, t in zip(sp.train.users.tolist(), pos)])
    assert p[torch.from_numpy(switched)].mean() > p[torch.from_numpy(~switched)].mean() + 0.05


# ---------------------------------------------------------------- real data (skipped where absent)
def _real_root():
    for r in data_roots():
        if (r / "Beauty" / "Beauty.txt").is_file():
            return r
    return None


real = pytest.mark.skipif(_real_root() is None, reason="the repository's data/ not found (or set SRSUPM_DATA)")


@real
def test_real_beauty_matches_published_statistics():
    ds = load_dataset("beauty")
    assert (ds.n_users, ds.n_items, ds.n_interactions, ds.n_labels) == (22363, 12101, 198502, 202)
    sp = leave_one_out(ds)
    assert len(sp.train) == 131413                                   # data/README.md
    p, lev = pmsa.assess(sp.train.inputs, sp.train.targets, ds.item_labels, K=5)
    assert float((p == 0).double().mean()) == pytest.approx(0.0271, abs=5e-4)
    assert float((p == 1).double().mean()) == pytest.approx(0.2445, abs=5e-4)
    pt, lt = pmsa.assess(sp.test.history[:, -50:], sp.test.targets, ds.item_labels, K=5)
    shares = np.bincount(lt.numpy(), minlength=5) / len(lt)
    np.testing.assert_allclose(shares, [0.006, 0.005, 0.077, 0.749, 0.163], atol=1.5e-3)


def test_real_ml100k_is_5core():
    if not any((r / "ml-100k").is_dir() for r in data_roots()):
        pytest.skip("ml-100k is not shipped (MovieLens terms); set SRSUPM_DATA to a folder holding it")
    ds = load_dataset("ml-100k")
    assert (ds.n_users, ds.n_items, ds.n_interactions, ds.n_labels) == (943, 1349, 99287, 19)
