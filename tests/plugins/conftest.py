"""The ``registry`` fixture of the plugin tests: the core's components plus the module's ``PLUGIN``, loaded
from its module rather than its entry point, so the test sees exactly that plugin."""

from __future__ import annotations

import pytest

from dysen_core.plugins import PluginInfo, new_plugin_manager, register_plugin
from dysen_core.registry import Registry


@pytest.fixture(scope="module")
def registry(request) -> Registry:
    module = request.module.PLUGIN
    name = module.__name__.removeprefix("dysen_plugin_")
    pm = new_plugin_manager(load_entry_points=False)
    register_plugin(pm, module, PluginInfo(name, f"dysen-plugin-{name.replace('_', '-')}", "test"))
    return Registry.from_manager(pm)
