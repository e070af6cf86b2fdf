"""The Dysen-VDM shipped with this plugin, the offline default's backbone: trained on dynamic-shapes by
``configs/shapes-dysen.yaml`` (issue 8); ``models/dynamic-shapes/MODEL_CARD.md`` says how it was made."""

from __future__ import annotations

from pathlib import Path

from dysen_core.errors import ConfigError

from .checkpoint import MANIFEST

SHIPPED = "shipped"  # the `backbone.options.checkpoint` value that names it
SHIPPED_MODEL = Path(__file__).parent / "models" / "dynamic-shapes"


def resolve_checkpoint(checkpoint: str | None) -> Path | None:
    """The folder ``checkpoint`` names: ``shipped`` is the shipped model, anything else a path."""
    if checkpoint is None:
        return None
    if checkpoint == SHIPPED:
        if not (SHIPPED_MODEL / MANIFEST).is_file():
            raise ConfigError(f"the shipped model {SHIPPED_MODEL} is missing; reinstall dysen-plugin-backbone-vdm "
                              "or set backbone.options.checkpoint to a trained folder or null")
        return SHIPPED_MODEL
    return Path(checkpoint).expanduser()
