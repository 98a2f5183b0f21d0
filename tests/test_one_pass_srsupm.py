"""SRSUPM on one encoder pass per user (issue 34, item 1) against the per-window path, in float64.

A batch of one-pass rows (``SRSUPM.training_data``) must give what the per-window path gives on
the same windows, in the same order, with the same partners: the loss terms (rec, pmsid, pmsim,
reg), the gradient of every parameter, the partners drawn and the confidence cache after the
step. Both paths use the same PMSIM negatives rule (``same_user_negatives``; method.md §7).
"""
import math

import numpy as np
import pytest
import torch

from srsupm_lab.backbones import build_backbone
from srsupm_lab.config import TrainConfig
from srsupm_lab.data.dataset import SequenceDataset
from srsupm_lab.data.windows import leave_one_out
from srsupm_lab.methods.srsupm.engagement import measure
from srsupm_lab.methods.srsupm.model import SRSUPM
from srsupm_lab.methods.srsupm.pmsim import ShiftInformationMatching, info_nce
from srsupm_lab.trainer import batch_slices

L = 6
N_ITEMS = 40
K = 3
TERMS = ("rec", "pmsid", "pmsim", "reg")


def dataset(seed=0, n_users=30, lengths=None):
    rng = np.random.default_rng(seed)
    lengths = lengths or [int(rng.integers(3, 21)) for _ in range(n_users)]   # some slide past L
    seqs = [rng.integers(1, N_ITEMS // 2 + 1, size=n) for n in lengths]     # few items: groups of several
    labels = [frozenset()] + [frozenset({i % 3}) for i in range(1, N_ITEMS + 1)]
    return SequenceDataset("toy", seqs, labels, ["a", "b", "c"])


def levels_of(train, seed=0):
    return torch.randint(0, K, (len(train),), generator=torch.Generator().manual_seed(seed))


def model(name, train, levels, one_pass=True, **options):
    """A float64 SRSUPM without dropout (backbone and SIC), prepared on ``train``; the same weights every call."""
    torch.manual_seed(0)
    bb_options = {"dropout": 0.0} if name == "gru4rec" else {
        "positions": "from_start", "n_layers": 2, "n_heads": 2, "inner_size": 16, "hidden_dropout": 0.0,
        "attn_dropout": 0.0}
    bb = build_backbone(name, N_ITEMS, dim=8, max_len=L, **bb_options)
    m = SRSUPM(bb, K=K, dropout=0.0, lambda2=1.0, one_pass=one_pass, **options)
    m.prepare(train, levels)
    m.double()                                                               # the confidence cache too
    with torch.no_grad():                                                    # a cache that is not uniform
        m.matching.confidence.copy_(torch.rand(len(train), generator=torch.Generator().manual_seed(7),
                                               dtype=torch.float64) + 0.05)
    return m.train()


def record_partners(m):
    drawn, sample = [], m.matching.sample
    m.matching.sample = lambda index, generator=None: drawn.append(sample(index, generator)) or drawn[-1]
    return drawn


def step(m, batch):
    """One loss evaluation and backward pass: (terms, {name: grad}, partners, cache after)."""
    drawn = record_partners(m)
    torch.manual_seed(5)                                                     # the partner draw
    terms, _ = m.loss_terms(batch)
    total = sum(m.weights[k] * v for k, v in terms.items())
    total.backward()
    grads = {n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None}
    return {k: float(v.detach()) for k, v in terms.items()}, grads, drawn[0], m.matching.confidence.clone()


def per_window_batch(train, levels, window):
    return {"inputs": train.inputs[window], "targets": train.targets[window], "users": train.users[window],
            "levels": levels[window], "index": window}


def assert_same_step(name, train, levels, rows=None, **options):
    """The one-pass batch of ``rows`` (default all) and the per-window batch of its windows agree."""
    one = model(name, train, levels, one_pass=True, **options)
    data = one.training_data(train)
    batch = data if rows is None else {k: t[rows] for k, t in data.items()}
    with torch.no_grad():
        _, targets, window = one.prefix_outputs(batch["inputs"], batch["targets"], batch["window"])
    assert sorted(window.tolist()) == sorted(batch["window"][batch["window"] >= 0].tolist())
    assert targets.tolist() == train.targets[window].tolist()
    per = model(name, train, levels, one_pass=False, **options)
    assert per.matching.same_user_negatives == one.matching.same_user_negatives
    a_terms, a_grads, a_partner, a_cache = step(one, batch)
    b_terms, b_grads, b_partner, b_cache = step(per, per_window_batch(train, levels, window))
    assert set(a_terms) == set(b_terms) == set(TERMS)
    for k in TERMS:
        assert a_terms[k] == pytest.approx(b_terms[k], rel=1e-10), k
    assert torch.equal(a_partner, b_partner)
    assert set(a_grads) == set(b_grads) and "backbone.item_embedding.weight" in a_grads
    for n in a_grads:
        torch.testing.assert_close(a_grads[n], b_grads[n], rtol=1e-9, atol=1e-12, msg=n)
    torch.testing.assert_close(a_cache, b_cache, rtol=1e-10, atol=1e-12)
    touched = torch.zeros(len(train), dtype=torch.bool)
    touched[window], touched[a_partner] = True, True
    fresh = model(name, train, levels).matching.confidence
    assert torch.equal(a_cache[~touched], fresh[~touched])                  # only windows and partners refreshed
    assert not torch.equal(a_cache[touched], fresh[touched])
    return a_terms, window


SETTINGS = [
    {},                                                                      # one-pass default: mask same-user
    {"same_user_negatives": "keep"},
    {"singletons": "drop", "false_negatives": "mask", "level_temperature": "learned", "augmentation": "encoder_dropout",
     "reg_form": "raw_mean", "pmsim_similarity": "dot"},
]


@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
@pytest.mark.parametrize("setting", SETTINGS, ids=["mask", "keep", "other-readings"])
def test_one_pass_batch_equals_the_windows(name, setting):
    train = leave_one_out(dataset(), max_len=L).train
    levels = levels_of(train)
    if setting.get("same_user_negatives") is None:
        setting = {**setting, "same_user_negatives": "mask"}                 # per window too: the same rule
    assert_same_step(name, train, levels, **setting)                         # every row in one batch


@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
def test_a_trainer_batch_of_rows_equals_its_windows(name):
    """The first batch of an epoch as the trainer cuts it (rows holding about 32 targets)."""
    train = leave_one_out(dataset(1), max_len=L).train
    levels = levels_of(train, 1)
    data = model(name, train, levels).training_data(train)
    perm = torch.randperm(data["targets"].shape[0], generator=torch.Generator().manual_seed(2))
    part = batch_slices(data["targets"], perm, 32)[0]
    rows = perm[part]
    terms, window = assert_same_step(name, train, levels, rows=rows, same_user_negatives="mask")
    assert len(set(train.users[window].tolist())) < window.shape[0]         # users with several windows


@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
def test_pmsim_off_and_pmsid_off(name):
    train = leave_one_out(dataset(2), max_len=L).train
    levels = levels_of(train, 2)
    for switches in ({"pmsim": False, "lambda2": 0.0}, {"pmsid": False}):
        ms = []
        for one_pass in (True, False):
            torch.manual_seed(0)
            bb_options = {"dropout": 0.0} if name == "gru4rec" else {"positions": "from_start", "hidden_dropout": 0.0,
                                                                      "attn_dropout": 0.0}
            m = SRSUPM(build_backbone(name, N_ITEMS, dim=8, max_len=L, **bb_options), K=K, dropout=0.0,
                       one_pass=one_pass, same_user_negatives="mask", **switches)
            m.prepare(train, levels)
            ms.append(m.double().train())
        data = ms[0].training_data(train)
        with torch.no_grad():
            _, _, window = ms[0].prefix_outputs(data["inputs"], data["targets"], data["window"])
        values = []
        for m, batch in zip(ms, (data, per_window_batch(train, levels, window))):
            torch.manual_seed(5)
            terms, _ = m.loss_terms(batch)
            values.append({k: float(v.detach()) for k, v in terms.items()})
        assert values[0].keys() == values[1].keys()
        for k in values[0]:
            assert values[0][k] == pytest.approx(values[1][k], rel=1e-10), (switches, k)


@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
def test_users_with_one_window_and_windows_reordered(name):
    # users of 4 interactions have one training window; of 3, none (dropped); long ones slide past L
    ds = dataset(3, lengths=[4, 4, 12, 5, 4, 9, 4, 15, 6, 4])
    train = leave_one_out(ds, max_len=L).train
    levels = levels_of(train, 3)
    counts = torch.bincount(train.users)
    assert (counts == 1).sum() >= 5
    terms, _ = assert_same_step(name, train, levels, same_user_negatives="mask")
    # the same windows in another order: the window indices follow them, the deterministic terms agree
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(4))
    shuffled, shuffled_levels = train.subset(perm), levels[perm]
    again, window = assert_same_step(name, shuffled, shuffled_levels, same_user_negatives="mask")
    for k in ("rec", "pmsid", "reg"):                                        # means over the same set of windows
        assert again[k] == pytest.approx(terms[k], rel=1e-10)
    assert sorted(perm[window].tolist()) == list(range(len(train)))


def test_same_user_negatives_by_hand_and_defaults():
    torch.manual_seed(3)
    a, p = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 4, dtype=torch.float64)
    user = torch.tensor([0, 1, 0, 2, 1, 0])
    losses = []
    for i in range(6):
        sims = {j: float(a[i] @ p[j] / (a[i].norm() * p[j].norm())) / 0.5 for j in range(6)
                if j == i or user[j] != user[i]}
        losses.append(-(sims[i] - math.log(sum(math.exp(s) for s in sims.values()))))
    assert float(info_nce(a, p, 0.5, user=user)) == pytest.approx(sum(losses) / 6, abs=1e-12)
    assert float(info_nce(a, p, 0.5, user=torch.arange(6))) == pytest.approx(float(info_nce(a, p, 0.5)), abs=1e-15)
    assert ShiftInformationMatching(K).same_user_negatives == "keep"
    bb = build_backbone("gru4rec", N_ITEMS, dim=8, max_len=L)
    assert SRSUPM(bb, K=K).matching.same_user_negatives == "keep"            # per window: unchanged default
    assert SRSUPM(bb, K=K, one_pass=True).matching.same_user_negatives == "mask"
    with pytest.raises(ValueError, match="same_user_negatives"):
        SRSUPM(bb, K=K, same_user_negatives="drop")


def test_one_pass_needs_prefix_encodings_and_rows_need_their_windows():
    with pytest.raises(ValueError, match="positions='from_start'"):
        SRSUPM(build_backbone("sasrec", N_ITEMS, dim=8, max_len=L), K=K, one_pass=True)
    start = build_backbone("sasrec", N_ITEMS, dim=8, max_len=L, positions="from_start")

    class WithAux(type(start)):
        def auxiliary_loss(self, item_seq, targets, user_ids=None):
            return None
    with pytest.raises(ValueError, match="auxiliary loss"):
        SRSUPM(WithAux(N_ITEMS, dim=8, max_len=L, positions="from_start"), K=K, one_pass=True)
    train = leave_one_out(dataset(), max_len=L).train
    levels = levels_of(train)
    m = model("gru4rec", train, levels)
    data = m.training_data(train)
    assert set(data) == {"inputs", "targets", "users", "window"} and model(
        "gru4rec", train, levels, one_pass=False).training_data(train) is None
    with pytest.raises(KeyError, match="window"):
        m.loss_terms({k: v for k, v in data.items() if k != "window"})
    with pytest.raises(ValueError, match="one_pass=True"):
        model("gru4rec", train, levels, one_pass=False).loss_terms(data)


def test_config_refuses_positions_from_the_end_in_one_line():
    with pytest.raises(ValueError, match="TrainConfig.one_pass") as err:
        TrainConfig(method="srsupm", one_pass=True, backbone="sasrec")
    assert "\n" not in str(err.value) and "positions='from_start'" in str(err.value)
    from srsupm_lab.experiment import build_model
    ds = dataset()
    for backbone, options in (("gru4rec", {}), ("sasrec", {"positions": "from_start"})):
        config = TrainConfig(method="srsupm", one_pass=True, backbone=backbone, backbone_options=options,
                             dim=8, max_len=L)
        built, _ = build_model(config, ds)
        assert isinstance(built, SRSUPM) and built.one_pass and built.matching.same_user_negatives == "mask"


def test_engagement_on_a_one_pass_batch_changes_nothing():
    split = leave_one_out(dataset(), max_len=L)
    levels = levels_of(split.train)
    m = model("gru4rec", split.train, levels)
    data = m.training_data(split.train)
    batch = {k: t[:16] for k, t in data.items()}
    batch["index"] = torch.arange(16)                                        # as the trainer adds it (rows)
    cache, state = m.matching.confidence.clone(), torch.get_rng_state()
    valid_levels = torch.randint(0, K, (len(split.valid),), generator=torch.Generator().manual_seed(1))
    out = measure(m, split.valid, valid_levels, batch=batch)
    assert torch.equal(m.matching.confidence, cache) and torch.equal(torch.get_rng_state(), state) and m.training
    assert abs(sum(v for k, v in out.items() if k.startswith("grad_")) - 1.0) < 1e-9
    # the batch is cut to rows holding >= 16 targets; chance: mean log of the columns left per anchor
    counts = (batch["targets"] != 0).sum(dim=1).cumsum(0)
    n = int((counts < 16).sum()) + 1
    users = batch["users"][:n].repeat_interleave((batch["targets"][:n] != 0).sum(dim=1))
    T = users.shape[0]
    expected = float(np.mean([math.log(T - int((users == u).sum()) + 1) for u in users.tolist()]))
    assert T >= 16 and out["pmsim_chance"] == pytest.approx(expected, rel=1e-12) and expected < math.log(T)


def test_a_one_pass_srsupm_run_trains_and_resumes(tmp_path):
    from srsupm_lab.experiment import run_experiment
    config = dict(dataset="synthetic", method="srsupm", backbone="gru4rec", one_pass=True, epochs=2, batch_size=64,
                  lr=0.005, dim=16, max_len=10, K=3, device="cpu", progress=False, out_dir=str(tmp_path / "run"),
                  resume=True, dataset_options={"n_users": 120, "n_items": 60})
    first = run_experiment({**config, "epochs": 1})
    again = run_experiment(config)                                          # resumes at epoch 2
    history = again["history"]
    assert len(history) == 2 and np.isfinite(history["loss"]).all() and np.isfinite(history["loss_pmsim"]).all()
    assert history["loss"][0] == pytest.approx(first["history"]["loss"][0])
    assert np.isfinite(history["eng_alpha_info"]).all() and np.isfinite(history["eng_pmsim_chance"]).all()
    assert again["config"]["one_pass"] is True
