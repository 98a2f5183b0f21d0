"""The Recommender protocol and its Batch (srsupm_lab/families/protocol.py), on hand-built models."""
import pytest
import torch

from srsupm_lab.data.windows import Windows
from srsupm_lab.families.protocol import Batch, Recommender, as_batch, check_requires, part, scoring_batch


class Table(Recommender):
    """score(u, i) = 10·u + i: every entry readable by hand."""

    requires = frozenset({"users"})

    def score_all(self, batch):
        return batch.users[:, None] * 10.0 + torch.arange(6.0)            # (B, N+1), N = 5


def test_a_batch_reads_its_columns_by_key_and_by_name():
    b = Batch(inputs=torch.ones(2, 3, dtype=torch.long), users=torch.tensor([0, 1]))
    assert b.users is b["users"] and b.levels is None and b.get("levels") is None
    with pytest.raises(AttributeError, match="no column 'userz'"):
        b.userz


def test_score_gives_all_items_or_the_candidates_columns():
    model = Table()
    batch = Batch(inputs=torch.ones(2, 3, dtype=torch.long), users=torch.tensor([1, 2]))
    assert model.score(batch).tolist() == [[10, 11, 12, 13, 14, 15], [20, 21, 22, 23, 24, 25]]
    items = torch.tensor([[5, 1], [2, 2]])
    assert model.score(batch, items).tolist() == [[15, 11], [22, 22]]
    assert torch.equal(model.score(batch["inputs"], batch["users"]), model.score(batch))       # the short form


def test_a_windows_object_is_scored_without_its_targets_and_history():
    w = Windows(inputs=torch.ones(2, 3, dtype=torch.long), targets=torch.tensor([4, 5]), users=torch.tensor([0, 3]),
                history=torch.zeros(2, 4, dtype=torch.long), context=torch.tensor([1, 0]))
    b = scoring_batch(w)
    assert sorted(b) == ["context", "inputs", "users"]
    assert as_batch(w)[0].keys() == b.keys()
    assert Table().score(w)[:, 0].tolist() == [0, 30]


def test_optional_parts_have_their_defaults_for_any_model():
    class Bare:                                           # loss and score only, no base class
        def loss(self, batch): ...
        def score(self, batch, items=None): ...

    bare = Bare()
    assert part(bare, "requires") == frozenset() and part(bare, "one_pass") is False
    assert part(bare, "prepare") is None and part(bare, "progress_columns") == {}
    assert part(Table(), "requires") == {"users"} and part(Table(), "training_data")(None) is None
    with pytest.raises(KeyError, match="not an optional part"):
        part(bare, "uses_context")


def test_a_missing_required_column_is_one_line():
    check_requires(Table(), {"inputs", "users"}, "here")
    with pytest.raises(ValueError, match=r"^here: Table requires the column\(s\) \['users'\], which the data does "
                                         r"not hold \(it holds \['inputs'\]\)$"):
        check_requires(Table(), {"inputs"}, "here")
