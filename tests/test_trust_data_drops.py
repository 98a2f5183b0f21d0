"""Data is never dropped or changed without a word: the k-core filter reports what it kept, and an id with a NUL
byte, a header naming a column twice or a uint64 id above 2**63 is one line or kept exactly
(srsupm_lab/data/kcore.py, srsupm_lab/data/interaction_columns.py).

From the user's side: ``python -m srsupm_lab stats --dataset FILE`` and ``dataset_from_frame``.
"""
import warnings

import numpy as np
import pandas as pd
import pytest

from srsupm_lab.__main__ import main
from srsupm_lab.data import load_dataset
from srsupm_lab.data.interactions import dataset_from_frame

from faultkit import one_line_error, snapshot  # noqa: E402


def heavy_and_light(path):
    """60 heavy users, each with items i0..i9 once (10 rows); 200 light users with i0 and i1 (2 rows).

    By hand: the 5-core filter drops every light user (2 < 5) and nothing else, since every item keeps
    60 heavy users: before 260 users, 10 items, 600 + 400 = 1000 interactions; after 60, 10, 600."""
    rows = ["user,item,timestamp,genres"]
    rows += [f"h{u},i{i},{i},g{i % 3}" for u in range(60) for i in range(10)]
    rows += [f"l{u},i{i},{i},g{i % 3}" for u in range(200) for i in range(2)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_kcore_filter_says_what_it_kept_in_stats(tmp_path, capsys):
    log = heavy_and_light(tmp_path / "log.csv")
    with pytest.warns(UserWarning, match=r"the 5-core filter kept 60 of 260 users, 10 of 10 items, 600 of 1000 "
                                         r"interactions"):
        assert main(["stats", "--dataset", str(log), "--K", "3"]) == 0
    out = capsys.readouterr().out
    assert "5-core filter: kept 60 of 260 users, 10 of 10 items, 600 of 1000 interactions" in out, out


def test_the_counts_are_kept_with_the_dataset(tmp_path):
    log = heavy_and_light(tmp_path / "log.csv")
    with pytest.warns(UserWarning, match="5-core filter kept"):
        ds = load_dataset(log, label_column="genres")
    assert ds.meta["kcore_counts"] == {"k": 5, "before": {"interactions": 1000, "users": 260, "items": 10},
                                       "after": {"interactions": 600, "users": 60, "items": 10}}
    assert ds.n_users == 60 and ds.n_interactions == 600


def test_a_filter_that_drops_nothing_is_silent_and_k1_keeps_all(tmp_path):
    log = heavy_and_light(tmp_path / "log.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_dataset(log, label_column="genres", k=1)
    assert ds.n_users == 260 and ds.meta["kcore_counts"] is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_dataset(log, label_column="genres", k=2)          # every user has >= 2 rows, items >= 60
    assert ds.meta["kcore_counts"]["before"] == ds.meta["kcore_counts"]["after"]


@pytest.mark.parametrize("column", ["user", "item"])
@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1f"])
def test_a_control_character_inside_an_id_is_one_line_naming_file_line_and_value(tmp_path, capsys, column, char):
    log = heavy_and_light(tmp_path / "log.csv")
    lines = log.read_text().splitlines()
    user, item, t, g = lines[7].split(",")
    lines[7] = ",".join([user + char + "x", item, t, g] if column == "user" else [user, item + char + "x", t, g])
    log.write_text("\n".join(lines) + "\n")
    before = snapshot(tmp_path)
    assert main(["stats", "--dataset", str(log)]) == 2
    err = one_line_error(capsys)
    assert f"{log}:8: column {column!r}" in err and "control character" in err and repr(char) in err, err
    assert snapshot(tmp_path) == before


def test_a_header_naming_a_column_twice_is_one_line(tmp_path, capsys):
    log = tmp_path / "log.csv"
    log.write_text("user,item,item,timestamp\n" + "".join(f"u{u},i{i},j{i},{i}\n" for u in range(6) for i in range(6)))
    assert main(["stats", "--dataset", str(log)]) == 2
    err = one_line_error(capsys)
    assert f"{log}:1: the header names the column 'item' twice (fields 2 and 3)" in err, err


def test_a_frame_with_a_column_twice_is_one_line():
    frame = pd.DataFrame([["u1", "i1", "i2", 1]], columns=["user", "item", "item", "timestamp"])
    with pytest.raises(ValueError, match=r"^DataFrame: the header names the column 'item' twice"):
        dataset_from_frame(frame, k=None)


def test_uint64_ids_above_2_63_keep_their_exact_value():
    big = np.array([2**64 - 1, 2**63, 2**63 + 7], dtype=np.uint64)
    frame = pd.DataFrame({"user": np.repeat(big, 3), "item": np.tile(np.array([1, 2, 3], dtype=np.uint64), 3),
                          "timestamp": np.tile([1, 2, 3], 3)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                                  # no labels: a warning says so
        ds = dataset_from_frame(frame, k=None)
    assert ds.meta["id2user"] == ["18446744073709551615", "9223372036854775808", "9223372036854775815"]
    assert all(not u.startswith("-") for u in ds.meta["id2user"]) and ds.n_users == 3
