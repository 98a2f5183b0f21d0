"""The method ``mtrec``'s open readings as options, and its oracle reward: each option reaches the reward model (its
r* recomputed by hand from the model's Q values in float64), the oracle's rewards equal a brute-force look-up."""
import inspect
import json
import math

import pytest
import torch

from srsupm_lab.backbones import build_backbone
from srsupm_lab.config import TrainConfig
from srsupm_lab.data import leave_one_out, make_synthetic
from srsupm_lab.data.satisfaction_world import make_clickbait_world
from srsupm_lab.methods import get_method
from srsupm_lab.methods.mtrec import iql, reward_model
from srsupm_lab.methods.mtrec.method import MTRecOptions

SMALL = {"n_users": 40, "n_items": 30, "n_labels": 6, "n_motivations": 3, "cats_per_motivation": 2}
GAMMA = 0.9


@pytest.fixture(scope="module")
def world():
    ds = make_clickbait_world(**SMALL, seed=4)
    return ds, leave_one_out(ds, max_len=5)


def _build(ds, split, monkeypatch=None, **options):
    """The recommender after ``prepare``; with ``monkeypatch`` stage 1 does not train (the stub records its call)."""
    seen = {}
    if monkeypatch is not None:
        def stub(model, windows, **kw):
            seen.update(model=model, **kw)
            return [0.0]
        monkeypatch.setattr(reward_model, "train_reward_model", stub)
    config = TrainConfig(method="mtrec", backbone="gru4rec", dim=8, max_len=5, seed=3,
                         method_options={"reward_epochs": 1, "n_negatives": 2, "normalise": "none", "gamma": GAMMA,
                                         **options})
    torch.manual_seed(0)                                                 # the same initial weights in every build
    backbone = build_backbone("gru4rec", ds.n_items, n_users=ds.n_users, dim=8, max_len=5)
    model = get_method("mtrec").build(backbone, config, ds)
    model.prepare(split.train)
    return model, seen


def _q(model, inputs, items):
    """``Q [M, C, 2]`` of the captured reward model in eval mode, as float64 lists."""
    model.eval()
    with torch.no_grad():
        return model.q_values(model(inputs, items, None)).double().tolist()


def _v(q_pair, t=1.0):
    return t * math.log(sum(math.exp(x / t) for x in q_pair))


def test_the_defaults_are_the_functions_defaults():
    d = MTRecOptions.defaults()
    sig = inspect.signature(reward_model.RewardModel).parameters
    for name in ("state", "negative_next", "terminal", "monotone", "temperature"):
        assert d[name] == sig[name].default, name
    loss = inspect.signature(iql.qr_iql_loss).parameters
    for name in ("sign", "u2_form", "u2_weight", "stop_grad"):
        assert d[name] == loss[name].default, name
    train = inspect.signature(reward_model.train_reward_model).parameters
    assert d["reward_batch_size"] == train["batch_size"].default
    assert d["reward_batches"] == train["batches"].default


def test_the_loss_readings_reach_stage_one(world, monkeypatch):
    ds, split = world
    _, seen = _build(ds, split, monkeypatch, stop_grad="next", sign="pred_minus_target", u2_form="squared",
                     u2_weight="one", alpha=0.3, reward_batch_size=17, reward_batches="users")
    assert seen["objective"] == "qr_iql" and seen["batch_size"] == 17 and seen["batches"] == "users"
    assert {k: seen[k] for k in ("stop_grad", "sign", "u2_form", "u2_weight", "alpha")} == \
        {"stop_grad": "next", "sign": "pred_minus_target", "u2_form": "squared", "u2_weight": "one", "alpha": 0.3}
    _, seen = _build(ds, split, monkeypatch, reward="irl", stop_grad="both")
    assert seen["objective"] == "iq_learn" and seen["stop_grad"] == "both" and "sign" not in seen
    assert seen["model"].n_quantiles == 1


def test_stop_grad_changes_the_fit(world):
    ds, split = world
    a, _ = _build(ds, split, stop_grad="none")
    b, _ = _build(ds, split, stop_grad="both")
    assert a.reward_losses != b.reward_losses and all(math.isfinite(x) for x in a.reward_losses + b.reward_losses)


def test_terminal_self_changes_r_star_only_at_terminal_windows_by_gamma_v(world, monkeypatch):
    ds, split = world
    zero, seen0 = _build(ds, split, monkeypatch, terminal="zero")
    self_, seen1 = _build(ds, split, monkeypatch, terminal="self")
    assert seen1["model"].terminal == "self"
    last = torch.ones(len(split.train), dtype=torch.bool)
    last[:-1] = split.train.users[1:] != split.train.users[:-1]          # a user's last training window
    q = _q(seen1["model"], split.train.inputs, split.train.targets[:, None])
    r0, r1 = zero.rewards.double(), self_.rewards.double()
    assert torch.equal(r0[~last], r1[~last]) and torch.equal(r0[:, 1:], r1[:, 1:])
    for m in torch.nonzero(last).flatten().tolist():
        for a in (0, 1):
            assert float(r0[m, 0, a]) == pytest.approx(q[m][0][a], abs=1e-5)
            assert float(r1[m, 0, a]) == pytest.approx(q[m][0][a] - GAMMA * _v(q[m][0]), abs=1e-5)


def test_negative_next_and_temperature_give_the_negatives_their_next_state(world, monkeypatch):
    ds, split = world
    model, seen = _build(ds, split, monkeypatch, negative_next="positive", temperature=0.5)
    rm = seen["model"]
    assert rm.temperature == 0.5
    items = torch.cat([split.train.targets[:, None], model.negatives], 1)
    q = _q(rm, split.train.inputs, items)
    for m in range(0, len(split.train), 7):
        for k in (1, 2):
            for a in (0, 1):                                             # s' = (h_t, i_t), V* at T = 0.5
                want = q[m][k][a] - GAMMA * _v(q[m][0], 0.5)
                assert float(model.rewards[m, k, a]) == pytest.approx(want, abs=1e-5)
    term, _ = _build(ds, split, monkeypatch, negative_next="terminal")
    logged, _ = _build(ds, split, monkeypatch, negative_next="logged_next")
    q = _q(seen["model"], split.train.inputs, items)                    # the same weights: the same Q
    for m in range(0, len(split.train), 7):
        for k in (1, 2):
            for a in (0, 1):
                assert float(term.rewards[m, k, a]) == pytest.approx(q[m][k][a], abs=1e-5)
                assert float(logged.rewards[m, k, a]) - q[m][k][a] == pytest.approx(
                    float(logged.rewards[m, 0, a]) - q[m][0][a], abs=1e-5)


def test_state_append_feeds_the_candidate_as_the_newest_item(world, monkeypatch):
    ds, split = world
    model, seen = _build(ds, split, monkeypatch, state="append", negative_next="terminal")
    rm = seen["model"]
    assert rm.state == "append"
    rm.eval()
    with torch.no_grad():
        for m in range(0, len(split.train), 5):
            for k, item in enumerate([int(split.train.targets[m])] + model.negatives[m].tolist()):
                seq = split.train.inputs[m, 1:].tolist() + [item]        # oldest dropped, candidate appended
                h = rm.backbone.encode(torch.tensor([seq]), None)[0]
                e = rm.backbone.item_table()[item]
                q = rm.head(torch.cat([h, e, h * e])).view(2, -1).double().mean(dim=1)
                if k:                                                     # a negative: s' terminal, r* = Q
                    assert model.rewards[m, k].double().tolist() == pytest.approx(q.tolist(), abs=1e-5)


def test_monotone_heads_ascend(world, monkeypatch):
    ds, split = world
    for flag in (True, False):
        _, seen = _build(ds, split, monkeypatch, monotone=flag)
        with torch.no_grad():
            atoms = seen["model"](split.train.inputs[:20], split.train.targets[:20, None], None)
        assert bool((atoms.diff(dim=-1) >= 0).all()) is flag


def test_oracle_rewards_are_the_true_satisfaction_looked_up_by_brute_force(world):
    ds, split = world
    model, _ = _build(ds, split, reward="oracle")
    sat, mot, table = ds.meta["satisfaction"], ds.meta["motivation"], ds.meta["satisfaction_table"]
    users = split.train.users.tolist()
    for m in range(len(split.train)):                                    # the loop lives in the test
        u = users[m]
        t = users[:m].count(u) + 1                                       # her windows target steps 1, 2, ...
        assert ds.sequences[u][t] == split.train.targets[m]
        want = [sat[u][t]] + [table[mot[u][t], j] for j in model.negatives[m].tolist()]
        assert model.rewards[m, :, 0].tolist() == pytest.approx(want, abs=1e-6)
        assert model.rewards[m, :, 1].tolist() == [0.0, 0.0, 0.0]
    z, _ = _build(ds, split, reward="oracle", normalise="zscore")
    assert float(z.rewards.mean()) == pytest.approx(0.0, abs=1e-5)


def test_the_oracle_with_an_outside_option_values_a_skip_at_the_motivations_mean(world):
    ds, split = world
    model, _ = _build(ds, split, reward="oracle", oracle_outside="mean")
    mot, table = ds.meta["motivation"], ds.meta["satisfaction_table"]
    users = split.train.users.tolist()
    for m in range(0, len(split.train), 7):
        u = users[m]
        t = users[:m].count(u) + 1
        catalogue = [table[mot[u][t]][i] for i in range(1, len(table[mot[u][t]]))]   # column 0 is padding
        assert model.rewards[m, :, 1].tolist() == pytest.approx([sum(catalogue) / len(catalogue)] * 3, abs=1e-6)
    bait = torch.as_tensor(ds.meta["clickbait"])[model.negatives]                      # (M, K) negatives' truth
    advantage = model.rewards[:, 1:, 0] - model.rewards[:, 1:, 1]                      # r_P − r_N of negatives
    assert float(advantage[bait].max()) < 0 < float(advantage[~bait].max())


def test_bad_readings_and_an_oracle_without_truth_are_one_line_errors():
    with pytest.raises(ValueError, match="oracle_outside") as err:
        TrainConfig(method="mtrec", method_options={"oracle_outside": "mean"})
    assert "\n" not in str(err.value)
    for bad in ({"temperature": 0.0}, {"state": "concat"}, {"terminal": "drop"}, {"reward_batch_size": 0}):
        with pytest.raises(ValueError) as err:
            TrainConfig(method="mtrec", method_options=bad)
        assert next(iter(bad)) in str(err.value) and "\n" not in str(err.value)
    ds = make_synthetic(n_users=20, n_items=30, seed=1)
    config = TrainConfig(method="mtrec", backbone="gru4rec", dim=8, max_len=5, method_options={"reward": "oracle"})
    backbone = build_backbone("gru4rec", ds.n_items, n_users=ds.n_users, dim=8, max_len=5)
    with pytest.raises(ValueError, match=r"reward='oracle'.*'synthetic' has none") as err:
        get_method("mtrec").build(backbone, config, ds)
    assert "\n" not in str(err.value)


def test_the_oracle_trains_from_the_command_line(tmp_path):
    from srsupm_lab.__main__ import main
    argv = ["train", "--dataset", "synthetic-clickbait", "--method", "mtrec", "--reward", "oracle", "--terminal",
            "self", "--backbone", "gru4rec", "--dim", "8", "--max-len", "6", "--epochs", "1", "--device", "cpu",
            "--no-progress", "--out", str(tmp_path / "run")] + \
           [x for k, v in SMALL.items() for x in ("--dataset-option", f"{k}={v}")]
    assert main(argv) == 0
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["config"]["method_options"]["reward"] == "oracle"
    assert res["config"]["method_options"]["terminal"] == "self"
