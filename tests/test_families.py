"""Every registered family passes the shared checks, and a new one is one file plus one registry call.

* every method of the registry builds, trains a step, scores all items and candidates and is evaluated
  (:func:`family_checks.check_method`), found by itself (``method_names()``);
* a backbone and a method defined here and registered at test time (one registry call each, no other
  edit) train and evaluate end to end through ``run_experiment`` and pass the same checks;
* levels on request: a method that does not ask for PMSA levels (``none``) runs with no PMSA pass and
  any ``K``, from the ``train`` command too; SRSUPM asks and gets them.
"""
import argparse
import json

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from family_checks import BACKBONE_CHECKS, METHOD_WORLD, check_method, check_output_shape
from srsupm_lab import pmsa
from srsupm_lab.backbones import Backbone, register_backbone, unregister_backbone
from srsupm_lab.cli.train import add_train_arguments, train_from_args
from srsupm_lab.experiment import run_experiment
from srsupm_lab.methods import Method, method_names, register, unregister
from srsupm_lab.families.protocol import Recommender


@pytest.mark.parametrize("name", method_names())
def test_every_registered_method_passes_the_shared_checks(name):
    check_method(name)


# ----------------------------------------------------------------------------- a new family, registered here
class BagOfItems(Backbone):
    """h = mean of the window's item embeddings + W e_last: the smallest backbone that sees order at all."""

    def __init__(self, n_items: int, dim: int = 64, max_len: int = 50, *, recent: bool = True):
        super().__init__(n_items, dim, max_len)
        self.recent = nn.Linear(dim, dim) if recent else None

    def _encode(self, item_seq, user_ids):
        e = self.item_embedding(item_seq)                                     # (B, L, d)
        real = (item_seq != 0).unsqueeze(-1).float()                         # (B, L, 1)
        h = (e * real).sum(dim=1) / real.sum(dim=1)                          # (B, d)
        return h if self.recent is None else h + self.recent(e[:, -1])


class ItemBiasRecommender(Recommender):
    """``s_i = <h, e_i> + b_i``: the backbone's scores with a learned popularity bias per item."""

    def __init__(self, backbone: Backbone):
        super().__init__()
        self.backbone, self.requires = backbone, backbone.requires
        self.bias = nn.Parameter(torch.zeros(backbone.n_items + 1))

    def score_all(self, batch):
        h = self.backbone.encode(batch["inputs"], batch.get("users"))       # (B, d)
        return h @ self.backbone.item_table().T + self.bias                 # (B, N+1)

    def loss(self, batch):
        rec = F.cross_entropy(self.score_all(batch)[:, 1:], batch["targets"] - 1)
        return rec, {"rec": rec.detach()}


class ItemBias(Method):
    name = "item-bias"
    summary = "the backbone with a learned bias per item (a test's new method)"

    def build(self, backbone, config, dataset):
        return ItemBiasRecommender(backbone)


@pytest.fixture
def new_family():
    register_backbone("bag", BagOfItems)                                       # the one registry line of each
    register(ItemBias)
    try:
        yield
    finally:
        unregister_backbone("bag")
        unregister("item-bias")


def test_a_backbone_and_a_method_registered_at_test_time_train_evaluate_and_pass_the_checks(new_family, tmp_path):
    for train in (False, True):
        check_output_shape("bag", train)
    for check in BACKBONE_CHECKS:
        check("bag")
    check_method("item-bias", backbone="bag")
    check_method("none", backbone="bag")
    config = {**METHOD_WORLD, "backbone": "bag", "method": "item-bias", "epochs": 2, "out_dir": str(tmp_path / "run")}
    res = run_experiment(config)
    assert res["model"] == "item-bias+bag" and res["epochs_run"] == 2
    assert res["test"][0]["level"] == "all" and res["test"][0]["users"] == 40
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (stored["backbone"], stored["method"]) == ("bag", "item-bias")
    again = run_experiment({**config, "resume": True})                         # the run folder reads back
    assert again["test"] == res["test"]


def test_an_unknown_backbone_option_of_a_registered_backbone_is_named(new_family):
    from srsupm_lab.backbones import build_backbone
    with pytest.raises(TypeError, match="recnet.*valid options: recent"):
        build_backbone("bag", 10, recnet=False)


# ----------------------------------------------------------------------------- levels on request
@pytest.fixture
def pmsa_calls(monkeypatch):
    """Counts the calls of PMSA's assessment (the spy lets them through)."""
    calls = []
    real = pmsa.assess

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(pmsa, "assess", spy)
    return calls


@pytest.mark.parametrize("K", [1, 0, 7])
def test_train_method_none_runs_without_a_pmsa_pass_and_accepts_any_K(pmsa_calls, tmp_path, capsys, K):
    parser = add_train_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--method", "none", "--K", str(K), "--dataset-option", "n_users=40", "--dataset-option",
                              "n_items=30", "--backbone", "gru4rec", "--dim", "8", "--max-len", "6", "--epochs", "1",
                              "--device", "cpu", "--no-progress", "--out", str(tmp_path / "none")])
    res = train_from_args(args)
    assert pmsa_calls == []
    assert [row["level"] for row in res["test"]] == ["all"]                   # no levels: all users only
    assert res["data"]["train_level_counts"] is None
    ranks = pd.read_csv(tmp_path / "none" / "test_ranks.csv")
    assert list(ranks.columns) == ["user", "level", "rank"] and ranks["level"].isna().all() and len(ranks) == 40
    assert "recall@10" in capsys.readouterr().out


def test_a_method_that_asks_for_levels_gets_them(pmsa_calls):
    check_method("srsupm")
    assert len(pmsa_calls) == 3                                               # training, validation, test windows
    with pytest.raises(ValueError, match="K: must be at least 3 for method 'srsupm'"):
        check_method("srsupm", K=2)


def test_a_model_whose_data_lacks_a_required_column_is_one_line(new_family):
    from srsupm_lab.data import leave_one_out, make_synthetic
    from srsupm_lab.trainer import Trainer
    from srsupm_lab.backbones import build_backbone
    split = leave_one_out(make_synthetic(n_users=40, n_items=30), max_len=6)
    model = ItemBiasRecommender(build_backbone("bag", 30, dim=8, max_len=6))
    model.requires = frozenset({"times"})
    with pytest.raises(ValueError, match=r"^Trainer: ItemBiasRecommender requires the column\(s\) \['times'\]"):
        Trainer(model, split.train, split.valid, device="cpu")
