"""A small client for an OpenAI-compatible chat endpoint, with bounded retries and a disk cache.

Transport for MOPE's LLM extractor (:class:`.mope.LLMProfiles`) in the lab's rebuild of
M-LLM³Rec (arXiv 2508.15262). The paper names neither its LLM nor how it calls it; this whole
module is our choice. Standard library only (``http.client``: no proxy is used, a redirect is not
followed), no network use unless called.

Request: ``POST {base_url}/chat/completions`` with the JSON body ``{"model", "messages",
"temperature": 0}``; header ``Authorization: Bearer <key>`` only when the environment variable
named by ``api_key_env`` is set (local servers usually need no key). The answer is read from
``choices[0].message.content``.

Failures:

- ``timeout`` bounds the **whole exchange** of one attempt (connect, send, headers and body), not one
  socket read: a server that answers a byte at a time is cut when the time is up (a watchdog closes
  the connection at the deadline);
- a timeout, HTTP 5xx or 429, a connection reset or a body shorter than its ``Content-Length`` is
  **retried**: at most
  ``max_retries`` times after the first attempt, sleeping ``backoff * 2**k`` seconds
  (``k = 0, 1, ...``, capped at ``max_backoff``) before retry ``k + 1``; every attempt counts in
  ``stats["requests"]``, every retry in ``stats["retries"]``; when all fail,
  :class:`LLMRequestError` (one line: endpoint, who, attempts, last reason);
- another HTTP status (4xx: a bad key, an unknown model) or a refused connection (nothing
  listens: a wrong URL) fails at once with :class:`LLMRequestError`;
- a body that is not a chat completion is a ``ValueError`` naming the endpoint, who asked and
  the first 80 characters of the body.

Options are checked when the client is made: ``timeout`` a finite number > 0, ``backoff`` and
``max_backoff`` finite numbers >= 0 (``nan`` is refused), ``cache_dir`` not a file.

Cache: with ``cache_dir``, an answer is stored as ``<cache_dir>/<key>.json`` =
``{"model", "key", "content", "sha256"}`` where ``key`` is the SHA-256 of the canonical JSON of
``{"model", "messages"}`` (:meth:`ChatClient.cache_key`) and ``sha256`` that of the content: the same
model and prompt are never asked twice, a changed prompt or model is. Writes are atomic (a temporary
file in the same folder, then ``os.replace``), so a crash never leaves half a file; a cache file that
cannot be read as such is treated as missing and overwritten. An entry that does not hold what its
name promises (another model or key, a content that does not match its hash: an edited, copied or
poisoned file) is **poisoned**: it is never served, the question is asked again and the entry
rewritten (``ChatClient.poisoned`` lists such files). The caller stores an answer only after it has
accepted it (:meth:`ChatClient.store`), so a malformed answer is asked again next time;
:meth:`ChatClient.complete` does the whole round (cache, request, the caller's check, store) and
treats a cached answer the check refuses as poisoned, where a fresh one is the endpoint's fault.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import math
import os
import socket
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Callable


class LLMRequestError(RuntimeError):
    """The endpoint gave no usable HTTP answer (after the allowed retries, or a non-retried status)."""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _one_line(text: str, limit: int = 80) -> str:
    return repr(text[:limit])


class ChatClient:
    """``complete(messages) -> content`` against ``{base_url}/chat/completions``; see the module doc."""

    def __init__(self, base_url: str, model: str, *, api_key_env: str | None = "OPENAI_API_KEY",
                 timeout: float = 60.0, max_retries: int = 3, backoff: float = 1.0, max_backoff: float = 30.0,
                 cache_dir: str | os.PathLike | None = None):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"ChatClient: base_url must be an http(s) URL, got {base_url!r}")
        if not isinstance(model, str) or not model:
            raise ValueError(f"ChatClient: model must be a non-empty string, got {model!r}")
        if not (isinstance(max_retries, int) and not isinstance(max_retries, bool) and max_retries >= 0):
            raise ValueError(f"ChatClient: max_retries must be an integer >= 0, got {max_retries!r}")
        for name, value, least in (("timeout", timeout, None), ("backoff", backoff, 0), ("max_backoff", max_backoff, 0)):
            number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not number or (value <= 0 if least is None else value < least):
                rule = "a finite number > 0" if least is None else "a finite number >= 0"
                raise ValueError(f"ChatClient: {name} must be {rule}, got {value!r}")
        if cache_dir is not None and Path(cache_dir).exists() and not Path(cache_dir).is_dir():
            raise NotADirectoryError(f"ChatClient: cache_dir {cache_dir} is a file, not a folder; answers could not "
                                     f"be kept there (give a folder, or remove the file)")
        self.endpoint = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        #: attempts sent, retries among them, answers served from the cache
        self.stats = {"requests": 0, "retries": 0, "cache_hits": 0}
        #: cache files found poisoned (not served, asked again and rewritten)
        self.poisoned: list[Path] = []

    # ------------------------------------------------------------------ cache
    def cache_key(self, messages: list[dict]) -> str:
        """SHA-256 (hex) of the canonical JSON of ``{"model", "messages"}``."""
        blob = json.dumps({"model": self.model, "messages": messages}, sort_keys=True, ensure_ascii=False,
                          separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _cache_path(self, key: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / f"{key}.json"

    def cached(self, key: str) -> str | None:
        """The stored answer for ``key``, or None (no cache, no entry, an unreadable or a poisoned entry)."""
        path = self._cache_path(key)
        if path is None or not path.is_file():
            return None
        try:
            with open(path, encoding="utf-8") as fh:
                entry = json.load(fh)
        except (OSError, ValueError):
            return None
        if not (isinstance(entry, dict) and isinstance(entry.get("content"), str)):
            return None
        if not self._sound(entry, key):
            self.poisoned.append(path)
            return None
        self.stats["cache_hits"] += 1
        return entry["content"]

    def _sound(self, entry: dict, key: str) -> bool:
        """An entry holds what its name promises: this model, this key, a content matching its hash (entries
        written before the key and hash were kept carry neither and are checked on the model only)."""
        if entry.get("model", self.model) != self.model:
            return False
        if "key" in entry and entry["key"] != key:
            return False
        return "sha256" not in entry or entry["sha256"] == _sha256(entry["content"])

    def forget(self, key: str) -> None:
        """Remove the entry of ``key`` (an answer found wrong after it was stored); no-op without one."""
        path = self._cache_path(key)
        if path is not None and path.is_file():
            path.unlink()

    def _check_cache_dir(self) -> None:
        """The cache folder can hold an answer: checked before a request, so an answer is never lost after it."""
        if self.cache_dir is not None and self.cache_dir.exists() and not self.cache_dir.is_dir():
            raise NotADirectoryError(f"{self.endpoint}: cache_dir {self.cache_dir} is a file, not a folder; the "
                                     f"answer could not be kept (give a folder, or remove the file)")

    def complete(self, messages: list[dict], who: str = "request", check: Callable[[str], object] | None = None):
        """The whole round for one question: the cached answer, else a request; ``check(content)`` (raising
        ``ValueError`` for a bad answer) decides whether it is usable. A cached answer it refuses is poisoned:
        asked again; a fresh answer it refuses is the endpoint's, one ``ValueError`` naming it. Returns
        ``check(content)`` (the content without ``check``); a fresh accepted answer is stored."""
        check = check or (lambda content: content)
        key = self.cache_key(messages)
        content = self.cached(key)
        if content is not None:
            try:
                return check(content)
            except ValueError:
                self.stats["cache_hits"] -= 1
                self.poisoned.append(self._cache_path(key))
        self._check_cache_dir()
        content = self.post(messages, who)
        try:
            result = check(content)
        except ValueError as err:
            raise ValueError(f"{self.endpoint}: {who}: malformed answer ({err}); answer starts "
                             f"{content[:80]!r}") from None
        self.store(key, content)
        return result

    def store(self, key: str, content: str) -> None:
        """Write ``content`` for ``key`` atomically (temporary file + ``os.replace``); no-op without a cache."""
        path = self._cache_path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"model": self.model, "key": key, "content": content, "sha256": _sha256(content)}, fh,
                          ensure_ascii=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    # ------------------------------------------------------------------ transport
    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _exchange(self, body: bytes) -> tuple[int, str, bytes]:
        """One attempt: ``(status, reason, body)``, the whole exchange bounded by ``timeout`` (module doc).
        Raises ``TimeoutError`` when the deadline cut it, ``http.client.IncompleteRead`` for a short body,
        ``OSError`` for a connection that failed."""
        url = urllib.parse.urlsplit(self.endpoint)
        kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        conn = kind(url.hostname, url.port, timeout=self.timeout)
        expired = threading.Event()

        def cut() -> None:                      # the deadline: close the socket under whatever read is blocked
            expired.set()
            sock = conn.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        watchdog = threading.Timer(self.timeout, cut)
        watchdog.daemon = True
        watchdog.start()
        try:
            path = url.path + (f"?{url.query}" if url.query else "")
            conn.request("POST", path, body=body, headers=self._headers())
            response = conn.getresponse()
            data = response.read()
        except Exception:
            if expired.is_set():
                raise TimeoutError(f"timed out after {self.timeout:g} s") from None
            raise
        finally:
            watchdog.cancel()
            conn.close()
        if expired.is_set():                    # the cut ended a body of unknown length early
            raise TimeoutError(f"timed out after {self.timeout:g} s")
        return response.status, response.reason, data

    def post(self, messages: list[dict], who: str = "request") -> str:
        """Send ``messages`` (no cache), retrying as the module doc says; the answer's content string."""
        body = json.dumps({"model": self.model, "messages": messages, "temperature": 0}).encode("utf-8")
        attempts = self.max_retries + 1
        last = "no attempt"
        for attempt in range(attempts):
            if attempt:
                self.stats["retries"] += 1
                time.sleep(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
            self.stats["requests"] += 1
            try:
                status, reason, data = self._exchange(body)
            except (TimeoutError, socket.timeout):
                last = f"timed out after {self.timeout:g} s"
                continue
            except http.client.IncompleteRead as err:
                expected = len(err.partial) + (err.expected or 0)
                last = f"short body ({len(err.partial)} of {expected} bytes)"
                continue
            except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, http.client.RemoteDisconnected) \
                    as err:
                last = f"connection lost ({type(err).__name__})"
                continue
            except (OSError, http.client.HTTPException) as err:
                reason_text = getattr(err, "strerror", None) or str(err) or type(err).__name__
                raise LLMRequestError(f"{self.endpoint}: {who}: cannot connect ({reason_text}), not retried") from None
            if status >= 500 or status == 429:
                last = f"HTTP {status}"
                continue
            if status >= 300:
                detail = data[:200].decode("utf-8", "replace")
                raise LLMRequestError(f"{self.endpoint}: {who}: HTTP {status} {reason} (not retried): "
                                      f"{_one_line(detail)}")
            return self._content(data, who)
        raise LLMRequestError(f"{self.endpoint}: {who}: no answer after {attempts} attempt(s) "
                              f"({self.max_retries} retries); last: {last}")

    def _content(self, body: bytes, who: str) -> str:
        text = body.decode("utf-8", "replace")
        try:
            content = json.loads(text)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            content = None
        if not isinstance(content, str):
            raise ValueError(f"{self.endpoint}: {who}: not a chat completion (no choices[0].message.content "
                             f"string): {_one_line(text)}")
        return content
