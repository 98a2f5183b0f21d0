"""The serving commands and service: recommend --all files, the ONNX export, the HTTP service on 127.0.0.1.

References: the served run's own ``recommend`` (itself checked against evaluation in tests/test_serve.py)
for the files and the service; the eager model's scores for the exported graph; a hand-built request
for every error. Servers listen on the loopback address only and are shut down by each test.
"""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest
import torch

from faultkit import one_line_error  # noqa: E402
from srsupm_lab.__main__ import main
from test_serve import train_world

pytestmark = pytest.mark.usefixtures("one_thread")          # tests/conftest.py


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve-cmd")
    out = train_world(folder, epochs=1)
    (folder / "interactions.csv").unlink()
    return out


@pytest.fixture(scope="module")
def served(run_folder):
    from srsupm_lab.serve import load_run
    return load_run(run_folder, device="cpu")


# ----------------------------------------------------------------------------- recommend
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_recommend_all_writes_every_users_top_k_in_chunks(run_folder, served, tmp_path, suffix, capsys):
    out = tmp_path / f"recs{suffix}"
    assert main(["recommend", str(run_folder), "--all", "--out", str(out), "--k", "4", "--batch-size", "7"]) == 0
    table = pd.read_csv(out, dtype={"user": str, "item": str}) if suffix == ".csv" else pd.read_parquet(out)
    every = served.recommend(users=served.maps.users.tolist(), k=4)
    assert len(table) == len(every) == 4 * served.n_users
    assert table["user"].astype(str).tolist() == every["user"].astype(str).tolist()
    assert table["item"].astype(str).tolist() == every["item"].astype(str).tolist()
    np.testing.assert_allclose(table["score"], every["score"], rtol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]              # no temporary left behind
    assert "recommend" in capsys.readouterr().err                                # the progress bar


def test_recommend_one_user_and_one_history_print_tables(run_folder, served, capsys):
    assert main(["recommend", str(run_folder), "--user", "u001", "--k", "3"]) == 0
    printed = capsys.readouterr().out
    expected = served.recommend(users=["u001"], k=3)
    assert all(str(i) in printed for i in expected["item"])
    raw = served.maps.items[served.maps.history(4) - 1].tolist()
    assert main(["recommend", str(run_folder), "--history", " ".join(raw), "--k", "2"]) == 0
    printed = capsys.readouterr().out
    assert all(str(i) in printed for i in served.recommend(histories=[raw], k=2)["item"])


def test_recommend_names_unknown_ids_in_one_line(run_folder, capsys):
    assert main(["recommend", str(run_folder), "--user", "u001", "ghost"]) == 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'ghost'" in err


@pytest.mark.parametrize("argv,pattern", [
    (["--user", "u001", "--all", "--out", "x.csv"], "exactly one of"),
    (["--all"], "name the output file"),
    (["--all", "--out", "recs.txt"], "suffix must be one of"),
    (["--user", "ghost"], "no known user"),
])
def test_recommend_refuses_bad_requests_in_one_line(run_folder, capsys, argv, pattern):
    assert main(["recommend", str(run_folder), *argv]) == 2
    assert pattern in one_line_error(capsys)


# ----------------------------------------------------------------------------- the exported scorer
def test_the_onnx_scorer_equals_the_eager_model(run_folder, served, tmp_path, capsys):
    pytest.importorskip("onnxruntime", reason="the ONNX export's runtime (the serve extra) is not installed")
    pytest.importorskip("onnxscript", reason="the ONNX exporter (the serve extra) is not installed")
    from srsupm_lab.serve.export import OnnxScorer
    from srsupm_lab.serve.recommend import padded_rows
    path = tmp_path / "model.onnx"
    assert main(["export", str(run_folder), "--out", str(path)]) == 0
    assert "largest difference" in capsys.readouterr().out
    rows = np.arange(served.n_users)                                        # another batch size than traced
    inputs = padded_rows(served.maps.history_flat, served.maps.history_start, rows, served.max_len)
    inputs[:5, :-1] = 0                                                     # short windows too
    eager = served.scores(torch.from_numpy(inputs), None).numpy()
    np.testing.assert_allclose(OnnxScorer(path).scores(inputs), eager, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- the service
@pytest.fixture
def service(served):
    from srsupm_lab.serve.http import make_server
    server = make_server(served, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _call(url: str, body=None, method=None, raw: bytes | None = None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_health_and_recommend_answer_as_the_library_does(service, served):
    status, health = _call(service + "/health")
    assert status == 200 and health["status"] == "ok" and health["items"] == served.n_items
    status, answer = _call(service + "/recommend", {"users": ["u002", "nobody"], "k": 3})
    expected = served.recommend(users=["u002"], k=3)
    assert status == 200 and [r["item"] for r in answer["recommendations"]] == expected["item"].tolist()
    assert [r["rank"] for r in answer["recommendations"]] == [1, 2, 3] and answer["unknown_users"] == ["nobody"]
    np.testing.assert_allclose([r["score"] for r in answer["recommendations"]], expected["score"], rtol=1e-6)
    history = served.maps.items[served.maps.history(3) - 1].tolist()
    status, answer = _call(service + "/recommend?history=" + ",".join(history) + "&k=2")
    assert status == 200 and [r["item"] for r in answer["recommendations"]] == \
        served.recommend(histories=[history], k=2)["item"].tolist()


@pytest.mark.parametrize("body,status,pattern", [
    ({"users": ["u001"], "k": 0}, 400, "k must be an integer"),
    ({"users": ["u001"], "k": "ten"}, 400, "k must be an integer"),
    ({"users": "u001"}, 400, "users must be a list"),
    ({"user": ["u001"]}, 400, "user must be one id"),
    ({"users": ["u001"], "colour": 1}, 400, "unknown field"),
    ({"k": 3}, 400, "give user, users"),
    ({"users": ["ghost"]}, 400, "no known user"),
    ({"histories": [["sku-7"]], "exclude_seen": "yes"}, 400, "exclude_seen must be"),
    ({"users": [f"u{i}" for i in range(2000)]}, 413, "at most"),
    ([1, 2], 400, "must be a JSON object"),
])
def test_the_service_refuses_bad_input_with_a_one_line_json_error(service, body, status, pattern):
    got, answer = _call(service + "/recommend", body)
    assert got == status and set(answer) == {"error"}
    assert pattern in answer["error"] and "\n" not in answer["error"]


def test_the_service_answers_bad_json_routes_and_methods_in_one_line(service):
    for url, kwargs, status in [("/recommend", {"raw": b"{not json"}, 400), ("/nowhere", {}, 404),
                                ("/health", {"body": {}}, 405), ("/recommend?k=x&user=u001", {}, 400),
                                ("/recommend?colour=red", {}, 400)]:
        got, answer = _call(service + url, **kwargs)
        assert got == status and "\n" not in answer["error"], (url, answer)


def test_the_serve_command_answers_on_loopback_until_stopped(run_folder):
    import os
    import re
    import subprocess
    import sys
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "srsupm_lab", "serve", str(run_folder), "--port", "0", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        port = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert port, (line, proc.stderr.read() if proc.poll() is not None else "")
        status, health = _call(f"http://127.0.0.1:{port.group(1)}/health")
        assert status == 200 and health["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
