"""The SRSUPM plug-in (method.md §3–§9) against independent references: loops, brute force, float64."""
from __future__ import annotations

import math
from collections import defaultdict

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from srsupm_lab.methods.srsupm.pmsid import consistency_regulariser, decomposition_loss, shift_distribution
from srsupm_lab.methods.srsupm.pmsim import ShiftInformationMatching, build_groups, info_nce
from srsupm_lab.methods.srsupm.prediction import mean_scores, mixed_scores
from srsupm_lab.methods.srsupm.sic import LevelPriors, ShiftInformationConstruction
from srsupm_lab.methods.srsupm.model import SRSUPM


class TinyBackbone(nn.Module):
    """A minimal backbone honouring the contract: h = tanh(W · mean of the window's embeddings)."""

    def __init__(self, n_items: int = 20, dim: int = 8, max_len: int = 6):
        super().__init__()
        self.n_items, self.dim, self.max_len = n_items, dim, max_len
        self.item_embedding = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.proj = nn.Linear(dim, dim)

    def item_table(self):
        return self.item_embedding.weight

    def encode(self, item_seq, user_ids=None):
        mask = (item_seq != 0).float().unsqueeze(-1)
        mean = (self.item_embedding(item_seq) * mask).sum(1) / mask.sum(1).clamp_min(1)
        return torch.tanh(self.proj(mean))

    def auxiliary_loss(self, item_seq, targets, user_ids=None):
        return None


class FakeWindows:
    def __init__(self, inputs, targets, users):
        self.inputs, self.targets, self.users = inputs, targets, users


def tiny_windows(M=24, n_items=20, L=6, n_levels=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randint(1, n_items + 1, (M, L), generator=g)
    inputs[: M // 3, :2] = 0                                    # some left padding
    targets = torch.randint(1, 5, (M,), generator=g)            # few targets -> real groups
    users = torch.arange(M) % 7
    levels = torch.randint(0, n_levels, (M,), generator=g)
    return FakeWindows(inputs, targets, users), levels


# ------------------------------------------------------------------ §8 prediction
def test_mixed_scores_match_per_item_loop_float64():
    torch.manual_seed(0)
    B, K, d, N = 3, 4, 5, 7
    Z, E = torch.randn(B, K, d, dtype=torch.float64), torch.randn(N, d, dtype=torch.float64)
    got = mixed_scores(Z, E)
    want = torch.empty(B, N, dtype=torch.float64)
    for b in range(B):
        for i in range(N):
            dots = [float(Z[b, k] @ E[i]) for k in range(K)]
            w = [math.exp(x / math.sqrt(d)) for x in dots]
            r = sum(w[k] / sum(w) * Z[b, k] for k in range(K))          # r_{u,i} of Eq. 21
            want[b, i] = float(r @ E[i])
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_mixed_scores_blocks_of_users_give_the_same_scores_and_gradients(monkeypatch):
    import srsupm_lab.methods.srsupm.prediction as prediction
    torch.manual_seed(0)
    Z = torch.randn(11, 5, 8, dtype=torch.float64, requires_grad=True)
    E = torch.randn(13, 8, dtype=torch.float64, requires_grad=True)
    whole = prediction.mixed_scores(Z, E)                       # 11*5*13*4 bytes < 2 MiB: one block
    g_whole = torch.autograd.grad(whole.square().sum(), (Z, E))
    monkeypatch.setattr(prediction, "CPU_BLOCK_BYTES", 4 * 5 * 13 * 3)   # blocks of 3 users
    blocked = prediction.mixed_scores(Z, E)
    g_blocked = torch.autograd.grad(blocked.square().sum(), (Z, E))
    torch.testing.assert_close(blocked, whole, rtol=1e-12, atol=1e-12)
    for a, b in zip(g_blocked, g_whole):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("learned_scale", [False, True])
def test_training_mixture_gradients_match_finite_differences_and_autograd(learned_scale):
    """The closed-form backward (prediction.MixtureGrad) against finite differences (gradcheck) and
    against autograd through the plain arithmetic, in float64, for Ẑ, E and a learned scale."""
    import srsupm_lab.methods.srsupm.prediction as prediction
    torch.manual_seed(1)
    Z = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    E = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    scale = torch.tensor(0.7, dtype=torch.float64, requires_grad=True) if learned_scale else 0.7
    inputs = (Z, E, scale) if learned_scale else (Z, E)
    assert torch.autograd.gradcheck(lambda *x: prediction.MixtureGrad.apply(*x, *(() if learned_scale else (0.7,))),
                                     inputs)
    weights = torch.randn(3, 6, dtype=torch.float64)
    fast = torch.autograd.grad((prediction.mixed_scores(Z, E, scale) * weights).sum(), inputs, retain_graph=True)
    logits = torch.einsum("bkd,nd->bkn", Z, E)                         # the plain arithmetic, autograd's chain
    plain = (torch.softmax(logits * scale, dim=1) * logits).sum(dim=1)
    want = torch.autograd.grad((plain * weights).sum(), inputs)
    for a, b in zip(fast, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    s = prediction.mixed_scores(Z, E, scale)                           # backward twice: saved logits intact
    first = torch.autograd.grad(s.sum(), inputs, retain_graph=True)
    second = torch.autograd.grad(s.sum(), inputs)
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert s.grad_fn is not None and "MixtureGrad" in type(s.grad_fn).__name__
    with torch.no_grad():
        assert prediction.mixed_scores(Z, E, scale).grad_fn is None      # inference: the plain arithmetic


@pytest.mark.parametrize("z_dtype", [torch.float32, torch.bfloat16])
def test_training_mixture_under_bf16_autocast_matches_autograd(z_dtype):
    """Under bf16 autocast (as the GPU trainer runs), the closed-form backward gives each input a
    gradient of its own dtype, close to autograd's through the plain arithmetic under the same autocast."""
    import srsupm_lab.methods.srsupm.prediction as prediction
    torch.manual_seed(2)
    Z = (torch.randn(4, 5, 16) * 0.5).to(z_dtype).requires_grad_()
    E = (torch.randn(30, 16) * 0.5).requires_grad_()
    weights = torch.randn(4, 30)
    with torch.autocast("cpu", dtype=torch.bfloat16):                  # forward under autocast,
        fast_loss = (prediction.mixed_scores(Z, E, 0.25).float() * weights).sum()
        plain_loss = (prediction._mixed_block(Z, E, 0.25).float() * weights).sum()
    fast = torch.autograd.grad(fast_loss, (Z, E))                       # backward outside it (the trainer's order)
    want = torch.autograd.grad(plain_loss, (Z, E))
    assert fast[0].dtype == z_dtype and fast[1].dtype == torch.float32
    for a, b in zip(fast, want):
        torch.testing.assert_close(a.float(), b.float(), rtol=0.05, atol=0.05)


def test_fused_mixture_gives_the_mixed_scores_of_a_float64_reference(monkeypatch):
    """fused=True (torch.compile) in blocks of users: the float64 mixture up to float32 rounding; the
    model's inference scores with ``fused_mixture`` equal its eager ones; gradients are refused."""
    import srsupm_lab.methods.srsupm.prediction as prediction
    gen = torch.Generator().manual_seed(4)
    Z, E = torch.randn(12, 5, 8, generator=gen), torch.randn(40, 8, generator=gen)
    logits = torch.einsum("bkd,nd->bkn", Z.double(), E.double())
    want = (torch.softmax(logits / math.sqrt(8), dim=1) * logits).sum(dim=1)   # Eqs. 19-22 in float64
    monkeypatch.setattr(prediction, "CPU_BLOCK_BYTES", 4 * 5 * 40 * 4)         # blocks of 4 users
    with torch.no_grad():
        got = prediction.mixed_scores(Z, E, fused=True)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5)
    Zg = Z.clone().requires_grad_()
    with pytest.raises(ValueError, match="torch.no_grad"):
        prediction.mixed_scores(Zg, E, fused=True)
    model, w, levels = make_model()
    model.eval()
    with torch.no_grad():
        eager = model.score(w.inputs[:6], w.users[:6])
        model.fused_mixture = True
        fused = model.score(w.inputs[:6], w.users[:6])
    torch.testing.assert_close(fused, eager, rtol=1e-5, atol=1e-5)
    model.train()                                              # training keeps the eager mixture
    loss, _ = model.loss(batch_of(w, levels, range(6)))
    loss.backward()
    assert model.backbone.item_embedding.weight.grad is not None


def test_fused_mixture_says_what_is_missing_when_torch_compile_fails(monkeypatch):
    import srsupm_lab.methods.srsupm.prediction as prediction
    from torch._dynamo.exc import BackendCompilerFailed

    def no_compiler(*args):
        raise BackendCompilerFailed(lambda *a: None, RuntimeError("no C++ compiler found"), None)
    monkeypatch.setattr(prediction, "_COMPILED", no_compiler)
    with torch.no_grad(), pytest.raises(RuntimeError, match="fused=False"):
        prediction.mixed_scores(torch.randn(2, 3, 4), torch.randn(5, 4), fused=True)


def test_mean_scores_equal_mean_pooled_dot():
    torch.manual_seed(1)
    Z, E = torch.randn(2, 3, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    want = torch.tensor([[sum(float(Z[b, k] @ E[i]) for k in range(3)) / 3 for i in range(5)] for b in range(2)],
                        dtype=torch.float64)
    torch.testing.assert_close(mean_scores(Z, E), want)


def test_prediction_rejects_bad_shapes():
    with pytest.raises(ValueError, match="mixed_scores"):
        mixed_scores(torch.randn(2, 3, 4), torch.randn(5, 3))
    with pytest.raises(ValueError, match="mean_scores"):
        mean_scores(torch.randn(2, 4), torch.randn(5, 4))


# ------------------------------------------------------------------ §3–§4 SIC and priors
def test_sic_equals_k_separate_blocks():
    torch.manual_seed(2)
    d, K, hidden = 4, 3, 6
    sic = ShiftInformationConstruction(d, K, hidden=hidden, dropout=0.0).double()
    with torch.no_grad():
        sic.ln_weight.uniform_(0.5, 1.5)
        sic.ln_bias.uniform_(-0.5, 0.5)
    h = torch.randn(5, d, dtype=torch.float64)
    z = sic(h)
    for k in range(K):
        for b in range(5):
            inner = F.gelu(h[b] @ sic.w1[k] + sic.b1[k])
            x = h[b] + inner @ sic.w2[k] + sic.b2[k]
            mu, var = x.mean(), ((x - x.mean()) ** 2).mean()
            want = (x - mu) / torch.sqrt(var + 1e-5) * sic.ln_weight[k] + sic.ln_bias[k]
            torch.testing.assert_close(z[b, k], want)


def test_priors_distinct_and_switchable():
    p = LevelPriors(8, 5)
    gram = p.priors @ p.priors.t()
    torch.testing.assert_close(gram, torch.eye(5), atol=1e-5, rtol=0)      # orthonormal rows
    z = torch.randn(2, 5, 8)
    torch.testing.assert_close(p(z), z + p.priors)
    off = LevelPriors(8, 5, enabled=False)
    assert off(z) is z and len(list(off.parameters())) == 0


# ------------------------------------------------------------------ §5–§6 PMSID and regulariser
def test_pmsid_loss_matches_cross_entropy_of_independent_alpha():
    torch.manual_seed(3)
    B, K, d = 6, 4, 5
    Z, e = torch.randn(B, K, d, dtype=torch.float64), torch.randn(B, d, dtype=torch.float64)
    levels = torch.tensor([0, 1, 2, 3, 3, 0])
    dots = (Z * e[:, None, :]).sum(-1) / math.sqrt(d)                     # independent α
    alpha = dots.exp() / dots.exp().sum(1, keepdim=True)
    want = F.cross_entropy(alpha.log(), levels)
    logits = torch.einsum("bkd,bd->bk", Z, e) / math.sqrt(d)
    torch.testing.assert_close(decomposition_loss(logits, levels), want)
    torch.testing.assert_close(shift_distribution(Z, e), alpha)
    with pytest.raises(ValueError, match="0..3"):
        decomposition_loss(logits, torch.tensor([0, 1, 2, 4, 0, 0]))


def test_consistency_regulariser_hand_loop():
    torch.manual_seed(4)
    Z = torch.randn(3, 4, 5, dtype=torch.float64)
    total = 0.0
    for b in range(3):
        total += sum(float(((Z[b, k] - Z[b, k + 1]) ** 2).sum()) for k in range(3)) / 3
    assert abs(float(consistency_regulariser(Z)) - total / 3) < 1e-12


# ------------------------------------------------------------------ §7 PMSIM
def test_groups_match_brute_force_dict():
    w, levels = tiny_windows(M=40)
    G = build_groups(w.targets, levels, K=3)
    brute = defaultdict(set)
    for m in range(40):
        brute[(int(w.targets[m]), int(levels[m]))].add(m)
    assert len(G["offsets"]) - 1 == len(brute)
    for m in range(40):
        g = int(G["group"][m])
        members = set(G["order"][G["offsets"][g]:G["offsets"][g + 1]].tolist())
        assert members == brute[(int(w.targets[m]), int(levels[m]))]
        assert int(G["order"][G["position"][m]]) == m


def _matching_with_groups(confidence_by_window, group_of):
    """A prepared matcher whose targets encode the wanted groups (level 0 everywhere)."""
    M = len(group_of)
    mt = ShiftInformationMatching(K=3)
    mt.prepare(torch.ones(M, 2, dtype=torch.long), torch.zeros(M, dtype=torch.long),
               torch.tensor(group_of) + 1, torch.zeros(M, dtype=torch.long))
    mt.refresh(torch.arange(M), torch.tensor(confidence_by_window, dtype=torch.float32))
    return mt


def test_sampling_stays_in_group_and_follows_confidence():
    group_of = [0, 1, 0, 0, 1, 2, 0, 1]               # window 5 is alone in its group
    conf = [0.5, 0.2, 0.1, 0.3, 0.7, 0.9, 0.6, 0.05]
    mt = _matching_with_groups(conf, group_of)
    n = 20000
    gen = torch.Generator().manual_seed(0)
    for u in range(8):
        drawn = mt.sample(torch.full((n,), u), generator=gen)
        same = [m for m in range(8) if group_of[m] == group_of[u] and m != u]
        if not same:
            assert (drawn == u).all()                 # empty N(u) -> u itself
            continue
        assert set(drawn.tolist()) <= set(same)       # never itself, never outside the group
        total = sum(conf[m] for m in same)
        for m in same:
            freq = float((drawn == m).float().mean())
            assert abs(freq - conf[m] / total) < 0.015, (u, m, freq, conf[m] / total)


def test_sampling_a_mixed_batch_at_once():
    group_of = [3, 3, 1, 3, 2, 1]
    mt = _matching_with_groups([0.3] * 6, group_of)
    idx = torch.tensor([0, 1, 2, 3, 4, 5, 5, 0])
    out = mt.sample(idx, generator=torch.Generator().manual_seed(1))
    for u, v in zip(idx.tolist(), out.tolist()):
        assert group_of[u] == group_of[v]
        assert (v != u) or u == 4


def test_info_nce_reference():
    torch.manual_seed(5)
    a, p = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    tau, total = 0.5, 0.0
    for i in range(4):
        sims = [float(a[i] @ p[j] / (a[i].norm() * p[j].norm())) / tau for j in range(4)]
        total += -(sims[i] - math.log(sum(math.exp(s) for s in sims)))
    assert abs(float(info_nce(a, p, tau)) - total / 4) < 1e-10


# ------------------------------------------------------------------ the plug-in
def make_model(**kw):
    torch.manual_seed(0)
    model = SRSUPM(TinyBackbone(), K=3, **kw)
    w, levels = tiny_windows()
    model.prepare(w, levels)
    return model, w, levels


def batch_of(w, levels, rows):
    rows = torch.as_tensor(rows)
    return {"inputs": w.inputs[rows], "targets": w.targets[rows], "users": w.users[rows],
            "levels": levels[rows], "index": rows}


def test_loss_parts_gradients_and_total():
    model, w, levels = make_model(lambda1=0.4, lambda2=0.3, gamma=0.2)
    total, parts = model.loss(batch_of(w, levels, range(12)))
    assert set(parts) == {"rec", "pmsid", "pmsim", "reg"}
    want = parts["rec"] + 0.4 * parts["pmsid"] + 0.3 * parts["pmsim"] + 0.2 * parts["reg"]
    torch.testing.assert_close(total.detach(), want)
    total.backward()
    for name, p in [("backbone.proj", model.backbone.proj.weight), ("item table", model.backbone.item_embedding.weight),
                    ("sic.w1", model.sic.w1), ("sic.w2", model.sic.w2), ("sic.ln_weight", model.sic.ln_weight),
                    ("priors", model.priors.priors)]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def loss_with_fixed_partners(model, w, levels, rows, partner, monkeypatch):
    """``model.loss`` in training mode with PMSIM's partners fixed to ``partner``; returns the loss parts,
    every window block the backbone encoded and every Ẑ the priors produced."""
    model.train()
    monkeypatch.setattr(model.matching, "sample", lambda index, generator=None: partner)
    encoded, views = [], []
    encode = model.backbone.encode
    monkeypatch.setattr(model.backbone, "encode", lambda seq, users=None: encoded.append(seq) or encode(seq, users))
    model.priors.register_forward_hook(lambda module, args, out: views.append(out.detach()))
    _, parts = model.loss(batch_of(w, levels, rows))
    return parts, encoded, views


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_windows_partners_and_augmented_views_share_one_encoder_pass(dropout, monkeypatch):
    """PMSIM's three views (Z, the sampled partners' Z, the augmented Z) come from one encoder pass
    over 3B rows; L_PMSIM is InfoNCE of the augmented basic views against the partners'; the
    augmented block differs from Z only by its own dropout masks."""
    model, w, levels = make_model(dropout=dropout, lambda2=1.0, augmentation="encoder_dropout")
    rows, partner = torch.arange(8), torch.arange(8, 16)
    parts, encoded, views = loss_with_fixed_partners(model, w, levels, rows, partner, monkeypatch)
    assert len(encoded) == 1 and torch.equal(encoded[0], torch.cat([w.inputs[rows], w.inputs[partner], w.inputs[rows]]))
    Z, Z_partner, Z_aug = views[0][:8], views[0][8:16], views[0][16:]
    torch.testing.assert_close(parts["pmsim"], info_nce(Z_aug.sum(1), Z_partner.sum(1), model.matching.tau))
    assert torch.equal(Z, Z_aug) == (dropout == 0.0)


def test_confidence_cache_refreshed_with_own_level_alpha():
    model, w, levels = make_model(dropout=0.0)
    assert torch.allclose(model.confidence, torch.full((24,), 1 / 3))
    rows = torch.arange(0, 24, 2)
    model.loss(batch_of(w, levels, rows))
    alpha = model.shift_distribution(w.inputs[rows], w.users[rows], w.targets[rows])      # no dropout anywhere
    torch.testing.assert_close(model.confidence[rows], alpha[torch.arange(12), levels[rows]])


def test_score_is_mixed_prediction_with_padding_column():
    model, w, _ = make_model(level_temperature="fixed")                  # the 1/√d scale of Eq. 19
    model.eval()
    with torch.no_grad():
        s = model.score(w.inputs[:4], w.users[:4])
    assert s.shape == (4, 21) and torch.isinf(s[:, 0]).all()
    Z = model.shift_representations(w.inputs[:4], w.users[:4]).double()
    E = model.backbone.item_table().detach().double()
    for b in range(4):
        for i in (1, 7, 20):
            dots = torch.stack([Z[b, k] @ E[i] for k in range(3)])
            beta = torch.softmax(dots / math.sqrt(8), 0)
            assert abs(float((beta * dots).sum()) - float(s[b, i])) < 1e-4
    torch.testing.assert_close(model.basic_view(w.inputs[:4], w.users[:4]), Z.sum(1).float())


def test_ablations():
    model, w, levels = make_model(pmi=False, priors=False, pmsid=False, pmsim=False)
    assert model.confidence is None and model.priors.priors is None
    total, parts = model.loss({"inputs": w.inputs[:5], "targets": w.targets[:5], "users": w.users[:5]})
    assert float(parts["pmsid"]) == 0 and float(parts["pmsim"]) == 0
    model.eval()
    Z = model.shift_representations(w.inputs[:5], w.users[:5])
    torch.testing.assert_close(model.score(w.inputs[:5], w.users[:5])[:, 1:],
                               Z.mean(1) @ model.backbone.item_table()[1:].detach().t())
    # "w/o PMSID": matching on, decomposition off, levels come from prepare
    m2, w2, l2 = make_model(pmsid=False)
    b = batch_of(w2, l2, range(6))
    del b["levels"]
    _, parts = m2.loss(b)
    assert float(parts["pmsid"]) == 0 and float(parts["pmsim"]) > 0


def test_matching_state_not_in_state_dict():
    model, _, _ = make_model()
    assert not any(k.startswith("matching") for k in model.state_dict())
    fresh = SRSUPM(TinyBackbone(), K=3)
    fresh.load_state_dict(model.state_dict())


@pytest.mark.parametrize("kwargs, match", [
    (dict(K=2), "K must be"), (dict(K=3.0), "K must be"), (dict(lambda1=-0.1), "lambda1"),
    (dict(gamma=-1), "gamma"), (dict(tau=0), "tau"), (dict(pmsid=False, lambda1=0.7), "pmsid=False"),
    (dict(pmsim=False, lambda2=0.5), "pmsim=False"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SRSUPM(TinyBackbone(), **kwargs)


def test_accepted_switched_off_weights():
    SRSUPM(TinyBackbone(), pmsid=False)                       # default weight: ignored
    SRSUPM(TinyBackbone(), pmsid=False, lambda1=0.0, pmsim=False, lambda2=0)


def test_bad_batches():
    with pytest.raises(TypeError, match="encode"):
        SRSUPM(nn.Linear(2, 2))
    model, w, levels = make_model()
    b = batch_of(w, levels, range(4))
    with pytest.raises(KeyError, match="levels"):
        model.loss({k: v for k, v in b.items() if k != "levels"})
    with pytest.raises(KeyError, match="index"):
        model.loss({k: v for k, v in b.items() if k != "index"})
    with pytest.raises(KeyError, match="targets"):
        model.loss({k: v for k, v in b.items() if k != "targets"})
    with pytest.raises(ValueError, match="index must lie"):
        model.loss({**b, "index": torch.tensor([0, 1, 2, 99])})
    unprepared = SRSUPM(TinyBackbone(), K=3)
    with pytest.raises(RuntimeError, match="prepare"):
        unprepared.loss(b)
    with pytest.raises(ValueError, match="levels"):
        unprepared.prepare(w, torch.full((24,), 3))


# ------------------------------------------------------------------ all five backbones
BACKBONE_NAMES = ["gru4rec", "sasrec", "caser", "bert4rec", "lightsans"]


@pytest.fixture(scope="module")
def synthetic_split():
    from srsupm_lab import pmsa
    from srsupm_lab.data import leave_one_out, make_synthetic
    ds = make_synthetic(n_users=30, n_items=25, n_labels=6, n_motivations=3, mean_len=8, min_len=5, max_len=12, seed=0)
    split = leave_one_out(ds, max_len=8)
    _, levels = pmsa.assess(split.train.inputs, split.train.targets, ds.item_labels, K=3)
    return ds, split, torch.as_tensor(levels).long()


@pytest.mark.parametrize("name", BACKBONE_NAMES)
def test_every_backbone_trains_with_the_plugin(name, synthetic_split):
    from srsupm_lab.backbones import build_backbone
    ds, split, levels = synthetic_split
    torch.manual_seed(0)
    bb = build_backbone(name, n_items=ds.n_items, n_users=ds.n_users, dim=16, max_len=8)
    model = SRSUPM(bb, K=3)
    model.prepare(split.train, levels)
    tr = split.train
    rows = torch.arange(min(64, len(tr)))
    batch = {"inputs": tr.inputs[rows], "targets": tr.targets[rows], "users": tr.users[rows],
             "levels": levels[rows], "index": rows}
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for step in range(15):
        opt.zero_grad()
        total, parts = model.loss(batch)
        total.backward()
        if step == 0:                                  # the plug-in's losses reach the encoder itself
            assert any(p.grad is not None and p.grad.abs().sum() > 0
                       for n, p in bb.named_parameters() if "item_embedding" not in n)
            assert ("aux" in parts) == (name == "bert4rec")
        opt.step()
        losses.append(total.item())
    assert all(math.isfinite(x) for x in losses)
    assert sum(losses[-3:]) / 3 < losses[0] * 0.9, losses
    model.eval()
    s = model.score(split.test.inputs[:5], split.test.users[:5])
    assert s.shape == (5, ds.n_items + 1)
