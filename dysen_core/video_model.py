"""The video half of a run config: the text encoder, the graph encoder and the backbone, built together.

``dysen generate`` and ``dysen train`` both need the backbone with the encoders it conditions on; this is
the one place that wires them from a ``RunConfig``, after the scene manager (and its LLM) is gone.
"""

from __future__ import annotations

from typing import Any

from .config import RunConfig
from .errors import ConfigError
from .registry import Registry, get_registry


def build_backbone(config: RunConfig, registry: Registry | None = None) -> Any:
    """The config's backbone, given the text encoder, graph encoder and video settings it asks for."""
    registry = registry or get_registry()
    if config.backbone is None:
        raise ConfigError("this config has no backbone section; add `backbone: {name: latent-vdm}` (see `dysen config show`)")
    wanted = registry.requires("backbone", config.backbone.name)
    deps: dict[str, Any] = {"video": config.video}
    if "text_encoder" in wanted and config.text_encoder is not None:
        deps["text_encoder"] = registry.create("text_encoder", config.text_encoder.name, config.text_encoder.options)
    if "graph_encoder" in wanted and config.graph_encoder is not None:
        ref = config.graph_encoder
        deps["graph_encoder"] = registry.create("graph_encoder", ref.name, ref.options, **deps)
    return registry.create("backbone", config.backbone.name, config.backbone.options, **deps)
