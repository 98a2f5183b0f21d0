"""The checks every registered family passes: each backbone of ``BACKBONES`` and each method of the registry.

``tests/test_backbones.py`` and ``tests/test_families.py`` call them for every registry entry, and
``tests/test_families.py`` for a backbone and a method registered at test time, so a new family is
checked the moment it is registered. References are independent of the code under test: the same
items without padding, hand edits of the window, log N for an untrained model, the gathered columns
of the full score matrix.
"""
import torch

from srsupm_lab.backbones import BACKBONES, build_backbone

N_ITEMS, N_USERS, DIM, L = 50, 6, 16, 8


def make(name, **options):
    torch.manual_seed(0)
    return build_backbone(name, N_ITEMS, n_users=N_USERS, dim=DIM, max_len=L, **options)


def batch():
    """Left-padded windows: one single-item row, a full row, a half-padded row."""
    inputs = torch.tensor([[0, 0, 0, 0, 0, 0, 0, 3],
                           [1, 2, 3, 4, 5, 6, 7, 8],
                           [0, 0, 0, 9, 10, 11, 12, 13],
                           [0, 0, 0, 0, 0, 0, 40, 50]])
    return inputs, torch.tensor([0, 1, 2, 5])


def check_output_shape(name, train: bool) -> None:
    """``encode`` gives a finite ``[B, d]`` on heavily padded windows; the padding row of E stays zero."""
    bb = make(name)
    bb.train(train)
    inputs, users = batch()
    h = bb.encode(inputs, users)
    assert h.shape == (4, DIM)
    assert torch.isfinite(h).all()
    assert bb.item_table().shape == (N_ITEMS + 1, DIM)
    assert torch.equal(bb.item_table()[0], torch.zeros(DIM))


def check_left_padding_is_invisible(name) -> None:
    """A left-padded window encodes exactly like the same items without padding."""
    bb = make(name).eval()
    inputs, users = batch()
    h_padded = bb.encode(inputs, users)
    for row, n_real in [(0, 1), (2, 5), (3, 2)]:
        h_short = bb.encode(inputs[row:row + 1, L - n_real:], users[row:row + 1])
        torch.testing.assert_close(h_padded[row], h_short[0], atol=1e-5, rtol=1e-5)


def check_most_recent_item_matters(name) -> None:
    bb = make(name).eval()
    inputs, users = batch()
    edited = inputs.clone()
    edited[:, -1] = torch.tensor([20, 21, 22, 23])
    assert (bb.encode(inputs, users) - bb.encode(edited, users)).abs().amax(dim=1).min() > 1e-4


def check_training_lowers_the_loss(name) -> None:
    """40 Adam steps on a fixed batch lower the backbone's loss (a cloze loss alone, ``next_item_loss`` False,
    falls slower: it predicts random masked positions)."""
    from srsupm_lab.methods.none import BackboneRecommender
    torch.manual_seed(1)
    inputs = torch.randint(1, N_ITEMS + 1, (16, L))
    inputs[:8, :4] = 0                                                     # half of the rows left-padded
    fixed = {"inputs": inputs, "targets": torch.randint(1, N_ITEMS + 1, (16,)), "users": torch.arange(16) % N_USERS}
    model = BackboneRecommender(make(name))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)

    def eval_rec_loss():                                                   # the cloze masks fixed by a seed
        model.eval()
        with torch.no_grad():
            torch.manual_seed(0)
            parts = model.loss(fixed)[1]
            return float(parts["rec"] if "rec" in parts else parts["aux"])

    start = eval_rec_loss()
    model.train()
    for _ in range(40):
        opt.zero_grad()
        loss, _ = model.loss(fixed)
        loss.backward()
        opt.step()
    end = eval_rec_loss()
    assert end < (0.6 if model.backbone.next_item_loss else 0.9) * start, (start, end)
    assert torch.equal(model.backbone.item_table()[0], torch.zeros(DIM))  # padding row never trained


def check_bad_windows_are_rejected(name) -> None:
    import pytest
    bb = make(name)
    inputs, users = batch()
    too_big = inputs.clone()
    too_big[1, 3] = N_ITEMS + 1
    with pytest.raises(ValueError, match="n_items"):
        bb.encode(too_big, users)
    with pytest.raises(ValueError, match="max_len"):
        bb.encode(torch.ones(4, L + 1, dtype=torch.long), users)
    with pytest.raises(ValueError, match="left-padded"):
        bb.encode(torch.tensor([[1, 2, 0, 0], [1, 2, 3, 4], [0, 1, 2, 3], [0, 0, 0, 1]]), users)
    with pytest.raises(ValueError, match="left-padded"):
        bb.encode(torch.tensor([[0, 1, 0, 2]] * 4), users)
    with pytest.raises(TypeError, match="int64"):
        bb.encode(inputs.float(), users)


def check_declarations(name) -> None:
    """What the shared layer reads of a backbone is declared, with the types it expects."""
    cls = BACKBONES[name]
    assert isinstance(cls.requires, frozenset) and cls.requires <= {"users", "times", "behaviours", "long_history"}
    assert isinstance(cls.group_by_length, bool) and isinstance(cls.attention_maps, bool)
    shape = cls.memory_shape({})
    assert shape["layers"] >= 1 and shape["heads"] >= 1 and shape["user_table"] == ("users" in cls.requires)
    assert isinstance(cls.prefixes_exact({}), bool)


BACKBONE_CHECKS = (check_left_padding_is_invisible, check_most_recent_item_matters, check_training_lowers_the_loss,
                   check_bad_windows_are_rejected, check_declarations)


# ----------------------------------------------------------------------------- methods
#: a small synthetic world every method can train on (the oracle's truth, item text, satisfaction none needs)
METHOD_WORLD = {"dataset_options": {"n_users": 40, "n_items": 30}, "backbone": "gru4rec", "dim": 8, "max_len": 6,
                "K": 3, "epochs": 1, "batch_size": 64, "device": "cpu", "progress": False}


def check_method(name: str, **changes) -> None:
    """The method ``name`` builds a Recommender on a small world whose batches hold what it ``requires``; one
    loss step is finite and moves the weights; ``score(batch)`` is ``[B, N+1]`` and ``score(batch, items)``
    its columns ``items``; evaluation ranks every user."""
    from srsupm_lab.config import TrainConfig
    from srsupm_lab.evaluate import evaluate
    from srsupm_lab.experiment import build_model, prepare_data
    from srsupm_lab.families.protocol import Batch, check_requires, part, scoring_batch
    from srsupm_lab.families.registry import get_method

    method = get_method(name)
    config = TrainConfig(**{**METHOD_WORLD, "method": name, **changes})
    data = prepare_data(config)
    assert (data.train_levels is not None) == ("levels" in method.requires)       # PMSA only when asked for
    torch.manual_seed(0)
    model, _ = build_model(config, data.dataset)
    assert method.requires <= part(model, "requires")
    train = data.split.train
    held = {n for n in ("inputs", "targets", "users", "context") if getattr(train, n) is not None} | {"index"}
    check_requires(model, held | ({"levels"} if data.train_levels is not None else set()), name)
    prepare = part(model, "prepare")
    if prepare is not None:
        prepare(train, data.train_levels)
    rows = torch.arange(min(16, len(train)))
    b = Batch(inputs=train.inputs[rows], targets=train.targets[rows], users=train.users[rows], index=rows)
    for column in part(model, "requires") - set(b):
        b[column] = data.train_levels[rows] if column == "levels" else getattr(train, column)[rows]
    own = part(model, "training_data")
    if own is None or own(train) is None:                                           # a batch of windows
        before = [p.detach().clone() for p in model.parameters() if p.requires_grad]
        loss, parts = model.loss(b)
        assert loss.dim() == 0 and torch.isfinite(loss) and parts and all(torch.isfinite(v) for v in parts.values())
        loss.backward()
        torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1).step()
        after = [p.detach() for p in model.parameters() if p.requires_grad]
        assert any(not torch.equal(x, y) for x, y in zip(before, after))
    model.eval()
    test = data.split.test
    with torch.no_grad():
        scores = model.score(scoring_batch(test.subset(slice(0, 5))))
        n_items = data.dataset.n_items
        assert scores.shape == (5, n_items + 1)
        items = torch.randint(1, n_items + 1, (5, 4), generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(model.score(scoring_batch(test.subset(slice(0, 5))), items), scores.gather(1, items))
    table = evaluate(model, test, data.test_levels, batch_size=16)
    assert table.iloc[0]["level"] == "all" and table.iloc[0]["users"] == len(test)
