"""Demonstration selectors for in-context learning: fixed, random and nearest-neighbour (paper §5.5).

Every selector returns indices with the most relevant demonstration last, nearest the test input.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from .errors import ConfigError


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

    def select(self, query: str, candidates: Sequence[str], k: int) -> list[int]:
        import torch

        k = _check(candidates, k)
        key = tuple(candidates)
        if key not in self._pools:  # a pool is embedded once, however many inputs are planned against it
            self._pools[key] = torch.nn.functional.normalize(self.text_encoder.embed(list(candidates)).float(), dim=-1)
        pool = self._pools[key]
        q = torch.nn.functional.normalize(self.text_encoder.embed([query]).float(), dim=-1)
        scores = (pool @ q[0]).tolist()
        ranked = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))[:k]
        return ranked[::-1]
