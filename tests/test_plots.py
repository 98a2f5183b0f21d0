"""What the shared figures draw (srsupm_lab/analysis/plots.py), read back from the artists and compared with
numbers computed here independently (plain numpy / pandas on the same data)."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from srsupm_lab.analysis import plots


def _container(ax, label):
    found = [c for c in ax.containers if c.get_label() == label]
    assert len(found) == 1, f"no single bar container labelled {label!r}: {[c.get_label() for c in ax.containers]}"
    return found[0]


def _heights(container):
    return np.array([patch.get_height() for patch in container.patches])


@pytest.fixture
def pmsd_values():
    rng = np.random.default_rng(3)
    inner = rng.uniform(0, 1, 170)
    return np.concatenate([np.zeros(13), np.ones(17), inner, [0.5, 0.25, 1e-9, 1 - 1e-9]])


# ----------------------------------------------------------------------------- histogram
def test_histogram_masses_at_zero_and_one_are_apart(pmsd_values):
    ax = plots.pmsd_histogram(pmsd_values, bins=10)
    m = pmsd_values.size
    assert _heights(_container(ax, "windows: PMSD = 0")) == pytest.approx([13 / m])
    assert _heights(_container(ax, "windows: PMSD = 1")) == pytest.approx([17 / m])
    inner = _heights(_container(ax, "windows: 0 < PMSD < 1"))
    # independent: count each open-interval value into floor(10 x), by hand
    v = pmsd_values[(pmsd_values > 0) & (pmsd_values < 1)]
    expected = np.zeros(10)
    for x in v:
        expected[min(int(x * 10), 9)] += 1
    assert inner == pytest.approx(expected / m)
    total = inner.sum() + 13 / m + 17 / m
    assert total == pytest.approx(1.0)


def test_histogram_end_bars_sit_outside_the_unit_interval(pmsd_values):
    ax = plots.pmsd_histogram(pmsd_values, bins=5, K=5)
    zero = _container(ax, "windows: PMSD = 0").patches[0]
    one = _container(ax, "windows: PMSD = 1").patches[0]
    assert zero.get_x() + zero.get_width() < 0 and one.get_x() > 1
    # the K=5 even level boundaries 1/3 and 2/3 are drawn as vertical lines
    xs = sorted(line.get_xdata()[0] for line in ax.get_lines())
    assert xs == pytest.approx([1 / 3, 2 / 3])


def test_histogram_two_series_are_normalised_separately():
    a = np.array([0.0, 0.0, 0.5, 1.0])
    b = np.array([1.0] * 9 + [0.95])
    ax = plots.pmsd_histogram({"kept": a, "switched": b}, bins=4)
    assert _heights(_container(ax, "kept: PMSD = 0")) == pytest.approx([0.5])
    assert _heights(_container(ax, "switched: PMSD = 1")) == pytest.approx([0.9])
    assert _heights(_container(ax, "switched: 0 < PMSD < 1")) == pytest.approx([0, 0, 0, 0.1])
    assert _heights(_container(ax, "kept: 0 < PMSD < 1")) == pytest.approx([0, 0, 0.25, 0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["kept", "switched"]


def test_histogram_uses_the_given_axes_and_rejects_bad_values():
    fig = Figure()
    ax = fig.add_subplot()
    assert plots.pmsd_histogram([0.2, 0.4], ax=ax) is ax
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        plots.pmsd_histogram([0.2, 1.4])


# ----------------------------------------------------------------------------- levels
@pytest.mark.parametrize("K", [3, 5, 7])
def test_level_shares_heights_equal_numpy_shares(K):
    rng = np.random.default_rng(K)
    levels = rng.integers(0, K, 500)
    levels[levels == 1] = 0                       # an empty level must still get a (zero) bar
    ax = plots.level_shares(levels, K)
    heights = _heights(_container(ax, "windows"))
    expected = np.array([(levels == k).mean() for k in range(K)])
    assert heights == pytest.approx(expected)
    assert len(ax.get_xticklabels()) == K


def test_level_shares_grouped_series():
    ax = plots.level_shares({"even": np.array([0, 2, 2, 2]), "quantile": np.array([1, 1, 2, 0])}, 3)
    assert _heights(_container(ax, "even")) == pytest.approx([0.25, 0, 0.75])
    assert _heights(_container(ax, "quantile")) == pytest.approx([0.25, 0.5, 0.25])
    with pytest.raises(ValueError, match="0..2"):
        plots.level_shares(np.array([0, 3]), 3)


@pytest.mark.parametrize("K", [3, 4, 7])
def test_level_map_draws_k_minus_2_segments_per_row(K):
    ax = plots.level_map([K])
    bars = [c for c in ax.collections if c.get_label() == f"K={K}"][0]
    segments = bars.get_paths()
    assert len(segments) == K - 2
    lefts = sorted(p.vertices[:, 0].min() for p in segments)
    assert lefts == pytest.approx([j / (K - 2) for j in range(K - 2)])


# ----------------------------------------------------------------------------- label noise
def test_noise_effect_table_against_hand_levels():
    pmsd_by_p = {0.2: np.array([0.0, 0.5, 1.0, 1.0]), 0.0: np.array([0.0, 0.1, 0.4, 0.9])}
    t = plots.noise_effect_table(pmsd_by_p, K=4)          # K=4: (0, .5) -> 1, [.5, 1) -> 2
    assert t["p"].tolist() == [0.0, 0.2]
    assert t["mean_pmsd"].tolist() == pytest.approx([0.35, 0.625])
    assert t[["level_0", "level_1", "level_2", "level_3"]].to_numpy() == pytest.approx(
        np.array([[0.25, 0.5, 0.25, 0.0], [0.25, 0.0, 0.25, 0.5]]))
    assert t["pmsd=1"].tolist() == pytest.approx([0.0, 0.5])


def test_noise_effect_lines_follow_the_table():
    table = pd.DataFrame({"p": [0.0, 0.1, 0.3], "mean_pmsd": [0.8, 0.82, 0.85],
                          "level_0": [0.1, 0.1, 0.2], "level_1": [0.5, 0.4, 0.3], "level_2": [0.4, 0.5, 0.5]})
    ax = plots.noise_effect(table, kind="levels", current_p=0.1)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["level 1"].get_ydata().tolist() == [0.5, 0.4, 0.3]
    assert lines["level 2"].get_xdata().tolist() == [0.0, 0.1, 0.3]
    ax = plots.noise_effect(table, kind="mean")
    assert [line.get_ydata().tolist() for line in ax.get_lines() if line.get_label() == "mean PMSD"] == \
        [[0.8, 0.82, 0.85]]


# ----------------------------------------------------------------------------- training
@pytest.fixture
def history():
    return pd.DataFrame({"epoch": [1, 2, 3, 4], "loss": [5.0, 4.0, 3.5, 3.4], "loss_rec": [4.0, 3.5, 3.2, 3.1],
                         "valid_recall@10": [0.1, 0.3, 0.25, 0.2], "valid_ndcg@10": [0.05, 0.1, 0.1, 0.09],
                         "train_seconds": [1.0, 1.0, 1.0, 1.0]})


def test_learning_curves_draw_every_loss_and_metric(history):
    loss_ax, metric_ax = plots.learning_curves(history)
    losses = {line.get_label(): line.get_ydata().tolist() for line in loss_ax.get_lines()
              if line.get_label().startswith("loss")}
    metrics = {line.get_label(): line.get_ydata().tolist() for line in metric_ax.get_lines()
               if line.get_label().startswith("valid_")}
    assert losses == {"loss": [5.0, 4.0, 3.5, 3.4], "loss_rec": [4.0, 3.5, 3.2, 3.1]}
    assert metrics == {"valid_recall@10": [0.1, 0.3, 0.25, 0.2], "valid_ndcg@10": [0.05, 0.1, 0.1, 0.09]}
    # the best epoch by valid_recall@10 (epoch 2) is marked on both panels
    for a in (loss_ax, metric_ax):
        marks = [line.get_xdata()[0] for line in a.get_lines() if line.get_label().startswith("_")]
        assert 2 in marks


def test_learning_curves_on_one_axes_use_a_twin(history):
    fig = Figure()
    ax = fig.add_subplot()
    loss_ax, metric_ax = plots.learning_curves(history, ax=ax)
    assert loss_ax is ax and metric_ax is not ax and metric_ax.get_shared_x_axes().joined(ax, metric_ax)


# ----------------------------------------------------------------------------- Fig. 7
@pytest.fixture
def tables(tmp_path):
    # as test_levels.csv stores them: level "all" first, then integer levels
    csv = tmp_path / "test_levels.csv"
    csv.write_text("level,users,recall@10,recall@20\nall,100,0.30,0.40\n0,2,0.5,0.5\n2,28,0.4,0.6\n"
                   "3,60,0.3,0.4\n4,10,0.05,0.1\n")
    base = pd.read_csv(csv, dtype={"level": str})
    plug = base.copy()
    plug["recall@10"] = [0.35, 0.5, 0.45, 0.33, 0.10]
    plug = plug[plug["level"] != "0"]                     # a level missing in one table
    return base, plug


def test_level_metric_bars_two_models_side_by_side(tables):
    base, plug = tables
    ax = plots.level_metric_bars({"SASRec": base, "+SRSUPM": plug}, metric="recall@10")
    assert _heights(_container(ax, "SASRec")) == pytest.approx([0.5, 0.4, 0.3, 0.05])
    h = _heights(_container(ax, "+SRSUPM"))
    assert np.isnan(h[0]) and h[1:] == pytest.approx([0.45, 0.33, 0.10])
    overall = sorted(line.get_ydata()[0] for line in ax.get_lines())
    assert overall == pytest.approx([0.30, 0.35])
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[1] == "level 2\n28 users"
    # the two models' bars for one level sit side by side, not on top of each other
    a, b = _container(ax, "SASRec").patches[1], _container(ax, "+SRSUPM").patches[1]
    assert a.get_x() + a.get_width() == pytest.approx(b.get_x())


def test_level_metric_bars_single_table_and_missing_metric(tables):
    base, _ = tables
    ax = plots.level_metric_bars(base, metric="recall@20")
    assert _heights(_container(ax, "model")) == pytest.approx([0.5, 0.6, 0.4, 0.1])
    with pytest.raises(ValueError, match="ndcg@10"):
        plots.level_metric_bars(base, metric="ndcg@10")
