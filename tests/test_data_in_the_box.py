"""The paper's data ships in the repository's data/ (issue 19): a fresh clone loads it with no setting."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from srsupm_lab.data import loaders

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"

#: (users, items, interactions) published with the S3-Rec release and repeated by CL4SRec, DuoRec, ...
PUBLISHED = {"beauty": (22363, 12101, 198502), "sports": (35598, 18357, 296337), "yelp": (30431, 20033, 316354)}


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("SRSUPM_DATA", "PYTHONPATH")}
    return {**env, "OMP_NUM_THREADS": "1", **extra}


def _is_git_checkout() -> bool:
    return shutil.which("git") is not None and subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode == 0


def test_fresh_clone_loads_the_papers_datasets_with_no_setting(tmp_path):
    """git clone of this checkout's HEAD, no SRSUPM_DATA: the three datasets load from the clone's data/."""
    if not _is_git_checkout():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], check=True, capture_output=True)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout == head
    code = ("import json, warnings\n"
            "warnings.simplefilter('ignore')\n"
            "from srsupm_lab.data import load_dataset\n"
            "out = {}\n"
            "for name in ('beauty', 'sports', 'yelp'):\n"
            "    ds = load_dataset(name)\n"
            "    out[name] = [ds.n_users, ds.n_items, ds.n_interactions, ds.meta['source']]\n"
            "import srsupm_lab; out['package'] = srsupm_lab.__file__\n"
            "print(json.dumps(out))\n")
    # the package is imported from the clone (cwd first on sys.path), not from any installed copy
    done = subprocess.run([sys.executable, "-c", code], cwd=clone, env=_clean_env(PYTHONPATH=str(clone)),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(got.pop("package")).resolve().is_relative_to(clone.resolve())
    for name, counts in PUBLISHED.items():
        assert tuple(got[name][:3]) == counts, name
        assert Path(got[name][3]).resolve().parent == (clone / "data").resolve(), got[name][3]


def test_search_path_names_no_development_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("SRSUPM_DATA", raising=False)
    roots = loaders.data_roots()
    assert roots and roots[0] == DATA
    assert not any("shared" in r.parts for r in roots), roots
    monkeypatch.setenv("SRSUPM_DATA", str(tmp_path))
    assert loaders.data_roots()[0] == tmp_path
    assert loaders.data_roots(root="/only/here") == [Path("/only/here")]
    monkeypatch.setenv("SRSUPM_DATA", "/somewhere/else")            # a folder that is not there: no fall-back
    with pytest.raises(FileNotFoundError, match=r"SRSUPM_DATA='/somewhere/else' is not a folder"):
        loaders.data_roots()
    with pytest.raises(FileNotFoundError, match="SRSUPM_DATA"):
        loaders.load_dataset("beauty")


@pytest.mark.skipif(not _is_git_checkout(), reason="not a git checkout")
def test_wheel_install_loads_beauty_with_no_setting(tmp_path):
    """pip install of a wheel built from this checkout's HEAD: data/ travels to <prefix>/share/srsupm_lab/data."""
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(src)], check=True, capture_output=True)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=180,
                           env=_clean_env(PIP_NO_INDEX="1"))
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("srsupm_lab-*.whl"))
    prefix = tmp_path / "prefix"
    # --ignore-installed: without it pip uninstalls the environment's own (editable) srsupm_lab first,
    # which breaks every other test and kernel running beside this one
    inst = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed",
                           "--prefix", str(prefix), str(wheel)], capture_output=True, text=True, timeout=180,
                          env=_clean_env())
    assert inst.returncode == 0, inst.stderr[-2000:]
    site = next(prefix.glob("lib/python*/site-packages"))
    shutil.rmtree(src)                                               # no checkout left to find data/ in
    code = ("import warnings; warnings.simplefilter('ignore')\n"
            "import srsupm_lab; from srsupm_lab.data import load_dataset\n"
            "ds = load_dataset('beauty')\n"
            "print(srsupm_lab.__file__); print(ds.meta['source']); print(ds.n_users, ds.n_items, ds.n_interactions)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_clean_env(PYTHONPATH=str(site)),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    package, source, counts = done.stdout.strip().splitlines()[-3:]
    assert Path(package).resolve().is_relative_to(site.resolve())
    assert Path(source).resolve() == (prefix / "share" / "srsupm_lab" / "data" / "Beauty").resolve()
    assert tuple(map(int, counts.split())) == PUBLISHED["beauty"]


def test_data_readme_checksums_and_counts_match_the_files():
    """data/README.md's sha256 list covers every shipped file and agrees with it; its counts with stats.json."""
    text = (DATA / "README.md").read_text()
    listed = dict((path, digest) for digest, path in re.findall(r"^\s+([0-9a-f]{64})  (\S+)$", text, flags=re.M))
    shipped = {p.relative_to(DATA).as_posix() for p in DATA.rglob("*") if p.is_file() and p.name != "README.md"}
    assert set(listed) == shipped
    for path, digest in listed.items():
        assert hashlib.sha256((DATA / path).read_bytes()).hexdigest() == digest, path
    stats = json.loads((DATA / "stats.json").read_text())
    for name, (u, i, n) in PUBLISHED.items():
        seq = stats[loaders.REAL_DATASETS[name]]["seq"]
        assert (seq["users"], seq["items"], seq["interactions"]) == (u, i, n)
        assert f"| {u:,} | {i:,} | {n:,} |" in text
