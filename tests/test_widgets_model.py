"""The model explorer, driven through its controls and checked against recomputations done here."""
import math

import numpy as np
import pytest
import torch

pytest.importorskip("ipywidgets")

from srsupm_lab import leave_one_out, make_synthetic, pmsa  # noqa: E402
from srsupm_lab.backbones import build_backbone  # noqa: E402
from srsupm_lab.methods.srsupm.model import SRSUPM  # noqa: E402
from srsupm_lab.widgets.model_explorer import ModelExplorer, model_explorer  # noqa: E402

K, DIM, L = 4, 16, 8


@pytest.fixture(scope="module")
def world():
    ds = make_synthetic(n_users=30, n_items=60, n_labels=8, mean_len=10, seed=3)
    split = leave_one_out(ds, max_len=L)
    _, levels = pmsa.assess(split.test.inputs, split.test.targets, ds.item_labels, K)
    torch.manual_seed(0)
    model = SRSUPM(build_backbone("sasrec", ds.n_items, dim=DIM, max_len=L), K=K, pmsim=False,
                   level_temperature="fixed")                             # the 1/√d the references use
    with torch.no_grad():                                      # move away from the near-tied initial state
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    model.train()                                              # the explorer must score in eval mode anyway
    return ds, split, levels, model


def _reference(model, ds, split, row, k=10, mask=True):
    """Per-branch and mixture top-k from the raw sequence, float64, computed independently."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        inputs, users = split.test.inputs[row:row + 1], split.test.users[row:row + 1]
        h = model.backbone.encode(inputs, users)
        Z = model.priors(model.sic(h))[0].double()                         # (K, d)
        E = model.backbone.item_table().double()                          # (N+1, d)
    model.train(was_training)
    u = int(split.test.users[row])
    seq = ds.sequences[u]
    target = int(seq[-1])
    seen = {int(i) for i in seq[:-1]} - {target} if mask else set()
    logits = Z @ E.t()                                                     # (K, N+1)
    beta = torch.softmax(logits / math.sqrt(DIM), dim=0)
    mixture = (beta * logits).sum(dim=0)                                   # Eqs. 19-22
    out = {}
    for name, s in [*[(f"branch {k_}", logits[k_]) for k_ in range(K)], ("mixture", mixture)]:
        s = s.clone()
        s[0] = -math.inf
        for i in seen:
            s[i] = -math.inf
        out[name] = torch.topk(s, k).indices.numpy()
    alpha = torch.softmax(Z @ E[target] / math.sqrt(DIM), dim=0).numpy()
    return out, alpha, target, seen, logits


def test_top10_per_branch_and_mixture_match_an_independent_topk(world):
    ds, split, levels, model = world
    ex = model_explorer(model, ds, split.test, levels=levels)
    assert isinstance(ex, ModelExplorer)
    for row in (0, 7, 19):
        ex.user.value = row
        assert model.training, "the explorer must restore the model's mode"
        ref, alpha, target, seen, _ = _reference(model, ds, split, row)
        cur = ex.current
        assert cur["row"] == row and cur["user"] == int(split.test.users[row]) and cur["target"] == target
        assert set(cur["topk"]) == {f"branch {k}" for k in range(K)} | {"mixture"}
        for name, ids in ref.items():
            np.testing.assert_array_equal(cur["topk"][name], ids, err_msg=name)
        np.testing.assert_allclose(cur["alpha"], alpha, atol=1e-5)
        assert set(cur["masked"].tolist()) == seen
        assert cur["level"] == int(levels[row])


def test_unmasking_lets_seen_items_back(world):
    ds, split, levels, model = world
    ex = ModelExplorer(model, ds, split.test, user=3)
    ex.mask.value = False
    ref, *_ = _reference(model, ds, split, 3, mask=False)
    for name, ids in ref.items():
        np.testing.assert_array_equal(ex.current["topk"][name], ids)
    assert ex.current["masked"].size == 0 and ex.current["level"] is None


def test_history_shows_item_ids_with_their_category_names(world):
    ds, split, levels, model = world
    ex = model_explorer(model, ds, split.test, levels=levels, user=5)
    u = int(split.test.users[5])
    expected_items = [int(i) for i in ds.sequences[u][:-1][-L:]]
    assert [i for i, _ in ex.current["history"]] == expected_items
    for item, names in ex.current["history"]:
        assert names == sorted(ds.label_names[c] for c in ds.item_labels[item])
        assert f"<b>{item}</b>" in ex.history_html.value
    assert ex.image.value[:4] == b"\x89PNG"


def test_target_rank_counts_ties_against_the_model(world):
    ds, split, levels, model = world
    ex = model_explorer(model, ds, split.test, user=11, k=5)
    _, _, target, seen, logits = _reference(model, ds, split, 11)
    for k in range(K):
        s = logits[k].clone()
        rankable = [i for i in range(1, ds.n_items + 1) if i not in seen and i != target]
        expected = sum(1 for i in rankable if s[i] >= s[target])
        assert ex.current["target_rank"][f"branch {k}"] == expected
    assert all(len(v) == 5 for v in ex.current["topk"].values())


def test_bad_arguments_are_refused(world):
    ds, split, levels, model = world
    with pytest.raises(ValueError, match="user"):
        ModelExplorer(model, ds, split.test, user=len(split.test))
    with pytest.raises(ValueError, match="levels"):
        ModelExplorer(model, ds, split.test, levels=levels[:3])
    with pytest.raises(TypeError, match="SRSUPM"):
        ModelExplorer(object(), ds, split.test)


# ---------------------------------------------------------------- a real run folder; the α chart's shape
def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A run trained here, as notebook 04 or ``srsupm-lab train --out`` would write it (1 epoch, synthetic)."""
    from srsupm_lab.config import TrainConfig
    from srsupm_lab.experiment import run_experiment

    out = tmp_path_factory.mktemp("runs") / "synthetic-sasrec-srsupm"
    run_experiment(TrainConfig(dataset="synthetic", dataset_options=dict(n_users=40, n_items=50, n_labels=6,
                                                                         mean_len=8, seed=2),
                               backbone="sasrec", method="srsupm", K=K, dim=DIM, max_len=L, epochs=1, batch_size=64,
                               device="cpu", out_dir=str(out), progress=False, seed=3))
    return out


def test_a_backbone_alone_run_is_refused_clearly(tmp_path):
    from srsupm_lab.config import TrainConfig
    from srsupm_lab.experiment import run_experiment

    out = tmp_path / "synthetic-sasrec"
    run_experiment(TrainConfig(dataset="synthetic", dataset_options=dict(n_users=20, n_items=30, n_labels=4,
                                                                         mean_len=6, seed=1),
                               backbone="sasrec", method="none", dim=8, max_len=L, epochs=1, device="cpu",
                               out_dir=str(out), progress=False))
    with pytest.raises(TypeError, match=r"method .none. over sasrec"):
        model_explorer(out)


def test_explorer_on_a_trained_run_folder(run_folder):
    from srsupm_lab.experiment import load_trained

    ex = model_explorer(run_folder, user=4)                    # a path: the run's own data and best weights
    ref_run = load_trained(run_folder)                         # a second, independent rebuild of the run
    ds, split = ref_run.data.dataset, ref_run.data.split
    assert ex.K == ref_run.config.K == K and len(ex.windows) == len(split.test)
    assert ex.current["level"] == int(ref_run.data.test_levels[4])
    ref, alpha, target, seen, _ = _reference(ref_run.model, ds, split, 4)
    assert ex.current["target"] == target
    np.testing.assert_allclose(ex.current["alpha"], alpha, atol=1e-5)
    for name, ids in ref.items():
        np.testing.assert_array_equal(ex.current["topk"][name], ids, err_msg=name)
    valid = ModelExplorer.from_run(run_folder, split="valid")
    assert valid.current["target"] == int(split.valid.targets[0])
    with pytest.raises(ValueError, match="split must be"):
        ModelExplorer.from_run(run_folder, split="holdout")
    with pytest.raises(FileNotFoundError, match="config.json"):
        model_explorer(run_folder.parent / "nothing-here")
    with pytest.raises(TypeError, match="own dataset"):
        model_explorer(run_folder, ds)


def test_alpha_chart_keeps_its_aspect_ratio(world):
    """The PNG is shown at its own width with an automatic height, never stretched to the table's height."""
    ds, split, levels, model = world
    ex = model_explorer(model, ds, split.test, levels=levels)
    width, height = _png_size(ex.image.value)
    assert 1.2 <= width / height <= 2.0                        # a chart, not a ribbon
    lay = ex.image.layout
    assert (lay.width, lay.height, lay.align_self) == (f"{width}px", "auto", "flex-start")
    row = next(b for b in ex.widget.children if ex.image in getattr(b, "children", ()))
    assert row.layout.align_items == "flex-start"              # flexbox's default 'stretch' distorted it


def test_display_carries_a_static_snapshot(world):
    import base64
    import re

    from srsupm_lab.widgets.static import WIDGET_VIEW

    ds, split, levels, model = world
    ex = model_explorer(model, ds, split.test, levels=levels, user=2)
    data = ex._repr_mimebundle_()
    assert data[WIDGET_VIEW]["model_id"] == ex.widget.model_id
    assert not data["text/plain"].startswith("VBox(") and "window=2" in data["text/plain"]
    snap = data["text/html"]
    png = base64.b64decode(re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", snap).group(1))
    assert png == ex.image.value
    assert f"width='{_png_size(png)[0]}' height='{_png_size(png)[1]}'" in snap
    assert ex.history_html.value in snap and ex.table_html.value in snap
