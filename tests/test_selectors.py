"""Demonstration selectors: fixed, random (reproducible), knn (most similar last; batched query embeddings)."""

from __future__ import annotations

import pytest

from dysen_core.errors import ConfigError
from dysen_core.registry import Registry

POOL = ["a blue square spins", "a red circle jumps high", "the dog barks at the door", "a red circle moves left"]


@pytest.fixture
def registry(core_manager):
    return Registry.from_manager(core_manager)


def test_fixed_takes_the_first_k(registry):
    assert registry.create("demo_selector", "fixed").select("anything", POOL, 3) == [0, 1, 2]
    assert registry.create("demo_selector", "fixed").select("anything", POOL, 9) == [0, 1, 2, 3]


def test_random_is_reproducible_per_seed_and_query(registry):
    a = registry.create("demo_selector", "random", {"seed": 1})
    b = registry.create("demo_selector", "random", {"seed": 1})
    assert a.select("q", POOL, 3) == b.select("q", POOL, 3)
    assert len(set(a.select("q", POOL, 3))) == 3
    draws = {tuple(registry.create("demo_selector", "random", {"seed": s}).select("q", POOL, 3)) for s in range(8)}
    assert len(draws) > 1


def test_knn_puts_the_nearest_last_and_embeds_each_query_once(registry):
    encoder = registry.create("text_encoder", "random", {"dim": 64})
    calls = []
    embed = encoder.embed
    encoder.embed = lambda texts: calls.append(list(texts)) or embed(texts)
    knn = registry.create("demo_selector", "knn", text_encoder=encoder)
    chosen = knn.select("a red circle jumps", POOL, 2)
    assert chosen[-1] == 1 and 2 not in chosen
    knn.select("a red circle jumps", POOL, 2)
    assert calls == [POOL, ["a red circle jumps"]]  # the pool and the query, each embedded once
    knn.prefetch(["the dog barks", " a blue square spins "])
    assert calls[-1] == ["the dog barks", "a blue square spins"]  # one batch for the whole chunk
    assert knn.select("the dog barks", POOL, 1) == [2] and len(calls) == 3


def test_knn_needs_a_text_encoder(registry):
    with pytest.raises(ConfigError, match="demo_selector 'knn' needs a text_encoder section"):
        registry.create("demo_selector", "knn")
