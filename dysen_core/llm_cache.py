"""A persistent, content-addressed cache of LLM answers in SQLite, safe to share between processes.

Next to the answers it keeps the text embeddings that chose each request's demonstrations
(``cached_embeddings``), so replaying a cached batch needs no embedding model either.

The key is the sha256 of the canonical JSON of the backend's ``cache_identity()`` (model and decoding
parameters, never keys), the full messages and the JSON schema. Each row keeps the request it answers,
so a cache file is also a record of real answers and where they came from (replay mode serves them).
WAL journaling plus a busy timeout let several processes read and write one file; every write is a
single ``INSERT OR REPLACE`` statement, hence atomic.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from .chat import ChatMessage, Completion, as_dicts
from .errors import ConfigError

CacheMode = Literal["off", "read-write", "record", "replay"]
"""off: no cache; read-write: serve hits, call and store misses; record: always call and overwrite;
replay: serve hits only, a miss is an error (never calls the LLM)."""

KEY_VERSION = 1  # bump when the key payload changes, so old rows are never served for new requests
FORMAT_VERSION = 1  # SQLite ``user_version`` of the table layout below

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    completion TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""
_VECTORS = "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)"  # added to format 1


def canonical_json(value: Any) -> str:
    """One text per JSON value: sorted keys, no spaces, no NaN, unicode kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def request_record(
    identity: Mapping[str, Any], messages: Sequence[ChatMessage], json_schema: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The request as stored next to its answer; the cache key is the hash of exactly this."""
    return {"v": KEY_VERSION, "llm": dict(identity), "messages": as_dicts(messages), "schema": json_schema}


def cache_key(
    identity: Mapping[str, Any], messages: Sequence[ChatMessage], json_schema: Mapping[str, Any] | None
) -> str:
    """sha256 (hex) of the canonical JSON of :func:`request_record`."""
    payload = canonical_json(request_record(identity, messages, json_schema))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def default_cache_path() -> Path:
    """``$DYSEN_CACHE_DIR/llm-cache.sqlite``, else under ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    root = os.environ.get("DYSEN_CACHE_DIR")
    if root:
        return Path(root) / "llm-cache.sqlite"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "dysen" / "llm-cache.sqlite"


class LLMCache:
    """LLM answers by key in one SQLite file; one connection per instance, shared by its threads."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
            self._prepare(deadline=time.monotonic() + busy_timeout_s)
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"cannot open LLM cache {self.path}: {exc}; choose another cache path") from exc

    def _prepare(self, deadline: float) -> None:
        """Switch to WAL and create the table, retrying while a peer process does the same.

        SQLite answers "database is locked" at once, without waiting, when two connections switch a new
        file to WAL together, so the busy timeout alone does not cover this step.
        """
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable on commit except on power loss
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:  # a new file: create the table (both statements are no-ops if a peer just did)
                    self._db.execute(_SCHEMA)
                    self._db.execute(f"PRAGMA user_version={FORMAT_VERSION}")
                if version in (0, FORMAT_VERSION):
                    self._db.execute(_VECTORS)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        if version not in (0, FORMAT_VERSION):
            raise ConfigError(
                f"LLM cache {self.path} has format version {version}, this dysen reads {FORMAT_VERSION}; "
                "delete it or choose another cache path"
            )

    def get(self, key: str) -> Completion | None:
        """The stored answer for ``key``, or ``None``."""
        with self._locked():
            row = self._db.execute("SELECT completion FROM answers WHERE key = ?", (key,)).fetchone()
        return None if row is None else Completion.model_validate_json(row[0])

    def put(self, key: str, completion: Completion, request: Mapping[str, Any]) -> None:
        """Store (or replace) the answer for ``key`` together with the request it answers."""
        with self._locked():
            self._db.execute(
                "INSERT OR REPLACE INTO answers (key, request, completion, created_at) VALUES (?, ?, ?, ?)",
                (key, canonical_json(request), completion.model_dump_json(), time.time()),
            )

    def request(self, key: str) -> dict[str, Any] | None:
        """The request recorded with ``key``'s answer (its origin), or ``None``."""
        with self._locked():
            row = self._db.execute("SELECT request FROM answers WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def get_vectors(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The stored vectors among ``keys`` (float32 bytes), by key."""
        found: dict[str, bytes] = {}
        with self._locked():
            for first in range(0, len(keys), 500):  # SQLite bounds the parameters of one statement
                chunk = keys[first : first + 500]
                rows = self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                found.update(rows.fetchall())
        return found

    def put_vectors(self, vectors: Mapping[str, bytes]) -> None:
        """Store (or replace) vectors by key, in one transaction."""
        with self._locked():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", list(vectors.items()))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def __len__(self) -> int:
        with self._locked():
            return self._db.execute("SELECT count(*) FROM answers").fetchone()[0]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """This instance's lock, with SQLite failures (disk full, lock held past the timeout) as one line."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise ConfigError(
                    f"LLM cache {self.path} failed: {exc}; check the disk or choose another cache path"
                ) from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> LLMCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
