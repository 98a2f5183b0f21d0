"""MOPE's LLM extractor against a real loopback HTTP server that answers like a chat endpoint."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from srsupm_lab.methods.profiles import LLMProfiles, LLMRequestError

TEXTS = ["", "Nail Polish Red", "Skin Care Face", "Nail Care", "Hair Care"]
GOOD = {"facets": {"nail polish": 0.6, "skin care": 0.4}, "summary": "Seeks nail polish\nand skin care."}


class ChatServer(ThreadingHTTPServer):
    """Answers ``POST /v1/chat/completions`` from a plan: each request takes the next step, the last repeats.

    A step is ``("ok", content)``, ``("status", code)``, ``("sleep", seconds)`` or ``("body", raw text)``.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.plan = [("ok", json.dumps(GOOD))]
        self.requests = []                   # (path, headers, parsed body) of every request
        self.lock = threading.Lock()

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def next_step(self):
        with self.lock:
            return self.plan.pop(0) if len(self.plan) > 1 else self.plan[0]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):            # keep the test output clean
        pass

    def do_POST(self):
        server = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with server.lock:
            server.requests.append((self.path, dict(self.headers), json.loads(body)))
        kind, value = server.next_step()
        try:
            if kind == "sleep":
                time.sleep(value)
                kind, value = "ok", json.dumps(GOOD)
            if kind == "status":
                self.send_response(value)
                self.send_header("Content-Length", "5")
                self.end_headers()
                self.wfile.write(b"oops!")
                return
            raw = value if kind == "body" else json.dumps(
                {"id": "x", "object": "chat.completion",
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": value}}]})
            data = raw.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):   # the client gave up (timeout test)
            pass


@pytest.fixture
def server(request):
    srv = ChatServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop():
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)

    request.addfinalizer(stop)
    return srv


def extractor(server, **kw):
    opts = {"timeout": 2.0, "max_retries": 2, "backoff": 0.01, "api_key_env": "SRSUPM_TEST_LLM_KEY"}
    opts.update(kw)
    return LLMProfiles(server.base_url, "test-model", **opts)


def test_good_answer_and_request_format(server, monkeypatch):
    monkeypatch.setenv("SRSUPM_TEST_LLM_KEY", "sk-test")
    ext = extractor(server)
    (p,) = ext.profiles([[1, 0, 2]], TEXTS)
    assert p == {"facets": {"nail polish": 0.6, "skin care": 0.4}, "summary": "Seeks nail polish and skin care."}
    path, headers, body = server.requests[0]
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-test"
    assert body["model"] == "test-model" and body["temperature"] == 0
    system, user = body["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    assert "1. Nail Polish Red\n2. Skin Care Face\n" in user["content"]          # oldest first, padding skipped
    assert "up to 5 short phrases" in user["content"]
    assert ext.client.stats == {"requests": 1, "retries": 0, "cache_hits": 0}


def test_no_key_no_header_and_fixed_facets(server, monkeypatch):
    monkeypatch.delenv("SRSUPM_TEST_LLM_KEY", raising=False)
    server.plan = [("ok", json.dumps({"facets": {"aesthetics": 3, "functionality": 1}, "summary": "s"}))]
    ext = extractor(server, facets=["functionality", "aesthetics", "value"])
    (p,) = ext.profiles([[3]], TEXTS)
    assert p["facets"] == {"functionality": 0.25, "aesthetics": 0.75, "value": 0.0}
    _, headers, body = server.requests[0]
    assert "Authorization" not in headers
    assert "exactly these keys: functionality, aesthetics, value." in body["messages"][1]["content"]


def test_fenced_json_answer(server):
    server.plan = [("ok", "Here is the profile:\n```json\n" + json.dumps(GOOD, indent=2) + "\n```\nDone.")]
    (p,) = extractor(server).profiles([[1]], TEXTS)
    assert p["facets"] == {"nail polish": 0.6, "skin care": 0.4}


@pytest.mark.parametrize("content", ["I think she likes nails.\nReally.", '{"facets": {"nail": -1}, "summary": "x"}',
                                     '["nail"]'])
def test_malformed_answer_is_one_line_error(server, content, tmp_path):
    server.plan = [("ok", content)]
    ext = extractor(server, cache_dir=tmp_path)
    with pytest.raises(ValueError) as info:
        ext.profiles([[1], [2]], TEXTS, users=[7, 8])
    msg = str(info.value)
    assert "\n" not in msg
    assert server.base_url + "/chat/completions" in msg and "user 7" in msg
    assert repr(content[:80]) in msg
    assert list(tmp_path.iterdir()) == []                       # a rejected answer is not cached
    assert len(server.requests) == 1                            # and not retried


def test_body_that_is_not_a_completion(server):
    server.plan = [("body", "<html>gateway says hi</html>")]
    with pytest.raises(ValueError, match=r"user 0: not a chat completion.*gateway says hi"):
        extractor(server).profiles([[1]], TEXTS)


def test_500_then_success_is_retried(server):
    server.plan = [("status", 500), ("status", 503), ("ok", json.dumps(GOOD))]
    ext = extractor(server, max_retries=2)
    (p,) = ext.profiles([[2]], TEXTS)
    assert p["facets"]["nail polish"] == pytest.approx(0.6)
    assert ext.client.stats == {"requests": 3, "retries": 2, "cache_hits": 0}
    assert len(server.requests) == 3


def test_4xx_fails_at_once(server):
    server.plan = [("status", 401)]
    ext = extractor(server)
    with pytest.raises(LLMRequestError, match="HTTP 401.*not retried"):
        ext.profiles([[2]], TEXTS)
    assert ext.client.stats["requests"] == 1


def test_slow_answer_times_out_after_bounded_retries(server):
    server.plan = [("sleep", 1.5)]
    ext = extractor(server, timeout=0.2, max_retries=2, backoff=0.01)
    start = time.monotonic()
    with pytest.raises(LLMRequestError) as info:
        ext.profiles([[1]], TEXTS, users=["u42"])
    elapsed = time.monotonic() - start
    msg = str(info.value)
    assert "\n" not in msg and "user u42" in msg and "3 attempt(s)" in msg and "timed out after 0.2 s" in msg
    assert ext.client.stats == {"requests": 3, "retries": 2, "cache_hits": 0}
    assert elapsed < 3.0


def test_refused_connection_fails_at_once():
    import socket

    with socket.socket() as s:                                     # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ext = LLMProfiles(f"http://127.0.0.1:{port}", "m", timeout=1.0, max_retries=3, backoff=0.01)
    with pytest.raises(LLMRequestError, match="cannot connect"):
        ext.profiles([[1]], TEXTS)
    assert ext.client.stats["requests"] == 1


def test_cache_on_disk(server, tmp_path):
    cache = tmp_path / "cache"
    first = extractor(server, cache_dir=cache).profiles([[1, 2], [3]], TEXTS)
    assert len(server.requests) == 2
    files = sorted(cache.iterdir())
    assert len(files) == 2 and all(f.suffix == ".json" and not f.name.startswith(".") for f in files)
    assert all(json.loads(f.read_text())["model"] == "test-model" for f in files)
    # a fresh extractor (a new process, say) answers from the cache: no request
    again = extractor(server, cache_dir=cache)
    assert again.profiles([[1, 2], [3]], TEXTS) == first
    assert len(server.requests) == 2 and again.client.stats == {"requests": 0, "retries": 0, "cache_hits": 2}
    # a changed prompt (other items) or another model is asked
    again.profiles([[2, 1]], TEXTS)
    assert len(server.requests) == 3
    LLMProfiles(server.base_url, "other-model", cache_dir=cache, backoff=0.01).profiles([[3]], TEXTS)
    assert len(server.requests) == 4
    assert len(list(cache.iterdir())) == 4                      # no temporary files left behind
    # an unreadable cache entry is a miss and is rewritten
    files[0].write_text("{half")
    ext = extractor(server, cache_dir=cache)
    ext.profiles([[1, 2], [3]], TEXTS)
    assert ext.client.stats["cache_hits"] == 1 and len(server.requests) == 5
    assert all(isinstance(json.loads(f.read_text()), dict) for f in cache.iterdir())
