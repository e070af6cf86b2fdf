"""Sentence vectors kept in the run's LLM cache, so demonstration selection costs no model call twice.

Nearest-neighbour (and policy) selection embeds every prompt before its first LLM request, and that
forward pass bounds how fast a cached batch can be replayed. Stored next to the answers, the vectors
make a replay read both from one SQLite file; the embedding model is not even loaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .llm_cache import LLMCache, canonical_json

if TYPE_CHECKING:
    import torch

KEY_VERSION = 1  # bump when the key payload changes


class CachedEmbeddings:
    """A text encoder whose ``embed`` reads stored vectors first (float32, on the CPU) and stores the rest.

    ``tokens`` and everything else pass through to the wrapped encoder, which must have ``cache_identity()``.
    """

    def __init__(self, encoder: Any, cache: LLMCache):
        self.encoder, self.cache, self.name = encoder, cache, encoder.name
        self._prefix = canonical_json({"v": KEY_VERSION, "encoder": encoder.cache_identity()})

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def tokens(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder.tokens(texts)

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        import torch

        keys = [self._key(t) for t in texts]
        found = self.cache.get_vectors(list(dict.fromkeys(keys)))
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in found))
        if missing:
            vectors = self.encoder.embed(missing).detach().float().cpu()
            new = {self._key(t): v.numpy().tobytes() for t, v in zip(missing, vectors)}
            self.cache.put_vectors(new)
            found.update(new)
        if not keys:
            return self.encoder.embed([])
        return torch.stack([torch.frombuffer(bytearray(found[k]), dtype=torch.float32) for k in keys])

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self._prefix}\0{text}".encode()).hexdigest()


def with_cache(encoder: Any, cache: LLMCache | None) -> Any:
    """``encoder`` with its vectors cached in ``cache``, when there is one and the encoder says what it is."""
    if cache is None or not callable(getattr(encoder, "cache_identity", None)):
        return encoder
    return CachedEmbeddings(encoder, cache)
