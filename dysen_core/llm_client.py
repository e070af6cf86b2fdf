"""``LLMClient``: cache, record/replay, retries with backoff, bounded concurrency and accounting around any LLM.

The client is itself an ``LLM`` (same ``complete``), so the planner and imaginer never know whether an
answer came from the cache, a retry or the first try. Backends signal what is worth retrying by raising
``LLMRetryableError``; the client waits ``backoff_s · 2^(attempt-1)`` (capped, with jitter, at least the
server's ``Retry-After``) between tries. ``stats`` is the accounting a run's manifest embeds.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .chat import ChatMessage, ChatRequest, Completion
from .errors import LLMError, LLMRetryableError, PluginError, ReplayMissError
from .llm_cache import CacheMode, LLMCache, cache_key, canonical_json, default_cache_path, request_record
from .protocols import LLM
from .redact import has_secret


class LLMClientOptions(BaseModel):
    """How answers are cached, retried and run in parallel (the ``llm_client`` block of a run config)."""

    model_config = ConfigDict(extra="forbid")

    cache_mode: CacheMode = Field(
        default="read-write",
        description="off: no cache; read-write: reuse stored answers, store new ones; record: always ask the "
        "LLM and overwrite; replay: stored answers only, a missing one is an error.",
    )
    cache_path: Path | None = Field(
        default=None, description="SQLite cache file; unset: $DYSEN_CACHE_DIR or ~/.cache/dysen/llm-cache.sqlite."
    )
    max_attempts: int = Field(default=4, ge=1, le=20, description="Tries per request on retryable failures.")
    backoff_s: float = Field(default=1.0, ge=0, le=600, description="Wait before the first retry; doubles each retry.")
    max_backoff_s: float = Field(default=30.0, ge=0, le=3600, description="Longest wait between two tries.")
    max_concurrency: int = Field(default=4, ge=1, le=256, description="Most LLM calls in flight at once.")


class LLMStats(BaseModel):
    """Accounting of one client: what a run cost, for its manifest."""

    model_config = ConfigDict(extra="forbid")

    requests: int = Field(default=0, description="Requests made to the client.")
    cache_hits: int = Field(default=0, description="Requests answered from the cache.")
    llm_calls: int = Field(default=0, description="Calls sent to the backend, retries included.")
    retries: int = Field(default=0, description="Calls that were retries of a failed call.")
    failures: int = Field(default=0, description="Requests that ended in an error.")
    prompt_tokens: int = Field(default=0, description="Prompt tokens of the backend's answers.")
    completion_tokens: int = Field(default=0, description="Completion tokens of the backend's answers.")
    latency_s: float = Field(default=0.0, description="Wall time spent in backend calls, failed ones included.")


class LLMClient:
    """Wraps an ``LLM`` backend with a cache, retries, a concurrency bound and accounting."""

    def __init__(self, llm: LLM, options: LLMClientOptions | None = None, *, cache: LLMCache | None = None):
        self.llm = llm
        self.options = options or LLMClientOptions()
        self.name = llm.name
        self._identity = llm.cache_identity()
        if has_secret(canonical_json(self._identity)):
            raise PluginError(f"llm {llm.name!r} puts a secret in its cache_identity(); report this plugin bug")
        if self.options.cache_mode == "off":
            self.cache = None
        else:
            self.cache = cache or LLMCache(self.options.cache_path or default_cache_path())
        self._stats = LLMStats()
        self._stats_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.options.max_concurrency)
        self._rng = random.Random()

    def cache_identity(self) -> dict[str, Any]:
        return dict(self._identity)

    def complete(self, messages: Sequence[ChatMessage], *, json_schema: Mapping[str, Any] | None = None) -> Completion:
        """The answer to ``messages``, from the cache when the mode allows, else from the backend."""
        messages = list(messages)
        schema = dict(json_schema) if json_schema is not None else None
        self._count(requests=1)
        mode = self.options.cache_mode
        if self.cache is None:
            return self._call(messages, schema)
        key = cache_key(self._identity, messages, schema)
        if mode in ("read-write", "replay"):
            hit = self.cache.get(key)
            if hit is not None:
                self._count(cache_hits=1)
                return hit
            if mode == "replay":
                self._count(failures=1)
                raise ReplayMissError(
                    f"replay: no recorded answer for llm {self.name!r} request {key[:12]} in {self.cache.path}; "
                    "record it first with cache_mode 'read-write' or 'record'"
                )
        completion = self._call(messages, schema)
        self.cache.put(key, completion, request_record(self._identity, messages, schema))
        return completion

    def map(self, requests: Sequence[ChatRequest], *, return_exceptions: bool = False) -> list[Completion | LLMError]:
        """Answers to ``requests`` in order, at most ``max_concurrency`` at once.

        With ``return_exceptions`` a failed request gives its ``LLMError`` in its place (a per-prompt
        failure); otherwise the first failure is raised once the batch has stopped.
        """
        with ThreadPoolExecutor(max_workers=self.options.max_concurrency, thread_name_prefix="dysen-llm") as pool:
            futures = [pool.submit(self.complete, r.messages, json_schema=r.json_schema) for r in requests]
            results: list[Completion | LLMError] = []
            for future in futures:
                try:
                    results.append(future.result())
                except LLMError as exc:
                    if not return_exceptions:
                        for pending in futures:
                            pending.cancel()
                        raise
                    results.append(exc)
        return results

    @property
    def stats(self) -> LLMStats:
        """A snapshot of the accounting so far."""
        with self._stats_lock:
            return self._stats.model_copy()

    def manifest(self) -> dict[str, Any]:
        """What a run's manifest records about its LLM: backend, identity, cache and accounting (no keys)."""
        return {
            "name": self.name,
            "identity": self.cache_identity(),
            "cache_mode": self.options.cache_mode,
            "cache_path": str(self.cache.path) if self.cache else None,
            "stats": self.stats.model_dump(),
        }

    def close(self) -> None:
        """Close the backend (freeing a local model's memory) and the cache."""
        self.llm.close()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, messages: list[ChatMessage], schema: dict[str, Any] | None) -> Completion:
        """One request to the backend, retried with backoff on ``LLMRetryableError``."""
        attempts = self.options.max_attempts
        attempt = 1
        while True:
            start = time.perf_counter()
            try:
                with self._slots:
                    completion = self.llm.complete(messages, json_schema=schema)
            except LLMRetryableError as exc:
                self._count(llm_calls=1, latency_s=time.perf_counter() - start)
                if attempt == attempts:
                    self._count(failures=1)
                    tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
                    raise LLMRetryableError(f"{exc} (gave up after {tries})") from exc
                self._count(retries=1)
                time.sleep(self._backoff(attempt, exc.retry_after))
                attempt += 1
            except LLMError:
                self._count(llm_calls=1, failures=1, latency_s=time.perf_counter() - start)
                raise
            else:
                usage = completion.usage
                self._count(
                    llm_calls=1,
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                    latency_s=time.perf_counter() - start,
                )
                return completion

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter in [50 %, 100 %] of the step, at least the server's Retry-After."""
        step = min(self.options.max_backoff_s, self.options.backoff_s * 2 ** (attempt - 1))
        wait = step * self._rng.uniform(0.5, 1.0)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.options.max_backoff_s))
        return wait

    def _count(self, **deltas: float) -> None:
        with self._stats_lock:
            for field, delta in deltas.items():
                setattr(self._stats, field, getattr(self._stats, field) + delta)
