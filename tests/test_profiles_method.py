"""Item text in the data layer, and the method ``profiles`` trained end to end (issue: motivation profiles)."""
import json

import numpy as np
import pytest

from srsupm_lab.config import TrainConfig
from srsupm_lab.data import SequenceDataset, load_dataset, make_synthetic
from srsupm_lab.data.item_text import MOTIVATION_THEMES, NoItemText, dataset_item_texts, item_texts
from srsupm_lab.data.s3rec_layout import save_s3rec_layout
from srsupm_lab.methods import get_method

TINY = {"n_users": 60, "n_items": 30, "n_labels": 6, "n_motivations": 3, "cats_per_motivation": 2}


def test_synthetic_descriptions_carry_each_categorys_motivation_theme():
    ds = make_synthetic(**TINY, seed=2)
    texts = dataset_item_texts(ds, "synthetic")
    mot = ds.meta["motivation_categories"]
    assert texts[0] == "" and len(texts) == ds.n_items + 1
    for i in (1, 7, 30):
        parts = []
        for c in sorted(ds.item_labels[i]):                          # the story, written out by hand
            best = max(range(mot.shape[0]), key=lambda m: mot[m][c])
            parts += [ds.label_names[c], MOTIVATION_THEMES[best]]
        assert texts[i] == " ".join(parts)


def test_texts_from_label_names_and_a_dataset_without_text(tmp_path):
    ds = SequenceDataset("shop", [np.array([1, 2, 3, 1]), np.array([2, 3, 1])],
                         [frozenset(), frozenset({0, 2}), frozenset({1}), frozenset()],
                         ["Hair Care", "Unknown", "Shampoo"])
    assert item_texts(ds) == ["", "Hair Care | Shampoo", "", ""]      # the placeholder brand left out
    save_s3rec_layout(ds, tmp_path / "shop")
    loaded = load_dataset(str(tmp_path / "shop"))
    assert dataset_item_texts(loaded, str(tmp_path / "shop")) == ["", "Hair Care | Shampoo", "", ""]
    unnamed = SequenceDataset("ids", ds.sequences, ds.item_labels, ["attribute 1", "attribute 2", "attribute 3"])
    with pytest.raises(NoItemText, match="'ids' has no item text"):
        item_texts(unnamed)


def test_beauty_texts_are_its_category_paths_and_brands():
    ds = load_dataset("beauty")
    texts = dataset_item_texts(ds, "beauty")
    assert texts[1] == "Makeup | Nails | Nail Polish | OPI" and "Unknown" not in texts[3]
    assert sum(bool(t) for t in texts[1:]) == ds.n_items                # every Beauty item has a text


def test_options_are_checked_by_the_method():
    with pytest.raises(ValueError, match=r"method_options.gate \(method 'profiles'\): must be one of"):
        TrainConfig(method="profiles", method_options={"gate": "sometimes"})
    with pytest.raises(ValueError, match=r"method_options.decay .*must lie in \(0, 1\]"):
        TrainConfig(method="profiles", method_options={"decay": 0.0})


def test_mote_is_fitted_on_the_training_items_only():
    from srsupm_lab.methods.profiles.method import training_items
    # item 4's word ("vinyl") occurs only in the last two items of sequences: not in the training part
    ds = SequenceDataset("shop", [np.array([1, 2, 3, 4]), np.array([2, 1, 3, 4]), np.array([1, 3, 2, 3])],
                         [frozenset(), frozenset({0}), frozenset({1}), frozenset({0, 1}), frozenset({2})],
                         ["books", "music", "vinyl"])
    assert training_items(ds).tolist() == [1, 2, 3]
    config = TrainConfig(method="profiles", dim=8, max_len=4, backbone="gru4rec", method_options={"text_dim": 4})
    from srsupm_lab.backbones import build_backbone
    model = get_method("profiles").build(build_backbone("gru4rec", ds.n_items, dim=8, max_len=4), config, ds)
    traits = model.traits.numpy()
    assert np.allclose(traits[4], 0.0) and float(model.masses[4]) == 0.0      # unseen words: no trait
    assert np.linalg.norm(traits[1]) == pytest.approx(1.0, abs=1e-5)


def test_profiles_train_from_the_command_line(tmp_path, capsys):
    from srsupm_lab.__main__ import main
    argv = ["train", "--dataset", "synthetic", "--method", "profiles", "--method-option", "text_dim=8",
            "--gate", "scalar", "--backbone", "gru4rec", "--dim", "8", "--max-len", "6", "--epochs", "1",
            "--device", "cpu", "--no-progress", "--out", str(tmp_path / "run")] + \
           [x for k, v in TINY.items() for x in ("--dataset-option", f"{k}={v}")]
    assert main(argv) == 0
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["model"] == "profiles+gru4rec" and res["config"]["method_options"]["gate"] == "scalar"
    assert res["config"]["method_options"]["text_dim"] == 8 and res["n_params"] > res["n_params_backbone"]
    assert "profiles" in capsys.readouterr().out
