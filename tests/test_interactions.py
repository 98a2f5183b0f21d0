"""Your own interaction data (srsupm_lab.data.interactions): CSV, TSV, Parquet and DataFrames of
``user, item, timestamp`` rows -> SequenceDataset. Every fixture is written here, under tmp_path."""
import importlib.util
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from srsupm_lab.data import (SequenceDataset, dataset_from_frame, leave_one_out, load_dataset, read_interactions,
                             read_item_labels)

# most tests read label-free tables; the warning that says so is tested on its own
pytestmark = pytest.mark.filterwarnings("ignore:.*no labels given:UserWarning")

HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None


def _csv(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def _raw(ds):
    """Each user's sequence in raw ids, ``{raw user: [raw item, ...]}``, in dataset order."""
    return {ds.meta["id2user"][u]: [ds.meta["id2item"][i] for i in s.tolist()] for u, s in enumerate(ds.sequences)}


def _labels(ds):
    """``{raw item: {label name, ...}}``."""
    return {ds.meta["id2item"][i]: {ds.label_names[j] for j in ds.item_labels[i]} for i in range(1, ds.n_items + 1)}


def _same(a, b):
    assert [s.tolist() for s in a.sequences] == [s.tolist() for s in b.sequences]
    assert a.item_labels == b.item_labels and a.label_names == b.label_names
    for key in ("id2user", "id2item", "user2id", "item2id"):
        assert a.meta[key] == b.meta[key], key


# ---------------------------------------------------------------- a small file, by hand
HAND = ("user,item,timestamp\n"
        "bob,pen,20\n"        # line 2
        "ann,cup,10\n"        # line 3
        "bob,cup,10\n"        # line 4
        "ann,pen,10\n"        # line 5: same time as line 3, so after it
        "bob,ink,20\n"        # line 6: same time as line 2, so after it
        "ann,ink,5\n")        # line 7


def test_hand_written_csv_orders_by_time_breaks_ties_by_file_order_and_remaps(tmp_path):
    ds = read_interactions(_csv(tmp_path / "shop.csv", HAND), k=None)
    # users by first appearance in the file: bob (line 2) = user 1, ann = user 2
    # bob by time: cup 10, pen 20 (line 2), ink 20 (line 6); ann: ink 5, cup 10 (line 3), pen 10 (line 5)
    # items by first appearance along bob's then ann's sequence: cup = 1, pen = 2, ink = 3
    assert [s.tolist() for s in ds.sequences] == [[1, 2, 3], [3, 1, 2]]
    assert ds.meta["id2user"] == ["bob", "ann"] and ds.meta["user2id"] == {"bob": 1, "ann": 2}
    assert ds.meta["id2item"] == [None, "cup", "pen", "ink"] and ds.meta["item2id"] == {"cup": 1, "pen": 2, "ink": 3}
    assert ds.name == "shop" and ds.n_labels == 0 and ds.item_labels == [frozenset()] * 4
    assert ds.meta["time"] == "number" and ds.meta["kcore"] is None and ds.meta["duplicates"] == 0
    assert isinstance(ds, SequenceDataset)


def test_no_labels_is_said_once(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_interactions(_csv(tmp_path / "shop.csv", HAND), k=None)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "no labels given" in messages[0] and "shop.csv" in messages[0]


def test_dates_iso_offsets_and_a_given_format(tmp_path):
    text = ("user,item,time\n"
            "u,a,2020-01-01 09:00\n"                  # 09:00 UTC
            "u,b,2020-01-01T10:00:00+02:00\n"         # 08:00 UTC: first
            "u,c,2020-01-02\n"
            "u,d,2019-12-31T23:59:59Z\n")             # the oldest
    ds = read_interactions(_csv(tmp_path / "d.csv", text), k=None)
    assert _raw(ds) == {"u": ["d", "b", "a", "c"]} and ds.meta["time"] == "date"
    text = "user,item,time\nu,a,02/01/2020\nu,b,01/02/2020\nu,c,03/01/2020\n"          # day/month/year
    ds = read_interactions(_csv(tmp_path / "f.csv", text), k=None, time_format="%d/%m/%Y")
    assert _raw(ds) == {"u": ["a", "c", "b"]}
    with pytest.raises(ValueError, match=r"f\.csv:2: column 'time': time '02/01/2020' is neither a number nor "
                                         r"an ISO 8601"):
        read_interactions(tmp_path / "f.csv", k=None)


def test_ids_are_text_012_and_12_are_two_items(tmp_path):
    text = "user,item,timestamp\n007,012,1\n7,12,2\n007,12,3\n7, 012 ,4\n"
    ds = read_interactions(_csv(tmp_path / "ids.csv", text), k=None)
    assert _raw(ds) == {"007": ["012", "12"], "7": ["12", "012"]}       # " 012 " is "012": blanks stripped
    assert ds.n_users == 2 and ds.n_items == 2
    frame = pd.DataFrame({"user": ["007", "7"], "item": ["012", 12], "timestamp": [1, 2]})
    ds = dataset_from_frame(frame, k=None)
    assert ds.meta["id2item"] == [None, "012", "12"]                    # the integer 12 is the text "12"


# ---------------------------------------------------------------- Parquet and DataFrames
def _frame(seed=0, n=400):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer": rng.integers(1, 40, n),                            # integer user ids
        "sku": [f"S{x:03d}" for x in rng.integers(1, 30, n)],
        "ts": rng.integers(0, 50, n),                                  # many ties
    })


@pytest.mark.filterwarnings("ignore:.*exact duplicate:UserWarning")
def test_dataframe_input_matches_the_same_table_as_csv(tmp_path):
    df = _frame()
    a = dataset_from_frame(df, user="customer", item="sku", time="ts", k=3, name="shop")
    df.to_csv(tmp_path / "shop.csv", index=False)
    b = read_interactions(tmp_path / "shop.csv", user="customer", item="sku", time="ts", k=3)
    _same(a, b)
    assert a.name == b.name == "shop" and a.meta["kcore"] == 3


@pytest.mark.skipif(not HAS_PYARROW, reason="pyarrow is not installed (pip install pyarrow): Parquet cannot be read")
@pytest.mark.filterwarnings("ignore:.*exact duplicate:UserWarning")
def test_parquet_round_trip(tmp_path):
    df = _frame(1)
    df["genres"] = [["x", "y"] if s < "S010" else ["z"] for s in df["sku"]]
    df.to_parquet(tmp_path / "shop.parquet")
    a = read_interactions(tmp_path / "shop.parquet", user="customer", item="sku", time="ts", label_column="genres",
                          k=3)
    b = dataset_from_frame(df, user="customer", item="sku", time="ts", label_column="genres", k=3, name="shop")
    _same(a, b)
    assert a.label_names == ["x", "y", "z"] and a.name == "shop"
    _same(load_dataset(tmp_path / "shop.parquet", user="customer", item="sku", time="ts", label_column="genres",
                       k=3), a)
    bad = df.astype({"ts": str})
    bad.loc[5, "ts"] = "soon"
    bad.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match=r"bad\.parquet, row 6: column 'ts': time 'soon' is not a number"):
        read_interactions(tmp_path / "bad.parquet", user="customer", item="sku", time="ts")


def test_parquet_without_pyarrow_says_what_to_install(tmp_path, monkeypatch):
    import builtins

    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    real = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow":
            raise ImportError("no pyarrow")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(ImportError, match=r"x\.parquet: reading Parquet needs pyarrow \(pip install pyarrow\)"):
        read_interactions(tmp_path / "x.parquet")


def test_dataframe_errors_name_the_row_and_index():
    df = pd.DataFrame({"user": ["a", None, "c"], "item": ["x", "y", "z"], "timestamp": [1, 2, 3]},
                      index=["r1", "r2", "r3"])
    with pytest.raises(ValueError, match=r"^DataFrame, row 2 \(index 'r2'\): missing user value in column 'user' "
                                         r"\(got (None|nan)\)$"):                  # pandas 3 stores None as nan
        dataset_from_frame(df, k=None)
    df = pd.DataFrame({"user": ["a", "b"], "item": [1.0, 2.0], "timestamp": [1, 2]})
    with pytest.raises(ValueError, match=r"column 'item' holds floats \(got 1\.0\).*cast the column to int or str"):
        dataset_from_frame(df, k=None)
    df = pd.DataFrame({"user": ["a", "b"], "item": [1, 2], "timestamp": [1.0, np.nan]})
    with pytest.raises(ValueError, match=r"row 2 \(index 1\): missing time value in column 'timestamp' \(got nan\)"):
        dataset_from_frame(df, k=None)
    df = pd.DataFrame({"user": ["a", "b"], "item": [1, 2],
                       "timestamp": pd.to_datetime(["2020-01-02", "2020-01-01"])})
    assert _raw(dataset_from_frame(df, k=None)) == {"a": ["1"], "b": ["2"]}
    df = pd.DataFrame({"user": ["a", "b"], "item": [1, 2], "timestamp": pd.array([5, None], dtype="Int64")})
    with pytest.raises(ValueError, match=r"row 2 \(index 1\): missing time value in column 'timestamp'"):
        dataset_from_frame(df, k=None)
    with pytest.raises(ValueError, match=r"item_labels: keys '12' and 12 name the same item '12'"):
        dataset_from_frame(df.fillna(1), k=None, item_labels={"12": ["A"], 12: ["B"]})
    with pytest.raises(TypeError, match="expects a pandas DataFrame"):
        dataset_from_frame([("a", "x", 1)])


# ---------------------------------------------------------------- labels, both ways
LABELLED = ("user,item,timestamp,genres\n"
            "u1,m1,1,Drama|Comedy\n"
            "u1,m2,2,Horror\n"
            "u2,m1,3,\n"                       # empty: not given on this row
            "u2,m3,4,\n"                       # m3: no label anywhere
            "u2,m2,5, Horror \n"
            "u3,m1,6,Comedy|Drama\n")          # the same set in another order


def test_labels_from_a_column_an_item_table_a_frame_and_a_mapping_agree(tmp_path):
    with pytest.warns(UserWarning, match=r"1 of 3 items have no label"):
        a = read_interactions(_csv(tmp_path / "m.csv", LABELLED), k=None, label_column="genres")
    assert _labels(a) == {"m1": {"Drama", "Comedy"}, "m2": {"Horror"}, "m3": set()}
    assert a.label_names == ["Comedy", "Drama", "Horror"]
    _csv(tmp_path / "plain.csv", "\n".join(",".join(r.split(",")[:3]) for r in LABELLED.splitlines()) + "\n")
    _csv(tmp_path / "items.csv", "item,labels\nm2,Horror\nm9,Western\nm1,Drama|Comedy\nm3,\n")
    _csv(tmp_path / "items.tsv", "item\tgenre\nm1\tDrama;Comedy\nm2\tHorror\n")
    with pytest.warns(UserWarning, match="no label"):
        b = read_interactions(tmp_path / "plain.csv", k=None, item_labels=tmp_path / "items.csv")
        c = read_interactions(tmp_path / "plain.csv", k=None, item_labels=tmp_path / "items.tsv",
                              label_column="genre", label_sep=";")
        d = dataset_from_frame(pd.read_csv(tmp_path / "plain.csv", dtype=str), k=None, name="plain",
                               item_labels=pd.DataFrame({"item": ["m1", "m2"], "labels": [["Drama", "Comedy"],
                                                                                          ["Horror"]]}))
        e = read_interactions(tmp_path / "plain.csv", k=None, item_labels={"m1": "Drama|Comedy", "m2": ["Horror"]})
    for other in (b, c, d, e):
        _same(a, other)
    assert read_item_labels(tmp_path / "items.csv") == {"m2": ["Horror"], "m9": ["Western"],
                                                        "m1": ["Drama", "Comedy"], "m3": []}
    # the item table's item column may carry the interactions' name for it
    renamed = pd.read_csv(tmp_path / "plain.csv", dtype=str).rename(columns={"item": "movie"})
    with pytest.warns(UserWarning, match="no label"):
        f = dataset_from_frame(renamed, item="movie", k=None, item_labels=pd.DataFrame(
            {"movie": ["m1", "m2"], "labels": ["Drama|Comedy", "Horror"]}))
    _same(a, f)


def test_label_errors(tmp_path):
    _csv(tmp_path / "c.csv", "user,item,timestamp,genres\nu1,m1,1,A|B\nu2,m2,2,C\nu2,m1,3,A\n")
    with pytest.raises(ValueError, match=r"c\.csv:4: column 'genres': item 'm1' has labels 'A' here but 'A\|B' on "
                                         r"line 2"):
        read_interactions(tmp_path / "c.csv", k=None, label_column="genres")
    _csv(tmp_path / "items.csv", "item,labels\nm1,A\nm2,B\nm1,C\n")
    with pytest.raises(ValueError, match=r"items\.csv:4: item 'm1' is listed again \(first on line 2\)"):
        read_interactions(tmp_path / "c.csv", k=None, item_labels=tmp_path / "items.csv")
    _csv(tmp_path / "cats.csv", "item,category\nm1,A\n")
    with pytest.raises(ValueError, match=r"cats\.csv:1: no column 'labels' \(the labels column\); the columns found "
                                         r"are \['item', 'category'\]"):
        read_interactions(tmp_path / "c.csv", k=None, item_labels=tmp_path / "cats.csv")
    df = pd.DataFrame({"user": ["a"], "item": ["x"], "timestamp": [1], "genres": [3]})
    with pytest.raises(ValueError, match=r"row 1 \(index 0\): column 'genres': labels must be a '\|'-separated "
                                         r"string or a list of strings, got int 3"):
        dataset_from_frame(df, k=None, label_column="genres")


# ---------------------------------------------------------------- k-core against a brute-force reference
def _brute_kcore(rows, k):
    """Remove, one at a time, any row whose user or item has fewer than k rows, until none does."""
    rows = list(rows)
    changed = True
    while changed:
        changed = False
        users = {r[1]: sum(1 for x in rows if x[1] == r[1]) for r in rows}
        items = {r[2]: sum(1 for x in rows if x[2] == r[2]) for r in rows}
        for r in rows:
            if users[r[1]] < k or items[r[2]] < k:
                rows.remove(r)
                changed = True
                break
    out = {}
    for pos, user, item, t in sorted(rows, key=lambda r: (r[3], r[0])):          # time, then file order
        out.setdefault(user, []).append(item)
    first = {}
    for pos, user, _, _ in sorted(rows):
        first.setdefault(user, pos)
    return {u: out[u] for u in sorted(out, key=first.get)}


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_kcore_matches_a_brute_force_reference(tmp_path, k):
    rng = np.random.default_rng(k)
    n = 300
    users = [f"u{x}" for x in rng.integers(0, 30, n)]
    items = [f"i{x}" for x in rng.integers(0, 25, n)]
    times = rng.integers(0, 20, n).tolist()
    rows = "".join(f"{u},{i},{t}\n" for u, i, t in zip(users, items, times))
    _csv(tmp_path / "r.csv", "user,item,timestamp\n" + rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                                  # the random rows hold duplicates
        ds = read_interactions(tmp_path / "r.csv", k=k)
    ref = _brute_kcore(zip(range(n), users, items, times), k)
    assert _raw(ds) == ref
    assert min(ds.lengths()) >= k and min(np.bincount(np.concatenate(ds.sequences))[1:]) >= k
    assert ds.meta["rows_before_kcore"] == n and ds.n_interactions == sum(map(len, ref.values()))


def test_kcore_default_is_5_and_an_empty_result_is_one_line(tmp_path):
    path = _csv(tmp_path / "shop.csv", HAND)
    with pytest.raises(ValueError) as err:
        read_interactions(path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{path}: the 5-core filter leaves no interaction")
    assert "6 interactions, 2 users, 3 items" in msg and "of one user: 3, of one item: 2" in msg and "k=None" in msg
    with pytest.raises(ValueError, match="k must be a positive integer or None"):
        read_interactions(path, k=0)


# ---------------------------------------------------------------- errors: file, line, value
def test_missing_column_names_the_columns_found(tmp_path):
    path = _csv(tmp_path / "c.csv", "user,product,timestamp\nu,p,1\n")
    with pytest.raises(ValueError, match=r"c\.csv:1: no column 'item' \(the item column\); the columns found are "
                                         r"\['user', 'product', 'timestamp'\]"):
        read_interactions(path)
    path = _csv(tmp_path / "t.csv", "user,item,when\nu,p,1\n")
    with pytest.raises(ValueError, match=r"t\.csv:1: no time column: neither 'timestamp' nor 'time' .*"
                                         r"\['user', 'item', 'when'\]"):
        read_interactions(path)
    assert read_interactions(path, time="when", k=None).n_interactions == 1


def test_empty_file_and_header_only(tmp_path):
    with pytest.raises(ValueError, match=r"e\.csv:1: the file is empty \(got ''"):
        read_interactions(_csv(tmp_path / "e.csv", ""))
    with pytest.raises(ValueError, match=r"h\.csv:2: no data rows after the header \(line 1: 'user,item,timestamp'\)"):
        read_interactions(_csv(tmp_path / "h.csv", "user,item,timestamp\n"))


def test_malformed_timestamps_are_errors_never_dropped_rows(tmp_path):
    path = _csv(tmp_path / "t.csv", "user,item,timestamp\nu,a,1\nu,b,2\nu,c,3x\nu,d,4\n")
    with pytest.raises(ValueError, match=r"^\S*t\.csv:4: column 'timestamp': time '3x' is not a number \(the column "
                                         r"holds numbers, e\.g\. '1' on line 2\)$"):
        read_interactions(path, k=None)
    path = _csv(tmp_path / "d.csv", "user,item,timestamp\nu,a,2020-01-01\nu,b,2020-02-30\nu,c,2020-03-01\n")
    with pytest.raises(ValueError, match=r"d\.csv:3: column 'timestamp': time '2020-02-30' is neither a number nor "
                                         r"an ISO 8601 date/time"):
        read_interactions(path, k=None)
    path = _csv(tmp_path / "i.csv", "user,item,timestamp\nu,a,1\nu,b,inf\n")
    with pytest.raises(ValueError, match=r"i\.csv:3: column 'timestamp': time 'inf' is not a finite number"):
        read_interactions(path, k=None)


def test_line_numbers_count_the_header_blank_lines_and_quoted_line_breaks(tmp_path):
    text = ('user,item,timestamp\n'         # 1
            'u,"a\nb",1\n'                  # 2-3: a quoted line break
            '\n'                            # 4
            'u,c,2\n'                       # 5
            ',d,3\n')                       # 6: no user
    with pytest.raises(ValueError, match=r"q\.csv:6: missing user value in column 'user' \(got ''\)"):
        read_interactions(_csv(tmp_path / "q.csv", text), k=None)


@pytest.mark.parametrize("cell", ["", "NA", "null", "  "])
def test_missing_user_item_or_time(tmp_path, cell):
    for col, row in (("user", f"{cell},x,1"), ("item", f"u,{cell},1"), ("timestamp", f"u,x,{cell}")):
        path = _csv(tmp_path / f"{col}.csv", f"user,item,timestamp\nu,y,1\n{row}\n")
        role = "time" if col == "timestamp" else col
        with pytest.raises(ValueError, match=rf"{col}\.csv:3: missing {role} value in column '{col}' "
                                             rf"\(got {re.escape(repr(cell))}\)"):
            read_interactions(path, k=None)
    path = _csv(tmp_path / "short.csv", "user,item,timestamp\nu,y,1\nu,x\n")             # a short row
    with pytest.raises(ValueError, match=r"short\.csv:3: missing time value in column 'timestamp' \(got ''\)"):
        read_interactions(path, k=None)


def test_unreadable_files(tmp_path):
    path = _csv(tmp_path / "w.csv", "user,item,timestamp\nu,a,1\nu,b,2,9\n")
    with pytest.raises(ValueError, match=r"w\.csv:3: 4 fields where the header \(line 1\) has 3: 'u,b,2,9'"):
        read_interactions(path, k=None)
    (tmp_path / "b.csv").write_bytes(b"user,item,timestamp\nu,a,1\nu,\xff,2\n")
    with pytest.raises(ValueError, match=r"b\.csv:3: not UTF-8 text \(byte 0xff at column 3\)"):
        read_interactions(tmp_path / "b.csv", k=None)
    with pytest.raises(ValueError, match=r"x\.json: unknown interaction file type '\.json'"):
        read_interactions(_csv(tmp_path / "x.json", "{}"))
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_interactions(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match="duplicates must be one of"):
        read_interactions(path, duplicates="merge")


# ---------------------------------------------------------------- duplicates
DUPS = ("user,item,timestamp\n"
        "u,a,1\n"         # 2
        "u,a,1\n"         # 3: duplicate of 2
        "u,b,2\n"         # 4
        "u,a,1\n"         # 5: duplicate of 2
        "v,b,2\n"         # 6: another user, not a duplicate
        "u,b,2\n"         # 7: duplicate of 4
        "u,b,3\n")        # 8: another time, not a duplicate


@pytest.mark.parametrize("action", ["keep", "drop"])
def test_duplicates_are_counted_in_one_warning(tmp_path, action):
    path = _csv(tmp_path / "dup.csv", DUPS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = read_interactions(path, k=None, duplicates=action, item_labels={"a": ["A"], "b": ["B"]})
    assert len(caught) == 1
    msg = str(caught[0].message)
    assert "\n" not in msg and msg.startswith(f"{path}: 3 exact duplicate interaction(s)")
    assert "line 3 repeats line 2 (user 'u', item 'a')" in msg and f"duplicates='{action}'" in msg
    assert ds.meta["duplicates"] == 3
    assert _raw(ds)["u"] == (["a", "a", "a", "b", "b", "b"] if action == "keep" else ["a", "b", "b"])
    with pytest.raises(ValueError, match=r"dup\.csv: 3 exact duplicate interaction\(s\).*duplicates='error'"):
        read_interactions(path, k=None, duplicates="error")


# ---------------------------------------------------------------- load_dataset and leave_one_out
@pytest.mark.filterwarnings("ignore:.*exact duplicate:UserWarning")
def test_load_dataset_reads_files_as_the_direct_reader(tmp_path):
    csv_path = _csv(tmp_path / "shop.csv", HAND)
    _same(load_dataset(csv_path, k=None), read_interactions(csv_path, k=None))
    _same(load_dataset(str(csv_path), k=None), read_interactions(csv_path, k=None))
    tsv_path = _csv(tmp_path / "shop.TSV", HAND.replace(",", "\t"))
    _same(load_dataset(tsv_path, k=None), read_interactions(csv_path, k=None))
    df = _frame(2)
    df.to_csv(tmp_path / "big.csv", index=False)
    opts = dict(user="customer", item="sku", time="ts")
    _same(load_dataset(tmp_path / "big.csv", **opts), read_interactions(tmp_path / "big.csv", **opts))
    assert load_dataset(tmp_path / "big.csv", **opts).meta["kcore"] == 5
    with pytest.raises(FileNotFoundError, match="file of interactions not found"):
        load_dataset(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="label_column"):
        load_dataset(csv_path, labels="attributes")


@pytest.mark.filterwarnings("ignore:.*exact duplicate:UserWarning")
def test_leave_one_out_runs_on_a_loaded_file(tmp_path):
    df = _frame(3, n=600)
    df["genre"] = ["|".join(sorted({s[1], s[2]})) for s in df["sku"]]
    df.to_csv(tmp_path / "shop.csv", index=False)
    ds = load_dataset(tmp_path / "shop.csv", user="customer", item="sku", time="ts", label_column="genre")
    split = leave_one_out(ds, max_len=5)
    assert split.dropped_users == 0 and len(split.test) == ds.n_users
    assert len(split.train) == ds.n_interactions - 3 * ds.n_users
    assert split.test.targets.tolist() == [int(s[-1]) for s in ds.sequences]


def test_a_csv_of_interactions_trains_from_the_command_line(tmp_path, monkeypatch, capsys):
    """``train --dataset PATH.csv``: the file is the dataset (its path stored absolute, so a resume from another
    folder finds it), reader options through ``--dataset-option``."""
    import json

    from srsupm_lab import make_synthetic
    from srsupm_lab.__main__ import main
    world = make_synthetic(n_users=60, n_items=30, seed=3)
    rows = [f"u{u},i{item},{t}" for u, seq in enumerate(world.sequences) for t, item in enumerate(seq)]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "log.csv").write_text("user,item,timestamp\n" + "\n".join(rows) + "\n")
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--dataset", "data/log.csv", "--dataset-option", "k=2", "--backbone", "gru4rec", "--dim", "8",
            "--max-len", "6", "--epochs", "1", "--device", "cpu", "--no-progress", "--out", "run"]
    assert main(argv) == 0
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert stored["dataset"] == str((tmp_path / "data" / "log.csv").resolve())
    assert json.loads((tmp_path / "run" / "results.json").read_text())["data"]["users"] == 60
    capsys.readouterr()
    assert main(["train", "--dataset", "data/missing.csv", "--out", "run2"]) == 2
    assert "missing.csv" in capsys.readouterr().err and not (tmp_path / "run2").exists()
