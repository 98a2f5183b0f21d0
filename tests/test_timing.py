"""Table 2 inference timing: the table's arithmetic, the paper's ratios, the report files, bad input."""
import pandas as pd
import pytest

from srsupm_lab.methods.srsupm.timing import inference_table, write_table2

SMALL = {"n_users": 120, "n_items": 60, "seed": 1}


@pytest.fixture(scope="module")
def table():
    return inference_table("synthetic", ["gru4rec", "sasrec"], repeats=2, device="cpu", max_len=10, dim=16, **SMALL)


def test_rows_and_ratio(table):
    assert list(table["backbone"]) == ["gru4rec", "sasrec"]
    assert (table["alone_s"] > 0).all() and (table["srsupm_s"] > 0).all()
    assert table["ratio"].to_numpy() == pytest.approx((table["srsupm_s"] / table["alone_s"]).to_numpy())
    # paper Table 2 (Beauty): SASRec 1.283 alone, 1.462 with SRSUPM
    assert table.loc[1, "paper_ratio"] == pytest.approx(1.462 / 1.283)
    assert (table["users"] == 120).all() and (table["items"] == 60).all() and (table["repeats"] == 2).all()


def test_report_files(table, tmp_path):
    written = write_table2(table, tmp_path, "synthetic")
    back = pd.read_csv(written["table2"])
    assert list(back["backbone"]) == ["gru4rec", "sasrec"]
    md = written["table2_md"].read_text()
    assert "| sasrec |" in md and "1.14×" in md and "120 test users × 60 items" in md


def test_reproduction_markdown_includes_table2(table, tmp_path):
    from srsupm_lab.reproduce import write_reports
    write_table2(table, tmp_path, "synthetic")
    written = write_reports(pd.DataFrame(), tmp_path)
    assert "Table 2" in written["markdown"].read_text()


def test_bad_input():
    with pytest.raises(ValueError, match="unknown backbone.*gru4rec"):
        inference_table("synthetic", ["transformerxl"], repeats=1, device="cpu")
    with pytest.raises(ValueError, match="repeats"):
        inference_table("synthetic", ["sasrec"], repeats=0, device="cpu")
