"""The `policy` demonstration selector (§5.5): registered by name, knn when untrained, seeded draws, safetensors heads."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from dysen_core.errors import ConfigError, InputError
from dysen_core.policy_selector import draw, save_head
from dysen_core.registry import Registry

POOL = ["a blue square spins", "a red circle jumps high", "the dog barks at the door", "a red circle moves left",
        "a green triangle grows", "the cat sleeps on the sofa"]
QUERIES = ["a red circle jumps", "the dog barks", "a green square spins", "a cat sleeps"]


@pytest.fixture
def registry(core_manager):
    return Registry.from_manager(core_manager)


@pytest.fixture
def encoder(registry):
    return registry.create("text_encoder", "random", {"dim": 16})


def test_policy_is_registered_and_needs_a_text_encoder(registry, encoder):
    assert "policy" in registry.names("demo_selector")
    assert registry.requires("demo_selector", "policy") == {"text_encoder"}
    with pytest.raises(ConfigError, match="demo_selector 'policy' needs a text_encoder section"):
        registry.create("demo_selector", "policy")
    with pytest.raises(ConfigError, match="temperature"):
        registry.create("demo_selector", "policy", {"temperature": 0}, text_encoder=encoder)


def test_an_untrained_head_ranks_like_knn(registry, encoder):
    knn = registry.create("demo_selector", "knn", text_encoder=encoder)
    policy = registry.create("demo_selector", "policy", text_encoder=encoder)
    for query in QUERIES:
        assert policy.select(query, POOL, 3) == knn.select(query, POOL, 3)
    assert policy.select("x", POOL, 0) == [] and len(policy.select("x", POOL, 99)) == len(POOL)


def test_pool_size_keeps_only_the_nearest_candidates(registry, encoder):
    knn = registry.create("demo_selector", "knn", text_encoder=encoder)
    policy = registry.create("demo_selector", "policy", {"pool_size": 2, "sample": True}, text_encoder=encoder)
    for query in QUERIES:
        assert sorted(policy.select(query, POOL, 5)) == sorted(knn.select(query, POOL, 2))


def test_draws_are_deterministic_per_seed_and_query(registry, encoder):
    def make(seed):
        return registry.create("demo_selector", "policy", {"sample": True, "temperature": 10, "seed": seed}, text_encoder=encoder)

    a, b = make(1), make(1)
    assert [a.select(q, POOL, 3) for q in QUERIES] == [b.select(q, POOL, 3) for q in reversed(QUERIES)][::-1]
    assert len({tuple(make(s).select(QUERIES[0], POOL, 3)) for s in range(8)}) > 1


def test_draw_log_probability_is_plackett_luce():
    logits = torch.tensor([0.5, -1.0, 2.0, 0.0])
    order, log_prob = draw(logits, 2, torch.Generator().manual_seed(0))
    first = torch.log_softmax(logits, 0)[order[0]]
    rest = logits.clone()
    rest[order[0]] = float("-inf")
    assert len(set(order)) == 2
    assert torch.isclose(log_prob, first + torch.log_softmax(rest, 0)[order[1]])


def test_save_and_load_round_trip(tmp_path, registry, encoder):
    trained = registry.create("demo_selector", "policy", text_encoder=encoder)
    with torch.no_grad():
        trained.head.weight.add_(torch.randn(16, 16, generator=torch.Generator().manual_seed(0)))
    path = save_head(tmp_path / "head.safetensors", trained, {"steps": 3, "seed": 0})
    loaded = registry.create("demo_selector", "policy", {"weights": str(path)}, text_encoder=encoder)
    assert torch.equal(loaded.head.weight, trained.head.weight) and torch.equal(loaded.head.bias, trained.head.bias)
    assert [loaded.select(q, POOL, 3) for q in QUERIES] == [trained.select(q, POOL, 3) for q in QUERIES]
    assert loaded.provenance == {"steps": 3, "seed": 0}
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["encoder"] == "random" and meta["dim"] == "16" and json.loads(meta["provenance"])["steps"] == 3
    assert b"pickle" not in path.read_bytes()[:8]


def test_bad_weights_are_user_errors(tmp_path, registry, encoder):
    with pytest.raises(InputError, match="not found; train them with `dysen icl train`"):
        registry.create("demo_selector", "policy", {"weights": str(tmp_path / "none.safetensors")}, text_encoder=encoder)
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(InputError, match="not a safetensors file"):
        registry.create("demo_selector", "policy", {"weights": str(tmp_path / "junk.safetensors")}, text_encoder=encoder)
    path = save_head(tmp_path / "head.safetensors", registry.create("demo_selector", "policy", text_encoder=encoder), {})
    other = registry.create("text_encoder", "random", {"dim": 8})
    with pytest.raises(ConfigError, match="width 16"):
        registry.create("demo_selector", "policy", {"weights": str(path)}, text_encoder=other)
