"""PMSA (method.md §1) against hand-computed cases and a brute-force set reference."""
import numpy as np
import pytest
import torch

from srsupm_lab import pmsa


# ---------------------------------------------------------------- Eq. 2 by hand
@pytest.mark.parametrize("history, target, expected", [
    ([{1, 2}, {3}], {2, 4}, 1 - 1 / 4),          # ∩={2}, ∪={1,2,3,4}
    ([{1, 2}], {1, 2}, 0.0),                      # identical sets: no shift
    ([{1}, {2}], {3}, 1.0),                       # disjoint: complete shift
    ([{5}, {5}, {5}], {5, 6}, 0.5),               # duplicates in history count once
    ([], {1}, 1.0),                               # empty history
    ([set(), set()], set(), 1.0),                 # empty union -> 1 (method.md choice)
    ([{1}], set(), 1.0),                          # unlabelled target: ∩ empty, ∪ = {1}
    ([set(), {1, 2, 3}], {1}, 1 - 1 / 3),
])
def test_pmsd_hand_cases(history, target, expected):
    assert pmsa.pmsd(history, target) == pytest.approx(expected)


# ---------------------------------------------------------------- Eq. 3 boundaries
def _level_by_definition(x, K):
    """Eq. 3 written as interval membership with exact fractions."""
    from fractions import Fraction
    if x == 0:
        return 0
    if x == 1:
        return K - 1
    f = Fraction(x).limit_denominator(10 ** 9)
    for j in range(K - 2):                        # bin j covers [j/(K-2), (j+1)/(K-2)) ∩ (0,1)
        if Fraction(j, K - 2) <= f < Fraction(j + 1, K - 2):
            return 1 + j
    raise AssertionError


@pytest.mark.parametrize("K", [3, 4, 5, 6, 7])
def test_shift_level_boundaries(K):
    eps = 1e-9
    xs = [0.0, 1.0, eps, 1 - eps]
    for j in range(1, K - 2):
        xs += [j / (K - 2) - eps, j / (K - 2) + eps]
    for x in xs:
        assert pmsa.shift_level(x, K) == _level_by_definition(x, K), (x, K)
    assert pmsa.shift_level(0.0, K) == 0 and pmsa.shift_level(1.0, K) == K - 1
    assert pmsa.shift_level(1e-12, K) == 1 and pmsa.shift_level(1 - 1e-12, K) == K - 2
    grid = np.linspace(0, 1, 1001)
    assert np.array_equal(pmsa.shift_level(grid, K), [_level_by_definition(x, K) for x in grid])


def test_shift_level_k5_values_from_readme():
    # shared/data/README.md: K=5 -> level 1 + min(2, floor(3*PMSD)) inside (0, 1)
    assert [pmsa.shift_level(x, 5) for x in (0.0, 0.1, 0.34, 0.67, 0.99, 1.0)] == [0, 1, 2, 3, 3, 4]


@pytest.mark.parametrize("K", [2, 1, 0, -3, 2.5, True])
def test_bad_K(K):
    with pytest.raises(ValueError, match="K"):
        pmsa.shift_level(0.5, K)
    with pytest.raises(ValueError, match="K"):
        pmsa.assess(torch.zeros(1, 2, dtype=torch.long), torch.ones(1, dtype=torch.long), [frozenset(), frozenset({0})], K)


def test_shift_level_rejects_out_of_range():
    with pytest.raises(ValueError):
        pmsa.shift_level(1.5, 5)


# ---------------------------------------------------------------- vectorised assess == scalar reference
def _random_world(rng, n_items=60, n_labels=130):
    labels = [frozenset()]
    for _ in range(n_items):
        k = rng.integers(0, 4)                   # some items have no label
        labels.append(frozenset(rng.choice(n_labels, size=k, replace=False).tolist()))
    return labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_assess_equals_scalar_reference(seed):
    rng = np.random.default_rng(seed)
    labels = _random_world(rng)                  # 130 labels -> 3 bitset words
    M, L = 400, 9
    lens = rng.integers(0, L + 1, M)
    inputs = np.zeros((M, L), dtype=np.int64)
    for r in range(M):
        if lens[r]:
            inputs[r, L - lens[r]:] = rng.integers(1, len(labels), lens[r])
    targets = rng.integers(1, len(labels), M)
    got_pmsd, got_level = pmsa.assess(torch.from_numpy(inputs), torch.from_numpy(targets), labels, K=5)
    ref = [pmsa.pmsd([labels[i] for i in inputs[r] if i], labels[targets[r]]) for r in range(M)]
    np.testing.assert_allclose(got_pmsd.numpy(), ref, rtol=0, atol=1e-12)
    assert got_level.tolist() == [pmsa.shift_level(x, 5) for x in ref]
    # chunking does not change anything
    p2, l2 = pmsa.assess(inputs, targets, labels, K=5, chunk=7)
    assert torch.equal(p2, got_pmsd) and torch.equal(l2, got_level)


def test_assess_quantile_bins_balance_middle_levels():
    rng = np.random.default_rng(3)
    labels = _random_world(rng, n_items=200, n_labels=40)
    inputs = torch.from_numpy(rng.integers(0, 201, (3000, 6)))
    targets = torch.from_numpy(rng.integers(1, 201, 3000))
    p, lev = pmsa.assess(inputs, targets, labels, K=6, bins="quantile")
    inner = (p > 0) & (p < 1)
    shares = np.bincount(lev[inner].numpy(), minlength=6)[1:5] / inner.sum().item()
    assert np.all(np.abs(shares - 0.25) < 0.08), shares    # ties keep it from being exact
    assert torch.equal(lev[p == 0], torch.zeros_like(lev[p == 0]))
    assert torch.equal(lev[p == 1], torch.full_like(lev[p == 1], 5))
    edges = pmsa.level_edges(6, "quantile", p.numpy())
    _, lev2 = pmsa.assess(inputs, targets, labels, K=6, bins=edges)   # explicit edges reuse
    assert torch.equal(lev, lev2)


def test_assess_bad_input():
    labels = [frozenset(), frozenset({0}), frozenset({1})]
    with pytest.raises(ValueError, match="target"):
        pmsa.assess(torch.tensor([[1, 2]]), torch.tensor([0]), labels, 3)
    with pytest.raises(ValueError, match="input item"):
        pmsa.assess(torch.tensor([[1, 9]]), torch.tensor([1]), labels, 3)
    with pytest.raises(ValueError, match=r"\[M, L\]"):
        pmsa.assess(torch.tensor([1, 2]), torch.tensor([1]), labels, 3)
    with pytest.raises(ValueError, match="bins"):
        pmsa.assess(torch.tensor([[1, 2]]), torch.tensor([1]), labels, 3, bins="weird")


# ---------------------------------------------------------------- label noise
def _labels_for_noise(rng, n=3000):
    out = [frozenset()]
    for _ in range(n):
        k = rng.integers(0, 6)
        out.append(frozenset(rng.choice(50, size=k, replace=False).tolist()))
    return out


def test_drop_labels_invariants():
    rng = np.random.default_rng(0)
    labels = _labels_for_noise(rng)
    assert pmsa.drop_labels(labels, 0.0, seed=1) == labels                         # p = 0 is identity
    for p in (0.1, 0.3, 0.5, 1.0):
        noisy = pmsa.drop_labels(labels, p, seed=7)
        assert noisy == pmsa.drop_labels(labels, p, seed=7)                        # same seed, same result
        assert len(noisy) == len(labels)
        for a, b in zip(labels, noisy):
            assert b <= a                                                          # only drops
            assert bool(a) == bool(b)                                              # never empties a labelled item
        if p == 1.0:
            assert all(len(b) == 1 for a, b in zip(labels, noisy) if a)            # exactly one original kept
    assert pmsa.drop_labels(labels, 0.3, seed=1) != pmsa.drop_labels(labels, 0.3, seed=2)


def test_drop_labels_kept_share_matches_p():
    rng = np.random.default_rng(1)
    labels = _labels_for_noise(rng, n=6000)
    total = sum(len(s) for s in labels)
    for p in (0.1, 0.3, 0.5):
        noisy = pmsa.drop_labels(labels, p, seed=3)
        kept = sum(len(s) for s in noisy)
        # expected kept pairs: each pair survives w.p. 1-p, plus one rescued label per item that lost all
        expected = sum(len(s) * (1 - p) + (p ** len(s) if s else 0) for s in labels)
        assert abs(kept - expected) < 4 * np.sqrt(total * p * (1 - p)), (p, kept, expected)


@pytest.mark.parametrize("p", [-0.1, 1.01, float("nan"), "0.2", None])
def test_drop_labels_bad_p(p):
    with pytest.raises(ValueError, match="p"):
        pmsa.drop_labels([frozenset(), frozenset({1})], p, seed=0)
