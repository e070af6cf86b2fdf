"""The plugin manager: the core's own default plugins plus every distribution in the ``dysen`` entry-point group.

``DYSEN_LOAD_PLUGINS`` (comma-separated entry-point or distribution names) limits which installed plugins
load; set but empty, none do. ``DYSEN_TRACE_PLUGINS=1`` traces every registration to stderr.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points, version

import pluggy

from . import hookspecs
from .errors import PluginError

GROUP = "dysen"
DEFAULT_PLUGINS = (
    "dysen_core.default_plugins.skeleton",
    "dysen_core.default_plugins.scene_manager",
    "dysen_core.default_plugins.text_encoders",
    "dysen_core.default_plugins.metrics",
)
"""The core's built-in components register through the same hooks as any plugin."""


@dataclass(frozen=True)
class PluginInfo:
    """Where a registered plugin came from, for ``dysen plugins`` and error messages."""

    name: str
    distribution: str
    version: str


def core_version() -> str:
    return version("dysen")


def new_plugin_manager(*, load_entry_points: bool = True, eps: list[EntryPoint] | None = None) -> pluggy.PluginManager:
    """A fresh manager with the hook specs and default plugins, plus installed plugins unless told not to.

    ``eps`` replaces the installed entry points (tests use it to load an outside distribution in memory).
    """
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    pm.plugin_info = {}  # plugin name -> PluginInfo
    for module_name in DEFAULT_PLUGINS:
        register_plugin(pm, importlib.import_module(module_name), PluginInfo(module_name, "dysen", core_version()))
    if load_entry_points or eps is not None:
        for ep in _allowed(entry_points(group=GROUP) if eps is None else eps):
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken third-party package must say which one it is
                raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to import: {exc}") from exc
            dist = ep.dist
            info = PluginInfo(ep.name, dist.name if dist else ep.name, dist.version if dist else "unknown")
            register_plugin(pm, plugin, info)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r} implements an unknown hook: {exc}") from exc
    return pm


def register_plugin(pm: pluggy.PluginManager, plugin: object, info: PluginInfo) -> None:
    """Register one plugin object under ``info.name``, remembering where it came from."""
    if pm.has_plugin(info.name):
        return
    try:
        pm.register(plugin, name=info.name)
    except (pluggy.PluginValidationError, ValueError) as exc:
        raise PluginError(f"plugin {info.name!r} from {info.distribution} is invalid: {exc}") from exc
    pm.plugin_info[info.name] = info


def _allowed(eps) -> list[EntryPoint]:
    wanted = os.environ.get("DYSEN_LOAD_PLUGINS")
    if wanted is None:
        return list(eps)
    names = {name.strip() for name in wanted.split(",") if name.strip()}
    return [ep for ep in eps if ep.name in names or (ep.dist is not None and ep.dist.name in names)]


def tracing() -> bool:
    return os.environ.get("DYSEN_TRACE_PLUGINS", "") not in ("", "0")
