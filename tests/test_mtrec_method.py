"""The method ``mtrec``: stage 1 in prepare (the reward model, then r* once), stage 2's loss against a hand recomputation."""
import json
import math

import pytest
import torch
import torch.nn.functional as F

from srsupm_lab.backbones import build_backbone
from srsupm_lab.config import TrainConfig
from srsupm_lab.data import leave_one_out, make_synthetic
from srsupm_lab.methods import get_method

TINY = {"n_users": 50, "n_items": 25, "n_labels": 6, "n_motivations": 3, "cats_per_motivation": 2}


def _built(one_thread=None, **options):
    ds = make_synthetic(**TINY, seed=4)
    split = leave_one_out(ds, max_len=6)
    config = TrainConfig(method="mtrec", backbone="gru4rec", dim=8, max_len=6, seed=3,
                         method_options={"reward_epochs": 1, "n_negatives": 2, **options})
    torch.manual_seed(0)
    backbone = build_backbone("gru4rec", ds.n_items, n_users=ds.n_users, dim=8, max_len=6)
    model = get_method("mtrec").build(backbone, config, ds)
    model.prepare(split.train)
    return model, split


def test_stage_one_leaves_zscored_rewards_for_every_window_and_no_reward_weights(one_thread):
    model, split = _built()
    M = len(split.train)
    assert tuple(model.rewards.shape) == (M, 3, 2) and tuple(model.negatives.shape) == (M, 2)
    assert float(model.rewards.mean()) == pytest.approx(0.0, abs=1e-4)
    assert float(model.rewards.std()) == pytest.approx(1.0, abs=1e-3)
    assert bool((model.negatives != split.train.targets[:, None]).all())           # a negative is not the target
    assert all(math.isfinite(x) for x in model.reward_losses) and len(model.reward_losses) == 1
    assert not any(k.startswith("_reward") or "reward_backbone" in k for k in model.state_dict())
    assert set(dict(model.named_buffers())) >= {"rewards", "negatives"}


def test_loss_is_cross_entropy_plus_beta_times_alignment_recomputed_by_hand(one_thread):
    model, split = _built(beta=0.7)
    model.eval()                                                                     # no dropout: h is fixed
    idx = torch.tensor([0, 3, 5, 8])
    batch = {"inputs": split.train.inputs[idx], "targets": split.train.targets[idx], "users": split.train.users[idx],
             "index": idx}
    total, parts = model.loss(batch)
    with torch.no_grad():
        h = model.backbone.encode(batch["inputs"], batch["users"]).double()
        E = model.backbone.item_table().double()
        ce = F.cross_entropy(h @ E[1:].T, batch["targets"] - 1)
        align = 0.0
        for b, w in enumerate(idx.tolist()):                                         # the loop lives in the test
            items = [int(batch["targets"][b])] + model.negatives[w].tolist()
            for c, item in enumerate(items):
                f = 1 / (1 + math.exp(-float(h[b] @ E[item])))
                r_pos, r_neg = (float(x) for x in model.rewards[w, c])
                align -= f * r_pos + (1 - f) * r_neg
        align /= len(idx) * 3
    assert float(parts["rec"]) == pytest.approx(float(ce), rel=1e-5)
    assert float(parts["align"]) == pytest.approx(align, rel=1e-4, abs=1e-6)
    assert float(total) == pytest.approx(float(ce) + 0.7 * align, rel=1e-4, abs=1e-6)


def test_the_irl_ablation_learns_one_atom(one_thread):
    model, _ = _built(reward="irl")
    assert model.rewards.shape[2] == 2 and all(math.isfinite(x) for x in model.reward_losses)


def test_mtrec_trains_from_the_command_line(tmp_path):
    from srsupm_lab.__main__ import main
    argv = ["train", "--dataset", "synthetic", "--method", "mtrec", "--reward-epochs", "1", "--beta", "0.5",
            "--backbone", "gru4rec", "--dim", "8", "--max-len", "6", "--epochs", "1", "--device", "cpu",
            "--no-progress", "--out", str(tmp_path / "run")] + \
           [x for k, v in TINY.items() for x in ("--dataset-option", f"{k}={v}")]
    assert main(argv) == 0
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["model"] == "MTRec+gru4rec" and res["config"]["method_options"]["beta"] == 0.5
    history = (tmp_path / "run" / "history.csv").read_text()
    assert "loss_align" in history.splitlines()[0]
    with pytest.raises(ValueError, match="one_pass.*'mtrec' trains on windows"):
        TrainConfig(method="mtrec", backbone="gru4rec", one_pass=True)
