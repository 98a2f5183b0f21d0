"""Data-parallel training (torchrun + DDP, gloo on CPU) against one process.

Two processes started by PyTorch's own launcher must give the metrics and the weights of one
process up to float noise when nothing random happens inside a step (dropout 0, no PMSIM
sampling). The reference is an independent single-process run of the same config.
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from srsupm_lab import distributed as ddp
from srsupm_lab.experiment import run_experiment

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"n_users": 300, "n_items": 120, "seed": 3}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(out, **extra) -> dict:
    return {"dataset": "synthetic", "dataset_options": SMALL, "max_len": 12, "backbone": "sasrec",
            "backbone_options": {"hidden_dropout": 0.0, "attn_dropout": 0.0, "n_layers": 1},
            "dim": 16, "epochs": 3, "batch_size": 100, "lr": 0.005, "seed": 7, "device": "cpu",
            "out_dir": str(out), "progress": False, **extra}


def _torchrun(tmp_path, config: dict, n: int = 2) -> subprocess.CompletedProcess:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(n), "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "-m", "srsupm_lab", "train", "--config", str(path)]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def _state(out) -> dict:
    return torch.load(Path(out) / "checkpoint.pt", map_location="cpu", weights_only=True)


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_two_processes_match_one(tmp_path, one_thread):
    one = run_experiment(_config(tmp_path / "one"))
    proc = _torchrun(tmp_path, _config(tmp_path / "two"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = json.loads((tmp_path / "two" / "results.json").read_text())
    assert two["environment"]["processes"] == 2
    assert one["best_epoch"] == two["best_epoch"]
    for a, b in zip(one["test"], two["test"]):                  # overall and per level
        assert a["level"] == b["level"] and a["users"] == b["users"]
        for m in ("recall@10", "recall@20", "ndcg@10", "ndcg@20"):
            assert a[m] == pytest.approx(b[m], abs=2e-3), (a["level"], m)
    h1, h2 = one["history"], pd.read_csv(tmp_path / "two" / "history.csv")
    assert len(h2) == len(h1) == 3
    # the weights after the last epoch: the same optimisation path up to float noise
    s1, s2 = _state(tmp_path / "one")["model"], _state(tmp_path / "two")["model"]
    assert s1.keys() == s2.keys()
    for key in s1:
        a, b = s1[key], s2[key]
        if key.endswith("attn.qkv.bias"):
            # the key bias adds q·b_k to every logit of a query's row: softmax ignores it, so its
            # gradient is 0 in exact arithmetic and Adam turns float noise into lr-sized steps
            d = a.shape[0] // 3
            a, b = torch.cat([a[:d], a[2 * d:]]), torch.cat([b[:d], b[2 * d:]])
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=key)
    # the epoch losses are the global means, not one rank's
    assert h2["loss"].to_numpy() == pytest.approx(h1["loss"].to_numpy(), rel=1e-4)
    assert h2["valid_recall@10"].to_numpy() == pytest.approx(h1["valid_recall@10"].to_numpy(), abs=2e-3)


def test_srsupm_trains_data_parallel(tmp_path):
    """SRSUPM with PMSIM under DDP: runs, writes one result, and the confidence caches agree across ranks."""
    cfg = _config(tmp_path / "srsupm", srsupm=True, K=3, epochs=2)
    proc = _torchrun(tmp_path, cfg)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((tmp_path / "srsupm" / "results.json").read_text())
    assert res["model"] == "SRSUPM+sasrec" and res["epochs_run"] == 2
    assert res["test"][0]["recall@10"] > 0
    ck = _state(tmp_path / "srsupm")
    conf = ck["buffers"]["matching.confidence"]
    assert conf.shape[0] == res["data"]["train_windows"]
    assert not torch.allclose(conf, torch.full_like(conf, 1 / 3))   # refreshed by training


def test_shard_weights_average_to_the_global_mean(monkeypatch):
    """Shards cover the batch exactly once; weighted shard means average (over ranks) to the global mean."""
    values = torch.arange(1.0, 8.0)                              # a batch of 7 per-row losses
    idx = torch.arange(7)
    W = 3
    monkeypatch.setattr(ddp, "world_size", lambda: W)
    seen, average = [], 0.0
    for r in range(W):
        monkeypatch.setattr(ddp, "rank", lambda r=r: r)
        part, weight = ddp.shard(idx)
        seen += part.tolist()
        average += weight * float(values[part].mean()) / W
    assert sorted(seen) == list(range(7))
    assert average == pytest.approx(float(values.mean()))
    # a batch smaller than the world: the empty shard runs one row with weight 0
    monkeypatch.setattr(ddp, "rank", lambda: 2)
    part, weight = ddp.shard(torch.arange(2))
    assert part.numel() == 1 and weight == 0.0


def test_chunk_bounds_cover_every_user(monkeypatch):
    monkeypatch.setattr(ddp, "world_size", lambda: 4)
    bounds = ddp.chunk_bounds(10)
    assert bounds == [(0, 3), (3, 6), (6, 8), (8, 10)]


def test_single_process_is_untouched():
    assert not ddp.is_distributed() and ddp.rank() == 0 and ddp.world_size() == 1
    idx = torch.arange(5)
    part, weight = ddp.shard(idx)
    assert part is idx and weight == 1.0


def test_torchrun_without_rendezvous_fails_clearly(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(RuntimeError, match="MASTER_ADDR"):
        ddp.init_from_env("cpu")
