"""The Dysen planner adapter shipped with this plugin: a LoRA for the embedded SmolLM2, trained on the
planning corpus by ``dysen planner train`` (issue 10); ``adapters/PROVENANCE.md`` says how it was made."""

from __future__ import annotations

from pathlib import Path

from dysen_core.errors import ConfigError

SHIPPED_ADAPTER = Path(__file__).parent / "adapters" / "dysen-planner-smollm2-135m.gguf"


def resolve_adapter(adapter: str | None, *, embedded: bool) -> Path | None:
    """The adapter file ``adapter`` names: ``auto`` is the shipped one for the embedded model (none for others)."""
    if adapter is None or (adapter == "auto" and not embedded):
        return None
    if adapter == "auto":
        if not SHIPPED_ADAPTER.is_file():
            raise ConfigError(f"the shipped planner adapter {SHIPPED_ADAPTER.name} is missing; reinstall "
                              "dysen-plugin-llm-local or set llm.options.adapter to null")
        return SHIPPED_ADAPTER
    path = Path(adapter).expanduser()
    if not path.is_file():
        raise ConfigError(f"llm.options.adapter: no adapter file at {adapter!r}; give a LoRA GGUF, 'auto' or null")
    return path
