"""Serving a run folder (srsupm_lab.serve): raw-id maps, load_run without the dataset, recommend in raw ids.

The references are independent of the serving code: evaluation's own ranks (srsupm_lab.evaluate on the
model load_trained rebuilds from the dataset, and the test_ranks.csv the training wrote), the users'
histories read back from the CSV file of interactions, and a brute-force top-k in float64 NumPy.
Every world is a tiny file of interactions with text ids written here, so that it can be deleted.
"""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from srsupm_lab.data import make_synthetic
from srsupm_lab.experiment import load_trained, run_experiment

pytestmark = pytest.mark.usefixtures("one_thread")          # tests/conftest.py


def write_world(folder: Path, n_users: int = 80, n_items: int = 40, seed: int = 3) -> tuple[Path, pd.DataFrame]:
    """A synthetic world as a CSV of interactions whose ids are text (``u007``, ``sku-21``): the file and its rows."""
    ds = make_synthetic(n_users=n_users, n_items=n_items, seed=seed)
    lengths = ds.lengths()
    items = np.concatenate(ds.sequences)
    frame = pd.DataFrame({
        "user": np.repeat([f"u{u:03d}" for u in range(ds.n_users)], lengths),
        "item": [f"sku-{7 * int(i)}" for i in items],
        "timestamp": np.concatenate([np.arange(n) for n in lengths]),
        "labels": ["|".join(ds.label_names[j] for j in sorted(ds.item_labels[i])) for i in items]})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "interactions.csv"
    frame.to_csv(path, index=False)
    return path, frame


def train_world(folder: Path, backbone: str = "sasrec", method: str = "none", epochs: int = 2, **extra) -> Path:
    """Train a tiny run on a fresh world in ``folder`` (the CSV stays there); returns the run folder."""
    path, _ = write_world(folder)
    out = folder / "run"
    run_experiment(dict(dataset=str(path), dataset_options={"k": 1, "label_column": "labels"}, backbone=backbone,
                        method=method, dim=16, max_len=8, epochs=epochs, batch_size=64, out_dir=str(out),
                        progress=False, device="cpu", seed=5, **extra))
    return out


def reference(out: Path) -> dict:
    """What evaluation says of the run while its dataset is there: model scores, ranks, raw ids."""
    from srsupm_lab.evaluate import evaluate
    trained = load_trained(out, device="cpu")
    ds, test = trained.data.dataset, trained.data.split.test
    _, ranks = evaluate(trained.model, test, mask_history=True, return_ranks=True)
    with torch.no_grad():
        scores = trained.model.score(test.inputs, test.users).double().numpy()         # (U, N+1)
    id2user, id2item = ds.meta["id2user"], ds.meta["id2item"]
    users = test.users.numpy()
    return {"scores": scores, "ranks": ranks.numpy(), "users": [id2user[u] for u in users],
            "histories": [[id2item[i] for i in ds.sequences[u][:-1]] for u in users],
            "targets": [id2item[ds.sequences[u][-1]] for u in users], "n_items": ds.n_items,
            "id2item": id2item, "full": [[id2item[i] for i in ds.sequences[u]] for u in users],
            "model": trained.model, "max_len": trained.config.max_len}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A trained SASRec run, evaluation's reference, then the run loaded with the dataset file deleted."""
    from srsupm_lab.serve import load_run
    folder = tmp_path_factory.mktemp("serve")
    out = train_world(folder)
    ref = reference(out)
    (folder / "interactions.csv").unlink()                      # the run folder now stands alone
    return {"run": load_run(out, device="cpu"), "ref": ref, "out": out, "folder": folder}


# ----------------------------------------------------------------------------- the maps
def test_a_new_run_folder_stores_its_raw_id_maps(served):
    from srsupm_lab.serve.id_maps import read_id_maps
    maps = read_id_maps(served["out"])
    ref = served["ref"]
    index, unknown = maps.user_index(ref["users"])
    assert unknown == [] and len(index) == len(ref["users"])
    for u, raw_history in zip(index[:10], ref["full"][:10]):            # the history as the file holds it
        assert maps.items[maps.history(int(u)) - 1].tolist() == raw_history
    assert maps.n_items == ref["n_items"] and maps.items.tolist() == ref["id2item"][1:]


def test_maps_of_an_s3rec_folder_keep_its_user_ids(tmp_path):
    from srsupm_lab.data import load_dataset
    from srsupm_lab.serve.id_maps import IdMaps, read_id_maps, write_id_maps
    folder = tmp_path / "Tiny"
    folder.mkdir()
    (folder / "Tiny.txt").write_text("10 1 2 3\n20 2 3 1 2\n30 3 1\n")
    (folder / "Tiny_item2categories.json").write_text('{"1": ["Hats"], "2": ["Shoes"], "3": []}')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                                 # item 3 has no label: said, and meant
        ds = load_dataset(str(folder))
    write_id_maps(tmp_path, ds)
    maps = read_id_maps(tmp_path)
    assert maps.users.tolist() == [10, 20, 30] and maps.items.tolist() == [1, 2, 3]
    assert maps.user_index([20, "30", 99]) == (pytest.approx(np.array([1, 2])), [99])   # an id and its text
    assert maps.history(1).tolist() == [2, 3, 1, 2]
    assert maps.item_names() == ["", "Hats", "Shoes", ""]
    again = IdMaps.from_dataset(maps.as_dataset())                      # the stand-in keeps every map
    assert again.users.tolist() == [10, 20, 30] and again.history(1).tolist() == [2, 3, 1, 2]


def test_a_damaged_map_file_is_one_line_naming_it(tmp_path):
    from srsupm_lab.serve.id_maps import read_id_maps
    (tmp_path / "id_maps.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match=r"id_maps\.npz: cannot be read") as err:
        read_id_maps(tmp_path)
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------- scores equal evaluation's
def test_scores_and_ranks_equal_evaluations_without_the_dataset(served):
    run, ref = served["run"], served["ref"]
    assert not (served["folder"] / "interactions.csv").exists()
    table = run.recommend(users=ref["users"], histories=ref["histories"], k=ref["n_items"], exclude_seen=True)
    user_pos = {u: j for j, u in enumerate(ref["users"])}
    item_pos = {raw: i for i, raw in enumerate(ref["id2item"]) if i}
    rows = table["user"].map(user_pos).to_numpy()
    cols = table["item"].map(item_pos).to_numpy()
    np.testing.assert_allclose(table["score"].to_numpy(), ref["scores"][rows, cols], rtol=1e-5, atol=1e-6)
    # the rank of each test target in the list equals evaluation's rank (0 = top), where the target is
    # not also an earlier item (evaluation keeps such a target; serving leaves every seen item out)
    hits = table[table["item"].to_numpy() == np.asarray(ref["targets"], dtype=object)[rows]]
    ours = dict(zip(hits["user"], hits["rank"] - 1))
    checked = 0
    for j, user in enumerate(ref["users"]):
        if ref["targets"][j] in ref["histories"][j]:
            continue
        assert ours[user] == ref["ranks"][j], user
        checked += 1
    assert checked >= 20                                                # the world repeats items often
    stored = pd.read_csv(served["out"] / "test_ranks.csv")              # what training's evaluation wrote
    assert (stored["rank"].to_numpy() == ref["ranks"]).all()


def test_a_stored_user_gets_the_brute_force_top_k_of_her_whole_history(served):
    run, ref = served["run"], served["ref"]
    model, L = ref["model"], ref["max_len"]
    item_pos = {raw: i for i, raw in enumerate(ref["id2item"]) if i}
    for j in (0, 3, 7):
        seq = [item_pos[raw] for raw in ref["full"][j]]
        window = torch.tensor([[0] * max(L - len(seq), 0) + seq[-L:]])
        with torch.no_grad():
            s = model.score(window, torch.tensor([j])).double().numpy()[0]             # (N+1,)
        s[0] = -np.inf
        s[seq] = -np.inf                                                            # everything she has seen
        best = np.argsort(-s, kind="stable")[:5]
        table = run.recommend(users=[ref["users"][j]], k=5)
        assert table["item"].tolist() == [ref["id2item"][i] for i in best]
        assert table["rank"].tolist() == [1, 2, 3, 4, 5]
        np.testing.assert_allclose(table["score"], s[best], rtol=1e-5, atol=1e-6)


def test_including_seen_items_ranks_every_item(served):
    run, ref = served["run"], served["ref"]
    table = run.recommend(histories=[ref["histories"][0]], k=ref["n_items"], exclude_seen=False)
    assert len(table) == ref["n_items"] and set(table["item"]) == set(ref["id2item"][1:])
    assert (np.diff(table["score"].to_numpy()) <= 0).all()


# ----------------------------------------------------------------------------- raw ids in, raw ids out
def test_unknown_ids_are_left_out_and_reported_in_one_line(served):
    from srsupm_lab.serve import UnknownIdWarning
    run, ref = served["run"], served["ref"]
    with pytest.warns(UnknownIdWarning) as caught:
        table = run.recommend(users=[ref["users"][0], "nobody", "u999"], k=3)
    message = str(caught[0].message)
    assert "\n" not in message and "'nobody'" in message and "'u999'" in message and "2 unknown user" in message
    assert set(table["user"]) == {ref["users"][0]} and table.attrs["unknown_users"] == ["nobody", "u999"]
    with pytest.warns(UnknownIdWarning, match=r"1 unknown item id\(s\) \['sku-x'\]"):
        table = run.recommend(histories=[["sku-x", *ref["histories"][1]]], k=3)
    assert table.attrs["unknown_items"] == ["sku-x"]
    with pytest.raises(ValueError, match="no known user or item"):
        run.recommend(users=["nobody"])


def test_bad_arguments_are_one_line(served):
    run = served["run"]
    for kwargs, pattern in [({}, "give users"), ({"users": "u000"}, "must be a list"),
                            ({"users": ["u000"], "k": 0}, "k must be a positive integer"),
                            ({"users": ["u000", "u001"], "histories": [["sku-7"]]}, "2 users but 1 histories")]:
        with pytest.raises(ValueError, match=pattern):
            run.recommend(**kwargs)


def test_added_events_are_the_users_incremental_state(served):
    run, ref = served["run"], served["ref"]
    user, new = ref["users"][2], [ref["id2item"][1], ref["id2item"][2]]
    run.add_events(user, new)
    try:
        after = run.recommend(users=[user], k=5)
        expected = run.recommend(users=[user], histories=[ref["full"][2] + new], k=5)
        assert after["item"].tolist() == expected["item"].tolist()
        assert not set(after["item"]) & set(new)                         # now seen, so left out
    finally:
        run._added.clear()


# ----------------------------------------------------------------------------- older run folders
def test_a_run_folder_without_maps_rebuilds_them_from_its_dataset_in_one_line(served, tmp_path, capsys):
    from srsupm_lab.serve import load_run
    old = tmp_path / "old"
    shutil.copytree(served["out"], old)
    (old / "id_maps.npz").unlink()
    with pytest.raises(FileNotFoundError, match=r"predates its raw-id maps .* dataset '.*interactions\.csv' is "
                                                r"missing") as err:
        load_run(old, device="cpu")
    assert "\n" not in str(err.value)
    write_world(served["folder"])                                       # the same world, written again
    try:
        run = load_run(old, device="cpu")
    finally:
        (served["folder"] / "interactions.csv").unlink()
    said = capsys.readouterr().err.strip()
    assert said.count("\n") == 0 and "rebuilt from dataset" in said
    users = served["ref"]["users"][:4]
    pd.testing.assert_frame_equal(run.recommend(users=users, k=4), served["run"].recommend(users=users, k=4))


def test_a_folder_without_weights_is_one_line(tmp_path):
    from srsupm_lab.serve import load_run
    with pytest.raises(FileNotFoundError, match="config.json does not exist"):
        load_run(tmp_path)


# ----------------------------------------------------------------------------- every family
@pytest.mark.parametrize("backbone,method", [("gru4rec", "none"), ("caser", "none"), ("bert4rec", "none"),
                                             ("lightsans", "none"), ("sasrec", "srsupm"), ("gru4rec", "mtrec"),
                                             ("sasrec", "profiles")])
def test_every_family_serves_evaluations_scores_without_its_dataset(tmp_path, backbone, method):
    from srsupm_lab.serve import load_run
    out = train_world(tmp_path, backbone=backbone, method=method, epochs=1)
    ref = reference(out)
    (tmp_path / "interactions.csv").unlink()
    run = load_run(out, device="cpu")
    picked = list(range(0, len(ref["users"]), 9))
    users = [ref["users"][j] for j in picked]
    table = run.recommend(users=users, histories=[ref["histories"][j] for j in picked], k=6)
    item_pos = {raw: i for i, raw in enumerate(ref["id2item"]) if i}
    rows = table["user"].map({u: j for j, u in zip(picked, users)}).to_numpy()
    cols = table["item"].map(item_pos).to_numpy()
    np.testing.assert_allclose(table["score"].to_numpy(), ref["scores"][rows, cols], rtol=1e-5, atol=1e-6)
    if run.needs_users:                                                # Caser embeds users: a history alone is refused
        with pytest.raises(ValueError, match="embeds users"):
            run.recommend(histories=[ref["histories"][0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(run.recommend(users=users, k=3)) == 3 * len(users)
