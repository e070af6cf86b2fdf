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


@pytest.fixture
def core_manager():
    """A fresh manager with the core's default plugins and no installed entry points."""
    return new_plugin_manager(load_entry_points=False)


@pytest.fixture
def figure3_plan() -> ActionPlan:
    """The paper's Figure 3 test example, as planned in the figure."""
    return ActionPlan.model_validate_json((EXAMPLES / "figure3_plan.json").read_text())
