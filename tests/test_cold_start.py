"""The cold-start protocol: first-k windows, full and sampled ranks, against per-user brute force."""
import numpy as np
import pytest
import torch

from srsupm_lab.analysis.cold_start import cold_start_ranks, cold_start_table, first_items_windows, sampled_ranks
from srsupm_lab.backbones import build_backbone
from srsupm_lab.data import SequenceDataset, leave_one_out
from srsupm_lab.methods.none import BackboneRecommender


def _world():
    seqs = [np.array([1, 2, 3, 4, 5]), np.array([6, 7, 8]), np.array([2, 9, 10, 11]), np.array([3, 4, 12])]
    labels = [frozenset()] + [frozenset({i % 3}) for i in range(1, 13)]
    ds = SequenceDataset("tiny", seqs, labels, ["a", "b", "c"])
    return ds, leave_one_out(ds, max_len=4)


def test_first_items_windows_keep_the_oldest_k_items_of_users_who_have_them():
    ds, split = _world()
    w = first_items_windows(ds, split.test, 3, max_len=4)
    # items before the test target: user 0 has 4, user 1 two, user 2 three, user 3 two: users 0 and 2 keep
    assert w.users.tolist() == [0, 2]
    assert w.inputs.tolist() == [[0, 1, 2, 3], [0, 2, 9, 10]]
    assert w.targets.tolist() == [5, 11] and w.history.tolist() == [[1, 2, 3], [2, 9, 10]]
    with pytest.raises(ValueError, match="k must be an integer in 1..max_len=4"):
        first_items_windows(ds, split.test, 5, max_len=4)


def test_sampled_ranks_draw_distinct_unseen_items_and_count_ties_against_the_model():
    scores = torch.tensor([[0.0, 1.0, 2.0, 2.0, 0.5, 3.0, 2.0], [0.0, 5.0, 1.0, 1.0, 1.0, 1.0, 1.0]])
    targets, history = torch.tensor([2, 1]), torch.tensor([[1, 0], [2, 3]])
    ranks, neg = sampled_ranks(scores, targets, history, 3, torch.Generator().manual_seed(0), return_negatives=True)
    for u in range(2):                                                   # brute force, user by user
        drawn = neg[u].tolist()
        assert len(set(drawn)) == 3 and not set(drawn) & ({int(targets[u])} | set(history[u].tolist()) | {0})
        assert int(ranks[u]) == sum(float(scores[u, i]) >= float(scores[u, targets[u]]) for i in drawn)
    with pytest.raises(ValueError, match="fewer than n_negatives"):
        sampled_ranks(scores, targets, history, 5, torch.Generator())


def test_cold_start_ranks_match_a_per_user_recomputation(one_thread):
    ds, split = _world()
    torch.manual_seed(0)
    model = BackboneRecommender(build_backbone("gru4rec", ds.n_items, dim=8, max_len=4)).eval()
    ranks = cold_start_ranks(model, ds, split, ks=(2,), n_negatives=5, seed=1)
    table = cold_start_table(ranks)
    full = ranks[(ranks.k == "2") & (ranks.protocol == "full")]
    for user, rank in zip(full.user, full["rank"]):
        seq = ds.sequences[user]
        first = torch.tensor([[0, 0, *seq[:2]]])
        s = model.score(first, torch.tensor([user]))[0]
        target = int(seq[-1])
        want = sum(1 for i in range(1, ds.n_items + 1) if i != target and i not in seq[:2] and s[i] >= s[target])
        assert rank == want
    assert set(table["k"]) == {"2", "all"} and set(table["protocol"]) == {"full", "sampled"}
    assert (table.loc[table.protocol == "sampled", "recall@10"] >= table.loc[table.protocol == "full",
                                                                             "recall@10"].to_numpy()).all()


def test_the_cold_start_experiment_reports_from_its_run_folders(tmp_path, one_thread):
    import pandas as pd

    from srsupm_lab.experiment import run_experiment
    from srsupm_lab.reproduce.cold_start import cold_start_configs, cold_start_report
    tiny = dict(dataset_options={"n_users": 60, "n_items": 150}, epochs=1, dim=8, max_len=6, device="cpu",
                progress=False)
    with pytest.raises(FileNotFoundError, match="no finished run"):
        cold_start_report(tmp_path / "runs", tmp_path / "rep")
    assert not (tmp_path / "rep").exists()
    for config in cold_start_configs("synthetic", [1], tmp_path / "runs", ["sasrec", "sasrec+profiles"], **tiny):
        run_experiment(config)
    md = cold_start_report(tmp_path / "runs", tmp_path / "rep", n_boot=50)
    table = pd.read_csv(tmp_path / "rep" / "cold_start.csv", dtype={"k": str})
    assert set(table["model"]) == {"sasrec", "sasrec+profiles"} and set(table["k"]) == {"1", "2", "3", "5", "all"}
    sig = pd.read_csv(tmp_path / "rep" / "cold_start_significance.csv", dtype={"k": str})
    assert set(sig["model_b"]) == {"sasrec+profiles"} and set(sig["protocol"]) == {"full", "sampled"}
    assert "Against SASRec alone" in md.read_text()
    folder = tmp_path / "runs" / "synthetic" / "sasrec" / "seed1"
    assert (folder / "cold_start_ranks.csv").exists()
    (folder / "checkpoint.pt").unlink()                                  # a folder kept without its checkpoint
    cold_start_report(tmp_path / "runs", tmp_path / "rep2", n_boot=50)
    assert (tmp_path / "rep2" / "cold_start.csv").read_text() == (tmp_path / "rep" / "cold_start.csv").read_text()


def test_cold_start_on_beauty_trains_the_decisive_arms_and_a_grid_can_set_a_field(tmp_path):
    from srsupm_lab.config import TrainConfig
    from srsupm_lab.reproduce.cold_start import cold_start_configs
    from srsupm_lab.reproduce.decisive import arm_configs
    from srsupm_lab.run_folder import config_differences
    from srsupm_lab.reproduce.plan import load_plan

    ours = cold_start_configs("beauty", [3], tmp_path, ["sasrec", "sasrec+srsupm"])
    theirs = arm_configs([3], tmp_path, ["sasrec", "sasrec+srsupm-engaged"], lr=0.001)
    for a, b in zip(ours, theirs):                     # the same run (the engaged arm's folder has another name)
        a, b = TrainConfig(**a).to_dict(), TrainConfig(**b).to_dict()
        assert config_differences(a, b) == {} and a["batch_size"] == 128 and a["lr"] == 0.001
    plan = tmp_path / "plan.toml"
    plan.write_text('[[grid]]\nname = "b"\ngrid = "cold-start"\ndatasets = ["beauty"]\narms = ["sasrec"]\n'
                    'seeds = [1]\nset = { batch_size = 256 }\nruns = "r"\nreports = "p"\n', encoding="utf-8")
    (grid,) = load_plan(plan)
    assert [s.overrides["batch_size"] for s in grid.specs()] == [256]
    plan.write_text('[[grid]]\nname = "d"\ngrid = "decisive"\narms = ["sasrec"]\nseeds = [1]\nlr = 0.001\n'
                    'set = { batch_size = 64 }\nruns = "r"\nreports = "p"\n', encoding="utf-8")
    (grid,) = load_plan(plan)                          # every experiment kind reads its set the same way
    assert [(s.overrides["batch_size"], s.overrides["lr"]) for s in grid.specs()] == [(64, 0.001)]
    plan.write_text(plan.read_text(encoding="utf-8").replace("batch_size = 64", "lr = 0.01"), encoding="utf-8")
    (grid,) = load_plan(plan)
    with pytest.raises(ValueError, match=r"\['lr'\] given both"):
        grid.specs()
