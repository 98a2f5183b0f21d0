"""The two stages: exact top-k against brute force, the faiss index against exact (srsupm_lab.serve.ann).

References: a float64 NumPy argsort of ``h @ E.T`` with the seen items set to -inf, by hand.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from srsupm_lab.serve.ann import exact_top_k, recall_at_k

pytestmark = pytest.mark.usefixtures("one_thread")          # tests/conftest.py


def _world(n_items=2000, d=16, users=40, seed=0):
    g = np.random.default_rng(seed)
    E = g.normal(size=(n_items + 1, d)).astype(np.float32)
    E[0] = 0
    h = g.normal(size=(users, d)).astype(np.float32)
    seen = np.zeros((users, 6), dtype=np.int64)
    seen[:, :4] = g.integers(1, n_items + 1, size=(users, 4))            # 0-padded histories
    return h, E, seen


def _brute(h, E, seen, k):
    s = h.astype(np.float64) @ E.astype(np.float64).T                    # (B, N+1)
    s[:, 0] = -np.inf
    np.put_along_axis(s, seen, -np.inf, axis=1)
    return np.argsort(-s, axis=1, kind="stable")[:, :k]


def test_exact_top_k_is_brute_force_with_seen_items_left_out():
    h, E, seen = _world()
    values, items = exact_top_k(torch.from_numpy(h), torch.from_numpy(E), 10, torch.from_numpy(seen))
    assert (items.numpy() == _brute(h, E, seen, 10)).all()
    assert not (items.numpy()[:, :, None] == seen[:, None, :]).any()
    np.testing.assert_allclose(values.numpy(), np.take_along_axis(h @ E.T, items.numpy(), axis=1), rtol=1e-5)


def test_a_tiny_catalogue_pads_with_minus_infinity():
    h, E, seen = _world(n_items=5, users=3)
    values, items = exact_top_k(torch.from_numpy(h), torch.from_numpy(E), 5, torch.from_numpy(seen))
    left = [5 - len(set(row[row > 0])) for row in seen]
    assert (np.isfinite(values.numpy()).sum(axis=1) == left).all()


def test_recall_counts_shared_items():
    assert recall_at_k(torch.tensor([[1, 2, 3]]), torch.tensor([[3, 4, 1]])) == pytest.approx(2 / 3)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_the_index_finds_the_exact_neighbours_and_leaves_seen_items_out(kind):
    pytest.importorskip("faiss", reason="faiss-cpu (the serve extra) is not installed")
    from srsupm_lab.serve.ann import ItemIndex
    h, E, seen = _world()
    index = ItemIndex(torch.from_numpy(E), kind=kind, ef=256, nprobe=64)    # a broad search: near exact
    values, items = index.search(torch.from_numpy(h), 10, torch.from_numpy(seen))
    exact = _brute(h, E, seen, 10)
    assert recall_at_k(items, torch.from_numpy(exact)) >= 0.95
    assert not (items.numpy()[:, :, None] == seen[:, None, :]).any() and (items.numpy() > 0).all()
    np.testing.assert_allclose(values.numpy(), np.take_along_axis(h @ E.T, items.numpy(), axis=1), rtol=1e-4,
                               atol=1e-4)
    assert (np.diff(values.numpy(), axis=1) <= 1e-6).all()                  # best first
    index.set_search(ef=1, nprobe=1)                                        # a narrow search finds fewer
    _, narrow = index.search(torch.from_numpy(h), 10, torch.from_numpy(seen))
    assert recall_at_k(narrow, torch.from_numpy(exact)) < recall_at_k(items, torch.from_numpy(exact))


def test_a_served_run_recommends_through_the_index(tmp_path):
    pytest.importorskip("faiss", reason="faiss-cpu (the serve extra) is not installed")
    from srsupm_lab.serve import load_run
    from srsupm_lab.serve.ann import ItemIndex
    from test_serve import train_world
    run = load_run(train_world(tmp_path, epochs=1), device="cpu")
    users = run.maps.users[:20].tolist()
    exact = run.recommend(users=users, k=5)
    approx = run.recommend(users=users, k=5, index=ItemIndex(run.item_table(), kind="hnsw", ef=200))
    assert approx["item"].tolist() == exact["item"].tolist()               # 40 items: the graph is exact
    np.testing.assert_allclose(approx["score"], exact["score"], rtol=1e-5, atol=1e-6)
