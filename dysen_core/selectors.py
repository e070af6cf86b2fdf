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


def _check(candidates: Sequence[str], k: int) -> int:
    if k < 0:
        raise ValueError(f"k must be at least 0, got {k}")
    return min(k, len(candidates))


class FixedSelector:
    """The same demonstrations for every input: the first k of the pool (the paper's hand-picked setting)."""

    name = "fixed"
    Options = _Options

    def __init__(self, options: _Options | None = None):
        self.options = options or self.Options()

    def select(self, query: str, candidates: Sequence[str], k: int) -> list[int]:
        return list(range(_check(candidates, k)))


class RandomSelector:
    """k demonstrations drawn at random, reproducibly: the draw depends only on the seed and the input."""

    name = "random"

    class Options(_Options):
        seed: int = Field(default=0, ge=0, description="Seed of the draws.")

    def __init__(self, options: Options | None = None):
        self.options = options or self.Options()

    def select(self, query: str, candidates: Sequence[str], k: int) -> list[int]:
        digest = hashlib.sha256(f"{self.options.seed}\0{query}".encode()).digest()
        return random.Random(digest).sample(range(len(candidates)), _check(candidates, k))


class NearestSelector:
    """The k demonstrations whose inputs are nearest the query by cosine similarity of text embeddings."""

    name = "knn"
    Options = _Options

    def __init__(self, options: _Options | None = None, text_encoder=None):
        if text_encoder is None:
            raise ConfigError("demo_selector 'knn' needs a text_encoder section in the config (e.g. name: minilm)")
        self.options = options or self.Options()
        self.text_encoder = text_encoder
        self._pools: dict[tuple[str, ...], object] = {}
        self._recent: OrderedDict[str, object] = OrderedDict()  # one prompt's planner and imaginer ask alike
        self._capacity = RECENT_QUERIES
        self._lock = threading.Lock()

    def select(self, query: str, candidates: Sequence[str], k: int) -> list[int]:
        k = _check(candidates, k)
        key = tuple(candidates)
        with self._lock:
            pool, vector = self._pools.get(key), self._recent.get(query)
        if pool is None:  # a pool is embedded once, however many inputs are planned against it
            pool = self._unit(list(candidates))
            with self._lock:
                self._pools[key] = pool
        if vector is None:
            vector = self._unit([query])[0]
            self._remember({query: vector})
        scores = (pool @ vector).tolist()
        ranked = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))[:k]
        return ranked[::-1]

    def prefetch(self, queries: Sequence[str]) -> None:
        """Embed ``queries`` in one batch ahead of their ``select`` calls (a batch of prompts is much faster so)."""
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
