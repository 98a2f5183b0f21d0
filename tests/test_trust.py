"""Trust (issue "Trust", items 3 and 6): input that once gave silently wrong data, a traceback or a folder left
worse is one line naming what and where (file, line, value), and the files given are left byte-identical.

The house style of tests/test_faults.py: tiny synthetic worlds built here (tmp_path; no shipped data),
``one_line_error(capsys)`` at the CLI, snapshots of folders before and after.
"""
import json
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch

from srsupm_lab.__main__ import main
from srsupm_lab.data import load_dataset

from faultkit import one_line_error, snapshot  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")          # tests/conftest.py


TINY = ["--dataset-option", "n_users=60", "--dataset-option", "n_items=30", "--backbone", "gru4rec", "--dim", "8",
        "--max-len", "6", "--device", "cpu", "--no-progress"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished one-epoch SRSUPM run of the tiny world (config.json, checkpoint.pt, results, ...)."""
    out = tmp_path_factory.mktemp("trust") / "run"
    assert main(["train", *TINY, "--srsupm", "--K", "3", "--epochs", "1", "--out", str(out)]) == 0
    return out


def copy_run(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


# ============================================================================ 1. Yelp dates are dates
def _yelp(root: Path, dates) -> Path:
    """A Yelp-like folder: ``review.json`` lines for users ua, ub (4 businesses each) dated ``dates`` in turn."""
    root.mkdir(parents=True, exist_ok=True)
    reviews = [{"review_id": f"r{n}", "user_id": u, "business_id": f"b{i}", "stars": 4.0, "date": None}
               for n, (u, i) in enumerate([(u, i) for u in ("ua", "ub") for i in range(1, 5)])]
    for rec, date in zip(reviews, dates):
        rec["date"] = date
    (root / "yelp_academic_dataset_review.json").write_text("".join(json.dumps(r) + "\n" for r in reviews))
    (root / "yelp_academic_dataset_business.json").write_text(
        "".join(json.dumps({"business_id": f"b{i}", "categories": "Food, Bars"}) + "\n" for i in range(1, 5)))
    return root


GOOD_DATES = ["2019-01-02 10:00:00", "2019-03-01 10:00:00", "2019-12-31 00:00:00", "2019-06-01",
              "2019-02-01 09:00:00", "2019-05-01 08:00:00", "2019-07-01 07:00:00", "2019-08-01 06:00:00"]


@pytest.mark.parametrize("bad", ["2019-13-01 00:00:00", "2019-02-30 00:00:00", "not a date", "2019/05/01 10:00:00",
                                 "", 20190501])
@pytest.mark.parametrize("dates", ["s3rec", "all"])
def test_a_malformed_yelp_date_names_file_line_and_value(tmp_path, bad, dates):
    from srsupm_lab.data.originals import prepare_yelp, read_yelp_reviews
    root = _yelp(tmp_path / "yelp", GOOD_DATES[:5] + [bad] + GOOD_DATES[6:])       # the 6th review: line 6
    before = snapshot(tmp_path)
    window = {} if dates == "s3rec" else {"dates": None}
    with pytest.raises(ValueError) as info:
        prepare_yelp(root, k=1, progress=False, **window)
    msg = str(info.value)
    assert "\n" not in msg and "yelp_academic_dataset_review.json, line 6: 'date' must be a date" in msg, msg
    assert f"got {bad!r}" in msg, msg
    with pytest.raises(ValueError, match=r"review\.json, line 6: 'date'"):
        read_yelp_reviews(root / "yelp_academic_dataset_review.json", **window)
    assert snapshot(tmp_path) == before


def test_yelp_dates_are_compared_and_ordered_as_dates(tmp_path):
    from srsupm_lab.data.originals import read_yelp_reviews
    root = _yelp(tmp_path / "yelp", ["2019-12-31 00:00:00", "2019-12-31 00:00:01", "2018-12-31 23:59:59",
                                     "2019-06-01", "2019-01-01 00:00:00", "2020-01-01", "2019-05-01 08:00:00",
                                     "2019-05-01 07:00:00"])
    path = root / "yelp_academic_dataset_review.json"
    df = read_yelp_reviews(path)                       # S3-Rec's window: 31 December after midnight is out
    assert df["item"].tolist() == ["b1", "b4", "b1", "b3", "b4"]
    assert df["time"].min() == pd.Timestamp("2019-01-01") and df["time"].max() == pd.Timestamp("2019-12-31")
    everything = read_yelp_reviews(path, dates=None)
    assert len(everything) == 8 and everything["time"].dtype.kind == "M"          # dates, not text
    assert everything["time"].min() == pd.Timestamp("2018-12-31 23:59:59")
    assert everything["time"].max() == pd.Timestamp("2020-01-01")
    with pytest.raises(ValueError, match=r"dates must be None or a \(min, max\) pair"):
        read_yelp_reviews(path, dates=("2019-01-01", "31/12/2019"))


def test_the_originals_cli_refuses_a_malformed_yelp_date_with_all_dates(tmp_path, capsys):
    from srsupm_lab.data import originals
    root = _yelp(tmp_path / "yelp", GOOD_DATES[:2] + ["n/a"] + GOOD_DATES[3:])
    before = snapshot(tmp_path)
    assert originals.main(["yelp", "--raw", str(root), "--out", str(tmp_path / "out"), "--k", "1",
                           "--all-dates", "--quiet"]) == 2
    err = one_line_error(capsys)
    assert "yelp_academic_dataset_review.json, line 3: 'date' must be a date" in err and "'n/a'" in err, err
    assert snapshot(tmp_path) == before                   # no out folder made


# ============================================================================ 2. MovieLens atomic files
INTER_HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
ITEM_HEADER = "item_id:token\tmovie_title:token_seq\tclass:token_seq\n"


def _ml100k(root: Path, inter_rows=None, item_lines=None) -> Path:
    """``root/ml-100k`` with 7 users × 7 items (each user rated every item, at 1000·u + 10·i) unless given."""
    folder = root / "ml-100k"
    folder.mkdir(parents=True, exist_ok=True)
    rows = inter_rows if inter_rows is not None else [(u, i, 3, 1000 * u + 10 * i) for u in range(1, 8)
                                                      for i in range(1, 8)]
    (folder / "ml-100k.inter").write_text(INTER_HEADER + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    lines = item_lines if item_lines is not None else [f"{i}\tMovie {i}\tDrama Comedy" for i in range(1, 8)]
    (folder / "ml-100k.item").write_text(ITEM_HEADER + "".join(line + "\n" for line in lines))
    return folder


def test_an_item_row_with_missing_columns_names_file_and_line(tmp_path, capsys):
    lines = [f"{i}\tMovie {i}\tDrama Comedy" for i in range(1, 8)]
    lines[4] = "5\tMovie 5"                                            # no class column at all: line 6
    folder = _ml100k(tmp_path, item_lines=lines)
    before = snapshot(tmp_path)
    with pytest.raises(ValueError) as info:
        load_dataset("ml-100k", root=tmp_path)
    msg = str(info.value)
    assert re.search(r"ml-100k\.item:6: 2 tab-separated field\(s\), the header has 3 \(no 'class'\)", msg), msg
    assert "'5\\tMovie 5'" in msg
    assert main(["stats", "--dataset", "ml-100k", "--root", str(tmp_path)]) == 2
    assert f"{folder / 'ml-100k.item'}:6: 2 tab-separated field(s)" in one_line_error(capsys)
    lines[4] = "5\tMovie 5\tDrama\textra"                                # one field too many: the same rule
    _ml100k(tmp_path, item_lines=lines)
    with pytest.raises(ValueError, match=r"ml-100k\.item:6: 4 tab-separated field\(s\), the header has 3 "
                                         r"\(too many\)"):
        load_dataset("ml-100k", root=tmp_path)
    assert snapshot(tmp_path)["ml-100k/ml-100k.inter"] == before["ml-100k/ml-100k.inter"]


def test_an_inter_row_with_missing_columns_and_line_numbers_past_blank_lines(tmp_path):
    folder = _ml100k(tmp_path)
    text = (folder / "ml-100k.inter").read_text().splitlines()
    text[3] = "1\t3\t3"                                                # no timestamp: line 4
    (folder / "ml-100k.inter").write_text("\n".join(text) + "\n")
    with pytest.raises(ValueError, match=r"ml-100k\.inter:4: 3 tab-separated field\(s\), the header has 4 "
                                         r"\(no 'timestamp'\)"):
        load_dataset("ml-100k", root=tmp_path)
    folder = _ml100k(tmp_path)
    text = (folder / "ml-100k.inter").read_text().splitlines()
    text[5] = "1\t5\t3\tsoon"
    (folder / "ml-100k.inter").write_text("\n".join(text[:3] + ["", ""] + text[3:]) + "\n")   # 2 blank lines
    with pytest.raises(ValueError, match=r"ml-100k\.inter:8: column 'timestamp' must hold a number, got 'soon'"):
        load_dataset("ml-100k", root=tmp_path)


def test_exact_duplicate_interactions_are_kept_and_warned_once(tmp_path):
    rows = [(u, i, 3, 1000 * u + 10 * i) for u in range(1, 8) for i in range(1, 8)]
    rows.insert(3, rows[2])                                            # line 5 repeats line 4
    rows.append(rows[-1])
    _ml100k(tmp_path, inter_rows=rows)
    before = snapshot(tmp_path)
    with pytest.warns(UserWarning) as record:
        ds = load_dataset("ml-100k", root=tmp_path)
    dup = [str(w.message) for w in record if "duplicate" in str(w.message)]
    assert len(dup) == 1 and "\n" not in dup[0], dup
    assert "ml-100k.inter: 2 exact duplicate interaction(s)" in dup[0] and "line 5 repeats line 4" in dup[0], dup
    assert ds.n_interactions == 51                                     # kept: 49 + 2
    first = [ds.meta["id2item"][i] for i in ds.sequences[0].tolist()]
    assert first == [1, 2, 3, 3, 4, 5, 6, 7]
    assert snapshot(tmp_path) == before
    from srsupm_lab.data.loaders import read_movielens_atomic
    assert "duplicate" in (read_movielens_atomic.__doc__ or "")        # documented where it is decided


@pytest.mark.parametrize("where", ["user", "item", "item file"])
def test_two_spellings_of_one_id_are_refused_naming_both(tmp_path, capsys, where):
    rows = [(u, i, 3, 1000 * u + 10 * i) for u in range(1, 8) for i in range(1, 8)]
    lines = [f"{i}\tMovie {i}\tDrama Comedy" for i in range(1, 8)]
    if where == "user":
        rows[9] = ("02", *rows[9][1:])                              # user 2 is "2" from line 9, "02" on line 11
        pattern = r"ml-100k\.inter:11: column 'user_id' spells id 2 as '02', line 9 as '2'"
    elif where == "item":
        rows[20] = (rows[20][0], "7.0", *rows[20][2:])               # item 7 is "7" on line 8, "7.0" on line 22
        pattern = r"ml-100k\.inter:22: column 'item_id' spells id 7 as '7\.0', line 8 as '7'"
    else:
        lines[2] = "003\tMovie 3\tDrama"                             # .item line 4 against .inter line 4
        pattern = r"ml-100k\.item:4: column 'item_id' spells id 3 as '003', .*ml-100k\.inter:4 as '3'"
    _ml100k(tmp_path, inter_rows=rows, item_lines=lines)
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match=pattern):
        load_dataset("ml-100k", root=tmp_path)
    assert main(["stats", "--dataset", "ml-100k", "--root", str(tmp_path)]) == 2
    assert "as integers they would merge" in one_line_error(capsys)
    assert snapshot(tmp_path) == before


def _ml100k_zip(path: Path, data_lines, item_ids=range(1, 8)) -> Path:
    genres = "".join(f"{g}|{n}\n" for n, g in enumerate(["unknown", "Drama"]))
    items = "".join(f"{i}|Movie {i}|01-Jan-1995||http://x|0|1\n" for i in item_ids)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ml-100k/u.genre", genres)
        zf.writestr("ml-100k/u.data", "".join(data_lines))
        zf.writestr("ml-100k/u.item", items)
    return path


def test_the_movielens_original_refuses_two_spellings_and_warns_of_duplicates(tmp_path):
    from srsupm_lab.data.originals import read_movielens_100k
    data = [f"{u}\t{i}\t3\t{1000 * u + i}\n" for u in range(1, 4) for i in range(1, 8)]
    path = _ml100k_zip(tmp_path / "ml-100k.zip", data[:4] + ["1\t04\t3\t1004\n"] + data[4:])
    with pytest.raises(ValueError, match=r"u\.data, line 5: item id 4 spelled '04', line 4 as '4'"):
        read_movielens_100k(path)
    path = _ml100k_zip(tmp_path / "ml-100k.zip", data, item_ids=[1, 2, 3, 4, 5, 6, "007"])
    with pytest.raises(ValueError, match=r"u\.item, line 7: item id 7 spelled '007', .*u\.data, line 7 as '7'"):
        read_movielens_100k(path)
    path = _ml100k_zip(tmp_path / "ml-100k.zip", data + [data[0]])
    with pytest.warns(UserWarning, match=r"u\.data: 1 exact duplicate interaction\(s\) .*line 22 repeats line 1"):
        df, _ = read_movielens_100k(path)
    assert len(df) == 22                                               # kept


# ============================================================================ 3. sizes far beyond memory
@pytest.mark.parametrize("option, value", [("--max-len", "1000000000"), ("--dim", "1000000000"),
                                           ("--K", "100000000")])
def test_sizes_beyond_memory_are_one_line_before_any_allocation(tmp_path, capsys, monkeypatch, option, value):
    import srsupm_lab.memory as memory
    real = memory.available_memory
    # at most 64 GB, so that the K case (about 1 TB) is refused on any machine, as on a laptop
    monkeypatch.setattr(memory, "available_memory", lambda: min(real() or 64 * 10**9, 64 * 10**9))
    out = tmp_path / "run"
    tiny = list(TINY)
    if option in tiny:
        tiny[tiny.index(option) + 1] = value
    extra = ["--K", value] if option == "--K" else ["--K", "3"]
    assert main(["train", *tiny, "--srsupm", *extra, "--epochs", "1", "--out", str(out)]) == 2
    err = one_line_error(capsys)
    name = option.lstrip("-").replace("-", "_")
    assert err.startswith(f"error: TrainConfig: {name}={value} needs about "), err
    assert re.search(r"needs about [0-9.e+]+ [kMGTPE]?B \(.*×.*\) but [0-9.]+ [kMGTPE]?B are available", err), err
    assert not out.exists()                                             # no run folder left
    kept = tmp_path / "kept"                                            # a folder with files: unchanged
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    before = snapshot(kept)
    assert main(["train", *tiny, "--srsupm", *extra, "--epochs", "1", "--out", str(kept), "--overwrite"]) == 2
    one_line_error(capsys)
    assert snapshot(kept) == before


def test_check_memory_names_the_field_the_estimate_and_what_is_available():
    from srsupm_lab.config import TrainConfig
    from srsupm_lab.memory import check_memory, estimate_memory
    config = TrainConfig(dataset="synthetic", backbone="sasrec", dim=4096, max_len=50, device="cpu")
    with pytest.raises(ValueError) as info:
        check_memory(config, 12101, 22363, 150000, available=2 * 10**9)
    msg = str(info.value)
    assert msg.startswith("TrainConfig: dim=4096 needs about ") and msg.endswith("but 2.0 GB are available; "
                                                                                  "choose smaller sizes"), msg
    assert "item table 12102×4096×4 B×4" in msg and "\n" not in msg, msg
    paper = TrainConfig(dataset="synthetic", backbone="sasrec", method="srsupm", device="cpu")   # Beauty's sizes
    sizes = check_memory(paper, 12101, 22363, 150000, available=2 * 10**9)
    assert sizes == estimate_memory(paper, 12101, 22363, 150000) and sum(sizes.values()) < 10**9
    from srsupm_lab.memory import available_memory
    free = available_memory()
    assert free is None or (isinstance(free, int) and free > 0)


# ============================================================================ 4. config and checkpoint disagree
def test_diagnose_on_a_config_that_does_not_describe_the_checkpoint(tmp_path, capsys, tiny_run):
    out = copy_run(tiny_run, tmp_path / "run")
    config = json.loads((out / "config.json").read_text())
    config["dim"] = 16
    (out / "config.json").write_text(json.dumps(config, indent=2))
    before = snapshot(out)
    assert main(["diagnose", str(out)]) == 2
    err = one_line_error(capsys)
    assert f"checkpoint {out / 'checkpoint.pt'}: 'model' does not fit this model" in err, err
    assert re.search(r"\(e\.g\. \['[\w.]+'", err) and "stored [(" in err, err         # the first weight
    assert f"{out / 'config.json'} does not describe the model" in err, err
    assert snapshot(out) == before
    from srsupm_lab.experiment import load_trained
    with pytest.raises(ValueError, match=r"does not fit this model"):
        load_trained(out)


# ============================================================================ 5. a truncated config.json
@pytest.mark.parametrize("cut", [0, 1, 0.5, -2])
def test_a_truncated_config_json_names_file_and_line_for_train_and_diagnose(tmp_path, capsys, tiny_run, cut):
    out = copy_run(tiny_run, tmp_path / "run")
    data = (out / "config.json").read_bytes()
    (out / "config.json").write_bytes(data[: int(len(data) * cut) if isinstance(cut, float) else cut % len(data)])
    before = snapshot(out)
    for args in (["train", "--out", str(out), "--resume"], ["diagnose", str(out)]):
        assert main(args) == 2, args
        err = one_line_error(capsys)
        assert re.search(rf"{re.escape(str(out / 'config.json'))}:\d+: malformed JSON", err), (args, err)
        assert snapshot(out) == before


def test_a_stored_config_with_a_bad_value_names_file_and_line(tmp_path, capsys, tiny_run):
    out = copy_run(tiny_run, tmp_path / "run")
    text = (out / "config.json").read_text()
    lines = text.splitlines()
    at = next(n for n, line in enumerate(lines, 1) if line.strip().startswith('"method":'))
    (out / "config.json").write_text(text.replace('"method": "srsupm"', '"method": "nope"'))
    before = snapshot(out)
    for args in (["train", "--out", str(out), "--resume"], ["diagnose", str(out)]):
        assert main(args) == 2, args
        err = one_line_error(capsys)
        assert f"{out / 'config.json'}:{at}: TrainConfig.method: must be one of" in err and "'nope'" in err, err
    at = next(n for n, line in enumerate(lines, 1) if line.strip().startswith('"dim":'))
    (out / "config.json").write_text(text.replace('"dim": 8', '"dim": 0'))
    assert main(["diagnose", str(out)]) == 2
    assert f"{out / 'config.json'}:{at}: TrainConfig.dim: must be a positive integer, got 0" in one_line_error(capsys)


# ============================================================================ 6. an unsafe checkpoint: refused as such
class SomeClass:
    """Any class: ``torch.load(weights_only=True)`` will not build it."""

    def __init__(self):
        self.payload = [1, 2, 3]


def test_a_checkpoint_holding_python_objects_is_refused_as_such(tmp_path, capsys, tiny_run):
    from srsupm_lab.checkpoints import read_checkpoint
    path = tmp_path / "objects.pt"
    torch.save({"x": SomeClass()}, path)
    with pytest.raises(ValueError) as info:
        read_checkpoint(path)
    msg = str(info.value)
    assert msg.startswith(f"checkpoint {path} refused: not a plain weights file (it holds Python objects torch will "
                          f"not load safely: "), msg
    assert "SomeClass" in msg and "truncated" not in msg and "\n" not in msg and "\x1b" not in msg, msg
    legacy = tmp_path / "legacy.pt"                                    # the pre-zip format: the same refusal
    torch.save({"x": SomeClass()}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match=r"refused: not a plain weights file .*SomeClass"):
        read_checkpoint(legacy)
    data = (tiny_run / "checkpoint.pt").read_bytes()
    for name, content in (("half.pt", data[: len(data) // 2]), ("garbage.pt", bytes(range(256)) * 4)):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=r"cannot be read \(.*\): it is truncated or corrupt") as info:
            read_checkpoint(tmp_path / name)
        assert "refused" not in str(info.value)
    out = copy_run(tiny_run, tmp_path / "run")                        # at the CLI: one line, the folder intact
    (out / "checkpoint.pt").write_bytes(path.read_bytes())
    before = snapshot(out)
    capsys.readouterr()
    for args in (["train", *TINY, "--srsupm", "--K", "3", "--epochs", "2", "--out", str(out), "--resume"],
                 ["diagnose", str(out)]):
        assert main(args) == 2, args
        assert f"checkpoint {out / 'checkpoint.pt'} refused: not a plain weights file" in one_line_error(capsys)
        assert snapshot(out) == before


# ============================================================================ 7. demo checks its options first
def test_demo_with_a_bad_option_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "demo"
    for bad in (["--K", "1"], ["--epochs", "0"], ["--device", "tpu"], ["--max-len", "1000000000"]):
        assert main(["demo", *bad, "--quiet", "--out", str(out)]) == 2, bad
        err = one_line_error(capsys)
        assert "TrainConfig" in err, err
        assert not out.exists(), bad
    out.mkdir()
    (out / "comparison.csv").write_text("model,recall@10\nx,0.1\n")
    (out / "sasrec").mkdir()
    (out / "sasrec" / "notes.txt").write_text("mine")
    before = snapshot(out)
    assert main(["demo", "--K", "1", "--quiet", "--out", str(out)]) == 2
    assert "TrainConfig.K: must be at least 3" in one_line_error(capsys)
    assert snapshot(out) == before and sorted(p.name for p in out.iterdir()) == ["comparison.csv", "sasrec"]


# ============================================================================ report-only refusals (pinned)
def test_report_only_without_runs_leaves_the_reports_as_they_are(tmp_path, capsys):
    report = tmp_path / "report"
    report.mkdir()
    (report / "arms.csv").write_text("arm,recall@10\nsasrec,0.05\n")
    (report / "decisive.md").write_text("# kept\n")
    before = snapshot(report)
    assert main(["decisive", "--report-only", "--runs", str(tmp_path / "missing"), "--report", str(report)]) == 2
    assert "no finished run" in one_line_error(capsys)
    assert snapshot(report) == before and not (tmp_path / "missing").exists()
    runs = tmp_path / "runs"
    runs.mkdir()
    assert main(["reproduce", "--grid", "table1", "--datasets", "synthetic", "--report-only", "--runs", str(runs),
                 "--reports", str(report)]) == 2
    assert "no finished run" in one_line_error(capsys)
    assert snapshot(report) == before and list(runs.iterdir()) == []
