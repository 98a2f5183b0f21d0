"""The shift explorer (srsupm_lab/widgets/shift_explorer.py) driven through its controls' ``.value``.

References are computed here without ``pmsa.assess``: windows are rebuilt from the raw sequences
by slicing, PMSD from Python sets (``pmsa.pmsd``, Eq. 2), levels from Eq. 3 written out, shares
with ``np.bincount``.
"""
import json
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from srsupm_lab import make_synthetic, pmsa  # noqa: E402
from srsupm_lab.widgets.shift_explorer import ShiftExplorer, available_datasets, shift_explorer  # noqa: E402

L = 50


def _train_windows(ds):
    """(history label sets, target label set) of every training window, by slicing (method.md, Split)."""
    out = []
    for seq in ds.sequences:
        for t in range(1, len(seq) - 2):                       # targets v_2..v_{n-2} (1-based)
            out.append((seq[max(0, t - L):t], seq[t]))
    return out


def _pmsd_by_sets(windows, labels):
    return np.array([pmsa.pmsd([labels[i] for i in hist], labels[tgt]) for hist, tgt in windows])


def _level_eq3(x, K):
    if x == 0:
        return 0
    if x == 1:
        return K - 1
    return 1 + min(K - 3, math.floor(x * (K - 2)))


@pytest.fixture(scope="module")
def small():
    return make_synthetic(n_users=120, n_items=90, n_labels=12, n_motivations=4, seed=5)


@pytest.fixture(scope="module")
def reference(small):
    windows = _train_windows(small)
    return windows, _pmsd_by_sets(windows, small.item_labels)


@pytest.fixture
def explorer(small):
    return ShiftExplorer({"synthetic": small}, K=5, p=0.0)


def _bar_heights(ax):
    return np.array([patch.get_height() for patch in ax.containers[0].patches])


def test_initial_state_matches_an_independent_recomputation(explorer, reference):
    windows, ref = reference
    cur = explorer.current
    assert (cur["dataset"], cur["K"], cur["p"]) == ("synthetic", 5, 0.0)
    assert cur["pmsd"].shape == (len(windows),)
    np.testing.assert_allclose(cur["pmsd"], ref, atol=1e-12)
    expected = np.bincount([_level_eq3(x, 5) for x in ref], minlength=5) / len(ref)
    np.testing.assert_allclose(cur["shares"], expected)
    np.testing.assert_allclose(_bar_heights(explorer.axes[1]), expected)     # what is drawn
    assert cur["mean_pmsd"] == pytest.approx(ref.mean())


@pytest.mark.parametrize("K", [3, 4, 6, 7])
def test_moving_K_rebins_and_redraws(explorer, reference, K):
    _, ref = reference
    before = explorer.image.value
    explorer.K.value = K
    cur = explorer.current
    assert cur["K"] == K and cur["shares"].shape == (K,)
    expected = np.bincount([_level_eq3(x, K) for x in ref], minlength=K) / len(ref)
    np.testing.assert_allclose(cur["shares"], expected)
    np.testing.assert_allclose(_bar_heights(explorer.axes[1]), expected)
    assert len(explorer.axes[1].get_xticklabels()) == K
    assert explorer.image.value != before and explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"K={K}" in explorer.summary.value
    # the histogram marks the K-3 even level boundaries j/(K-2)
    xs = sorted(line.get_xdata()[0] for line in explorer.axes[0].get_lines())
    assert xs == pytest.approx([j / (K - 2) for j in range(1, K - 2)])


def test_moving_K_does_not_recompute_pmsd(explorer, monkeypatch):
    calls = []
    real = pmsa.assess
    monkeypatch.setattr(pmsa, "assess", lambda *a, **k: calls.append(1) or real(*a, **k))
    for K in (3, 7, 4):
        explorer.K.value = K
    assert calls == []
    assert explorer.current["seconds"] < 2.0          # a redraw is a re-binning plus one PNG


def test_label_noise_uses_dropped_labels(explorer, small, reference):
    windows, _ = reference
    explorer.p.value = 0.3
    cur = explorer.current
    assert cur["p"] == pytest.approx(0.3)
    noisy = pmsa.drop_labels(small.item_labels, 0.3, seed=0)
    ref = _pmsd_by_sets(windows, noisy)
    np.testing.assert_allclose(cur["pmsd"], ref, atol=1e-12)
    np.testing.assert_allclose(cur["shares"], np.bincount([_level_eq3(x, 5) for x in ref], minlength=5) / len(ref))
    # the noise panel holds the grid plus the current p, and its p=0.3 row is this state
    table = cur["noise"].set_index("p")
    assert table.loc[0.3, "mean_pmsd"] == pytest.approx(ref.mean())
    assert set(np.round(table.index, 6)) >= {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}
    lines = {line.get_label(): line for line in explorer.axes[2].get_lines()}
    assert lines["level 4"].get_ydata() == pytest.approx(table["level_4"].to_numpy())
    # going back to p=0 reuses the cache (same array object)
    explorer.p.value = 0.0
    assert explorer.current["pmsd"] is explorer.pmsd("synthetic", 0.0)


def test_noise_between_grid_points_is_added_to_the_curve(explorer):
    explorer.p.value = 0.15
    assert 0.15 in set(np.round(explorer.current["noise"]["p"], 6))


def _tiny_yelp(folder):
    d = folder / "Yelp"
    d.mkdir(parents=True)
    d.joinpath("Yelp.txt").write_text("1 1 2 3 4\n2 2 3 4 1\n3 4 4 2 3 1\n")
    d.joinpath("Yelp_item2categories.json").write_text(json.dumps(
        {"1": ["Food"], "2": ["Food", "Bars"], "3": ["Bars"], "4": ["Shopping"]}))
    return folder


def test_dataset_dropdown_offers_only_what_is_found(tmp_path):
    assert available_datasets(tmp_path) == ["synthetic"]
    ex = shift_explorer(root=tmp_path)
    assert list(ex.dataset.options) == ["synthetic"]
    _tiny_yelp(tmp_path)
    assert available_datasets(tmp_path) == ["synthetic", "yelp"]


def test_switching_dataset_loads_and_redraws(tmp_path):
    ex = ShiftExplorer(root=_tiny_yelp(tmp_path), K=3)
    synthetic_pmsd = ex.current["pmsd"]
    ex.dataset.value = "yelp"
    cur = ex.current
    assert cur["dataset"] == "yelp" and "yelp" in ex.summary.value
    # training windows by hand (labels: Food=F, Bars=B, Shopping=S, names sorted -> ids)
    # user 1: [1,2,3,4] -> window ([1], 2): C_S={F}, C_v={F,B} -> 1/2
    # user 2: [2,3,4,1] -> window ([2], 3): C_S={F,B}, C_v={B} -> 1/2
    # user 3: [4,4,2,3,1] -> ([4], 4): 0 ; ([4,4], 2): 1
    np.testing.assert_allclose(cur["pmsd"], [0.5, 0.5, 0.0, 1.0])
    np.testing.assert_allclose(cur["shares"], [0.25, 0.5, 0.25])
    ex.dataset.value = "synthetic"
    assert ex.current["pmsd"] is synthetic_pmsd                       # cached, not recomputed


def test_bad_arguments(small):
    with pytest.raises(ValueError, match="not available"):
        ShiftExplorer({"synthetic": small}, dataset="beauty")
    with pytest.raises(ValueError, match="split"):
        ShiftExplorer({"synthetic": small}, split="holdout")


def test_displays_as_a_widget(explorer):
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert explorer.K.min == 3 and explorer.K.max == 7 and explorer.p.min == 0 and explorer.p.max == 0.5


def test_static_snapshot_and_undistorted_figure(explorer):
    """Without a kernel a reader sees the summary and the figure (text/html), not the VBox repr."""
    import base64
    import re

    data = explorer._repr_mimebundle_()
    snap = data["text/html"]
    png = base64.b64decode(re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", snap).group(1))
    assert png == explorer.image.value and explorer.summary.value in snap
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert f"width='{width}' height='{height}'" in snap
    assert not data["text/plain"].startswith("VBox(") and data["text/plain"] == repr(explorer)
    lay = explorer.image.layout
    assert (lay.width, lay.height, lay.align_self) == (f"{width}px", "auto", "flex-start")
