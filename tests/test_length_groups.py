"""Encoding in length groups (srsupm_lab/backbones/length_groups.py) is exact.

The reference is the same backbone encoding the whole padded batch at once (``length_groups
= 1``), in float64 so that only float rounding could differ; the grouping itself is checked
against a brute-force sort of the window lengths.
"""
import pytest
import torch

from srsupm_lab.backbones import build_backbone
from srsupm_lab.backbones.length_groups import length_groups
from srsupm_lab.methods.none import BackboneRecommender

N_ITEMS, N_USERS, DIM, L, B = 40, 9, 16, 12, 23
GROUPED = ["gru4rec", "sasrec", "bert4rec", "lightsans"]


def windows(seed=0):
    """Left-padded windows of every length 1..L (a few repeated), in shuffled order."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.cat([torch.arange(1, L + 1), torch.randint(1, L + 1, (B - L,), generator=g)])
    lengths = lengths[torch.randperm(B, generator=g)]
    items = torch.randint(1, N_ITEMS + 1, (B, L), generator=g)
    pad = torch.arange(L)[None, :] < (L - lengths)[:, None]               # leading padding
    return items.masked_fill(pad, 0), torch.randint(0, N_USERS, (B,), generator=g), lengths


def make(name, groups):
    torch.manual_seed(0)
    bb = build_backbone(name, N_ITEMS, n_users=N_USERS, dim=DIM, max_len=L).double()
    bb.length_groups = groups
    return bb


def test_groups_partition_the_batch_by_length():
    inputs, _, lengths = windows()
    groups = length_groups(inputs, 5)
    rows = torch.cat([r for r, _ in groups])
    assert sorted(rows.tolist()) == list(range(B))                         # every row exactly once
    assert [len(r) for r, _ in groups] == [5, 5, 5, 4, 4]                  # near-equal sizes
    for r, width in groups:
        assert width == int(lengths[r].max())                              # trimmed to the longest
    sorted_lengths = torch.cat([lengths[r] for r, _ in groups])
    assert torch.equal(sorted_lengths, lengths.sort().values)              # groups run short to long
    assert len(length_groups(inputs[:3], 8)) == 3                          # never more groups than rows


@pytest.mark.parametrize("name", GROUPED)
@pytest.mark.parametrize("groups", [2, 5, B])
def test_grouped_encoding_equals_the_padded_batch(name, groups):
    inputs, users, _ = windows()
    reference = make(name, 1).eval().encode(inputs, users)                  # (B, d) float64
    grouped = make(name, groups).eval().encode(inputs, users)
    torch.testing.assert_close(grouped, reference, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("name", GROUPED)
def test_grouped_training_gives_the_padded_batch_gradient(name):
    """Same loss and same gradient for every parameter (dropout off, same cloze masks)."""
    inputs, users, _ = windows(1)
    targets = torch.randint(1, N_ITEMS + 1, (B,), generator=torch.Generator().manual_seed(2))
    grads = []
    for groups in (1, 6):
        model = BackboneRecommender(make(name, groups)).train()
        for module in model.modules():                                      # dropout off, train mode kept
            for attr in ("p", "attn_dropout"):                              # Dropout.p, attention's rate
                if hasattr(module, attr):
                    setattr(module, attr, 0.0)
        torch.manual_seed(5)                                                # BERT4Rec: the same cloze masks
        loss, _ = model.loss({"inputs": inputs, "targets": targets, "users": users})
        loss.backward()
        grads.append((loss.detach(), {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}))
    (loss1, g1), (loss6, g6) = grads
    torch.testing.assert_close(loss6, loss1, atol=1e-12, rtol=1e-10)
    assert g1.keys() == g6.keys()
    for key in g1:
        torch.testing.assert_close(g6[key], g1[key], atol=1e-10, rtol=1e-8, msg=key)


def test_caser_is_not_grouped():
    """Caser reads only its last few columns: grouping could save nothing, so it is off."""
    caser = make("caser", 8)
    assert not caser.group_by_length and caser.groups(windows()[0]) == 1


def test_default_groups_and_config():
    from srsupm_lab.backbones.length_groups import CPU_GROUPS, groups_for
    from srsupm_lab.config import TrainConfig
    from srsupm_lab.data import load_dataset
    from srsupm_lab.experiment import build_model
    inputs = windows()[0]
    bb = build_backbone("sasrec", N_ITEMS, dim=DIM, max_len=L)
    assert bb.length_groups is None and bb.groups(inputs) == CPU_GROUPS == 8    # automatic on the CPU
    assert bb.groups(inputs[:1]) == 1                                          # one row: nothing to group
    assert groups_for(inputs.to("meta"), None) == 1                            # other devices: off unless asked
    bb.length_groups = 3
    assert bb.groups(inputs) == 3
    for bad in (0, -2, True, 2.5):
        with pytest.raises(ValueError, match="length_groups"):
            TrainConfig(length_groups=bad)
    ds = load_dataset("synthetic", n_users=20, n_items=30)
    _, backbone = build_model(TrainConfig(backbone="gru4rec", length_groups=5), ds)
    assert backbone.length_groups == 5
