"""Raw-data loaders: k-core, time order, id maps, labels, file formats, download (no network).

Expected values are worked out by hand in the comments (or by a brute-force k-core that
removes one offending user/item at a time), never taken from the code under test. The raw
fixtures live in ``tests/fixtures/raw``; gzip and zip containers are built from them here.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srsupm_lab.data import download, originals
from srsupm_lab.data.download import ChecksumError, fetch
from srsupm_lab.data.originals import prepare_amazon, prepare_movielens_100k, prepare_yelp
from srsupm_lab.data.s3rec_layout import save_s3rec_layout
from srsupm_lab.data.preprocess import build_dataset, kcore_filter

RAW = Path(__file__).parent / "fixtures" / "raw"


def seqs(ds):
    return [s.tolist() for s in ds.sequences]


def names(ds, item):
    return sorted(ds.label_names[j] for j in ds.item_labels[item])


# ----------------------------------------------------------------------------- k-core
def brute_kcore(rows, k):
    """Remove ONE user or item with fewer than k rows at a time, until none is left."""
    rows = list(rows)
    while True:
        users, items = {}, {}
        for u, i in rows:
            users[u] = users.get(u, 0) + 1
            items[i] = items.get(i, 0) + 1
        bad_user = next((u for u, n in users.items() if n < k), None)
        if bad_user is not None:
            rows = [r for r in rows if r[0] != bad_user]
            continue
        bad_item = next((i for i, n in items.items() if n < k), None)
        if bad_item is not None:
            rows = [r for r in rows if r[1] != bad_item]
            continue
        return rows


def test_kcore_cascades_hand_computed():
    # k=2: u4 (1 row) goes -> item c drops to 1 row and goes -> u3 drops to 1 row and goes.
    df = pd.DataFrame({"user": ["u1", "u1", "u2", "u2", "u3", "u3", "u4"],
                       "item": ["a", "b", "a", "b", "a", "c", "c"]})
    out = kcore_filter(df, k=2)
    assert list(zip(out["user"], out["item"])) == [("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b")]
    assert out.index.tolist() == [0, 1, 2, 3]          # row order and index kept
    assert len(df) == 7                                 # input untouched
    assert len(kcore_filter(df, k=1)) == 7
    assert len(kcore_filter(df, k=3)) == 0              # nobody has 3 rows


def test_kcore_matches_brute_force_on_random_tables():
    rng = np.random.default_rng(0)
    for trial in range(20):
        n = int(rng.integers(20, 120))
        df = pd.DataFrame({"u": rng.integers(0, 15, n), "i": rng.integers(0, 12, n)})
        k = int(rng.integers(2, 6))
        got = kcore_filter(df, k=k, user="u", item="i")
        want = brute_kcore(zip(df["u"].tolist(), df["i"].tolist()), k)
        assert list(zip(got["u"].tolist(), got["i"].tolist())) == want, (trial, k)


def test_kcore_bad_input():
    df = pd.DataFrame({"user": [1], "item": [1]})
    with pytest.raises(ValueError, match="k must be a positive integer"):
        kcore_filter(df, k=0)
    with pytest.raises(KeyError, match="'uid'"):
        kcore_filter(df, user="uid")


# ----------------------------------------------------------------------------- build_dataset
def tie_table():
    return pd.DataFrame({"user": ["B", "A", "A", "B", "A", "B"],
                         "item": ["x", "y", "z", "y", "x", "w"],
                         "time": [5, 3, 3, 1, 1, 5]})


def test_build_dataset_time_order_ties_and_ids():
    # users by first appearance in the rows: B (row 0) then A.
    # B: y(t1) x(t5,row0) w(t5,row5)   A: x(t1) y(t3,row1) z(t3,row2)
    # items by first appearance along B then A: y=1 x=2 w=3 z=4
    with pytest.warns(UserWarning, match="2 of 4 items have no label"):
        ds = build_dataset(tie_table(), {"y": ["b", "a"], "x": ("a",), "w": []}, name="toy")
    assert seqs(ds) == [[1, 2, 3], [2, 1, 4]]
    assert ds.label_names == ["a", "b"]
    assert ds.item_labels == [frozenset(), frozenset({0, 1}), frozenset({0}), frozenset(), frozenset()]
    assert ds.meta["id2user"] == ["B", "A"]
    assert ds.meta["user2id"] == {"B": 1, "A": 2}
    assert ds.meta["id2item"] == [None, "y", "x", "w", "z"]
    assert ds.meta["item2id"] == {"y": 1, "x": 2, "w": 3, "z": 4}


def test_build_dataset_string_times_and_rare_labels():
    df = tie_table().assign(time=lambda d: d["time"].map(lambda t: f"2019-01-0{t} 00:00:00"))
    with pytest.warns(UserWarning, match="items have no label"):
        ds = build_dataset(df, {"y": ["b", "a"], "x": ["a"]}, name="toy", min_label_items=2)
    assert seqs(ds) == [[1, 2, 3], [2, 1, 4]]
    assert ds.label_names == ["a"]                      # "b" sits on one item only
    assert ds.item_labels[1] == frozenset({0})


def test_build_dataset_bad_input():
    with pytest.raises(ValueError, match="single string"):
        build_dataset(tie_table(), {"y": "ab"}, name="toy")
    with pytest.raises(ValueError, match="empty"):
        build_dataset(tie_table().iloc[:0], {}, name="toy")
    with pytest.raises(KeyError, match="'time'"):
        build_dataset(tie_table().drop(columns="time"), {}, name="toy")
    with pytest.raises(ValueError, match="missing values"):
        build_dataset(tie_table().assign(time=[1, None, 2, 3, 4, 5]), {}, name="toy")


# ----------------------------------------------------------------------------- Amazon
def gzip_to(src: Path, dest: Path, edit=None) -> Path:
    text = src.read_text(encoding="utf-8")
    if edit is not None:
        text = edit(text)
    with gzip.open(dest, "wt", encoding="utf-8") as f:
        f.write(text)
    return dest


@pytest.fixture
def amazon_root(tmp_path):
    root = tmp_path / "amazon"
    root.mkdir()
    for name in ("reviews_Beauty_5.json", "meta_Beauty.json"):
        gzip_to(RAW / "amazon" / name, root / (name + ".gz"))
    return root


def test_prepare_amazon(amazon_root, tmp_path):
    # k=2: U4 (1 review) goes, then I4 (1 review left) goes. U1: I1 t100 row1, I2 t100 row4 (tie
    # -> file order); U2: I2 t150, I1 t200, I3 t250; U3: I3 t100, I1 t300. Ids: I1=1 I2=2 I3=3.
    with pytest.warns(UserWarning, match="1 of 3 items have no label"):
        ds = prepare_amazon("Beauty", amazon_root, k=2, download=False, progress=False, out=tmp_path / "out")
    assert ds.name == "Beauty"
    assert seqs(ds) == [[1, 2], [2, 1, 3], [3, 1]]
    assert ds.meta["id2user"] == ["U1", "U2", "U3"]
    assert ds.meta["id2item"] == [None, "I1", "I2", "I3"]
    # roots dropped from every path ("Beauty", "Health & Personal Care"); labels of dropped or
    # unreviewed items (I4 "Nails", I9 "Unused Category") are not in the vocabulary
    assert ds.label_names == ["Face", "Lips", "Makeup", "Personal Care", "Skin Care"]
    assert names(ds, 1) == ["Lips", "Makeup"]
    assert names(ds, 2) == ["Face", "Personal Care", "Skin Care"]
    assert names(ds, 3) == []                           # only the root category

    # S3-Rec layout, read back by hand
    out = tmp_path / "out"
    lines = (out / "Beauty.txt").read_text().splitlines()
    assert lines == ["1 1 2", "2 2 1 3", "3 3 1"]
    cats = json.loads((out / "Beauty_item2categories.json").read_text())
    assert cats == {"1": ["Lips", "Makeup"], "2": ["Face", "Personal Care", "Skin Care"], "3": []}
    maps = json.loads((out / "datamaps.json").read_text())
    assert maps["item2id"] == {"I1": "1", "I2": "2", "I3": "3"} and maps["id2user"]["2"] == "U2"
    assert sorted(p.name for p in out.iterdir()) == ["Beauty.txt", "Beauty_item2categories.json", "datamaps.json"]


def test_prepare_amazon_5core_of_tiny_fixture_is_empty(amazon_root):
    with pytest.raises(ValueError, match="empty"):
        prepare_amazon("Beauty", amazon_root, download=False, progress=False)


def test_amazon_malformed_lines_name_file_and_line(tmp_path):
    # line 8 (after the blank line 7) of the review file is cut short
    reviews = RAW / "amazon" / "reviews_Beauty_5.json"
    bad = gzip_to(reviews, tmp_path / "reviews_Beauty_5.json.gz",
                  lambda t: t.replace('"Soap again.", "overall"', '"Soap again'))
    with pytest.raises(ValueError, match=r"reviews_Beauty_5\.json\.gz, line 8: cannot parse"):
        originals.read_amazon_reviews(bad)
    bad = gzip_to(reviews, tmp_path / "reviews_Beauty_5.json.gz", lambda t: t.replace('"unixReviewTime": 300, ', ""))
    with pytest.raises(ValueError, match=r"reviews_Beauty_5\.json\.gz, line 3: missing field 'unixReviewTime'"):
        originals.read_amazon_reviews(bad)
    # meta line 3 (item I2, needed) is not a dict literal any more
    meta = gzip_to(RAW / "amazon" / "meta_Beauty.json", tmp_path / "meta_Beauty.json.gz",
                   lambda t: t.replace("'Personal Care']]}", "'Personal Care']"))
    with pytest.raises(ValueError, match=r"meta_Beauty\.json\.gz, line 3"):
        originals.read_amazon_meta(meta, {"I1", "I2"})


def test_prepare_amazon_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown Amazon 2014 category 'Beuty'.*Beauty"):
        prepare_amazon("Beuty", tmp_path)
    with pytest.raises(FileNotFoundError, match="reviews_Beauty_5.json.gz.*snap.stanford.edu"):
        prepare_amazon("Beauty", tmp_path, download=False)


def test_prepare_amazon_downloads_missing_files(amazon_root, tmp_path, monkeypatch):
    # point the URL table at local file:// copies: prepare_amazon must fetch both files into root
    monkeypatch.setitem(originals.SOURCES, "amazon_reviews", (amazon_root.as_uri() + "/reviews_{category}_5.json.gz", None))
    monkeypatch.setitem(originals.SOURCES, "amazon_meta", (amazon_root.as_uri() + "/meta_{category}.json.gz", None))
    root = tmp_path / "fresh"
    with pytest.warns(UserWarning):
        ds = prepare_amazon("Beauty", root, k=2, progress=False)
    assert seqs(ds) == [[1, 2], [2, 1, 3], [3, 1]]
    assert sorted(p.name for p in root.iterdir()) == ["meta_Beauty.json.gz", "reviews_Beauty_5.json.gz"]


# ----------------------------------------------------------------------------- MovieLens
def make_ml100k_zip(dest: Path, u_data: bytes | None = None) -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        zf.writestr("ml-100k/", "")
        for name in ("u.data", "u.item", "u.genre"):
            data = (RAW / "ml-100k" / name).read_bytes()
            zf.writestr(f"ml-100k/{name}", u_data if (name == "u.data" and u_data is not None) else data)
    return dest


def test_prepare_movielens_100k(tmp_path):
    make_ml100k_zip(tmp_path / "ml-100k.zip")
    # k=2 drops user 4 / item 4. Users in file order 1, 2, 3.
    # user 1: item 3 (t90), item 1 (t100, line 1), item 2 (t100, line 3)  -> raw 3=1, 1=2, 2=3
    # user 2: item 1 (t50), item 2 (t60); user 3: item 3 (t10), item 1 (t20)
    ds = prepare_movielens_100k(tmp_path, k=2, download=False, progress=False)
    assert ds.name == "ml-100k"
    assert seqs(ds) == [[1, 2, 3], [2, 3], [1, 2]]
    assert ds.meta["id2item"] == [None, 3, 1, 2]
    assert ds.label_names == ["Action", "Adventure", "Animation", "Children's", "Comedy", "Thriller"]
    assert names(ds, 1) == ["Thriller"]                                   # Four Rooms
    assert names(ds, 2) == ["Animation", "Children's", "Comedy"]          # Toy Story
    assert names(ds, 3) == ["Action", "Adventure", "Thriller"]            # GoldenEye

    table, labels = originals.read_movielens_100k(tmp_path / "ml-100k.zip")
    assert len(table) == 8 and labels[4] == ["Action", "Comedy", "Drama"]   # latin-1 title line parsed


def test_movielens_malformed_line(tmp_path):
    bad = (RAW / "ml-100k" / "u.data").read_bytes() + b"5\t1\tx\t7\n"
    make_ml100k_zip(tmp_path / "ml-100k.zip", u_data=bad)
    with pytest.raises(ValueError, match=r"ml-100k\.zip:ml-100k/u\.data, line 9"):
        prepare_movielens_100k(tmp_path, k=2, download=False, progress=False)


# ----------------------------------------------------------------------------- Yelp
@pytest.fixture
def yelp_root(tmp_path):
    root = tmp_path / "yelp"
    shutil.copytree(RAW / "yelp", root)
    return root


def test_prepare_yelp_s3rec_dates(yelp_root):
    # S3-Rec window keeps r1 r2 r3 r4 r6 r7 (r5 is 2018, r8 is after 2019-12-31 00:00:00, r9 is 2020).
    # k=2: uc has only b3 -> goes, then b3 (ua only) goes. ua: b1, b2 (same time, file order); ub: b1, b2.
    with pytest.warns(UserWarning, match="1 of 2 items have no label"):
        ds = prepare_yelp(yelp_root, k=2, progress=False)
    assert ds.name == "Yelp"
    assert seqs(ds) == [[1, 2], [1, 2]]
    assert ds.meta["id2user"] == ["ua", "ub"] and ds.meta["id2item"] == [None, "b1", "b2"]
    assert ds.label_names == ["Restaurants", "Soup", "Vietnamese"]
    assert names(ds, 1) == ["Restaurants", "Soup", "Vietnamese"]
    assert names(ds, 2) == []                                             # categories: null


def test_prepare_yelp_all_dates(yelp_root):
    # ua: b3 (01-15), b1 (03-01 r1), b2 (03-01 r3) -> b3=1 b1=2 b2=3
    # ub: b1 (02-01), b2 (05-01), b3 (2020);  uc: b1 (2018), b3 (06-01), b2 (12-31 12:00)
    with pytest.warns(UserWarning):
        ds = prepare_yelp(yelp_root, dates=None, k=2, progress=False)
    assert seqs(ds) == [[1, 2, 3], [2, 3, 1], [2, 1, 3]]
    assert ds.label_names == ["Food", "Restaurants", "Soup", "Vietnamese"]
    assert names(ds, 1) == ["Food", "Restaurants"]                        # duplicate "Food" once


def test_yelp_missing_files_message(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        prepare_yelp(tmp_path)
    msg = str(err.value)
    assert "manual download" in msg and "https://www.yelp.com/dataset" in msg
    for name in originals.YELP_FILES:
        assert str(tmp_path / name) in msg
    (tmp_path / originals.YELP_FILES[0]).write_text("")
    with pytest.raises(FileNotFoundError, match="yelp_academic_dataset_business.json is missing"):
        prepare_yelp(tmp_path)


def test_yelp_malformed_line(yelp_root):
    path = yelp_root / "yelp_academic_dataset_review.json"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace('"date":"2019-05-01 00:00:00"', '"when":"2019-05-01"')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"yelp_academic_dataset_review\.json, line 4: missing field 'date'"):
        prepare_yelp(yelp_root, k=2, progress=False)


# ----------------------------------------------------------------------------- save_s3rec_layout
def test_save_s3rec_layout_overwrites_atomically(tmp_path):
    with pytest.warns(UserWarning):
        ds = build_dataset(tie_table(), {"y": ["b", "a"], "x": ["a"]}, name="toy")
    (tmp_path / "toy.txt").write_text("old content\n")
    paths = save_s3rec_layout(ds, tmp_path)
    assert paths["sequences"].read_text() == "1 1 2 3\n2 2 1 4\n"
    assert json.loads(paths["labels"].read_text()) == {"1": ["a", "b"], "2": ["a"], "3": [], "4": []}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["datamaps.json", "toy.txt", "toy_item2categories.json"]
    with pytest.raises(ValueError, match="file name"):
        save_s3rec_layout(ds.with_labels(ds.item_labels, suffix="/x"), tmp_path)


# ----------------------------------------------------------------------------- fetch
@pytest.fixture
def source(tmp_path):
    src = tmp_path / "src" / "data.bin"
    src.parent.mkdir()
    src.write_bytes(bytes(range(256)) * 4000)          # ~1 MB: more than one read chunk
    return src


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_fetch_file_url_and_checksum(source, tmp_path):
    dest = tmp_path / "dl" / "data.bin"
    out = fetch(source.as_uri(), dest, sha256=digest(source.read_bytes()).upper(), progress=True)
    assert out == dest and dest.read_bytes() == source.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["data.bin"]


def test_fetch_checksum_mismatch_writes_nothing(source, tmp_path):
    dest = tmp_path / "dl" / "data.bin"
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as err:
        fetch(source.as_uri(), dest, sha256=wrong, progress=False)
    msg = str(err.value)
    assert "data.bin" in msg and wrong in msg and digest(source.read_bytes()) in msg
    assert list(dest.parent.iterdir()) == []           # no file, no temporary left behind


def test_fetch_skips_valid_file_and_replaces_invalid(source, tmp_path):
    dest = tmp_path / "data.bin"
    good = digest(source.read_bytes())
    fetch(source.as_uri(), dest, sha256=good, progress=False)
    source.write_bytes(b"changed upstream")
    fetch(source.as_uri(), dest, sha256=good, progress=False)    # present and valid: not fetched
    fetch(source.as_uri(), dest, progress=False)                 # present, no checksum: not fetched
    assert digest(dest.read_bytes()) == good
    dest.write_bytes(b"corrupt")                                 # present but invalid: fetched again
    fetch(source.as_uri(), dest, sha256=digest(b"changed upstream"), progress=False)
    assert dest.read_bytes() == b"changed upstream"


def test_fetch_interrupted_download_keeps_old_file(source, tmp_path, monkeypatch):
    dest = tmp_path / "data.bin"
    dest.write_bytes(b"old copy")

    class Broken:
        headers = {"Content-Length": "1000000"}

        def __init__(self):
            self.calls = 0

        def read(self, n):
            self.calls += 1
            if self.calls > 1:
                raise OSError("connection reset")
            return b"x" * 1000

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(download.urllib.request, "urlopen", lambda url, timeout: Broken())
    with pytest.raises(OSError, match="connection reset"):
        fetch("https://example.invalid/data.bin", dest, sha256=digest(source.read_bytes()), progress=False)
    assert dest.read_bytes() == b"old copy"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_fetch_unreachable_url(tmp_path):
    missing = tmp_path / "nowhere" / "file.zip"
    with pytest.raises(ConnectionError, match="could not download file://.*offline"):
        fetch(missing.as_uri(), tmp_path / "file.zip", progress=False)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- command line
def test_cli_builds_a_loadable_s3rec_folder(amazon_root, tmp_path, capsys):
    from srsupm_lab.data import load_dataset

    out = tmp_path / "data"
    argv = ["amazon", "Beauty", "--raw", str(amazon_root), "--out", str(out), "--k", "2", "--no-download", "--quiet"]
    with pytest.warns(UserWarning, match="1 of 3 items have no label"):
        assert originals.main(argv) == 0
    printed = capsys.readouterr().out
    assert f"{out / 'Beauty'}: 3 users, 3 items, 7 interactions, 5 labels" in printed
    # the folder is where load_dataset looks for "beauty" under root (same sequences as test_prepare_amazon)
    with pytest.warns(UserWarning, match="item"):
        ds = load_dataset("beauty", root=out)
    assert seqs(ds) == [[1, 2], [2, 1, 3], [3, 1]]
    assert names(ds, 2) == ["Face", "Personal Care", "Skin Care"]

    # a second build into the same folder is refused unless --overwrite, and leaves the files as they were
    before = {p.name: p.read_bytes() for p in (out / "Beauty").iterdir()}
    assert originals.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--overwrite" in err and str(out / "Beauty") in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in (out / "Beauty").iterdir()} == before
    with pytest.warns(UserWarning):
        assert originals.main(argv + ["--overwrite"]) == 0


def test_cli_movielens_and_yelp(tmp_path, yelp_root, capsys):
    from srsupm_lab.data import load_dataset

    make_ml100k_zip(tmp_path / "ml-100k.zip")
    out = tmp_path / "data"
    assert originals.main(["movielens", "--raw", str(tmp_path), "--out", str(out), "--k", "2",
                           "--no-download", "--quiet"]) == 0
    assert seqs(load_dataset(out / "ml-100k-s3rec")) == [[1, 2, 3], [2, 3], [1, 2]]
    with pytest.warns(UserWarning):
        assert originals.main(["yelp", "--raw", str(yelp_root), "--out", str(out), "--k", "2", "--all-dates",
                               "--quiet"]) == 0
    with pytest.warns(UserWarning):
        assert seqs(load_dataset("yelp", root=out)) == [[1, 2, 3], [2, 3, 1], [2, 1, 3]]   # as prepare_yelp_all_dates


def test_cli_errors_say_what_and_where(tmp_path, capsys):
    assert originals.main(["amazon", "Beuty", "--raw", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "unknown Amazon 2014 category 'Beuty'" in err and err.count("\n") == 1
    assert originals.main(["amazon", "Beauty", "--raw", str(tmp_path), "--out", str(tmp_path / "o"),
                           "--no-download"]) == 2
    err = capsys.readouterr().err
    assert "reviews_Beauty_5.json.gz is missing" in err and "snap.stanford.edu" in err
    assert originals.main(["yelp", "--raw", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "https://www.yelp.com/dataset" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()                   # nothing written on failure
