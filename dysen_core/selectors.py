"""Demonstration selectors for in-context learning: fixed, random and nearest-neighbour (paper §5.5).

Every selector returns indices with the most relevant demonstration last, nearest the test input.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import OrderedDict
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from .errors import ConfigError

RECENT_QUERIES = 8  # query embeddings kept: enough for the calls of a few prompts in flight at once


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_k(candidates: Sequence[str], k: int) -> int:
    if k < 0:
        raise ValueError(f"k must be at least 0, got {k}")
    return min(k, len(candidates))


def query_digest(seed: int, query: str) -> bytes:
    """The seed of one query's draw: a selector that samples gives each input the same draw in any order of calls."""
    return hashlib.sha256(f"{seed}\0{query}".encode()).digest()


class FixedSelector:
    """The same demonstrations for every input: the first k of the pool (the paper's hand-picked setting)."""

    name = "fixed"
    Options = _Options

    def __init__(self, options: _Options | None = None):
        self.options = options or self.Options()

    def select(self, query: str, candidates: Sequence[str], k: int) -> list[int]:
        return list(range(check_k(candidates, k)))


class RandomSelector:
    """k demonstrations drawn at random, reproducibly: the draw depends only on the seed and the input."""

    name = "random"

    class Options(_Options):
        seed: int = Field(default=0, ge=0, description="Seed of the draws.")

    def __init__(self, options: Options | None = None):
        self.options = options or self.Options()

    def select(self, query: str, candidates: Sequence[str], k: int) -> list[int]:
        return random.Random(query_digest(self.options.seed, query)).sample(range(len(candidates)), check_k(candidates, k))


class TextEmbeddings:
    """Unit-length text embeddings with two caches: each candidate pool once, and the most recent queries.

    Shared by the selectors that rank by embedding (``knn``, ``policy``): one prompt's planner and imaginer
    ask with the same query, and a batch of prompts is embedded at once through ``prefetch``.
    """

    def __init__(self, text_encoder):
        self.text_encoder = text_encoder
        self._pools: dict[tuple[str, ...], object] = {}
        self._recent: OrderedDict[str, object] = OrderedDict()
        self._capacity = RECENT_QUERIES
        self._lock = threading.Lock()

    def pool(self, candidates: Sequence[str]):
        """``(N, dim)`` unit vectors of ``candidates``; a pool is embedded once, however many inputs use it."""
        key = tuple(candidates)
        with self._lock:
            pool = self._pools.get(key)
        if pool is None:
            pool = self._unit(list(candidates))
            with self._lock:
                self._pools[key] = pool
        return pool

    def query(self, query: str):
        """``(dim,)`` unit vector of ``query``, from the recent-query cache when it is there."""
        with self._lock:
            vector = self._recent.get(query)
        if vector is None:
            vector = self._unit([query])[0]
            self._remember({query: vector})
        return vector

    def prefetch(self, queries: Sequence[str]) -> None:
        """Embed ``queries`` in one batch ahead of their ``query`` calls (a batch of prompts is much faster so)."""
        wanted = list(dict.fromkeys(q.strip() for q in queries))
        with self._lock:
            self._capacity = max(RECENT_QUERIES, len(wanted))
            missing = [q for q in wanted if q not in self._recent]
        if missing:
            self._remember(dict(zip(missing, self._unit(missing))))

    def _remember(self, vectors: dict[str, object]) -> None:
        with self._lock:
            self._recent.update(vectors)
            while len(self._recent) > self._capacity:
                self._recent.popitem(last=False)

    def _unit(self, texts: list[str]):
        import torch

        return torch.nn.functional.normalize(self.text_encoder.embed(texts).float(), dim=-1)


def needs_text_encoder(name: str, text_encoder) -> None:
    """A selector that ranks by embedding cannot work without a text encoder: say which config section is missing."""
    if text_encoder is None:
        raise ConfigError(f"demo_selector '{name}' needs a text_encoder section in the config (e.g. name: minilm)")


class NearestSelector:
    """The k demonstrations whose inputs are nearest the query by cosine similarity of text embeddings."""

    name = "knn"
    Options = _Options

    def __init__(self, options: _Options | None = None, text_encoder=None):
        needs_text_encoder(self.name, text_encoder)
        self.options = options or self.Options()
        self.text_encoder = text_encoder
        self.embeddings = TextEmbeddings(text_encoder)

    def select(self, query: str, candidates: Sequence[str], k: int) -> list[int]:
        k = check_k(candidates, k)
        scores = (self.embeddings.pool(candidates) @ self.embeddings.query(query)).tolist()
        ranked = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))[:k]
        return ranked[::-1]

    def prefetch(self, queries: Sequence[str]) -> None:
        """Embed ``queries`` in one batch ahead of their ``select`` calls (a batch of prompts is much faster so)."""
        self.embeddings.prefetch(queries)
