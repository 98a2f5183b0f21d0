"""The GPU code paths (skipped without CUDA): each backbone ± SRSUPM trains on the GPU with bf16 autocast,
and the GPU's full-ranking evaluation and mixed prediction agree with the CPU's on the same weights.

Run on a machine with a GPU: ``python -m pytest tests/test_cuda.py``."""
import copy

import pytest
import torch

from srsupm_lab.evaluate import evaluate
from srsupm_lab.experiment import run_experiment
from srsupm_lab.methods.srsupm.prediction import mixed_scores

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TINY = {"dataset": "synthetic", "dataset_options": {"n_users": 120, "n_items": 60, "seed": 3}, "dim": 16,
        "max_len": 12, "epochs": 2, "batch_size": 64, "progress": False, "seed": 1}


def test_mixed_scores_on_the_gpu_equal_a_float64_cpu_reference():
    gen = torch.Generator().manual_seed(0)
    Z, E = torch.randn(33, 5, 16, generator=gen), torch.randn(70, 16, generator=gen)
    logits = torch.einsum("bkd,nd->bkn", Z.double(), E.double())
    want = (torch.softmax(logits / 16 ** 0.5, dim=1) * logits).sum(dim=1)
    got = mixed_scores(Z.cuda(), E.cuda()).cpu().double()
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    with torch.no_grad():                                        # the fused (torch.compile, Triton) kernel
        fused = mixed_scores(Z.cuda(), E.cuda(), fused=True).cpu().double()
    torch.testing.assert_close(fused, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backbone", ["gru4rec", "sasrec", "caser", "bert4rec", "lightsans"])
@pytest.mark.parametrize("srsupm", [False, True])
def test_each_model_trains_on_the_gpu_and_evaluates_as_on_the_cpu(backbone, srsupm, tmp_path):
    from srsupm_lab.experiment import load_trained
    res = run_experiment({**TINY, "backbone": backbone, "srsupm": srsupm, "K": 3, "device": "cuda",
                          "out_dir": str(tmp_path / "run")})
    assert res["environment"]["device"].startswith("cuda") and res["epochs_run"] == 2
    assert all(torch.isfinite(torch.tensor(res["history"]["loss"].to_numpy())))
    run = load_trained(tmp_path / "run", device="cuda")
    split = run.data.split
    gpu = evaluate(run.model, split.test, run.data.test_levels, device=torch.device("cuda"))
    cpu_model = copy.deepcopy(run.model).cpu()
    cpu = evaluate(cpu_model, split.test, run.data.test_levels, device=torch.device("cpu"))
    # same weights, float32 both: the metrics agree up to a tie flipped by rounding
    for m in ("recall@10", "ndcg@10", "recall@20", "ndcg@20"):
        assert gpu.iloc[0][m] == pytest.approx(cpu.iloc[0][m], abs=2.0 / len(split.test))
    assert gpu.iloc[0]["recall@10"] == pytest.approx(res["test"][0]["recall@10"], abs=1e-6)
