"""Tests of the backbones and BackboneRecommender (method.md §2).

The shared checks (:mod:`family_checks`) run on every backbone of the registry, so a new one is checked
the moment it is registered; the tests of one family's own behaviour name it. References are
independent of the code under test: shorter unpadded inputs, hand-made edits of the window,
explicit float64 loops, and log(N) for an untrained model.
"""
import math

import pytest
import torch

from family_checks import BACKBONE_CHECKS, DIM, L, N_ITEMS, N_USERS, batch, check_output_shape, make
from srsupm_lab.backbones import BACKBONES, build_backbone
from srsupm_lab.methods.none import BackboneRecommender

NAMES = tuple(BACKBONES)                                  # every registered backbone, found by itself


def test_registry_has_the_five_built_in_backbones():
    assert {"gru4rec", "sasrec", "caser", "bert4rec", "lightsans"} <= set(BACKBONES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("train", [False, True])
def test_output_shape_and_no_nan_with_heavy_padding(name, train):
    check_output_shape(name, train)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("check", BACKBONE_CHECKS, ids=lambda c: c.__name__)
def test_every_backbone_passes_the_shared_checks(name, check):
    check(name)


@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
def test_left_to_right_backbones_are_causal(name):
    bb = make(name).eval()
    inputs, _ = batch()
    t = 4
    edited = inputs.clone()
    edited[:, t + 1:] = torch.randint(1, N_ITEMS + 1, edited[:, t + 1:].shape)
    before, after = bb.sequence_output(inputs), bb.sequence_output(edited)
    torch.testing.assert_close(before[:, :t + 1], after[:, :t + 1])
    assert (before[1, t + 1:] - after[1, t + 1:]).abs().max() > 1e-4  # later positions do move


def test_bert4rec_is_bidirectional():
    bb = make("bert4rec").eval()
    inputs, _ = batch()
    edited = inputs.clone()
    edited[1, 6:] = torch.tensor([30, 31])
    before, after = bb.sequence_output(inputs), bb.sequence_output(edited)
    assert (before[1, :6] - after[1, :6]).abs().max() > 1e-4  # earlier positions see later items
    # the other rows are untouched
    torch.testing.assert_close(before[[0, 2, 3]], after[[0, 2, 3]])


def test_encoders_use_the_whole_window():
    inputs, users = batch()
    for name in ["sasrec", "lightsans", "gru4rec", "bert4rec"]:
        bb = make(name).eval()
        # BERT4Rec drops the oldest item of a full window to make room for its [MASK] token
        oldest = 1 if name == "bert4rec" else 0
        edited = inputs.clone()
        edited[1, oldest] = 44
        assert (bb.encode(inputs, users)[1] - bb.encode(edited, users)[1]).abs().max() > 1e-5, name


def test_bert4rec_drops_only_the_oldest_item_of_a_full_window():
    bb = make("bert4rec").eval()
    inputs, users = batch()
    edited = inputs.clone()
    edited[1, 0] = 44
    torch.testing.assert_close(bb.encode(inputs, users), bb.encode(edited, users))


def test_caser_sees_only_its_window_and_the_user():
    bb = make("caser", caser_len=3).eval()
    inputs, users = batch()
    edited = inputs.clone()
    edited[1, :5] = torch.tensor([11, 12, 13, 14, 15])  # older than the 3 most recent items
    torch.testing.assert_close(bb.encode(inputs, users), bb.encode(edited, users))
    other_users = torch.tensor([5, 4, 3, 0])
    assert (bb.encode(inputs, users) - bb.encode(inputs, other_users)).abs().amax(dim=1).min() > 1e-6


def test_gru4rec_matches_a_step_by_step_recurrence():
    """Independent GRU equations (bias-free, float64 loop) give the same h."""
    bb = make("gru4rec", hidden_size=12).eval()
    inputs, users = batch()
    h = bb.encode(inputs, users).double()
    W_ih, W_hh = bb.gru.weight_ih_l0.double(), bb.gru.weight_hh_l0.double()
    E = bb.item_embedding.weight.double()
    for row in range(inputs.shape[0]):
        state = torch.zeros(12, dtype=torch.float64)
        for item in inputs[row].tolist():
            gi, gh = W_ih @ E[item], W_hh @ state
            r = torch.sigmoid(gi[:12] + gh[:12])
            z = torch.sigmoid(gi[12:24] + gh[12:24])
            n = torch.tanh(gi[24:] + r * gh[24:])
            state = (1 - z) * n + z * state
        expected = bb.dense.weight.double() @ state + bb.dense.bias.double()
        torch.testing.assert_close(h[row], expected, atol=1e-5, rtol=1e-5)


def test_recommender_loss_matches_float64_softmax():
    model = BackboneRecommender(make("sasrec")).eval()
    inputs, users = batch()
    targets = torch.tensor([7, 1, 50, 23])
    loss, parts = model.loss({"inputs": inputs, "targets": targets, "users": users})
    assert set(parts) == {"rec"}
    with torch.no_grad():
        h = model.backbone.encode(inputs, users).double()
        E = model.backbone.item_embedding.weight.double()
    total = 0.0
    for b in range(4):
        logits = [float(h[b] @ E[i]) for i in range(1, N_ITEMS + 1)]  # items 1..N only
        top = max(logits)
        log_z = top + math.log(sum(math.exp(x - top) for x in logits))
        total += log_z - logits[int(targets[b]) - 1]
    assert float(loss.detach()) == pytest.approx(total / 4, rel=1e-5)
    scores = model.score(inputs, users)
    assert scores.shape == (4, N_ITEMS + 1)


def test_untrained_losses_are_near_log_n():
    """With N(0, 0.02) embeddings every logit is ~0, so both CE losses start at ~log N.

    Evaluation mode: dropout would only add noise around log N (the cloze masks are drawn
    in either mode).
    """
    model = BackboneRecommender(make("bert4rec", next_item_loss=True)).eval()   # both losses (an option)
    inputs, users = batch()
    targets = torch.tensor([4, 9, 14, 2])
    torch.manual_seed(3)
    loss, parts = model.loss({"inputs": inputs, "targets": targets, "users": users})
    assert set(parts) == {"rec", "aux"}
    assert float(parts["rec"]) == pytest.approx(math.log(N_ITEMS), abs=0.05)
    assert float(parts["aux"]) == pytest.approx(math.log(N_ITEMS), abs=0.05)
    assert float(loss.detach()) == pytest.approx(float(parts["rec"]) + float(parts["aux"]), rel=1e-6)
    loss.backward()
    assert model.backbone.item_embedding.weight.grad[N_ITEMS + 1].abs().sum() > 0  # [MASK] row trains


def test_bert4rec_mask_row_is_outside_the_item_table():
    bb = make("bert4rec")
    assert bb.item_embedding.num_embeddings == N_ITEMS + 2
    assert bb.item_table().shape == (N_ITEMS + 1, DIM)
    assert make("sasrec").auxiliary_loss(*batch()[:1], torch.ones(4, dtype=torch.long)) is None


# ----------------------------------------------------------------------------- bad input
def test_unknown_backbone_lists_the_known_ones():
    with pytest.raises(ValueError) as err:
        build_backbone("transformer", N_ITEMS)
    for name in NAMES:
        assert name in str(err.value)


@pytest.mark.parametrize("kwargs", [{"max_len": 0}, {"dim": 0}, {"n_items": 0}])
def test_bad_sizes(kwargs):
    args = {"n_items": N_ITEMS, "dim": DIM, "max_len": L} | kwargs
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        build_backbone("sasrec", **args)


def test_caser_needs_users():
    with pytest.raises(ValueError, match="n_users"):
        build_backbone("caser", N_ITEMS, dim=DIM, max_len=L)
    bb = make("caser")
    with pytest.raises(ValueError, match="user_ids"):
        bb.encode(batch()[0])
    with pytest.raises(ValueError, match="user ids"):
        bb.encode(batch()[0], torch.tensor([0, 1, 2, N_USERS]))


def test_unknown_option_is_named():
    with pytest.raises(TypeError, match="n_layer") as err:
        build_backbone("sasrec", N_ITEMS, dim=DIM, max_len=L, n_layer=3)
    assert "n_layers" in str(err.value)  # the valid options are listed
    with pytest.raises(TypeError, match="k_interests"):
        build_backbone("gru4rec", N_ITEMS, k_interests=3)


def test_bad_option_values():
    with pytest.raises(ValueError, match="n_heads"):
        build_backbone("sasrec", N_ITEMS, dim=DIM, max_len=L, n_heads=3)
    with pytest.raises(ValueError, match="dropout"):
        build_backbone("gru4rec", N_ITEMS, dim=DIM, max_len=L, dropout=1.5)
    with pytest.raises(ValueError, match="mask_prob"):
        build_backbone("bert4rec", N_ITEMS, dim=DIM, max_len=L, mask_prob=0.0)


def test_recommender_rejects_bad_batches():
    model = BackboneRecommender(make("gru4rec"))
    inputs, users = batch()
    with pytest.raises(KeyError, match="targets"):
        model.loss({"inputs": inputs, "users": users})
    with pytest.raises(ValueError, match="1..50"):
        model.loss({"inputs": inputs, "users": users, "targets": torch.tensor([0, 1, 2, 3])})


def test_fast_dropout_keeps_the_right_share_and_scale():
    from srsupm_lab.backbones.base import Dropout
    torch.manual_seed(0)
    x = torch.ones(200_000, requires_grad=True)
    layer = Dropout(0.3)
    y = layer(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005            # P(keep) = 1 - p
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.7))  # inverted scaling
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())                            # d y / d x = mask / (1 - p)
    layer.eval()
    assert layer(x) is x


def test_attention_helper_matches_a_float64_softmax():
    from srsupm_lab.backbones.base import attention
    torch.manual_seed(0)
    q, k, v = (torch.randn(3, 2, 5, 4, dtype=torch.float64) for _ in range(3))
    mask = torch.rand(3, 1, 5, 5) > 0.3
    mask[..., 0] = True                                               # every query sees a key
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / 2.0             # hs = 4 -> scale 1/2
    scores[~mask.expand_as(scores)] = float("-inf")
    ref = torch.einsum("bhqk,bhkd->bhqd", scores.softmax(-1), v)
    for training in (False, True):                                    # p = 0: no dropout either way
        assert torch.allclose(attention(q, k, v, mask, 0.0, training), ref)
    torch.manual_seed(1)
    out = attention(q, k, v, mask, 0.5, True)                         # dropout: weights * {0, 2}
    assert out.shape == ref.shape and not torch.allclose(out, ref)
