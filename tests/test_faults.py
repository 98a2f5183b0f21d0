"""Fault injection (issue 23): bad input, corrupted run folders, writes killed or refused by a full disk.

Every case asserts the one-line message (what and where: file, line or JSON key, the bad value)
and that nothing in the input or the run folder was lost or changed. Writes are broken by
patching the writer (a partial write, then an exception) rather than by filling a real disk.
"""
import errno
import json
import os
import re
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest
import torch

from srsupm_lab.__main__ import main
from srsupm_lab.config import TrainConfig
from srsupm_lab.data import load_dataset
from srsupm_lab.data.loaders import read_sequences

ROOT = Path(__file__).resolve().parents[1]


from faultkit import one_line_error, snapshot  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")          # tests/conftest.py


def write_s3rec(folder: Path, lines, labels, kind="categories", raw_labels=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{folder.name}.txt").write_bytes(lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode())
    text = raw_labels if raw_labels is not None else json.dumps(labels)
    (folder / f"{folder.name}_item2{kind}.json").write_bytes(text if isinstance(text, bytes) else text.encode())
    return folder


GOOD_LINES = ["1 1 2 3 4", "2 3 2 1", "3 4 4 2 1 3"]
GOOD_LABELS = {"1": ["Hair", "Care"], "2": ["Nails"], "3": ["Care"], "4": ["Care"]}


# ============================================================================ 1. silent wrong data
@pytest.mark.parametrize("value, shown", [("Makeup", '"Makeup"'), ({"Makeup": 1}, '{"Makeup": 1}'),
                                          (None, "null"), (7, "7"), (["Makeup", 3], "3")])
def test_category_values_must_be_lists_of_strings(tmp_path, value, shown):
    folder = write_s3rec(tmp_path / "Toy", GOOD_LINES, {**GOOD_LABELS, "2": value})
    before = snapshot(tmp_path)
    with pytest.raises(ValueError) as info:
        load_dataset(folder)
    msg = str(info.value)
    assert "Toy_item2categories.json" in msg and "key '2'" in msg and shown in msg, msg
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("value, shown", [(["7"], '"7"'), ([7.5], "7.5"), ([True], "true"), ("7", '"7"')])
def test_attribute_values_must_be_lists_of_integers(tmp_path, value, shown):
    labels = {"1": [7], "2": value, "3": [9], "4": [7, 9]}
    folder = write_s3rec(tmp_path / "Toy", GOOD_LINES, labels, kind="attributes")
    with pytest.raises(ValueError) as info:
        load_dataset(folder, labels="attributes")
    msg = str(info.value)
    assert "Toy_item2attributes.json" in msg and "key '2'" in msg and shown in msg, msg


def test_label_keys_are_item_ids_given_once(tmp_path):
    folder = write_s3rec(tmp_path / "Toy", GOOD_LINES, None,
                         raw_labels='{"1": ["a"], "2": ["b"], "3": ["c"], "4": ["d"], "2": ["e"]}')
    with pytest.raises(ValueError, match=r"Toy_item2categories\.json: key '2' appears twice"):
        load_dataset(folder)
    folder = write_s3rec(tmp_path / "Toy", GOOD_LINES, {**GOOD_LABELS, "x1": ["a"]})
    with pytest.raises(ValueError, match=r"Toy_item2categories\.json: key 'x1' is not an item id"):
        load_dataset(folder)


def test_a_user_id_twice_is_an_error_naming_both_lines(tmp_path):
    folder = write_s3rec(tmp_path / "Toy", ["1 1 2 3", "2 3 2 1", "1 4 4 2"], GOOD_LABELS)
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match=r"Toy\.txt:3: user id 1 appears again \(first on line 1\)"):
        load_dataset(folder)
    assert snapshot(tmp_path) == before


def test_sequence_ids_must_be_plain_positive_integers(tmp_path):
    cases = {"1 1 -2 3": r"Toy\.txt:1: malformed line .*bad token '-2'",
             "0 1 2": r"Toy\.txt:1: user id 0 out of range",
             "1 1 0 2": r"Toy\.txt:1: item ids must be >= 1 .*got 0",
             "1 1 1_000": r"Toy\.txt:1: malformed line .*bad token '1_000'",
             "1 1 ٣": r"Toy\.txt:1: malformed line .*bad token '٣'"}           # a non-ASCII digit
    for line, pattern in cases.items():
        folder = write_s3rec(tmp_path / "Toy", [line], GOOD_LABELS)
        with pytest.raises(ValueError, match=pattern):
            load_dataset(folder)


def _ml100k(folder: Path, inter_rows, item_header="item_id:token\tmovie_title:token_seq\tclass:token_seq"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ml-100k.inter").write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                                          + "".join("\t".join(map(str, r)) + "\n" for r in inter_rows))
    (folder / "ml-100k.item").write_text(item_header + "\n" + "".join(f"{i}\tMovie {i}\tDrama Comedy\n"
                                                                      for i in range(1, 8)))
    return folder


def _ml100k_rows():
    return [(u, i, 3, 1000 * u + 10 * i) for u in range(1, 8) for i in range(1, 8)]


def test_ml100k_non_numeric_timestamp_names_file_line_and_value(tmp_path):
    rows = _ml100k_rows()
    rows[3] = (*rows[3][:3], "notatime")                                # the 4th data row: line 5
    folder = _ml100k(tmp_path / "ml-100k", rows)
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match=r"ml-100k\.inter:5: column 'timestamp' must hold a number, got 'notatime'"):
        load_dataset("ml-100k", root=tmp_path)
    rows = _ml100k_rows()
    rows[0] = ("u1", *rows[0][1:])
    _ml100k(tmp_path / "ml-100k", rows)
    with pytest.raises(ValueError, match=r"ml-100k\.inter:2: column 'user_id' must hold an integer, got 'u1'"):
        load_dataset("ml-100k", root=tmp_path)
    for bad, shown in (("0", "'0'"), (str(10**20), f"'{10**20}'")):
        rows = _ml100k_rows()
        rows[6] = (rows[6][0], bad, *rows[6][2:])
        _ml100k(tmp_path / "ml-100k", rows)
        with pytest.raises(ValueError, match=rf"ml-100k\.inter:8: column 'item_id' ids must lie in 1\.\.2\^53, got {shown}"):
            load_dataset("ml-100k", root=tmp_path)
    _ml100k(tmp_path / "ml-100k", _ml100k_rows())
    ds = load_dataset("ml-100k", root=tmp_path)                         # the clean file: numeric time order
    assert ds.n_users == 7 and all(s.tolist() == list(range(1, 8)) for s in ds.sequences)
    assert snapshot(tmp_path)["ml-100k/ml-100k.item"] == before["ml-100k/ml-100k.item"]


def test_ml100k_item_genres_empty_or_given_twice(tmp_path):
    folder = _ml100k(tmp_path / "ml-100k", _ml100k_rows())
    lines = (folder / "ml-100k.item").read_text().splitlines()
    lines[3] = "3\tMovie 3\t"                                            # no genre: no label (not a label "nan")
    (folder / "ml-100k.item").write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match="1 of 7 items have no label"):
        ds = load_dataset("ml-100k", root=tmp_path)
    assert ds.label_names == ["Comedy", "Drama"] and ds.item_labels[ds.meta["item2id"][3]] == frozenset()
    (folder / "ml-100k.item").write_text("\n".join(lines + ["5\tMovie 5 again\tHorror"]) + "\n")
    with pytest.raises(ValueError, match=r"ml-100k\.item:9: item_id 5 appears again \(first on line 6\)"):
        load_dataset("ml-100k", root=tmp_path)


def test_ml100k_item_without_class_is_a_one_line_cli_error(tmp_path, capsys):
    _ml100k(tmp_path / "ml-100k", _ml100k_rows(), item_header="item_id:token\tmovie_title:token_seq\tgenre:token_seq")
    assert main(["stats", "--dataset", "ml-100k", "--root", str(tmp_path)]) == 2
    err = one_line_error(capsys)
    assert "ml-100k.item: expected columns item_id and class" in err and "'genre'" in err


def _run_notebook_config(**parameters):
    """The parameter cell and the configuration cell of lesson 4, with ``parameters`` injected as papermill
    injects them (after the parameter cell); returns the cell namespace."""
    import jupytext
    nb = jupytext.read(ROOT / "notebooks" / "04_train.py")
    ns: dict = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        exec("\n".join(line for line in cell.source.splitlines() if not line.startswith("%")), ns)
        if "parameters" in cell.metadata.get("tags", []):
            ns.update(parameters)
        if "config = TrainConfig(" in cell.source:
            return ns
    raise AssertionError("lesson 4 has no configuration cell")


@pytest.mark.parametrize("name", ["epochs", "max_len"])
def test_notebook_zero_is_not_the_default(name):
    with pytest.raises(ValueError, match=rf"TrainConfig\.{name}: must be a positive integer, got 0"):
        _run_notebook_config(**{name: 0})
    ns = _run_notebook_config(**{name: None, "out_dir": None})          # only None means the default
    assert getattr(ns["config"], name) == {"epochs": 4, "max_len": 20}[name]
    assert getattr(_run_notebook_config(**{name: 3, "out_dir": None})["config"], name) == 3


TINY = ["--dataset-option", "n_users=60", "--dataset-option", "n_items=30", "--backbone", "gru4rec", "--dim", "8",
        "--max-len", "6", "--device", "cpu", "--no-progress"]


@pytest.mark.parametrize("option, value, pattern", [("--tau", "1e-30", r"method_options\.tau \(method 'srsupm'\): must be >= 0\.001"),
                                                    ("--tau", "0.0005", r"method_options\.tau \(method 'srsupm'\): must be >= 0\.001"),
                                                    ("--lr", "1", r"TrainConfig\.lr: must be below 1"),
                                                    ("--lr", "50", r"TrainConfig\.lr: must be below 1")])
def test_untrainable_numbers_are_refused_with_the_reason(tmp_path, capsys, option, value, pattern):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--srsupm", "--K", "3", "--epochs", "1", option, value, "--out", str(out)]) == 2
    err = one_line_error(capsys)
    assert re.search(pattern, err) and f"got {float(value)!r}" in err, err
    assert not out.exists()                                             # nothing was written


def test_a_temperature_without_signal_is_warned_about():
    with pytest.warns(UserWarning, match=r"tau=1000 > 100: .*no gradient"):
        TrainConfig(method="srsupm", method_options=dict(tau=1000.0))
    TrainConfig(method="srsupm", method_options=dict(tau=0.001)).validate()                      # the bounds themselves are fine
    TrainConfig(lr=0.5).validate()


# ============================================================================ 3. one typo must not exhaust memory
@pytest.mark.parametrize("item", [10**6, 10**9, 10**30])
def test_a_huge_item_id_fails_before_any_allocation(tmp_path, item):
    folder = write_s3rec(tmp_path / "Beauty", ["1 1 2 3", f"2 3 {item} 1", "3 4 4 2"], GOOD_LABELS)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as info:
            load_dataset("beauty", root=tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"Beauty.txt:2: item id {item} is above 4, the number of items Beauty_item2categories.json lists" \
        in str(info.value)
    assert peak < 5 * 2**20, f"peak {peak / 2**20:.1f} MiB"             # nothing scaled with the id


def test_read_sequences_alone_bounds_ids_by_int64(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text(f"1 1 {2**70}\n")
    with pytest.raises(ValueError, match=rf"s\.txt:1: item id {2**70} is above"):
        read_sequences(path)


# ============================================================================ 5. errors that say where
def test_a_non_utf8_byte_names_file_and_line(tmp_path):
    folder = write_s3rec(tmp_path / "Toy", b"1 1 2 3\n2 3 \xff 1\n3 4 2\n", GOOD_LABELS)
    with pytest.raises(ValueError, match=r"Toy\.txt:2: not UTF-8 text \(byte 0xff at column 5\)"):
        load_dataset(folder)
    folder = write_s3rec(tmp_path / "Toy", GOOD_LINES, None, raw_labels=b'{"1": ["caf\xe9"]}')
    with pytest.raises(ValueError, match=r"Toy_item2categories\.json: not UTF-8 text \(byte 0xe9"):
        load_dataset(folder)


def test_a_utf8_bom_is_tolerated(tmp_path):
    plain = load_dataset(write_s3rec(tmp_path / "A", GOOD_LINES, GOOD_LABELS))
    bom = load_dataset(write_s3rec(tmp_path / "B", b"\xef\xbb\xbf" + ("\n".join(GOOD_LINES) + "\n").encode(), None,
                                   raw_labels=b"\xef\xbb\xbf" + json.dumps(GOOD_LABELS).encode()))
    assert [s.tolist() for s in bom.sequences] == [s.tolist() for s in plain.sequences]
    assert bom.item_labels == plain.item_labels and bom.meta["user_ids"].tolist() == [1, 2, 3]


def test_originals_readers_name_the_line_of_a_bad_byte_and_reject_null_ids(tmp_path):
    import gzip

    from srsupm_lab.data.originals import read_amazon_reviews, read_yelp_reviews
    path = tmp_path / "reviews_Beauty_5.json.gz"
    good = '{"reviewerID": "A", "asin": "I1", "unixReviewTime": 5, "overall": 4}\n'
    with gzip.open(path, "wb") as fh:
        fh.write((good * 3).encode() + b'{"reviewerID": "B\xff", "asin": "I2", "unixReviewTime": 6}\n')
    with pytest.raises(ValueError, match=r"reviews_Beauty_5\.json\.gz, line 4: not UTF-8 text"):
        read_amazon_reviews(path)
    with gzip.open(path, "wt") as fh:
        fh.write(good + '{"reviewerID": null, "asin": "I2", "unixReviewTime": 6}\n')
    with pytest.raises(ValueError, match=r"line 2: 'reviewerID' must be a non-empty string, got None"):
        read_amazon_reviews(path)
    yelp = tmp_path / "review.json"
    yelp.write_text('{"user_id": "u", "business_id": 17, "date": "2019-05-01 00:00:00"}\n')
    with pytest.raises(ValueError, match=r"review\.json, line 1: 'business_id' must be a non-empty string, got 17"):
        read_yelp_reviews(yelp)


def test_bad_config_json_and_unknown_keys_name_the_file(tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text('{"epochs": 1,\n "dim": }')
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "run")]) == 2
    assert "cfg.json:2: malformed JSON" in one_line_error(capsys)
    cfg.write_text('{"epochs": 1, "dimension": 8}')
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "run")]) == 2
    err = one_line_error(capsys)
    assert "cfg.json: unknown key(s) ['dimension']" in err and not err.startswith("error: \"")
    cfg.write_text('[1, 2]')
    assert main(["train", "--config", str(cfg)]) == 2
    assert "cfg.json: expected a JSON object" in one_line_error(capsys)
    assert main(["train", "--config", str(tmp_path / "none.json")]) == 2
    assert "none.json: no such file" in one_line_error(capsys)
    assert not (tmp_path / "run").exists()


# ============================================================================ 2. a failed resume must not destroy results
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 2-epoch run and a straight 3-epoch run of the same config (the reference of a continuation)."""
    base = tmp_path_factory.mktemp("finished")
    for name, epochs in (("two", 2), ("three", 3)):
        assert main(["train", *TINY, "--srsupm", "--K", "3", "--epochs", str(epochs), "--out", str(base / name)]) == 0
    return base


def copy_run(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def resume_args(out, epochs=3):
    return ["train", *TINY, "--srsupm", "--K", "3", "--epochs", str(epochs), "--out", str(out), "--resume"]


def corrupt(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "half": data[: len(data) // 2], "garbage": bytes(range(256)) * 4}[how])


@pytest.mark.parametrize("how", ["empty", "half", "garbage"])
@pytest.mark.parametrize("state", ["finished", "unfinished"])
def test_a_corrupt_checkpoint_leaves_the_run_folder_untouched(tmp_path, capsys, finished, how, state):
    out = copy_run(finished / "two", tmp_path / "run")
    if state == "unfinished":
        (out / "results.json").unlink()
    corrupt(out / "checkpoint.pt", how)
    before = snapshot(out)
    assert main(resume_args(out)) == 2
    err = one_line_error(capsys)
    assert f"checkpoint {out / 'checkpoint.pt'}" in err and ("empty (0 bytes)" if how == "empty" else
                                                              "cannot be read") in err, err
    assert snapshot(out) == before                                      # test_ranks.csv, config.json: all kept


def test_measuring_a_run_with_a_truncated_checkpoint_names_it(tmp_path, finished):
    from srsupm_lab.experiment import user_ranks
    out = copy_run(finished / "two", tmp_path / "run")
    (out / "test_ranks.csv").unlink()                                   # so the ranks are re-measured
    corrupt(out / "checkpoint.pt", "half")
    before = snapshot(out)
    with pytest.raises(ValueError, match=rf"checkpoint {re.escape(str(out / 'checkpoint.pt'))} cannot be read"):
        user_ranks(out)
    assert snapshot(out) == before


def test_a_checkpoint_of_another_model_leaves_the_run_folder_untouched(tmp_path, capsys, finished):
    other = tmp_path / "other"
    wider = [("16" if a == "8" and b == "--dim" else a) for b, a in zip(["", *TINY], TINY)]
    assert main(["train", *wider, "--srsupm", "--K", "3", "--epochs", "1", "--out", str(other)]) == 0
    out = copy_run(finished / "two", tmp_path / "run")
    (out / "checkpoint.pt").write_bytes((other / "checkpoint.pt").read_bytes())
    before = snapshot(out)
    capsys.readouterr()
    assert main(resume_args(out)) == 2
    err = one_line_error(capsys)
    assert f"checkpoint {out / 'checkpoint.pt'}: 'model' does not fit this model" in err, err
    assert snapshot(out) == before


@pytest.mark.parametrize("epochs", [2, 3])
def test_a_truncated_results_json_names_the_file_and_changes_nothing(tmp_path, capsys, finished, epochs):
    out = copy_run(finished / "two", tmp_path / "run")
    corrupt(out / "results.json", "half")
    before = snapshot(out)
    assert main(resume_args(out, epochs)) == 2
    err = one_line_error(capsys)
    assert f"{out / 'results.json'}:" in err and "malformed JSON" in err and "truncated" in err, err
    assert snapshot(out) == before
    (out / "results.json").unlink()                                     # the remedy the message gives
    assert main(resume_args(out, epochs)) == 0
    ref = json.loads((finished / ("two" if epochs == 2 else "three") / "results.json").read_text())
    assert json.loads((out / "results.json").read_text())["test"] == ref["test"]


def test_a_truncated_config_json_names_the_file(tmp_path, capsys, finished):
    out = copy_run(finished / "two", tmp_path / "run")
    corrupt(out / "config.json", "half")
    before = snapshot(out)
    assert main(resume_args(out)) == 2
    assert f"{out / 'config.json'}:" in one_line_error(capsys)
    assert snapshot(out) == before


def test_stale_temporaries_are_removed_on_the_next_start(tmp_path, finished):
    out = copy_run(finished / "two", tmp_path / "run")
    stale = [".checkpoint.pt.k1ll3d.tmp", ".results.json.x7y8z9.tmp", ".history.csv.abc123.tmp"]
    for name in stale:
        (out / name).write_bytes(b"partial")
    (out / "notes.tmp").write_text("mine")                              # not a temporary of ours: kept
    assert main(resume_args(out)) == 0
    assert not any((out / name).exists() for name in stale) and (out / "notes.tmp").read_text() == "mine"
    ref = json.loads((finished / "three" / "results.json").read_text())
    assert json.loads((out / "results.json").read_text())["test"] == ref["test"]


def test_the_trainer_alone_removes_the_stale_temporaries_of_its_checkpoint(tmp_path):
    from srsupm_lab.backbones import build_backbone
    from srsupm_lab.data import leave_one_out, make_synthetic
    from srsupm_lab.methods.none import BackboneRecommender
    from srsupm_lab.trainer import Trainer
    split = leave_one_out(make_synthetic(n_users=40, n_items=30), max_len=5)
    stale = tmp_path / ".c.pt.dead01.tmp"
    stale.write_bytes(b"partial")
    model = BackboneRecommender(build_backbone("gru4rec", 30, dim=8, max_len=5))
    Trainer(model, split.train, split.valid, epochs=1, device="cpu", progress=False, checkpoint=tmp_path / "c.pt").fit()
    assert sorted(os.listdir(tmp_path)) == ["c.pt"]


# ============================================================================ 6. a write killed, or refused by a full disk
class Killed(BaseException):
    """What a kill looks like from inside: not an Exception, so nothing catches it on the way."""


def _writers(kind: str, fault):
    """(object, attribute, replacement) that breaks the writes of one kind of file with ``fault`` after a partial
    write; other writes go through."""
    real_text, real_csv, real_save = Path.write_text, pd.DataFrame.to_csv, torch.save

    def write_text(self, data, *a, **k):
        if Path(self).name.startswith(f".{kind}."):
            real_text(self, data[: len(data) // 2], *a, **k)
            raise fault()
        return real_text(self, data, *a, **k)

    def to_csv(self, path=None, *a, **k):
        if path is not None and Path(path).name.startswith(f".{kind}."):
            Path(path).write_text("user,level\n1,")
            raise fault()
        return real_csv(self, path, *a, **k)

    def save(obj, f, *a, **k):
        if Path(f).name.startswith(f".{kind}."):
            Path(f).write_bytes(b"PK\x03\x04 partial")
            raise fault()
        return real_save(obj, f, *a, **k)

    return {"json": (Path, "write_text", write_text), "csv": (pd.DataFrame, "to_csv", to_csv),
            "pt": (torch, "save", save)}[kind.rsplit(".", 1)[1]]


def _disk_full():
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _torch_disk_full():
    return RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1152 vs 1046")


KINDS = ["config.json", "checkpoint.pt", "history.csv", "test_ranks.csv", "results.json"]


def _check_after_fault(out: Path, before: dict, finished: Path):
    """Nothing lost: no temporary left, the finished run's results and derived files as they were, every file
    complete; then a plain --resume ends exactly where an uninterrupted 3-epoch run ends."""
    after = snapshot(out)
    assert not [n for n in after if n.endswith(".tmp")], sorted(after)
    assert set(after) == set(before)
    for name in ("results.json", "test_ranks.csv", "valid_levels.csv", "test_levels.csv", "history.csv"):
        assert after[name] == before[name], name                      # old results intact (the marker, too)
    from srsupm_lab.run_folder import config_differences
    assert config_differences(json.loads(before["config.json"]), json.loads(after["config.json"])) == {}
    from srsupm_lab.checkpoints import read_checkpoint
    read_checkpoint(out / "checkpoint.pt")                            # old or new, complete either way
    assert main(resume_args(out)) == 0
    ref = json.loads((finished / "three" / "results.json").read_text())
    assert json.loads((out / "results.json").read_text())["test"] == ref["test"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_write_killed_midway_loses_nothing(tmp_path, monkeypatch, finished, kind):
    out = copy_run(finished / "two", tmp_path / "run")
    before = snapshot(out)
    with monkeypatch.context() as m:
        m.setattr(*_writers(kind, Killed))
        with pytest.raises(Killed):
            main(resume_args(out))
    _check_after_fault(out, before, finished)


@pytest.mark.parametrize("kind", KINDS)
def test_a_full_disk_is_one_line_naming_the_file_and_loses_nothing(tmp_path, capsys, monkeypatch, finished, kind):
    out = copy_run(finished / "two", tmp_path / "run")
    before = snapshot(out)
    with monkeypatch.context() as m:
        m.setattr(*_writers(kind, _disk_full))
        assert main(resume_args(out)) == 2
    assert one_line_error(capsys) == f"error: cannot write {out / kind}: the disk is full; the previous file, if " \
                                     f"any, is kept"
    _check_after_fault(out, before, finished)


def test_torch_save_reporting_a_full_disk_names_the_checkpoint(tmp_path, capsys, monkeypatch, finished):
    out = copy_run(finished / "two", tmp_path / "run")
    before = snapshot(out)
    with monkeypatch.context() as m:
        m.setattr(*_writers("checkpoint.pt", _torch_disk_full))
        assert main(resume_args(out)) == 2
    err = one_line_error(capsys)
    assert err.startswith(f"error: cannot write {out / 'checkpoint.pt'}: [enforce fail") and \
        "the disk is probably full" in err, err
    _check_after_fault(out, before, finished)


def test_os_replace_failing_keeps_the_old_file(tmp_path, capsys, monkeypatch, finished):
    out = copy_run(finished / "two", tmp_path / "run")
    before = snapshot(out)
    real = os.replace

    def replace(src, dst, *a, **k):
        if Path(dst).name == "results.json":
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(src, dst, *a, **k)

    with monkeypatch.context() as m:
        m.setattr(os, "replace", replace)
        assert main(resume_args(out)) == 2
    assert one_line_error(capsys).startswith(f"error: cannot write {out / 'results.json'}: [Errno 5]")
    after = snapshot(out)
    assert after["results.json"] == before["results.json"] and not [n for n in after if n.endswith(".tmp")]


# ============================================================================ 4. tracebacks -> one line at the CLI
def test_cli_expected_failures_are_one_line(tmp_path, capsys, monkeypatch, finished):
    # an unfinished run without --resume
    out = copy_run(finished / "two", tmp_path / "run")
    (out / "results.json").unlink()
    before = snapshot(out)
    assert main(["train", *TINY, "--srsupm", "--K", "3", "--epochs", "3", "--out", str(out)]) == 2
    assert "holds an unfinished run (checkpoint.pt); pass resume=True (--resume)" in one_line_error(capsys)
    assert snapshot(out) == before
    # an unknown --config key, a bad value
    cfg = tmp_path / "c.json"
    cfg.write_text('{"epocs": 3}')
    assert main(["train", "--config", str(cfg)]) == 2
    assert "unknown key(s) ['epocs']" in one_line_error(capsys)
    assert main(["train", *TINY, "--srsupm", "--K", "2"]) == 2          # K matters to a method that asks for levels
    assert "TrainConfig.K: must be at least 3" in one_line_error(capsys)
    # a training whose loss becomes NaN
    from srsupm_lab.methods.none import BackboneRecommender
    real = BackboneRecommender.loss
    monkeypatch.setattr(BackboneRecommender, "loss",
                        lambda self, batch: (lambda l, p: (l * float("nan"), p))(*real(self, batch)))
    assert main(["train", *TINY, "--epochs", "2", "--out", str(tmp_path / "nan")]) == 2
    assert "epoch 1: the training loss became nan" in one_line_error(capsys)


def test_demo_writes_its_table_and_figure_atomically(tmp_path, capsys, monkeypatch):
    demo = ["demo", "--backbone", "gru4rec", "--epochs", "1", "--max-len", "5", "--K", "3", "--device", "cpu",
            "--quiet", "--out", str(tmp_path / "demo")]
    assert main(demo) == 0
    before = snapshot(tmp_path / "demo")
    assert before["demo.png"].startswith(b"\x89PNG") and before["comparison.csv"].startswith(b"model,")
    real_csv = pd.DataFrame.to_csv

    def broken_csv(self, path=None, *a, **k):
        if path is not None and Path(path).name.startswith(".comparison.csv."):
            Path(path).write_text("model,be")
            raise _disk_full()
        return real_csv(self, path, *a, **k)

    with monkeypatch.context() as m:
        m.setattr(pd.DataFrame, "to_csv", broken_csv)
        assert main(demo) == 2
    assert one_line_error(capsys).startswith(f"error: cannot write {tmp_path / 'demo' / 'comparison.csv'}: the disk")
    from matplotlib.figure import Figure

    def broken_fig(self, fname, *a, **k):
        Path(fname).write_bytes(b"\x89PNG partial")
        raise Killed()

    with monkeypatch.context() as m:
        m.setattr(Figure, "savefig", broken_fig)
        with pytest.raises(Killed):
            main(demo)
    assert snapshot(tmp_path / "demo") == before                       # old table and figure, no temporary
