"""A checkpoint knows the data it was trained on (srsupm_lab.checkpoints: ``windows_sha256``, and ``levels_sha256``
for a method that trains on PMSA levels).

``--resume`` on data that changed since the checkpoint (same counts, other sequences or labels)
is refused with one line saying which changed, before anything in the run folder changes; a
checkpoint written before the hashes existed cannot be checked and still resumes.
"""
import hashlib
import json
import time
from pathlib import Path

import pytest
import torch

from srsupm_lab.__main__ import main
from srsupm_lab.checkpoints import DATA_HASH_KEYS, check_checkpoint, data_sha256, tensor_sha256
from srsupm_lab.config import TrainConfig
from srsupm_lab.data import make_synthetic
from srsupm_lab.data.s3rec_layout import save_s3rec_layout
from srsupm_lab.data.windows import Windows
from srsupm_lab.experiment import run_experiment

pytestmark = pytest.mark.usefixtures("one_thread")                   # tests/conftest.py


def raw_sha256(*tensors) -> str:
    """The documented recipe, spelled out: per tensor its shape as text, then its int64 little-endian bytes."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(str(tuple(t.shape)).encode("ascii"))
        h.update(t.to(torch.int64).contiguous().numpy().astype("<i8").tobytes())
    return h.hexdigest()


def snapshot(folder: Path) -> dict:
    """Every file below ``folder`` (hidden ones included) -> its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


# ============================================================================ the hash
def test_equal_tensors_hash_equal_and_one_element_changes_it():
    g = torch.Generator().manual_seed(0)
    inputs, targets = torch.randint(0, 30, (40, 6), generator=g), torch.randint(1, 30, (40,), generator=g)
    assert tensor_sha256(inputs, targets) == tensor_sha256(inputs.clone(), targets.clone()) \
        == raw_sha256(inputs, targets)
    assert tensor_sha256(inputs.int(), targets.short()) == tensor_sha256(inputs, targets)      # values, not dtype
    assert tensor_sha256(inputs.t()) == raw_sha256(inputs.t())                           # non-contiguous
    changed = inputs.clone()
    changed[17, 3] += 1
    assert tensor_sha256(changed, targets) != tensor_sha256(inputs, targets) == raw_sha256(inputs, targets)
    assert tensor_sha256(changed, targets) == raw_sha256(changed, targets)
    assert tensor_sha256(inputs.reshape(60, 4)) != tensor_sha256(inputs)                  # same bytes, other shape
    with pytest.raises(TypeError, match="integer tensors only"):
        tensor_sha256(inputs.float())


def test_data_hashes_keep_windows_and_levels_apart():
    windows = Windows(inputs=torch.arange(12).reshape(4, 3), targets=torch.tensor([1, 2, 3, 4]),
                      users=torch.tensor([0, 0, 1, 2]))
    levels = torch.tensor([0, 1, 1, 2])
    hashes = data_sha256(windows, levels)
    assert set(hashes) == set(DATA_HASH_KEYS)
    assert hashes["windows_sha256"] == raw_sha256(windows.inputs, windows.targets, windows.users)
    assert hashes["levels_sha256"] == raw_sha256(levels)
    assert data_sha256(windows)["levels_sha256"] is None


def test_the_hash_is_cheap_on_a_beauty_sized_training_set():
    g = torch.Generator().manual_seed(0)
    windows = Windows(inputs=torch.randint(0, 12_000, (130_000, 50), generator=g),
                      targets=torch.randint(1, 12_000, (130_000,), generator=g),
                      users=torch.randint(0, 22_000, (130_000,), generator=g))
    levels = torch.randint(0, 5, (130_000,), generator=g)
    start = time.perf_counter()
    data_sha256(windows, levels)
    assert time.perf_counter() - start < 1.0                             # about 30 ms on one core


def test_check_checkpoint_accepts_a_missing_hash_and_names_a_changed_one(tmp_path):
    model = torch.nn.Linear(2, 2)
    base = {"n_train": 4, "one_pass": False}
    now = {**base, "windows_sha256": "a" * 64, "levels_sha256": "b" * 64}
    ck = {"fingerprint": dict(base), "model": model.state_dict(), "best_state": None}
    check_checkpoint(ck, now, model, tmp_path / "ck.pt")                 # older: unknown, accepted
    check_checkpoint({**ck, "fingerprint": dict(now)}, now, model, tmp_path / "ck.pt")
    with pytest.raises(ValueError) as info:
        check_checkpoint({**ck, "fingerprint": {**now, "levels_sha256": "c" * 64}}, now, model, tmp_path / "ck.pt")
    assert str(info.value) == (f"checkpoint {tmp_path / 'ck.pt'} was trained on other data: the training levels "
                               f"(from the labels) changed (sha256 cccccccccccc… stored, bbbbbbbbbbbb… now); "
                               f"resume on the data it was trained on, or start over with --overwrite")
    with pytest.raises(ValueError, match=r"different run; \(stored, now\): \{'n_train': \(5, 4\)\}"):
        check_checkpoint({**ck, "fingerprint": {**now, "n_train": 5}}, now, model, tmp_path / "ck.pt")


# ============================================================================ resume on changed data
@pytest.fixture
def trained(tmp_path):
    """An S3-Rec folder of the synthetic world and a run trained one epoch on it (the data's path is part of
    the stored config, so each test trains its own)."""
    ds = make_synthetic(n_users=60, n_items=30)
    ds.name = "Toy"
    data = save_s3rec_layout(ds, tmp_path / "Toy")["sequences"].parent
    run_experiment(config(data, tmp_path / "run"))
    return data, tmp_path / "run"


def config(data: Path, out: Path, **changes) -> TrainConfig:
    return TrainConfig(**{**dict(dataset=str(data), backbone="gru4rec", dim=8, max_len=6, epochs=1, device="cpu",
                                 progress=False, out_dir=str(out)), **changes})


def swap_first_items(path: Path, line: int = 0) -> None:
    """Another order of one user's first two items: the same users, items and counts."""
    lines = path.read_text().splitlines()
    user, a, b, *rest = lines[line].split()
    assert a != b
    lines[line] = " ".join([user, b, a, *rest])
    path.write_text("\n".join(lines) + "\n")


def swap_labels(path: Path) -> tuple[str, str]:
    """Two items' labels exchanged: the same label names and counts."""
    labels = json.loads(path.read_text())
    a, b = next((a, b) for a in labels for b in labels if labels[a] and labels[b] and labels[a] != labels[b])
    labels[a], labels[b] = labels[b], labels[a]
    path.write_text(json.dumps(labels))
    return a, b


def test_changed_sequences_are_refused_naming_the_windows(trained):
    data, out = trained
    swap_first_items(data / "Toy.txt")
    before = snapshot(out)
    with pytest.raises(ValueError) as info:
        run_experiment(config(data, out, epochs=2, resume=True))
    msg = str(info.value)
    stored = torch.load(out / "checkpoint.pt", weights_only=True)["fingerprint"]["windows_sha256"]
    assert msg.startswith(f"checkpoint {out / 'checkpoint.pt'} was trained on other data: the training windows "
                          f"changed (sha256 {stored[:12]}… stored, "), msg
    assert msg.endswith("; resume on the data it was trained on, or start over with --overwrite") and "\n" not in msg
    assert snapshot(out) == before                                        # byte for byte, no lock file left


def test_changed_labels_are_refused_naming_the_levels(trained, capsys):
    data, out = trained[0], trained[1].parent / "srsupm"               # a method that trains on PMSA levels
    run_experiment(config(data, out, method="srsupm", K=3))
    swap_labels(data / "Toy_item2categories.json")
    before = snapshot(out)
    args = ["train", "--dataset", str(data), "--backbone", "gru4rec", "--dim", "8", "--max-len", "6", "--method",
            "srsupm", "--K", "3", "--device", "cpu", "--no-progress", "--epochs", "2", "--resume", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert err.startswith(f"error: checkpoint {out / 'checkpoint.pt'} was trained on other data: the training "
                          f"levels (from the labels) changed (sha256 "), err
    assert "windows" not in err
    assert snapshot(out) == before
    res = run_experiment(config(data, out, method="srsupm", K=3, epochs=2), overwrite=True)
    assert res["epochs_run"] == 2                                          # starting over is allowed


def test_changed_labels_leave_a_run_without_levels_resumable(trained):
    data, out = trained                                                    # method none reads no labels
    swap_labels(data / "Toy_item2categories.json")
    assert run_experiment(config(data, out, epochs=2, resume=True))["epochs_run"] == 2


def test_an_unchanged_run_resumes(trained):
    data, out = trained
    assert run_experiment(config(data, out, epochs=2, resume=True))["epochs_run"] == 2


def test_a_checkpoint_without_the_hashes_still_resumes(trained):
    data, out = trained
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    for key in DATA_HASH_KEYS:
        ck["fingerprint"].pop(key, None)                                   # a run without levels has no levels hash
    torch.save(ck, out / "checkpoint.pt")
    swap_first_items(data / "Toy.txt")                                      # cannot be checked: accepted
    res = run_experiment(config(data, out, epochs=2, resume=True))
    assert res["epochs_run"] == 2
    stored = torch.load(out / "checkpoint.pt", weights_only=True)["fingerprint"]
    assert "windows_sha256" in stored and "levels_sha256" not in stored    # a run without levels hashes none
