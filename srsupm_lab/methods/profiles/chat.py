"""A small client for an OpenAI-compatible chat endpoint, with bounded retries and a disk cache.

Transport for MOPE's LLM extractor (:class:`.mope.LLMProfiles`) in the lab's rebuild of
M-LLM³Rec (arXiv 2508.15262). The paper names neither its LLM nor how it calls it; this whole
module is our choice. Standard library only (``urllib.request``), no network use unless called.

Request: ``POST {base_url}/chat/completions`` with the JSON body ``{"model", "messages",
"temperature": 0}``; header ``Authorization: Bearer <key>`` only when the environment variable
named by ``api_key_env`` is set (local servers usually need no key). The answer is read from
``choices[0].message.content``.

Failures:

- a timeout (connect or read), HTTP 5xx or 429, or a connection reset is **retried**: at most
  ``max_retries`` times after the first attempt, sleeping ``backoff * 2**k`` seconds
  (``k = 0, 1, ...``, capped at ``max_backoff``) before retry ``k + 1``; every attempt counts in
  ``stats["requests"]``, every retry in ``stats["retries"]``; when all fail,
  :class:`LLMRequestError` (one line: endpoint, who, attempts, last reason);
- another HTTP status (4xx: a bad key, an unknown model) or a refused connection (nothing
  listens: a wrong URL) fails at once with :class:`LLMRequestError`;
- a body that is not a chat completion is a ``ValueError`` naming the endpoint, who asked and
  the first 80 characters of the body.

Cache: with ``cache_dir``, an answer is stored as ``<cache_dir>/<key>.json`` =
``{"model": ..., "content": ...}`` where ``key`` is the SHA-256 of the canonical JSON of
``{"model", "messages"}`` (:meth:`ChatClient.cache_key`): the same model and prompt are never
asked twice, a changed prompt or model is. Writes are atomic (a temporary file in the same
folder, then ``os.replace``), so a crash never leaves half a file; a cache file that cannot be
read as such is treated as missing and overwritten. The caller stores an answer only after it
has accepted it (:meth:`ChatClient.store`), so a malformed answer is asked again next time.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path


class LLMRequestError(RuntimeError):
    """The endpoint gave no usable HTTP answer (after the allowed retries, or a non-retried status)."""


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
        if not (isinstance(max_retries, int) and max_retries >= 0):
            raise ValueError(f"ChatClient: max_retries must be an integer >= 0, got {max_retries!r}")
        if not timeout > 0 or backoff < 0 or max_backoff < 0:
            raise ValueError(f"ChatClient: timeout must be > 0 and backoff, max_backoff >= 0, got "
                             f"{timeout!r}, {backoff!r}, {max_backoff!r}")
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

    # ------------------------------------------------------------------ cache
    def cache_key(self, messages: list[dict]) -> str:
        """SHA-256 (hex) of the canonical JSON of ``{"model", "messages"}``."""
        blob = json.dumps({"model": self.model, "messages": messages}, sort_keys=True, ensure_ascii=False,
                          separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _cache_path(self, key: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / f"{key}.json"

    def cached(self, key: str) -> str | None:
        """The stored answer for ``key``, or None (no cache, no entry, or an unreadable entry)."""
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
        self.stats["cache_hits"] += 1
        return entry["content"]

    def store(self, key: str, content: str) -> None:
        """Write ``content`` for ``key`` atomically (temporary file + ``os.replace``); no-op without a cache."""
        path = self._cache_path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"model": self.model, "content": content}, fh, ensure_ascii=False)
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
    def _request(self, messages: list[dict]) -> urllib.request.Request:
        body = json.dumps({"model": self.model, "messages": messages, "temperature": 0}).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")

    def post(self, messages: list[dict], who: str = "request") -> str:
        """Send ``messages`` (no cache), retrying as the module doc says; the answer's content string."""
        request = self._request(messages)
        attempts = self.max_retries + 1
        last = "no attempt"
        for attempt in range(attempts):
            if attempt:
                self.stats["retries"] += 1
                time.sleep(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
            self.stats["requests"] += 1
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    body = response.read()
            except urllib.error.HTTPError as err:
                if err.code >= 500 or err.code == 429:
                    last = f"HTTP {err.code}"
                    continue
                detail = err.read()[:200].decode("utf-8", "replace") if err.fp is not None else ""
                raise LLMRequestError(f"{self.endpoint}: {who}: HTTP {err.code} {err.reason} (not retried): "
                                      f"{_one_line(detail)}") from None
            except urllib.error.URLError as err:
                reason = err.reason
                if isinstance(reason, (TimeoutError, socket.timeout)):
                    last = f"timed out after {self.timeout:g} s"
                    continue
                if isinstance(reason, (ConnectionResetError, ConnectionAbortedError)):
                    last = f"connection lost ({type(reason).__name__})"
                    continue
                raise LLMRequestError(f"{self.endpoint}: {who}: cannot connect ({reason}), not retried") from None
            except (TimeoutError, socket.timeout):
                last = f"timed out after {self.timeout:g} s"
                continue
            except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as err:
                last = f"connection lost ({type(err).__name__})"
                continue
            return self._content(body, who)
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
