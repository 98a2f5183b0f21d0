"""One-pass prefix encoding (srsupm_lab/data/prefix_rows.py) against the per-window path.

The reference is the per-window encoding every other run uses (``backbone.encode`` on each
left-padded window), recomputed in float64; the rows are checked against a brute-force walk over
each user's sequence.
"""
import numpy as np
import pytest
import torch

from srsupm_lab.backbones import build_backbone
from srsupm_lab.config import TrainConfig
from srsupm_lab.data.dataset import SequenceDataset
from srsupm_lab.data.prefix_rows import prefix_rows
from srsupm_lab.data.windows import Windows, leave_one_out
from srsupm_lab.methods.none import BackboneRecommender
from srsupm_lab.trainer import batch_slices

L = 6
N_ITEMS = 40


def dataset(seed=0, n_users=30):
    rng = np.random.default_rng(seed)
    # lengths 3..20: some users fit in L, others slide past it (n - 3 > L)
    seqs = [rng.integers(1, N_ITEMS + 1, size=int(rng.integers(3, 21))) for _ in range(n_users)]
    labels = [frozenset()] + [frozenset({i % 3}) for i in range(1, N_ITEMS + 1)]
    return SequenceDataset("toy", seqs, labels, ["a", "b", "c"])


def backbone(name, **options):
    torch.manual_seed(0)
    if name == "sasrec":
        options = {"positions": "from_start", "n_layers": 2, "n_heads": 2, "inner_size": 16, **options}
    return build_backbone(name, N_ITEMS, dim=8, max_len=L, **options).double()


def test_every_window_sits_once_at_its_own_prefix():
    ds = dataset()
    train = leave_one_out(ds, max_len=L).train
    rows = prefix_rows(train)
    placed = rows.window[rows.window >= 0]
    assert sorted(placed.tolist()) == list(range(len(train)))              # each window exactly once
    assert rows.n_targets == len(train)
    assert len(rows) < len(train)                                          # rows are shared
    for r, c in (rows.window >= 0).nonzero().tolist():                      # brute force, window by window
        i = int(rows.window[r, c])
        prefix = [v for v in rows.inputs[r, : c + 1].tolist() if v != 0]
        window = [v for v in train.inputs[i].tolist() if v != 0]
        assert prefix == window and int(rows.targets[r, c]) == int(train.targets[i])
        assert int(rows.users[r]) == int(train.users[i])
        assert (rows.inputs[r, c + 1:] != 0).all()                          # later columns are items


def test_windows_past_L_and_non_prefixes_keep_rows_of_their_own():
    # one user, sequence 1..12, L = 3: windows (1), (1 2), (1 2 3), then slid (2 3 4) ...
    seq = np.arange(1, 13)
    labels = [frozenset()] + [frozenset({0})] * 12
    train = leave_one_out(SequenceDataset("one", [seq], labels, ["a"]), max_len=3).train
    rows = prefix_rows(train)
    assert len(rows) == 1 + (len(train) - 3)                                # the anchor + each slid window
    assert rows.targets[0].tolist() == [2, 3, 4] and rows.inputs[0].tolist() == [1, 2, 3]
    # a hand-built window that is no prefix of its user's longest one stays alone
    odd = Windows(inputs=torch.tensor([[0, 1, 2], [0, 0, 7]]), targets=torch.tensor([3, 8]), users=torch.tensor([0, 0]))
    rows = prefix_rows(odd)
    assert len(rows) == 2 and rows.targets[1].tolist() == [0, 0, 8]


@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
@pytest.mark.parametrize("groups", [1, 3])
def test_one_pass_encodes_every_window_as_the_per_window_path(name, groups):
    train = leave_one_out(dataset(), max_len=L).train
    bb = backbone(name).eval()
    bb.length_groups = groups
    model = BackboneRecommender(bb, one_pass=True)
    rows = prefix_rows(train)
    with torch.no_grad():
        reference = bb.encode(train.inputs)                                 # (M, d) one pass per window
        out = bb.sequence_output(rows.inputs)                               # (R, L, d)
        h, targets = model.prefix_outputs(rows.inputs, rows.targets)        # (M, d) grouped
        # the same grouped pass with window index + 1 in place of each target: h paired with its window
        h_again, window_plus_1 = model.prefix_outputs(rows.inputs, rows.window + 1)
    where = (rows.window >= 0).nonzero()
    window = rows.window[where[:, 0], where[:, 1]]
    torch.testing.assert_close(out[where[:, 0], where[:, 1]], reference[window], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(h_again, reference[window_plus_1 - 1], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(h, h_again, rtol=0, atol=0)
    assert targets.tolist() == train.targets[window_plus_1 - 1].tolist()


def test_edge_cases_one_window_per_user_L_1_and_reordered_windows():
    labels = [frozenset()] + [frozenset({0})] * 30
    one = leave_one_out(SequenceDataset("one", [np.array([1, 2, 3, 4]), np.array([5, 6, 7])], labels, ["a"]),
                        max_len=4).train                                    # user 0: one window; user 1: none
    rows = prefix_rows(one)
    assert len(rows) == 1 and rows.targets[0].tolist() == [0, 0, 0, 2]
    seq = np.array([3, 1, 3, 2, 5, 4, 3, 6])                                # repeats, L = 1
    short = leave_one_out(SequenceDataset("L1", [seq], labels, ["a"]), max_len=1).train
    rows = prefix_rows(short)
    assert rows.n_targets == len(short) and sorted(rows.window[rows.window >= 0].tolist()) == list(range(len(short)))
    # windows in another order: the anchor is still the true prefix, not a slid window of L items
    train = leave_one_out(SequenceDataset("one", [np.arange(1, 13)], labels, ["a"]), max_len=3).train
    shuffled = train.subset(torch.tensor([8, 5, 2, 7, 0, 3, 1, 6, 4]))
    assert len(prefix_rows(shuffled)) == len(prefix_rows(train)) == 7


@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
def test_one_pass_loss_and_gradient_equal_the_windows(name):
    train = leave_one_out(dataset(1), max_len=L).train
    options = {"dropout": 0.0} if name == "gru4rec" else {"hidden_dropout": 0.0, "attn_dropout": 0.0}
    grads = []
    for one_pass in (False, True):
        bb = backbone(name, **options)
        model = BackboneRecommender(bb, one_pass=one_pass).train()
        data = model.training_data(train) or {"inputs": train.inputs, "targets": train.targets, "users": train.users}
        value, _ = model.loss(data)                                         # every window in one batch
        value.backward()
        grads.append((float(value.detach()), [p.grad.clone() for p in model.parameters()]))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-12)
    for a, b in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_positions_from_the_end_are_not_prefix_encodings():
    bb = build_backbone("sasrec", N_ITEMS, dim=8, max_len=L)
    assert not bb.causal_prefixes and bb.position_ids(torch.tensor([[0, 3, 4]])).tolist() == [L - 3, L - 2, L - 1]
    with pytest.raises(ValueError, match="positions='from_start'"):
        BackboneRecommender(bb, one_pass=True)
    for name in ("caser", "bert4rec", "lightsans"):
        other = build_backbone(name, N_ITEMS, n_users=3, dim=8, max_len=L)
        assert not other.causal_prefixes
    start = build_backbone("sasrec", N_ITEMS, dim=8, max_len=L, positions="from_start")
    assert start.position_ids(torch.tensor([[0, 0, 3, 4], [5, 6, 7, 8]])).tolist() == [[0, 0, 0, 1], [0, 1, 2, 3]]
    with pytest.raises(ValueError, match="auxiliary loss"):
        class WithAux(type(start)):
            def auxiliary_loss(self, item_seq, targets, user_ids=None):
                return None
        BackboneRecommender(WithAux(N_ITEMS, dim=8, max_len=L, positions="from_start"), one_pass=True)
    with pytest.raises(ValueError, match="positions must be one of"):
        build_backbone("sasrec", N_ITEMS, dim=8, max_len=L, positions="middle")


def test_batches_of_rows_hold_about_batch_size_targets():
    targets = torch.zeros(50, L, dtype=torch.long)
    counts = np.random.default_rng(3).integers(1, L + 1, size=50)
    for r, c in enumerate(counts):
        targets[r, L - c:] = 7
    perm = torch.randperm(50, generator=torch.Generator().manual_seed(0))
    parts = batch_slices(targets, perm, 16)
    covered = torch.cat([perm[p] for p in parts])
    assert sorted(covered.tolist()) == list(range(50))                      # every row once
    sizes = [int((targets[perm[p]] != 0).sum()) for p in parts]
    assert sum(sizes) == counts.sum() and all(16 - L < s < 16 + L for s in sizes[:-1])
    assert [(p.start, p.stop) for p in batch_slices(torch.ones(10), torch.arange(10), 4)] == [(0, 4), (4, 8), (8, 12)]


def test_config_refuses_one_pass_where_it_is_not_exact():
    with pytest.raises(ValueError, match="TrainConfig.one_pass"):
        TrainConfig(backbone="sasrec", one_pass=True)                       # positions from the end
    with pytest.raises(ValueError, match="TrainConfig.one_pass: method 'oracle' trains on windows"):
        TrainConfig(backbone="gru4rec", one_pass=True, method="oracle", dataset="synthetic")
    TrainConfig(backbone="gru4rec", one_pass=True, method="srsupm")          # SRSUPM takes one pass too
    with pytest.raises(ValueError, match="TrainConfig.one_pass"):
        TrainConfig(backbone="caser", one_pass=True)
    TrainConfig(backbone="sasrec", backbone_options={"positions": "from_start"}, one_pass=True)


def test_a_one_pass_run_trains_and_resumes(tmp_path):
    from srsupm_lab.experiment import run_experiment
    config = dict(dataset="synthetic", backbone="gru4rec", one_pass=True, epochs=2, batch_size=64, lr=0.005,
                  dim=16, max_len=10, device="cpu", progress=False, out_dir=str(tmp_path / "run"), resume=True,
                  dataset_options={"n_users": 120, "n_items": 60})
    first = run_experiment({**config, "epochs": 1})
    again = run_experiment(config)                                          # resumes at epoch 2
    assert len(again["history"]) == 2 and np.isfinite(again["history"]["loss"]).all()
    assert again["history"]["loss"][0] == pytest.approx(first["history"]["loss"][0])
    assert again["config"]["one_pass"] is True


def test_a_checkpoint_resumes_only_with_the_same_batching(tmp_path):
    from srsupm_lab.checkpoints import check_checkpoint
    model = BackboneRecommender(backbone("gru4rec"))
    state = model.state_dict()
    base = {"batch_size": 4, "seed": 1}
    older = {"fingerprint": dict(base), "model": state, "best_state": None}           # before one_pass existed
    check_checkpoint(older, {**base, "one_pass": False}, model, tmp_path / "ck.pt")   # read as per-window
    with pytest.raises(ValueError, match="different run"):
        check_checkpoint(older, {**base, "one_pass": True}, model, tmp_path / "ck.pt")
    newer = {"fingerprint": {**base, "one_pass": True}, "model": state, "best_state": None}
    with pytest.raises(ValueError, match="different run"):
        check_checkpoint(newer, {**base, "one_pass": False}, model, tmp_path / "ck.pt")


def test_bench_train_times_the_one_pass_rows():
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_train.py"), "--dataset", "synthetic",
                          "--backbones", "gru4rec", "--steps", "2", "--repeats", "1", "--threads", "1", "--no-srsupm",
                          "--one-pass"], capture_output=True, text=True, timeout=300, cwd=root)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {line.split()[0] + (" one pass" if "one pass" in line else ""): line.split()
            for line in out.stdout.splitlines() if line.startswith("gru4rec")}
    assert set(rows) == {"gru4rec", "gru4rec one pass"}
    assert float(rows["gru4rec one pass"][3]) > 0                          # s/step column of the one-pass row


@pytest.mark.parametrize("name, options", [("gru4rec", {}), ("sasrec", {}), ("sasrec", {"positions": "from_start"}),
                                           ("caser", {}), ("bert4rec", {}), ("lightsans", {})])
def test_the_config_reads_causal_prefixes_as_the_built_backbone_has_them(name, options):
    from srsupm_lab.backbones import BACKBONES
    built = build_backbone(name, N_ITEMS, n_users=3, dim=8, max_len=L, **options)
    assert BACKBONES[name].prefixes_exact(options) == built.causal_prefixes
    assert built.causal_prefixes == (name == "gru4rec" or options.get("positions") == "from_start")
