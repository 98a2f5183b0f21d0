"""The training mixture (srsupm_lab.methods.srsupm.prediction.MixtureGrad, Eqs. 19–22) in chunks of items, against a float64
autograd recomputation of the plain arithmetic: scores, gradients for Ẑ, E and a learned scale."""
import math

import pytest
import torch
import torch.nn.functional as F

from srsupm_lab.methods.srsupm import prediction


def plain_mixture(Z, E, scale):
    """Eqs. 19–22 written out, for autograd to differentiate step by step: no chunks, no closed form."""
    logits = torch.einsum("bkd,nd->bkn", Z, E)
    beta = torch.softmax(logits * scale, dim=1)
    return (beta * logits).sum(dim=1)


def inputs(B, K, N, d, seed, dtype=torch.float32, learned=False):
    gen = torch.Generator().manual_seed(seed)
    Z = (torch.randn(B, K, d, generator=gen) * 0.7).to(dtype).requires_grad_()
    E = (torch.randn(N, d, generator=gen) * 0.7).to(dtype).requires_grad_()
    scale = torch.tensor(0.4, dtype=dtype, requires_grad=True) if learned else 1.0 / math.sqrt(d)
    return Z, E, scale


def reference(Z, E, scale, loss_of):
    """Scores and gradients of ``loss_of(scores)`` by autograd through the plain arithmetic in float64."""
    Zd, Ed = Z.detach().double().requires_grad_(), E.detach().double().requires_grad_()
    sd = scale.detach().double().requires_grad_() if torch.is_tensor(scale) else scale
    s = plain_mixture(Zd, Ed, sd)
    wrt = (Zd, Ed, sd) if torch.is_tensor(scale) else (Zd, Ed)
    return s.detach(), torch.autograd.grad(loss_of(s), wrt)


@pytest.mark.parametrize("block_items", [1, 3, 7, 64])       # items per chunk: one, uneven last chunk, all
@pytest.mark.parametrize("learned", [False, True])
def test_chunked_mixture_matches_float64_autograd(monkeypatch, block_items, learned):
    B, K, N, d = 6, 5, 23, 8
    monkeypatch.setattr(prediction, "CPU_BLOCK_BYTES", 4 * B * K * block_items)
    Z, E, scale = inputs(B, K, N, d, seed=block_items, learned=learned)
    weights = torch.randn(B, N, generator=torch.Generator().manual_seed(9))
    s = prediction.mixed_scores(Z, E, scale)
    assert "MixtureGrad" in type(s.grad_fn).__name__
    wrt = (Z, E, scale) if learned else (Z, E)
    got = torch.autograd.grad((s * weights).sum(), wrt)
    want_s, want = reference(Z, E, scale, lambda x: (x * weights.double()).sum())
    torch.testing.assert_close(s.double(), want_s, rtol=1e-5, atol=1e-5)
    for name, a, b in zip(("Z", "E", "scale"), got, want):
        assert a.dtype == torch.float32, name
        torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-4, msg=lambda m: f"∂/∂{name}: {m}")


def test_chunked_mixture_in_float64_is_the_reference_to_rounding(monkeypatch):
    B, K, N, d = 4, 3, 17, 5
    monkeypatch.setattr(prediction, "CPU_BLOCK_BYTES", 4 * B * K * 4)   # chunks of 4 items (the last of 1)
    Z, E, scale = inputs(B, K, N, d, seed=3, dtype=torch.float64, learned=True)
    targets = torch.tensor([0, 16, 5, 5])
    loss = F.cross_entropy(prediction.mixed_scores(Z, E, scale), targets)   # the model's L_rec on the scores
    got = torch.autograd.grad(loss, (Z, E, scale))
    _, want = reference(Z, E, scale, lambda x: F.cross_entropy(x, targets))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_backward_keeps_what_it_saved_and_only_chunks_are_saved(monkeypatch):
    B, K, N, d = 5, 4, 30, 6
    monkeypatch.setattr(prediction, "CPU_BLOCK_BYTES", 4 * B * K * 8)   # chunks of 8 items
    Z, E, scale = inputs(B, K, N, d, seed=5, dtype=torch.float64)
    s = prediction.mixed_scores(Z, E, scale)
    big = [t for t in s.grad_fn.saved_tensors if t is not None and t.dim() == 3 and t.shape[:2] == (K, B)]
    assert big and all(t.shape[2] <= 8 for t in big)                  # never one (B, K, N) block
    first = torch.autograd.grad(s.square().sum(), (Z, E), retain_graph=True)
    second = torch.autograd.grad(s.square().sum(), (Z, E))
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_gradient_for_one_input_only():
    B, K, N, d = 3, 3, 9, 4
    Z, E, scale = inputs(B, K, N, d, seed=6, dtype=torch.float64)
    frozen = E.detach()                                                  # a frozen item table
    (g_Z,) = torch.autograd.grad(prediction.mixed_scores(Z, frozen, scale).sum(), (Z,))
    _, want = reference(Z, frozen, scale, lambda x: x.sum())
    torch.testing.assert_close(g_Z, want[0], rtol=1e-10, atol=1e-12)


def test_inference_scores_equal_the_training_scores(monkeypatch):
    monkeypatch.setattr(prediction, "CPU_BLOCK_BYTES", 4 * 7 * 5 * 6)
    Z, E, scale = inputs(7, 5, 40, 8, seed=7)
    train = prediction.mixed_scores(Z, E, scale)
    with torch.no_grad():
        infer = prediction.mixed_scores(Z, E, scale)
    torch.testing.assert_close(train.detach(), infer, rtol=1e-6, atol=1e-6)


def test_a_zero_scale_averages_the_levels_in_training_too():
    """Scale 0 (uniform β): s is the levels' mean, ∂s/∂l_k = 1/K (the closed form with c = 0)."""
    Z, E, _ = inputs(3, 4, 11, 5, seed=8, dtype=torch.float64)
    weights = torch.randn(3, 11, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    s = prediction.mixed_scores(Z, E, 0.0)
    got = torch.autograd.grad((s * weights).sum(), (Z, E))
    want_s, want = reference(Z, E, 0.0, lambda x: (x * weights).sum())
    torch.testing.assert_close(s.detach(), want_s, rtol=1e-12, atol=1e-12)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("block_items", [1, 4, 64])
@pytest.mark.parametrize("learned", [False, True])
def test_mixed_cross_entropy_matches_float64_autograd(monkeypatch, block_items, learned):
    """The fused L_rec against F.cross_entropy over the plain mixture in float64: value and gradients,
    with targets on chunk edges (first and last item of a chunk, the last item overall)."""
    B, K, N, d = 6, 5, 23, 8
    monkeypatch.setattr(prediction, "CPU_BLOCK_BYTES", 4 * B * K * block_items)
    Z, E, scale = inputs(B, K, N, d, seed=10 + block_items, learned=learned)
    targets = torch.tensor([0, 3, 4, 22, 7, 4])
    loss = prediction.mixed_cross_entropy(Z, E, targets, scale)
    wrt = (Z, E, scale) if learned else (Z, E)
    got = torch.autograd.grad(loss, wrt)
    Zd, Ed = Z.detach().double().requires_grad_(), E.detach().double().requires_grad_()
    sd = scale.detach().double().requires_grad_() if learned else scale
    want_loss = F.cross_entropy(plain_mixture(Zd, Ed, sd), targets)
    want = torch.autograd.grad(want_loss, (Zd, Ed, sd) if learned else (Zd, Ed))
    torch.testing.assert_close(loss.double(), want_loss.detach(), rtol=1e-5, atol=1e-6)
    for name, a, b in zip(("Z", "E", "scale"), got, want):
        torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-5, msg=lambda m: f"∂/∂{name}: {m}")


def test_mixed_cross_entropy_in_float64_and_without_gradients():
    Z, E, scale = inputs(4, 3, 17, 5, seed=12, dtype=torch.float64, learned=True)
    targets = torch.tensor([16, 0, 8, 8])
    got = torch.autograd.grad(prediction.mixed_cross_entropy(Z, E, targets, scale), (Z, E, scale))
    want = torch.autograd.grad(F.cross_entropy(plain_mixture(Z, E, scale), targets), (Z, E, scale))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    with torch.no_grad():
        value = prediction.mixed_cross_entropy(Z, E, targets, scale)
    torch.testing.assert_close(value, F.cross_entropy(plain_mixture(Z, E, scale), targets).detach(),
                               rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="mixed_cross_entropy: targets"):
        prediction.mixed_cross_entropy(Z, E, targets[:3], scale)
