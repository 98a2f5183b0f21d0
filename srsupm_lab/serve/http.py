"""A small recommendation service: ``/recommend`` and ``/health`` over HTTP (the map's chapter 06: online serving).

Built on the standard library's :class:`http.server.ThreadingHTTPServer`: no dependency, a thread a
connection, and the model's work (torch releases the GIL) is what costs; a framework (FastAPI and
an ASGI server) would add validation models and an event loop that a CPU-bound scorer does not use.

Routes (JSON in and out, UTF-8):

``GET /health``
    ``{"status": "ok", "run": ..., "backbone": ..., "method": ..., "users": U, "items": N}``
``POST /recommend``
    a JSON object with ``users`` (raw user ids) or ``user`` (one), and/or ``histories`` (lists of
    raw item ids) or ``history`` (one), ``k`` (default 10, at most ``MAX_K``), ``exclude_seen``
    (default true) -> ``{"recommendations": [{"user", "rank", "item", "score"[, "name"]}, ...],
    "unknown_users": [...], "unknown_items": [...]}``
``GET /recommend?user=U&k=10`` or ``?history=i1,i2,i3``
    the same for one user or one history, from a browser or ``curl``.

A bad request is answered with its status (400, 404, 405, 413) and a one-line JSON error
``{"error": "..."}`` naming the field and value; an unexpected failure is a 500 with one line. A
request holds at most ``MAX_BATCH`` users or histories and ``MAX_BODY`` bytes.
"""
from __future__ import annotations

import json
import math
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

__all__ = ["make_server", "handle_recommend", "RequestError", "MAX_K", "MAX_BATCH", "MAX_BODY"]

MAX_K = 1000
MAX_BATCH = 1024
MAX_BODY = 1 << 20
_FIELDS = {"user", "users", "history", "histories", "k", "exclude_seen"}


class RequestError(ValueError):
    """A request the service refuses: its HTTP status and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _ids(value, field: str) -> list:
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        raise RequestError(400, f"{field} must be a list of ids (strings or integers), got {json.dumps(value)[:80]}")
    return value


def parse_request(body: dict) -> dict:
    """The keyword arguments of ``ServedRun.recommend`` from a request's JSON object, each field checked."""
    if not isinstance(body, dict):
        raise RequestError(400, f"the body must be a JSON object, got {type(body).__name__}")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise RequestError(400, f"unknown field(s) {unknown}; the fields are {sorted(_FIELDS)}")
    if "user" in body and "users" in body or "history" in body and "histories" in body:
        raise RequestError(400, "give user or users, history or histories, not both of a pair")
    users = [body["user"]] if "user" in body else body.get("users")
    histories = [body["history"]] if "history" in body else body.get("histories")
    if users is None and histories is None:
        raise RequestError(400, "give user, users, history or histories")
    if "user" in body and (not isinstance(body["user"], (str, int)) or isinstance(body["user"], bool)):
        raise RequestError(400, f"user must be one id (a string or an integer), got {json.dumps(body['user'])[:80]}")
    if users is not None:
        users = _ids(users, "users")
    if histories is not None:
        if not isinstance(histories, list):
            raise RequestError(400, f"histories must be a list of lists of item ids, got {json.dumps(histories)[:80]}")
        histories = [_ids(h, f"histories[{j}]") for j, h in enumerate(histories)]
    n = len(users if users is not None else histories)
    if n > MAX_BATCH:
        raise RequestError(413, f"{n} users or histories in one request; at most {MAX_BATCH}")
    k = body.get("k", 10)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise RequestError(400, f"k must be an integer in 1..{MAX_K}, got {json.dumps(k)[:40]}")
    exclude_seen = body.get("exclude_seen", True)
    if not isinstance(exclude_seen, bool):
        raise RequestError(400, f"exclude_seen must be true or false, got {json.dumps(exclude_seen)[:40]}")
    return {"users": users, "histories": histories, "k": k, "exclude_seen": exclude_seen}


def _query(query: str) -> dict:
    """A GET query (``user=U`` or ``history=i1,i2``, ``k``, ``exclude_seen``) as a request body."""
    q = {key: values[-1] for key, values in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(q) - {"user", "history", "k", "exclude_seen"})
    if unknown:
        raise RequestError(400, f"unknown query parameter(s) {unknown}; GET takes user or history, k, exclude_seen")
    body = {}
    if "user" in q:
        body["user"] = q["user"]
    if "history" in q:
        body["history"] = [i for i in q["history"].replace(",", " ").split() if i]
    if "k" in q:
        if not q["k"].isdigit():
            raise RequestError(400, f"k must be an integer in 1..{MAX_K}, got {q['k'][:40]!r}")
        body["k"] = int(q["k"])
    if "exclude_seen" in q:
        if q["exclude_seen"].lower() not in ("true", "false", "1", "0"):
            raise RequestError(400, f"exclude_seen must be true or false, got {q['exclude_seen'][:40]!r}")
        body["exclude_seen"] = q["exclude_seen"].lower() in ("true", "1")
    return body


def handle_recommend(run, body: dict, lock: threading.Lock | None = None) -> dict:
    """The response object of one ``/recommend`` request (``lock``: one model call at a time)."""
    from .recommend import UnknownIdWarning
    kwargs = parse_request(body)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownIdWarning)          # reported in the response instead
        try:
            if lock is None:
                table = run.recommend(**kwargs)
            else:
                with lock:
                    table = run.recommend(**kwargs)
        except ValueError as err:
            raise RequestError(400, str(err).splitlines()[0]) from None
    rows = table.to_dict(orient="records")
    for row in rows:
        row["score"] = float(row["score"]) if math.isfinite(row["score"]) else None
        row["rank"] = int(row["rank"])
        for key in ("user", "item"):
            row[key] = row[key].item() if hasattr(row[key], "item") else row[key]
    return {"recommendations": rows, "unknown_users": _plain(table.attrs.get("unknown_users", [])),
            "unknown_items": _plain(table.attrs.get("unknown_items", []))}


def _plain(ids: list) -> list:
    return [i.item() if hasattr(i, "item") else i for i in ids]


def make_server(run, host: str = "127.0.0.1", port: int = 8000, quiet: bool = True) -> ThreadingHTTPServer:
    """A :class:`ThreadingHTTPServer` answering for ``run`` (a ServedRun) on ``host:port`` (port 0: any free one);
    call ``serve_forever()`` on it (``shutdown()`` from another thread stops it)."""
    lock = threading.Lock()                       # torch uses every thread it has: one batch at a time is fastest
    health = {"status": "ok", "run": str(run.path), "backbone": run.config.backbone, "method": run.config.method,
              "dataset": run.maps.dataset, "users": run.n_users, "items": run.n_items}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):     # noqa: A002 (the base class's name)
            if not quiet:
                super().log_message(format, *args)

        def _send(self, status: int, obj: dict) -> None:
            data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, make) -> None:
            try:
                self._send(200, make())
            except RequestError as err:
                self._send(err.status, {"error": str(err)})
            except Exception as err:                        # one line, never a traceback to the client
                self._send(500, {"error": f"internal error: {type(err).__name__}: {str(err).splitlines()[0][:200]}"
                                 if str(err) else f"internal error: {type(err).__name__}"})

        def do_GET(self):                                   # noqa: N802 (the base class's name)
            url = urlsplit(self.path)
            if url.path == "/health":
                return self._answer(lambda: health)
            if url.path == "/recommend":
                return self._answer(lambda: handle_recommend(run, _query(url.query), lock))
            self._send(404, {"error": f"no route {url.path!r}; the routes are /recommend and /health"})

        def do_POST(self):                                  # noqa: N802
            url = urlsplit(self.path)
            if url.path != "/recommend":
                if url.path == "/health":
                    return self._send(405, {"error": "/health answers GET only"})
                return self._send(404, {"error": f"no route {url.path!r}; the routes are /recommend and /health"})
            self._answer(lambda: handle_recommend(run, self._body(), lock))

        def _body(self) -> dict:
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                raise RequestError(411, "a POST needs a Content-Length header")
            if int(length) > MAX_BODY:
                self.close_connection = True
                raise RequestError(413, f"the body holds {length} bytes; at most {MAX_BODY}")
            raw = self.rfile.read(int(length))
            try:
                return json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                where = f" at line {err.lineno} column {err.colno}" if isinstance(err, json.JSONDecodeError) else ""
                raise RequestError(400, f"the body is not JSON{where}: {getattr(err, 'msg', str(err))}") from None

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
