"""Trainer, TrainConfig and run_experiment: learning, early stopping, exact resume, atomic files, bad input."""
import argparse
import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

from srsupm_lab.atomic import atomic_write
from srsupm_lab.backbones import build_backbone
from srsupm_lab.config import TrainConfig
from srsupm_lab.data import SequenceDataset, leave_one_out
from srsupm_lab.evaluate import rank_metrics
from srsupm_lab.experiment import run_experiment
from srsupm_lab.pmsa import assess
from srsupm_lab.methods.none import BackboneRecommender
from srsupm_lab.methods.srsupm.model import SRSUPM
from srsupm_lab.cli.train import add_train_arguments, config_from_args, train_from_args
from srsupm_lab.trainer import Trainer
from srsupm_lab.families.protocol import Recommender

N_ITEMS, MAX_LEN = 40, 8
TIMING = ["train_seconds", "eval_seconds"]


pytestmark = pytest.mark.usefixtures("one_thread")          # tests/conftest.py


@pytest.fixture(scope="module")
def cycle_data():
    """Users walk a fixed random cycle over the items: the next item is fully predictable."""
    g = np.random.default_rng(0)
    order = g.permutation(np.arange(1, N_ITEMS + 1))
    seqs = []
    for _ in range(100):
        start, length = g.integers(N_ITEMS), g.integers(5, 9)
        seqs.append(order[(start + np.arange(length)) % N_ITEMS])
    n_labels = 5
    labels = [frozenset()] + [frozenset({int(i) % n_labels, (int(i) // 8) % n_labels}) for i in range(1, N_ITEMS + 1)]
    ds = SequenceDataset("cycle", seqs, labels, [f"c{j}" for j in range(n_labels)])
    split = leave_one_out(ds, max_len=MAX_LEN)
    _, train_levels = assess(split.train.inputs, split.train.targets, ds.item_labels, K=3)
    _, test_levels = assess(split.test.inputs, split.test.targets, ds.item_labels, K=3)
    return ds, split, train_levels, test_levels


def make_model(seed, srsupm=False):
    torch.manual_seed(seed)
    bb = build_backbone("gru4rec", N_ITEMS, dim=16, max_len=MAX_LEN, dropout=0.2)
    return SRSUPM(bb, K=3) if srsupm else BackboneRecommender(bb)


def make_trainer(model, data, **kw):
    ds, split, train_levels, test_levels = data
    options = dict(train_levels=train_levels, test_levels=test_levels, epochs=4, batch_size=64, lr=0.01,
                   seed=7, device="cpu", progress=False, patience=10)
    options.update(kw)
    return Trainer(model, split.train, split.valid, split.test, **options)


def test_short_run_beats_popularity(cycle_data):
    ds, split, _, _ = cycle_data
    fit = make_trainer(make_model(0), cycle_data, epochs=8).fit()
    # popularity: how often each item is a training target, with the same history masking
    counts = torch.bincount(split.train.targets, minlength=N_ITEMS + 1).float()
    pop = rank_metrics(counts.expand(len(split.test), -1), split.test.targets, split.test.history)
    test = fit.test.set_index("level")
    assert test.loc["all", "recall@10"] > pop["recall@10"] + 0.3
    assert test.loc["all", "ndcg@10"] > pop["ndcg@10"] + 0.2
    hist = fit.history
    assert list(hist["epoch"]) == list(range(1, 9))
    assert {"loss", "loss_rec", "valid_recall@10", "valid_ndcg@20", *TIMING} <= set(hist.columns)
    assert hist["loss"].iloc[-1] < hist["loss"].iloc[0]
    assert fit.best_valid == hist["valid_recall@10"].max()
    assert fit.best_epoch == int(hist["epoch"][hist["valid_recall@10"].idxmax()])
    # per-level rows of the test table: users add up to the total
    assert test.drop(index="all")["users"].sum() == len(split.test)


def _same_history(a: pd.DataFrame, b: pd.DataFrame):
    pd.testing.assert_frame_equal(a.drop(columns=TIMING), b.drop(columns=TIMING), check_exact=True)


@pytest.mark.parametrize("srsupm, first, total", [(False, 2, 4), (True, 2, 3)])
def test_resume_matches_uninterrupted_run(tmp_path, cycle_data, srsupm, first, total):
    full = make_trainer(make_model(1, srsupm), cycle_data, epochs=total, checkpoint=tmp_path / "a.pt").fit()
    make_trainer(make_model(1, srsupm), cycle_data, epochs=first, checkpoint=tmp_path / "b.pt").fit()
    # a differently initialised model: everything must come from the checkpoint
    resumed = make_trainer(make_model(99, srsupm), cycle_data, epochs=total, checkpoint=tmp_path / "b.pt",
                           resume=True).fit()
    _same_history(full.history, resumed.history)
    assert resumed.best_epoch == full.best_epoch
    pd.testing.assert_frame_equal(full.test, resumed.test)
    assert torch.equal(full.test_ranks, resumed.test_ranks)
    a = torch.load(tmp_path / "a.pt", weights_only=True)
    b = torch.load(tmp_path / "b.pt", weights_only=True)
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for k in a["buffers"]:                                  # PMSIM confidence cache (SRSUPM)
        assert torch.equal(a["buffers"][k], b["buffers"][k]), k
    assert srsupm == bool(a["buffers"])


class Crash(Exception):
    pass


def test_resume_after_a_crash_mid_epoch(tmp_path, cycle_data):
    full = make_trainer(make_model(2), cycle_data, epochs=3, checkpoint=tmp_path / "a.pt").fit()
    model = make_model(2)
    steps = {"n": 0}
    original = model.loss

    per_epoch = -(-len(cycle_data[1].train) // 64)        # batches per epoch

    def crashing_loss(batch):                              # dies in the middle of epoch 3
        steps["n"] += 1
        if steps["n"] == 2 * per_epoch + 2:
            raise Crash()
        return original(batch)

    model.loss = crashing_loss
    with pytest.raises(Crash):
        make_trainer(model, cycle_data, epochs=3, checkpoint=tmp_path / "b.pt").fit()
    assert torch.load(tmp_path / "b.pt", weights_only=True)["epoch"] == 2
    resumed = make_trainer(make_model(5), cycle_data, epochs=3, checkpoint=tmp_path / "b.pt", resume=True).fit()
    _same_history(full.history, resumed.history)
    pd.testing.assert_frame_equal(full.test, resumed.test)


class Constant(Recommender):
    """Scores every item equally (metrics 0) while its parameter keeps moving."""

    def __init__(self):
        super().__init__()
        self.n_items = N_ITEMS
        self.w = torch.nn.Parameter(torch.zeros(1))

    def loss(self, batch):
        loss = (self.w - 1.0).pow(2).sum() + 0.0 * batch["inputs"].float().sum()
        return loss, {"square": loss.detach()}

    def score_all(self, batch):
        return self.w.expand(batch["inputs"].shape[0], N_ITEMS + 1) * 0.0


def test_early_stopping_keeps_the_best_state(tmp_path, cycle_data):
    model = Constant()
    fit = make_trainer(model, cycle_data, epochs=50, patience=3, checkpoint=tmp_path / "c.pt").fit()
    assert fit.stopped_early and fit.epochs_run == 4 and fit.best_epoch == 1
    assert (fit.history["valid_recall@10"] == 0).all()
    assert "loss_square" in fit.history.columns
    ck = torch.load(tmp_path / "c.pt", weights_only=True)
    assert torch.equal(model.w.detach(), ck["best_state"]["w"])         # the model holds the epoch-1 state
    assert not torch.equal(ck["model"]["w"], ck["best_state"]["w"])     # not the last one
    assert ck["bad_epochs"] == 3 and ck["stopped_early"]
    # resuming a run that stopped early trains no further
    again = make_trainer(Constant(), cycle_data, epochs=50, patience=3, checkpoint=tmp_path / "c.pt", resume=True).fit()
    assert again.epochs_run == 4 and len(again.history) == 4


def test_atomic_write_leaves_old_file_or_new_file(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")

    def half_then_crash(tmp):
        with open(tmp, "w") as fh:
            fh.write("partial")
        raise Crash()

    with pytest.raises(Crash):
        atomic_write(target, half_then_crash)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["f.txt"]                            # no temporary left behind
    atomic_write(target, lambda tmp: open(tmp, "w").write("new"))
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["f.txt"]


def test_crash_while_saving_a_checkpoint_keeps_the_previous_one(tmp_path, cycle_data, monkeypatch):
    path = tmp_path / "d.pt"
    make_trainer(make_model(3), cycle_data, epochs=1, checkpoint=path).fit()
    before = path.read_bytes()

    def broken_save(obj, f, *a, **k):
        with open(f, "wb") as fh:
            fh.write(b"garbage")
        raise Crash()

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(Crash):
        make_trainer(make_model(3), cycle_data, epochs=2, checkpoint=path, resume=True).fit()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["d.pt"]


def test_trainer_bad_input(cycle_data):
    with pytest.raises(ValueError, match="batch_size"):
        make_trainer(make_model(0), cycle_data, batch_size=0)
    with pytest.raises(ValueError, match="monitor"):
        make_trainer(make_model(0), cycle_data, monitor="hit@5")
    with pytest.raises(ValueError, match="train_levels"):
        make_trainer(make_model(0), cycle_data, train_levels=torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="device"):
        make_trainer(make_model(0), cycle_data, device="tpu")
    with pytest.raises(ValueError, match="resume"):
        make_trainer(make_model(0), cycle_data, resume=True)


# ----------------------------------------------------------------------------- config + experiment
def test_config_validation():
    with pytest.raises(ValueError, match="gru4rec.*sasrec"):
        TrainConfig(backbone="transformer")
    with pytest.raises(ValueError, match="beauty"):
        TrainConfig(dataset="no-such-data")
    with pytest.raises(ValueError, match="K: must be at least 3 for method 'srsupm'"):
        TrainConfig(method="srsupm", K=2)
    assert TrainConfig(method="none", K=1).K == 1                # no levels asked for: any K
    with pytest.raises(ValueError, match="noise_p"):
        TrainConfig(noise_p=1.5)
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=0.0)
    with pytest.raises(ValueError, match="bins"):
        TrainConfig(bins="log")
    with pytest.raises(KeyError, match="not option"):
        TrainConfig(method_options=dict(pmsim=False))                                        # ablation without SRSUPM
    with pytest.raises(KeyError, match="option.*of method.*srsupm.*not of method 'none'"):
        TrainConfig.from_dict({"pmsim": False})                                              # given flat, same
    with pytest.raises(KeyError, match="lamda1"):
        TrainConfig.from_dict({"lamda1": 0.3})
    c = TrainConfig(method="srsupm", method_options=dict(pmsim=False), K=4, backbone_options={"n_layers": 1})
    assert TrainConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_cli_arguments(tmp_path):
    parser = add_train_arguments(argparse.ArgumentParser())
    file = tmp_path / "c.json"
    file.write_text(json.dumps({"lr": 0.002, "dim": 32, "backbone_options": {"n_heads": 4}}))
    args = parser.parse_args(["--config", str(file), "--backbone", "sasrec", "--srsupm", "--K", "4", "--no-pmsim",
                              "--backbone-option", "n_layers=1", "--out", "runs/x", "--resume", "--dim", "16"])
    c = config_from_args(args)
    assert (c.backbone, c.method, c.K, c.method_options["pmsim"], c.out_dir, c.resume) == (
        "sasrec", "srsupm", 4, False, "runs/x", True)
    assert c.lr == 0.002 and c.dim == 16                                # file, then command line
    assert c.backbone_options == {"n_heads": 4, "n_layers": 1}
    assert config_from_args(parser.parse_args([])) == TrainConfig()


def test_train_from_args_runs(tmp_path, capsys):
    parser = add_train_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--dataset-option", "n_users=60", "--dataset-option", "n_items=30", "--backbone",
                              "gru4rec", "--dim", "8", "--max-len", "6", "--epochs", "1", "--device", "cpu",
                              "--no-progress", "--out", str(tmp_path / "cli")])
    res = train_from_args(args)
    assert res["epochs_run"] == 1 and (tmp_path / "cli" / "results.json").exists()
    assert "recall@10" in capsys.readouterr().out


def test_run_experiment_files_and_reuse(tmp_path):
    out = tmp_path / "run"
    config = TrainConfig(dataset_options={"n_users": 80, "n_items": 40}, backbone="gru4rec", dim=8, max_len=8,
                         method="srsupm", K=3, epochs=2, batch_size=128, device="cpu", progress=False, out_dir=str(out))
    res = run_experiment(config)
    assert sorted(os.listdir(out)) == sorted(["config.json", "history.csv", "valid_levels.csv", "test_levels.csv",
                                              "test_ranks.csv", "results.json", "checkpoint.pt", "id_maps.npz"])
    stored = json.loads((out / "results.json").read_text())
    assert stored["config"] == config.to_dict() and stored["epochs_run"] == 2
    assert stored["test"][0]["level"] == "all" and stored["test"][0]["users"] == 80
    assert sum(r["users"] for r in stored["test"][1:]) == 80
    assert {"torch", "device"} <= set(stored["environment"]) and stored["n_params"] > stored["n_params_backbone"]
    # which code made the run: the package version, and its git commit when it lives in a checkout
    import subprocess
    import srsupm_lab
    env = stored["environment"]
    assert env["srsupm_lab"] == srsupm_lab.__version__
    package = os.path.dirname(srsupm_lab.__file__)
    git = subprocess.run(["git", "-C", package, "rev-parse", "HEAD"], capture_output=True, text=True)
    if git.returncode == 0:
        assert env["commit"] == git.stdout.strip() and isinstance(env["modified"], bool)
    else:
        assert env["commit"] is None and env["modified"] is None
    with pytest.raises(FileExistsError, match="resume"):
        run_experiment(config)
    again = run_experiment(config.replace(resume=True))                 # finished: the stored results
    assert again["test"] == res["test"]
    pd.testing.assert_frame_equal(again["test_table"], res["test_table"])
    with pytest.raises(ValueError, match="dim"):
        run_experiment(config.replace(resume=True, dim=16))
    redo = run_experiment(config, overwrite=True)                       # same seed: the same numbers
    assert redo["test"] == res["test"]


def test_run_experiment_resumes_an_unfinished_run(tmp_path):
    base = TrainConfig(dataset_options={"n_users": 60, "n_items": 30}, backbone="gru4rec", dim=8, max_len=6,
                       epochs=2, device="cpu", progress=False)
    whole = run_experiment(base.replace(out_dir=str(tmp_path / "whole")))
    part = tmp_path / "part"
    run_experiment(base.replace(out_dir=str(part), epochs=1))
    (part / "results.json").unlink()                                    # as if it died after epoch 1
    with pytest.raises(FileExistsError, match="unfinished"):
        run_experiment(base.replace(out_dir=str(part)))
    resumed = run_experiment(base.replace(out_dir=str(part), resume=True))
    assert resumed["test"] == whole["test"] and resumed["epochs_run"] == 2
    pd.testing.assert_frame_equal(resumed["history"].drop(columns=TIMING), whole["history"].drop(columns=TIMING))
    with pytest.raises(ValueError, match="contradict"):
        run_experiment(base.replace(out_dir=str(part), resume=True), overwrite=True)


def test_fused_mixture_evaluates_the_same_run_and_is_not_a_setting(tmp_path):
    """fused_mixture=True (compiled Eqs. 19-22 in evaluation): the same training, the same validation and
    test metrics; a finished run resumes with it switched either way (speed only, like the device)."""
    base = TrainConfig(dataset_options={"n_users": 60, "n_items": 30}, backbone="gru4rec", dim=8, max_len=6,
                       method="srsupm", K=3, epochs=2, device="cpu", progress=False)
    eager = run_experiment(base.replace(out_dir=str(tmp_path / "eager")))
    fused = run_experiment(base.replace(out_dir=str(tmp_path / "fused"), method_options=dict(fused_mixture=True)))
    for table in ("test_table", "valid_table"):
        pd.testing.assert_frame_equal(fused[table], eager[table], atol=1e-6, rtol=0)
    assert fused["history"]["loss"].tolist() == eager["history"]["loss"].tolist()
    again = run_experiment(base.replace(out_dir=str(tmp_path / "eager"), resume=True, method_options=dict(fused_mixture=True)))
    assert again["test"] == eager["test"]


def test_fit_leaves_the_best_model_in_eval_mode(cycle_data):
    trainer = make_trainer(make_model(0), cycle_data, epochs=1)
    trainer.fit()
    assert not trainer.model.training
    inputs = cycle_data[1].test.inputs[:5]
    assert torch.equal(trainer.model.score(inputs, None), trainer.model.score(inputs, None))  # no dropout


def test_a_backbone_alone_is_broken_down_by_level_only_when_asked(tmp_path):
    """PMSA runs for a method that asks for levels; run_experiment(levels=True) asks for any method, so the
    tables of a backbone alone can be read level by level beside +SRSUPM's (the paper's Fig. 7)."""
    base = dict(dataset_options={"n_users": 60, "n_items": 40}, backbone="gru4rec", dim=8, max_len=6, epochs=1,
                device="cpu", progress=False)
    plain = run_experiment({**base, "out_dir": str(tmp_path / "plain")})
    by_level = run_experiment({**base, "out_dir": str(tmp_path / "levels")}, levels=True)
    assert [r["level"] for r in plain["test"]] == ["all"]
    levels = [r["level"] for r in by_level["test"]]
    assert levels[0] == "all" and len(levels) > 1
    assert sum(r["users"] for r in by_level["test"][1:]) == by_level["test"][0]["users"] == 60
