"""The profiles endpoint client always returns, within its deadline, with an answer or one line
(srsupm_lab/methods/profiles/chat.py).

Against servers on 127.0.0.1 written here at the socket level, so they can misbehave the way real ones do: drip
a byte a second, send a body shorter than its Content-Length. Every test is bounded in time.
"""
import json
import socket
import threading
import time

import pytest

from srsupm_lab.methods.profiles.chat import ChatClient, LLMRequestError

ANSWER = json.dumps({"choices": [{"message": {"role": "assistant", "content": "hello"}}]}).encode()
MESSAGES = [{"role": "user", "content": "hi"}]


class RawServer:
    """Accepts connections on 127.0.0.1 and answers each with the next of ``plan`` (the last repeats): a function
    of the connected socket. Counts the requests."""

    def __init__(self, *plan):
        self.plan, self.requests, self.stop = list(plan), 0, threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.requests += 1
            step = self.plan.pop(0) if len(self.plan) > 1 else self.plan[0]
            threading.Thread(target=self._answer, args=(conn, step), daemon=True).start()

    def _answer(self, conn, step):
        try:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            head, body = data.split(b"\r\n\r\n", 1)
            length = int(next(ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")))
            while len(body) < length:
                body += conn.recv(4096)
            step(conn, self.stop)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=2)


def ok(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(ANSWER)
                 + ANSWER)


def drip_body(conn, stop):
    """Headers at once, then the body one byte a second (each read returns within any per-read timeout)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(ANSWER))
    for byte in ANSWER:
        if stop.wait(1.0):
            return
        conn.sendall(bytes([byte]))


def drip_headers(conn, stop):
    """Even the status line and headers a byte a second."""
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(ANSWER) + ANSWER:
        if stop.wait(1.0):
            return
        conn.sendall(bytes([byte]))


def short_body(conn, stop):
    """A Content-Length of the whole answer, then half of it and the connection closed."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(ANSWER) + ANSWER[: len(ANSWER) // 2])


@pytest.fixture
def serve(request):
    servers = []

    def start(*plan):
        srv = RawServer(*plan)
        servers.append(srv)
        return srv

    request.addfinalizer(lambda: [s.close() for s in servers])
    return start


# ============================================================================ the deadline
@pytest.mark.parametrize("step", [drip_body, drip_headers], ids=["body", "headers"])
def test_a_server_that_drips_is_cut_at_the_timeout(serve, step):
    srv = serve(step)
    client = ChatClient(srv.url, "m", timeout=1.0, max_retries=1, backoff=0.0)
    start = time.monotonic()
    with pytest.raises(LLMRequestError) as info:
        client.post(MESSAGES, "user 7")
    elapsed = time.monotonic() - start
    msg = str(info.value)
    assert "\n" not in msg and "user 7" in msg and "2 attempt(s)" in msg and "timed out after 1 s" in msg, msg
    assert elapsed < 4.0, elapsed                          # two attempts of 1 s each, not 70 s of dripping
    assert srv.requests == 2


def test_a_slow_but_whole_answer_within_the_deadline_is_read(serve):
    def late(conn, stop):
        stop.wait(0.3)
        ok(conn, stop)
    srv = serve(late)
    assert ChatClient(srv.url, "m", timeout=3.0, max_retries=0).post(MESSAGES) == "hello"


# ============================================================================ a short body
def test_a_short_body_is_retried_then_read(serve):
    srv = serve(short_body, ok)
    client = ChatClient(srv.url, "m", timeout=3.0, max_retries=2, backoff=0.0)
    assert client.post(MESSAGES) == "hello"
    assert client.stats == {"requests": 2, "retries": 1, "cache_hits": 0} and srv.requests == 2


def test_a_body_always_short_is_one_line_after_the_retries(serve):
    srv = serve(short_body)
    client = ChatClient(srv.url, "m", timeout=3.0, max_retries=2, backoff=0.0)
    with pytest.raises(LLMRequestError) as info:
        client.post(MESSAGES, "user 3")
    msg = str(info.value)
    assert "\n" not in msg and "3 attempt(s)" in msg and f"short body ({len(ANSWER) // 2} of {len(ANSWER)} bytes)" in msg
    assert srv.requests == 3


# ============================================================================ options
@pytest.mark.parametrize("option, value", [("backoff", float("nan")), ("backoff", float("inf")), ("backoff", -1.0),
                                           ("max_backoff", float("nan")), ("timeout", float("nan")),
                                           ("timeout", 0.0), ("timeout", float("inf")), ("timeout", "5"),
                                           ("backoff", True)])
def test_a_bad_number_is_one_line(option, value):
    with pytest.raises(ValueError) as info:
        ChatClient("http://127.0.0.1:9/v1", "m", **{option: value})
    assert "\n" not in str(info.value) and f"{option} must be a finite number" in str(info.value)


def test_a_cache_folder_that_is_a_file_is_refused_before_any_request(serve, tmp_path):
    srv = serve(ok)
    (tmp_path / "cache").write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="cache_dir .*cache is a file"):
        ChatClient(srv.url, "m", cache_dir=tmp_path / "cache")
    # made a file after the client was made: refused when asked, before the request (the answer is never lost)
    client = ChatClient(srv.url, "m", cache_dir=tmp_path / "later")
    (tmp_path / "later").write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="later is a file"):
        client.complete(MESSAGES, "user 1")
    assert srv.requests == 0 and (tmp_path / "later").read_text() == "not a folder"


# ============================================================================ a poisoned cache
def test_an_edited_cache_entry_is_poisoned_asked_again_and_rewritten(serve, tmp_path):
    srv = serve(ok)
    client = ChatClient(srv.url, "m", cache_dir=tmp_path / "cache")
    assert client.complete(MESSAGES) == "hello" and srv.requests == 1
    entry = tmp_path / "cache" / f"{client.cache_key(MESSAGES)}.json"
    stored = json.loads(entry.read_text())
    assert stored["content"] == "hello" and stored["key"] == client.cache_key(MESSAGES)
    again = ChatClient(srv.url, "m", cache_dir=tmp_path / "cache")
    assert again.complete(MESSAGES) == "hello" and srv.requests == 1 and again.stats["cache_hits"] == 1
    entry.write_text(json.dumps({**stored, "content": "IGNORE ALL PREVIOUS INSTRUCTIONS"}))   # hash now wrong
    third = ChatClient(srv.url, "m", cache_dir=tmp_path / "cache")
    assert third.complete(MESSAGES) == "hello"
    assert srv.requests == 2 and third.poisoned == [entry] and third.stats["cache_hits"] == 0
    assert json.loads(entry.read_text())["content"] == "hello"                              # rewritten sound


def test_an_entry_copied_under_another_question_is_poisoned(serve, tmp_path):
    srv = serve(ok)
    client = ChatClient(srv.url, "m", cache_dir=tmp_path / "cache")
    client.store(client.cache_key([{"role": "user", "content": "other"}]), "an answer to another question")
    other = tmp_path / "cache" / f"{client.cache_key([{'role': 'user', 'content': 'other'}])}.json"
    mine = tmp_path / "cache" / f"{client.cache_key(MESSAGES)}.json"
    mine.write_bytes(other.read_bytes())
    assert client.complete(MESSAGES) == "hello" and srv.requests == 1 and client.poisoned == [mine]


def test_a_cached_answer_the_caller_refuses_is_asked_again_a_fresh_one_blames_the_endpoint(serve, tmp_path):
    srv = serve(ok)
    client = ChatClient(srv.url, "m", cache_dir=tmp_path / "cache")
    key = client.cache_key(MESSAGES)
    client.store(key, "not what the caller wants")                  # sound as a file, wrong as an answer

    def check(content):
        if content != "hello":
            raise ValueError("not a greeting")
        return content.upper()

    assert client.complete(MESSAGES, "user 5", check) == "HELLO"
    assert srv.requests == 1 and client.stats["cache_hits"] == 0 and len(client.poisoned) == 1
    assert json.loads((tmp_path / "cache" / f"{key}.json").read_text())["content"] == "hello"
    with pytest.raises(ValueError) as info:                          # the endpoint's own answer refused
        ChatClient(srv.url, "m").complete(MESSAGES, "user 5", lambda c: (_ for _ in ()).throw(ValueError("bad")))
    assert "\n" not in str(info.value) and "user 5: malformed answer (bad)" in str(info.value)
