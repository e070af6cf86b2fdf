"""The component registry: every (kind, name) → factory that the plugins registered.

Each registration hook is called once per plugin with a ``register(name, factory)`` callback, so a
name clash can name both plugins. A factory has an inner pydantic ``Options`` model; ``create``
validates a config's options against it and passes the dependencies the factory asks for.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pluggy
from pydantic import BaseModel, ValidationError

from .errors import ConfigError, PluginError, UnknownComponentError
from .io import validation_lines
from .plugins import PluginInfo, new_plugin_manager, tracing
from .protocols import PROTOCOLS

KINDS: tuple[str, ...] = tuple(PROTOCOLS)
HOOKS: dict[str, str] = {kind: f"register_{kind}s" for kind in KINDS}
DEPENDENCIES = ("llm", "demo_selector", "text_encoder", "graph_encoder", "video")
"""What a factory may ask for by naming it in its signature; ``video`` is the run's ``VideoSettings``."""


@dataclass(frozen=True)
class Registration:
    """One registered component."""

    kind: str
    name: str
    factory: Any
    plugin: PluginInfo

    @property
    def options_model(self) -> type[BaseModel]:
        return self.factory.Options


class Registry:
    """Lookup and construction of components by kind and name."""

    def __init__(self, registrations: list[Registration]):
        self._by_kind: dict[str, dict[str, Registration]] = {kind: {} for kind in KINDS}
        for reg in registrations:
            self._by_kind[reg.kind][reg.name] = reg

    @classmethod
    def from_manager(cls, pm: pluggy.PluginManager) -> Registry:
        """Call every registration hook of every plugin in ``pm`` and collect what they register."""
        found: dict[tuple[str, str], Registration] = {}
        for kind, hook_name in HOOKS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                info = pm.plugin_info.get(impl.plugin_name, PluginInfo(impl.plugin_name, impl.plugin_name, "unknown"))

                def register(name: str, factory: Any, *, _kind: str = kind, _info: PluginInfo = info) -> None:
                    reg = _checked(_kind, name, factory, _info)
                    if (_kind, name) in found:
                        first = found[(_kind, name)].plugin
                        raise PluginError(
                            f"{_kind} {name!r} is registered twice: by {first.distribution} ({first.name}) "
                            f"and by {_info.distribution} ({_info.name}); uninstall one of them"
                        )
                    found[(_kind, name)] = reg
                    if tracing():
                        print(f"dysen: {_info.name} registered {_kind} {name!r} -> {factory!r}", file=sys.stderr)

                impl.function(**{arg: register for arg in impl.argnames})
        return cls(list(found.values()))

    def names(self, kind: str) -> list[str]:
        return sorted(self._by_kind[_known_kind(kind)])

    def entries(self) -> list[Registration]:
        return [reg for kind in KINDS for _, reg in sorted(self._by_kind[kind].items())]

    def get(self, kind: str, name: str) -> Registration:
        regs = self._by_kind[_known_kind(kind)]
        if name not in regs:
            installed = ", ".join(sorted(regs)) or "none"
            raise UnknownComponentError(f"unknown {kind} {name!r}; installed: {installed} (see `dysen plugins`)")
        return regs[name]

    def requires(self, kind: str, name: str) -> set[str]:
        """The other components that factory ``name`` of ``kind`` asks for (among DEPENDENCIES)."""
        return _dependency_names(self.get(kind, name).factory)

    def options(self, kind: str, name: str, options: Mapping[str, Any] | None = None) -> BaseModel:
        """``options`` validated by the component's ``Options``; errors name ``kind.options.field``."""
        reg = self.get(kind, name)
        try:
            return reg.options_model.model_validate(dict(options or {}))
        except ValidationError as exc:
            raise ConfigError(_options_message(kind, name, exc)) from None

    def create(self, kind: str, name: str, options: Mapping[str, Any] | None = None, **deps: Any) -> Any:
        """Build component ``name`` of ``kind`` with validated ``options`` and the ``deps`` it asks for."""
        reg = self.get(kind, name)
        opts = self.options(kind, name, options)
        wanted = _dependency_names(reg.factory)
        return reg.factory(opts, **{k: v for k, v in deps.items() if k in wanted})


def _checked(kind: str, name: object, factory: Any, info: PluginInfo) -> Registration:
    where = f"plugin {info.name!r} ({info.distribution})"
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise PluginError(f"{where} registered a {kind} with an invalid name {name!r}")
    options = getattr(factory, "Options", None)
    if not (isinstance(options, type) and issubclass(options, BaseModel)):
        raise PluginError(f"{where} registered {kind} {name!r} whose factory has no pydantic `Options` model")
    if not callable(factory):
        raise PluginError(f"{where} registered {kind} {name!r} with a factory that is not callable")
    return Registration(kind, name, factory, info)


def _dependency_names(factory: Any) -> set[str]:
    params = inspect.signature(factory).parameters
    return {name for name in DEPENDENCIES if name in params}


def _known_kind(kind: str) -> str:
    if kind not in PROTOCOLS:
        raise UnknownComponentError(f"unknown component kind {kind!r}; kinds: {', '.join(KINDS)}")
    return kind


def _options_message(kind: str, name: str, exc: ValidationError) -> str:
    return f"invalid options for {kind} {name!r}:\n{validation_lines(exc, prefix=f'{kind}.options')}"


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The registry of this process: default plugins plus installed, allowed entry points."""
    return Registry.from_manager(new_plugin_manager())
