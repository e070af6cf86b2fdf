"""Every hook is documented (a page headed by its signature) and tested (a test_hook_<name> test)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from dysen_core import hookspecs
from dysen_core.registry import HOOKS

ROOT = Path(__file__).parent.parent
HOOK_NAMES = sorted(name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("register_"))


def test_every_kind_has_a_hook():
    assert sorted(HOOKS.values()) == HOOK_NAMES


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_hook_is_documented(hook):
    page = ROOT / "docs" / "hooks" / f"{hook}.md"
    assert page.is_file(), f"docs/hooks/{hook}.md is missing"
    assert page.read_text().startswith(f"# {hook}(register)\n")
    assert f"`{hook}(register)`" in (ROOT / "docs" / "plugins.md").read_text()


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_hook_has_a_test(hook):
    assert f"def test_hook_{hook}(" in (Path(__file__).parent / "test_hooks.py").read_text()


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_hook_spec_has_docstring(hook):
    spec = getattr(hookspecs, hook)
    assert list(inspect.signature(spec).parameters) == ["register"]
    assert ":param register:" in spec.__doc__
