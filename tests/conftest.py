"""Shared fixtures: a plugin manager with only the core's default plugins, and the Figure 3 plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from dysen_core.datamodel import ActionPlan
from dysen_core.plugins import new_plugin_manager

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.fixture(autouse=True)
def _private_llm_cache(tmp_path, monkeypatch):
    """Every test gets its own LLM answer cache, never the user's."""
    monkeypatch.setenv("DYSEN_CACHE_DIR", str(tmp_path / "llm-cache"))


@pytest.fixture(scope="module")
def one_torch_thread():
    """Toy-sized torch models on two shared cores: one thread is several times faster than two that spin
    against each other (a tiny generate: 0.3 s against 3 s). Modules opt in with ``usefixtures``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def core_manager():
    """A fresh manager with the core's default plugins and no installed entry points."""
    return new_plugin_manager(load_entry_points=False)


@pytest.fixture
def figure3_plan() -> ActionPlan:
    """The paper's Figure 3 test example, as planned in the figure."""
    return ActionPlan.model_validate_json((EXAMPLES / "figure3_plan.json").read_text())
