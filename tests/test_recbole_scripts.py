"""The RecBole cross-check scripts' own side (RecBole itself lives in another venv, not in CI)."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script(name):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_our_curve_reads_valid_recall_by_epoch(tmp_path):
    curve = _script("recbole_lr_curve")
    (tmp_path / "history.csv").write_text("epoch,loss,valid_recall@10,valid_ndcg@10\n"
                                          "1,9.0,0.0125,0.006\n2,8.5,0.0250,0.011\n")
    assert curve.our_curve(tmp_path) == {1: 0.0125, 2: 0.025}


def test_our_curve_names_a_folder_without_history(tmp_path):
    curve = _script("recbole_lr_curve")
    with pytest.raises(SystemExit, match=r"history\.csv.*not a finished or started"):
        curve.our_curve(tmp_path)


def test_without_recbole_python_it_says_what_to_give():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "recbole_lr_curve.py"), "--epochs", "1"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode != 0
    assert "--recbole-python" in out.stderr and out.stderr.strip().count("\n") == 0


def test_write_inter_is_one_line_per_interaction_in_sequence_order(tmp_path):
    from srsupm_lab.data import load_dataset
    bench = _script("bench_recbole")
    name = bench.write_inter("synthetic", None, tmp_path)
    lines = (tmp_path / name / f"{name}.inter").read_text().splitlines()
    assert lines[0] == "user_id:token\titem_id:token\ttimestamp:float"
    ds = load_dataset("synthetic")
    assert len(lines) - 1 == sum(len(s) for s in ds.sequences)
    # the second user's rows: user id 2 (1-based), its items in order, timestamps 0, 1, 2, ...
    rows = [line.split("\t") for line in lines[1:] if line.split("\t")[0] == "2"]
    assert [int(r[1]) for r in rows] == [int(i) for i in ds.sequences[1]]
    assert [float(r[2]) for r in rows] == list(range(len(ds.sequences[1])))
