"""srsupm_lab.analysis.shift, .diagnostics and .analysis_plots against independent references: hand-built tensors,
float64 loops, brute force."""
import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch

from srsupm_lab.analysis import shift as A
from srsupm_lab.analysis import shift_plots as P
from srsupm_lab.analysis import branches as D
from srsupm_lab.backbones import build_backbone
from srsupm_lab.data import Windows
from srsupm_lab.methods.srsupm.model import SRSUPM

N_ITEMS, DIM, L, K = 30, 8, 6, 4


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = SRSUPM(build_backbone("gru4rec", N_ITEMS, dim=DIM, max_len=L), K=K, pmsim=False,
               level_temperature="fixed")                                 # the 1/√d the references use
    with torch.no_grad():                       # spread the item table so that α is far from uniform
        m.backbone.item_table().mul_(1.0)
        for p in m.backbone.parameters():
            p.add_(0.3 * torch.randn_like(p))
        m.backbone._zero_padding_row()          # padding stays the zero vector, as training keeps it
    return m.eval()


@pytest.fixture(scope="module")
def windows():
    g = torch.Generator().manual_seed(1)
    M = 23
    inputs = torch.randint(1, N_ITEMS + 1, (M, L), generator=g)
    inputs[:5, :3] = 0                           # some padding
    targets = torch.randint(1, 6, (M,), generator=g)   # few targets: many same-target pairs
    return Windows(inputs=inputs, targets=targets, users=torch.arange(M))


def _loop_z(model, windows):
    """Ẑ by running one window at a time (float64 afterwards)."""
    return torch.stack([model.shift_representations(windows.inputs[b:b + 1], windows.users[b:b + 1])[0]
                        for b in range(len(windows))]).double()


# ----------------------------------------------------------------------------- Fig. 6
def test_mean_shift_matrix_on_a_hand_built_case():
    alpha = torch.tensor([[0.7, 0.2, 0.1], [0.5, 0.4, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    levels = torch.tensor([0, 0, 1, 1])
    m, counts = A.mean_shift_matrix(alpha, levels)
    expected = np.array([[0.6, 0.3, 0.1], [0.15, 0.5, 0.35], [np.nan] * 3])
    np.testing.assert_allclose(m, expected, atol=1e-7)
    assert counts.tolist() == [2, 2, 0]
    d = A.diagonal_dominance(m, counts)
    assert d["levels"] == 2
    assert d["diagonal"] == pytest.approx((0.6 + 0.5) / 2)
    assert d["diagonal_weighted"] == pytest.approx((0.6 * 2 + 0.5 * 2) / 4)
    assert d["off_diagonal"] == pytest.approx(np.mean([0.3, 0.1, 0.15, 0.35]))
    assert d["argmax_on_diagonal"] == 1.0
    assert d["margin"] == pytest.approx(((0.6 - 0.3) + (0.5 - 0.35)) / 2)
    assert d["uniform"] == pytest.approx(1 / 3)


def test_diagonal_dominance_counts_a_level_whose_argmax_is_elsewhere():
    m = np.array([[0.2, 0.5, 0.3], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    d = A.diagonal_dominance(m)
    assert d["argmax_on_diagonal"] == pytest.approx(2 / 3)
    assert math.isnan(d["diagonal_weighted"])


def test_mean_shift_distribution_matches_a_float64_loop(model, windows):
    levels = torch.tensor([i % K for i in range(len(windows))])
    levels[levels == 2] = 1                                    # level 2 empty
    table = A.mean_shift_distribution(model, windows, levels, batch_size=5)
    Z = _loop_z(model, windows)
    E = model.backbone.item_table().detach().double()
    ref = np.full((K, K), np.nan)
    for lvl in range(K):
        rows = []
        for b in range(len(windows)):
            if int(levels[b]) != lvl:
                continue
            logits = [float(Z[b, k] @ E[windows.targets[b]]) / math.sqrt(DIM) for k in range(K)]
            ex = np.exp(np.array(logits) - max(logits))
            rows.append(ex / ex.sum())
        if rows:
            ref[lvl] = np.mean(rows, axis=0)
    np.testing.assert_allclose(table.to_numpy(), ref, atol=1e-5)
    assert table.attrs["windows"] == [int((levels == lvl).sum()) for lvl in range(K)]
    assert list(table.index) == list(range(K)) and list(table.columns) == list(range(K))


def test_mean_shift_matrix_rejects_bad_levels():
    with pytest.raises(ValueError, match="levels must lie"):
        A.mean_shift_matrix(torch.full((2, 3), 1 / 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="shape"):
        A.mean_shift_matrix(torch.full((2, 3), 1 / 3), torch.tensor([0]))


# ----------------------------------------------------------------------------- Fig. 8
def _brute_pairs(targets, levels):
    same, other = [], []
    for i, j in itertools.combinations(range(len(targets)), 2):
        if targets[i] == targets[j]:
            (same if levels[i] == levels[j] else other).append((i, j))
    return same, other


def test_pair_distances_enumerate_exactly_the_same_target_pairs():
    rng = np.random.default_rng(3)
    M = 40
    targets = rng.integers(1, 7, M)
    levels = rng.integers(0, 3, M)
    views = rng.normal(size=(M, 5))
    out = A.pair_distances(torch.tensor(views), torch.tensor(targets), torch.tensor(levels),
                           max_pairs=None, return_pairs=True)
    same, other = _brute_pairs(targets, levels)
    got_same = sorted(tuple(sorted(p)) for p in out["pairs_same"].tolist())
    got_other = sorted(tuple(sorted(p)) for p in out["pairs_other"].tolist())
    assert got_same == sorted(same) and got_other == sorted(other)
    assert out["total_pairs"] == len(same) + len(other)
    ref = {tuple(p): float(np.linalg.norm(views[p[0]] - views[p[1]])) for p in same + other}
    for key, pairs in ((A.SAME_LEVEL, out["pairs_same"]), (A.TARGET_ONLY, out["pairs_other"])):
        expected = [ref[tuple(sorted(p))] for p in pairs.tolist()]
        np.testing.assert_allclose(out[key], expected, rtol=1e-12)
    assert sorted(out[A.SAME_LEVEL].tolist() + out[A.TARGET_ONLY].tolist()) == pytest.approx(sorted(ref.values()))


def test_pair_enumeration_survives_large_groups():
    # one target with 300 windows: 44,850 pairs, decoded from the triangular numbering
    M = 300
    targets = torch.ones(M, dtype=torch.long)
    levels = torch.zeros(M, dtype=torch.long)
    out = A.pair_distances(torch.arange(M, dtype=torch.float64)[:, None], targets, levels,
                           max_pairs=None, return_pairs=True)
    pairs = out["pairs_same"]
    assert len(pairs) == M * (M - 1) // 2
    assert len({tuple(sorted(p)) for p in pairs.tolist()}) == len(pairs)
    assert (pairs[:, 0] != pairs[:, 1]).all()
    np.testing.assert_allclose(out[A.SAME_LEVEL], np.abs(pairs[:, 0] - pairs[:, 1]).astype(float))


def test_pair_sampling_draws_valid_distinct_pairs():
    rng = np.random.default_rng(4)
    M = 200
    targets = torch.tensor(rng.integers(1, 4, M))
    levels = torch.tensor(rng.integers(0, 2, M))
    views = torch.tensor(rng.normal(size=(M, 3)))
    out = A.pair_distances(views, targets, levels, max_pairs=500, seed=1, return_pairs=True)
    pairs = np.concatenate([out["pairs_same"], out["pairs_other"]])
    assert len(pairs) == 500 and out["total_pairs"] > 500
    assert len({tuple(sorted(p)) for p in pairs.tolist()}) == 500          # without replacement
    t, lv = targets.numpy(), levels.numpy()
    assert (t[pairs[:, 0]] == t[pairs[:, 1]]).all() and (pairs[:, 0] != pairs[:, 1]).all()
    assert (lv[out["pairs_same"][:, 0]] == lv[out["pairs_same"][:, 1]]).all()
    assert (lv[out["pairs_other"][:, 0]] != lv[out["pairs_other"][:, 1]]).all()
    again = A.pair_distances(views, targets, levels, max_pairs=500, seed=1)
    np.testing.assert_array_equal(again[A.SAME_LEVEL], out[A.SAME_LEVEL])


def test_view_distances_use_the_basic_view(model, windows):
    levels = torch.tensor([i % 2 for i in range(len(windows))])
    out = A.view_distances(model, windows, levels, max_pairs=None, batch_size=4)
    g = _loop_z(model, windows).sum(dim=1).numpy()                            # g = Σ_k ẑ_k
    same, other = _brute_pairs(windows.targets.tolist(), levels.tolist())
    ref_same = sorted(np.linalg.norm(g[i] - g[j]) for i, j in same)
    ref_other = sorted(np.linalg.norm(g[i] - g[j]) for i, j in other)
    np.testing.assert_allclose(sorted(out[A.SAME_LEVEL]), ref_same, rtol=1e-5)
    np.testing.assert_allclose(sorted(out[A.TARGET_ONLY]), ref_other, rtol=1e-5)


def test_separation_is_the_pairwise_probability_with_half_ties():
    a, b = np.array([1.0, 2.0, 3.0, 3.0]), np.array([3.0, 4.0, 0.5])
    brute = np.mean([1.0 if x < y else 0.5 if x == y else 0.0 for x in a for y in b])
    assert A.separation({A.SAME_LEVEL: a, A.TARGET_ONLY: b}) == pytest.approx(brute)
    rng = np.random.default_rng(3)                            # many ties, sizes of a real Fig. 8 sample
    a, b = rng.integers(0, 20, 700) / 4, rng.integers(2, 25, 900) / 4
    brute = ((a[:, None] < b[None, :]) + 0.5 * (a[:, None] == b[None, :])).mean()
    assert A.separation({A.SAME_LEVEL: a, A.TARGET_ONLY: b}) == pytest.approx(brute, abs=1e-12)
    assert math.isnan(A.separation({A.SAME_LEVEL: a, A.TARGET_ONLY: np.array([])}))


def test_gaussian_kde_matches_the_formula_and_integrates_to_one():
    x = np.array([0.0, 1.0, 1.5, 4.0])
    grid = np.linspace(-10, 14, 4801)
    h = x.std(ddof=1) * len(x) ** -0.2
    ref = np.array([sum(math.exp(-0.5 * ((g - xi) / h) ** 2) for xi in x) / (len(x) * h * math.sqrt(2 * math.pi))
                    for g in grid[::50]])
    dens = A.gaussian_kde(x, grid)
    np.testing.assert_allclose(dens[::50], ref, rtol=1e-12)
    assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(A.gaussian_kde(x, [1.0], bandwidth=0.5),
                               [np.mean(np.exp(-0.5 * ((1.0 - x) / 0.5) ** 2)) / (0.5 * math.sqrt(2 * math.pi))])


def test_gaussian_kde_of_quantiles_takes_scotts_bandwidth_for_the_true_count():
    x = np.array([0.0, 1.0, 1.5, 4.0])
    h = x.std(ddof=1) * 1000 ** -0.2                          # the values summarise 1000 points
    ref = [np.mean(np.exp(-0.5 * ((g - x) / h) ** 2)) / (h * math.sqrt(2 * math.pi)) for g in (0.0, 2.0)]
    np.testing.assert_allclose(A.gaussian_kde(x, [0.0, 2.0], n=1000), ref, rtol=1e-12)
    same = A.gaussian_kde(np.full(5, 2.0), [2.0, 2.001])      # no spread: a narrow normal at the value
    h0 = 1e-3 * 2.0
    np.testing.assert_allclose(same, [1 / (h0 * math.sqrt(2 * math.pi)),
                                      math.exp(-0.5 * (0.001 / h0) ** 2) / (h0 * math.sqrt(2 * math.pi))])
    assert np.isnan(A.gaussian_kde([], [0.0])).all()
    with pytest.raises(ValueError, match="bandwidth"):
        A.gaussian_kde(x, [0.0], bandwidth=0.0)


# ----------------------------------------------------------------------------- Fig. 7
def _table(values, users):
    return pd.DataFrame({"level": ["all", 0, 2], "users": users, "recall@10": values[0], "ndcg@10": values[1]})


def test_level_gain_table_merges_and_computes_the_gain():
    base = _table([[0.1, 0.0, 0.2], [0.05, 0.0, 0.1]], [10, 3, 7])
    plus = _table([[0.15, 0.1, 0.2], [0.06, 0.02, 0.08]], [10, 3, 7])
    t = A.level_gain_table(base, plus, names=("SASRec", "+SRSUPM"))
    assert list(t.columns) == ["level", "users", "metric", "SASRec", "+SRSUPM", "difference", "relative_gain"]
    assert t["metric"].tolist() == ["recall@10"] * 3 + ["ndcg@10"] * 3
    assert t["level"].tolist() == ["all", 0, 2] * 2
    row = t[(t.level == "all") & (t.metric == "recall@10")].iloc[0]
    assert row["difference"] == pytest.approx(0.05) and row["relative_gain"] == pytest.approx(0.5)
    row = t[(t.level == 2) & (t.metric == "ndcg@10")].iloc[0]
    assert row["relative_gain"] == pytest.approx((0.08 - 0.1) / 0.1)
    assert np.isnan(t[(t.level == 0) & (t.metric == "recall@10")]["relative_gain"].iloc[0])   # base 0
    assert t["users"].tolist() == [10, 3, 7] * 2


def test_level_gain_table_refuses_different_users():
    with pytest.raises(ValueError, match="different users"):
        A.level_gain_table(_table([[0.1] * 3, [0.1] * 3], [10, 3, 7]), _table([[0.1] * 3, [0.1] * 3], [10, 4, 6]))


def test_level_gain_table_reads_csv_style_levels():
    base = _table([[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]], [6, 2, 4])
    plus = base.assign(level=["all", "0", "2"], **{"recall@10": [0.2, 0.2, 0.3]})
    t = A.level_gain_table(base, plus, metrics=["recall@10"])
    assert t["level"].tolist() == ["all", 0, 2]
    assert t["relative_gain"].tolist() == pytest.approx([1.0, 0.0, 0.0])


# ----------------------------------------------------------------------------- collapse
def test_branch_similarity_on_hand_built_branches():
    Z = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]],
                      [[0.0, 2.0], [1.0, 1.0], [0.0, -3.0]]])
    s = D.branch_similarity(Z)
    c = 1 / math.sqrt(2)
    expected = np.array([[1, (1 + c) / 2, (0 - 1) / 2],
                         [(1 + c) / 2, 1, (0 - c) / 2],
                         [-0.5, -c / 2, 1]])
    np.testing.assert_allclose(s, expected, atol=1e-12)


def test_branch_diagnostics_match_a_float64_recomputation(model, windows):
    levels = torch.tensor([i % K for i in range(len(windows))])
    d = D.branch_diagnostics(model, windows, levels, batch_size=6)
    Z = _loop_z(model, windows).numpy()
    E = model.backbone.item_table().detach().double().numpy()
    cos, spread_num, spread_den, ent, amax, acc, own = [], [], [], [], [], [], []
    for b in range(len(windows)):
        z = Z[b]
        for k in range(K):
            for m in range(K):
                if k != m:
                    cos.append(z[k] @ z[m] / np.linalg.norm(z[k]) / np.linalg.norm(z[m]))
        mean = z.mean(axis=0)
        spread_num += [np.linalg.norm(z[k] - mean) for k in range(K)]
        spread_den += [np.linalg.norm(z[k]) for k in range(K)]
        logits = z @ E[int(windows.targets[b])] / math.sqrt(DIM)
        a = np.exp(logits - logits.max())
        a /= a.sum()
        ent.append(-(a * np.log(a)).sum() / math.log(K))
        amax.append(a.max())
        acc.append(float(a.argmax() == int(levels[b])))
        own.append(a[int(levels[b])])
    assert d["cosine"] == pytest.approx(np.mean(cos), abs=1e-6)
    assert d["spread"] == pytest.approx(np.mean(spread_num) / np.mean(spread_den), abs=1e-6)
    assert d["alpha_entropy"] == pytest.approx(np.mean(ent), abs=1e-6)
    assert d["alpha_max"] == pytest.approx(np.mean(amax), abs=1e-6)
    assert d["level_accuracy"] == pytest.approx(np.mean(acc))
    assert d["alpha_own"] == pytest.approx(np.mean(own), abs=1e-6)


def test_branch_diagnostics_see_identical_branches_as_collapsed(model, windows):
    d = D.branch_similarity(torch.ones(3, K, DIM))
    np.testing.assert_allclose(d, np.ones((K, K)))


def test_analysis_refuses_a_backbone_alone(windows):
    from srsupm_lab.methods.none import BackboneRecommender

    with pytest.raises(TypeError, match="SRSUPM"):
        A.shift_distributions(BackboneRecommender(build_backbone("gru4rec", N_ITEMS, dim=DIM, max_len=L)), windows)


# ----------------------------------------------------------------------------- plots
def test_plots_draw_what_they_are_given():
    m = np.array([[0.6, 0.3, 0.1], [0.15, 0.5, 0.35], [np.nan] * 3])
    ax = P.plot_alpha_heatmap(m, counts=[2, 2, 0])
    assert P.plot_alpha_heatmap(m, vmax=1.0).images[0].get_clim() == (0.0, 1.0)
    shown = ax.images[0].get_array()
    np.testing.assert_allclose(shown.filled(np.nan)[:2], m[:2])
    assert shown.mask[2].all()
    assert "0.60" in [t.get_text() for t in ax.texts]

    rng = np.random.default_rng(0)
    d = {A.SAME_LEVEL: rng.normal(1, 0.2, 50), A.TARGET_ONLY: rng.normal(2, 0.2, 80), "total_pairs": 130}
    ax = P.plot_view_distances(d)
    labels = [line.get_label() for line in ax.lines]
    assert labels == [f"{A.SAME_LEVEL} (50 pairs)", f"{A.TARGET_ONLY} (80 pairs)"]
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(y, A.gaussian_kde(d[A.SAME_LEVEL], x))
    assert len(P.plot_view_distances(d, kind="hist").patches) == 80

    base = _table([[0.1, 0.05, 0.2], [0.05, 0.01, 0.1]], [10, 3, 7])
    plus = _table([[0.15, 0.1, 0.2], [0.06, 0.02, 0.08]], [10, 3, 7])
    ax = P.plot_level_gain(A.level_gain_table(base, plus))
    heights = [[r.get_height() for r in c] for c in ax.containers]
    assert heights == [pytest.approx([0.1, 0.05, 0.2]), pytest.approx([0.15, 0.1, 0.2])]
    assert [t.get_text() for t in ax.texts] == ["+50%", "+100%", "+0%"]

    ax = P.plot_branch_similarity(np.eye(3))
    np.testing.assert_allclose(ax.images[0].get_array(), np.eye(3))


# ----------------------------------------------------------------------------- level_information
def test_level_information_of_alpha_that_knows_only_the_frequencies():
    levels = torch.tensor([0] * 10 + [1] * 30 + [2] * 60)
    alpha = torch.tensor([[0.2, 0.3, 0.5]]).repeat(100, 1)        # the same α for every window
    info = D.level_information(alpha, levels)
    entropy = -(0.1 * math.log(0.1) + 0.3 * math.log(0.3) + 0.6 * math.log(0.6))   # 0.8979 nats
    assert info["entropy"] == pytest.approx(entropy, abs=1e-12)
    assert info["loss"] == pytest.approx(-(0.1 * math.log(0.2) + 0.3 * math.log(0.3) + 0.6 * math.log(0.5)),
                                         abs=1e-6)
    assert info["calibrated"] == pytest.approx(entropy, abs=1e-6)    # a bias learns the frequencies, no more
    assert abs(info["information"]) < 1e-6 and info["best_scale"] < 1e-3
    assert info["accuracy"] == pytest.approx(0.6) and info["majority"] == pytest.approx(0.6)


def test_level_information_of_flat_alpha_that_always_points_at_the_level():
    levels = torch.tensor([0, 1, 2, 2, 1, 0, 2, 2])
    alpha = torch.full((8, 3), 0.3)
    alpha[torch.arange(8), levels] = 0.4                         # right, but barely above uniform
    info = D.level_information(alpha, levels)
    assert info["loss"] == pytest.approx(-math.log(0.4), abs=1e-6)
    assert info["information"] > info["entropy"] - 1e-3          # rescaled, α determines the level
    assert info["calibrated"] < 1e-3 and info["best_scale"] > 10 and info["accuracy"] == 1.0


def test_level_information_matches_a_brute_force_grid_over_scale_and_bias():
    rng = np.random.default_rng(3)
    M, K = 240, 3
    levels = rng.choice(K, size=M, p=[0.2, 0.3, 0.5])
    logits = rng.normal(size=(M, K)) + 0.8 * np.eye(K)[levels]   # noisy hints at the level
    alpha = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    info = D.level_information(torch.tensor(alpha), torch.tensor(levels))
    a = np.log(alpha)                                            # float64 reference, b_0 = 0 w.l.o.g.

    def grid_min(scales, b1, b2):                                # min loss over the grid and where
        S, B1, B2 = np.meshgrid(scales, b1, b2, indexing="ij")
        z = S[..., None, None] * a + np.stack([np.zeros_like(B1), B1, B2], -1)[..., None, :]
        z = z - z.max(-1, keepdims=True)
        loss = (np.log(np.exp(z).sum(-1)) - z[..., np.arange(M), levels]).mean(-1)   # (S, B1, B2)
        i = np.unravel_index(loss.argmin(), loss.shape)
        return float(loss[i]), S[i], B1[i], B2[i]

    best, s0, b1, b2 = grid_min(np.linspace(0, 4, 21), np.linspace(-3, 3, 25), np.linspace(-3, 3, 25))
    fine = np.linspace(-0.25, 0.25, 21)                          # then a fine grid around the coarse best
    best, *_ = grid_min(np.clip(s0 + fine, 0, None), b1 + fine, b2 + fine)
    assert info["calibrated"] <= best + 1e-9                     # L-BFGS is at least as good as the grid
    assert info["calibrated"] > best - 1e-3                      # and the grid is fine enough to come close
    freq = np.bincount(levels, minlength=K) / M
    assert info["entropy"] == pytest.approx(-(freq * np.log(freq)).sum(), abs=1e-12)
    assert 0 < info["information"] < info["entropy"]


@pytest.mark.parametrize("alpha,levels,message", [
    (torch.ones(4), torch.zeros(4, dtype=torch.long), "alpha must be"),
    (torch.ones(0, 3), torch.zeros(0, dtype=torch.long), "alpha must be"),
    (torch.full((4, 3), 1 / 3), torch.tensor([0, 1, 2, 3]), "levels must lie in 0..2"),
    (torch.full((4, 3), 1 / 3), torch.tensor([0, 1]), "levels must have shape"),
])
def test_level_information_rejects_bad_input(alpha, levels, message):
    with pytest.raises(ValueError, match=message):
        D.level_information(alpha, levels)
