"""Run configuration: YAML files and presets read into pydantic, one section per pipeline stage.

A file may start from another with ``base: NAME`` (a preset) or ``base: path.yaml`` (relative to the file);
its keys are merged over the base's. Setting a section to ``null`` removes that stage (the ablations use
this), and naming a different component in a section drops the base's options for it, since options
belong to one component. ``--set a.b=value`` overrides apply last. Every error names the key and the
file that set it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from .datamodel import SCHEMA_VERSION
from .errors import ConfigError, UnknownComponentError
from .io import validation_lines
from .llm_client import LLMClientOptions
from .redact import redact
from .registry import Registry
from .temporal_check import TemporalCheck

PRESETS_DIR = Path(__file__).parent / "presets"
DEFAULT_PRESET = "default"
FULL_VARIANT = "full"
FULL_DESCRIPTION = "The full model: the base config itself"
_MISSING = object()
STAGES = ("llm", "demo_selector", "planner", "dsg_builder", "imaginer", "imagination_selector", "text_encoder", "graph_encoder",
          "backbone")
STAGE_KINDS = {"imagination_selector": "demo_selector"}
"""Config sections whose component is of another kind than the section's name."""
"""Config sections that name a component, in pipeline order; each is also a component kind."""

Origins = dict[tuple[str, ...], str]  # key path -> the file (or override) that set it


class _Loader(yaml.SafeLoader):
    """YAML with only true/false as booleans: YAML 1.1 would read `cache_mode: off` as false."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class ComponentRef(BaseModel):
    """A registered component by name, with the options its ``Options`` model validates."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Registered name (see `dysen plugins`).")
    options: dict[str, Any] = Field(default_factory=dict, description="The component's options.")


class VideoSettings(BaseModel):
    """The videos to generate (paper §5.1: 16 frames of 256×256)."""

    model_config = ConfigDict(extra="forbid")

    frames: int = Field(default=16, ge=1, le=1024, description="Frames per video (F).")
    height: int = Field(default=256, ge=8, le=4096, description="Frame height in pixels.")
    width: int = Field(default=256, ge=8, le=4096, description="Frame width in pixels.")
    fps: int = Field(default=8, ge=1, le=240, description="Frame rate of written video files.")


class RunConfig(BaseModel):
    """A whole Dysen-VDM run: which component serves each stage, and how it is set."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    description: str = Field(default="", description="What this configuration is for.")
    seed: int = Field(default=0, ge=0, description="Seed for every random choice of the run.")
    video: VideoSettings = Field(default_factory=VideoSettings)
    llm: ComponentRef | None = Field(default=None, description="The LLM consulted in Steps I and III.")
    demo_selector: ComponentRef | None = Field(default=None, description="Chooses in-context demonstrations.")
    planner: ComponentRef | None = Field(default=None, description="Step I; null disables Dysen.")
    dsg_builder: ComponentRef = Field(default_factory=lambda: ComponentRef(name="skeleton"), description="Step II.")
    imaginer: ComponentRef | None = Field(default=None, description="Step III; null means no imagination.")
    imagination_selector: ComponentRef | None = Field(
        default=None, description="Chooses Step III's demonstrations (a demo_selector, e.g. a policy trained with "
        "`dysen icl train --reward imagination`); null: the demo_selector's choice.")
    text_encoder: ComponentRef | None = Field(default=None, description="Embeds prompts and DSG labels.")
    graph_encoder: ComponentRef | None = Field(default=None, description="Encodes DSGs (RGTrm, RGNN).")
    backbone: ComponentRef | None = Field(default=None, description="The video diffusion model.")
    llm_client: LLMClientOptions = Field(
        default_factory=LLMClientOptions, description="Cache, replay, retries and concurrency of LLM calls."
    )
    temporal_check: TemporalCheck.Options = Field(
        default_factory=TemporalCheck.Options, description="Re-times Step I's plan where it contradicts the prompt's connectives."
    )

    _origins: Origins = PrivateAttr(default_factory=dict)

    def origin(self, *path: str) -> str:
        """The file (or ``--set`` override) that set the key at ``path``, for error messages."""
        for n in range(len(path), 0, -1):
            if path[:n] in self._origins:
                return self._origins[path[:n]]
        return "the defaults"

    def option_origin(self, stage: str, error: str) -> str:
        """The file that set the option of ``stage`` an error message names (else the one that set its options)."""
        named = [path for path in self._origins if path[:2] == (stage, "options") and len(path) > 2 and ".".join(path) in error]
        return self._origins[max(named, key=len)] if named else self.origin(stage, "options")


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def load_config(
    path: str | Path | None = None, *, preset: str | None = None, variant: Variant | None = None, overrides: Iterable[str] = ()
) -> RunConfig:
    """The run configuration from a file or a preset (default: the offline default), then a variant's changes, then overrides."""
    if path is not None and preset is not None:
        raise ConfigError("give either a config file or a preset, not both")
    data, origins = _load_layer(Path(path) if path is not None else _preset_path(preset or DEFAULT_PRESET), ())
    if variant is not None:
        _merge(data, _relative(variant.changes, variant.reference, data), origins, (), f"variant {variant.name}")
    for override in overrides:
        _apply_override(data, origins, override)
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as exc:
        probe = RunConfig()
        probe._origins = origins
        lines = validation_lines(exc, origin=lambda path: probe.origin(*path))
        raise ConfigError(f"invalid configuration:\n{lines}") from None
    config._origins = origins
    return config


class Variant(BaseModel):
    """An ablation: what a preset (or file) changes in the config it starts from, to apply to any other config.

    A changed value is taken as is; a value the variant merely repeats from its own base (the ``rgnn`` preset's
    paper-sized layers and width) is a size, not a switch, so the config it is applied to keeps its own.
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="`full`, a preset name or a .yaml path, as the user gave it.")
    description: str = Field(default="", description="The variant file's description.")
    changes: dict[str, Any] = Field(default_factory=dict, description="The file's own keys, less `base` and `description`.")
    reference: dict[str, Any] = Field(default_factory=dict, description="The merged config the file starts from.")

    @property
    def full(self) -> bool:
        """No changes: the config it is applied to, unchanged (``full``, or a file without ``base`` such as ``paper``)."""
        return not self.changes


def load_trained_config(folder: str | Path, overrides: Iterable[str] = ()) -> RunConfig:
    """The run config a `dysen train` folder was trained with, set to load that folder's weights."""
    return load_config(Path(folder) / "run_config.json", overrides=[*overrides, f"backbone.options.checkpoint={folder}"])


def read_variant(name: str) -> Variant:
    """The variant ``name``: ``full`` (no change), a preset, or a .yaml file; a file without ``base`` is a whole model."""
    if name == FULL_VARIANT:
        return Variant(name=name, description=FULL_DESCRIPTION)
    if name.endswith((".yaml", ".yml")):
        path = Path(name).resolve()
    elif (PRESETS_DIR / f"{name}.yaml").is_file():
        path = PRESETS_DIR / f"{name}.yaml"
    else:
        raise UnknownComponentError(f"unknown variant {name!r}; give {FULL_VARIANT}, a preset ({', '.join(preset_names())}) or a .yaml file")
    own = _read_yaml(path)
    base, description = own.pop("base", None), str(own.pop("description", ""))
    if base is None:  # a whole model, like `paper`: as a variant it is the base config itself
        return Variant(name=name, description=FULL_DESCRIPTION)
    reference, _ = _load_base(path, base, (path,))
    return Variant(name=name, description=description, changes=own, reference=reference)


def _relative(changes: dict, reference: dict, current: Any) -> dict:
    """``changes`` with each value equal to ``reference``'s replaced by ``current``'s (dropped where it has none)."""
    current = current if isinstance(current, dict) else {}
    out: dict[str, Any] = {}
    for key, value in changes.items():
        ref, cur = reference.get(key, _MISSING), current.get(key, _MISSING)
        if key in STAGES and isinstance(value, dict) and "name" not in value and cur in (None, _MISSING):
            continue  # options of a stage the current config does not have: nothing to change
        if isinstance(value, dict) and isinstance(ref, dict):
            out[key] = _relative(value, ref, cur)
        elif value != ref:
            out[key] = value
        elif cur is not _MISSING:
            out[key] = cur
    return out


def resolve(config: RunConfig, registry: Registry, *, strict: bool = False) -> tuple[RunConfig, list[str]]:
    """``config`` with each installed component's options validated and defaults filled in.

    Returns the resolved config and notes about components that are not installed; with ``strict`` a
    missing component is an error instead of a note.
    """
    notes: list[str] = []
    updates: dict[str, ComponentRef] = {}
    for stage in STAGES:
        ref: ComponentRef | None = getattr(config, stage)
        if ref is None:
            continue
        kind = STAGE_KINDS.get(stage, stage)
        if ref.name not in registry.names(kind):
            if strict:
                registry.get(kind, ref.name)  # raises the unknown-component error listing what exists
            notes.append(f"{stage} {ref.name!r} is not installed; its options are shown unvalidated")
            continue
        try:
            options = registry.options(kind, ref.name, ref.options).model_dump(mode="json")
        except ConfigError as exc:
            message = str(exc).replace(f"{kind}.options.", f"{stage}.options.")  # the key as the config spells it
            raise ConfigError(redact(f"{message}\n  (options set in {config.option_origin(stage, message)})")) from None
        updates[stage] = ComponentRef(name=ref.name, options=options)
    resolved = config.model_copy(update=updates)
    resolved._origins = config._origins
    return resolved, notes


def to_yaml(config: RunConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def read_settings(path: Path, overrides: Sequence[str] = ()) -> dict:
    """One YAML mapping (``base`` not followed) with ``key.path=value`` overrides: for tools' own configs."""
    data: dict = _read_yaml(path)
    for override in overrides:
        _apply_override(data, {}, override)
    return data


def _preset_path(name: str) -> Path:
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise UnknownComponentError(f"unknown preset {name!r}; presets: {', '.join(preset_names())}")
    return path


def _load_layer(path: Path, seen: tuple[Path, ...]) -> tuple[dict, Origins]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"{path}: `base` chain loops back to this file")
    data = _read_yaml(path)
    merged, origins = _load_base(path, data.pop("base", None), (*seen, path))
    _merge(merged, data, origins, (), str(path))
    return merged, origins


def _read_yaml(path: Path) -> dict:
    """One config file's own keys (``base`` not followed)."""
    if not path.is_file():
        raise ConfigError(f"config file '{path}' not found")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of sections, got {type(data).__name__}")
    return data


def _load_base(path: Path, base: Any, seen: tuple[Path, ...]) -> tuple[dict, Origins]:
    """What the file at ``path`` starts from: its ``base`` preset or file, merged; nothing without one."""
    if base is None:
        return {}, {}
    if isinstance(base, str) and base.endswith((".yaml", ".yml")):
        return _load_layer(path.parent / base, seen)
    if isinstance(base, str):
        return _load_layer(_preset_path(base), seen)
    raise ConfigError(f"{path}: `base` must be a preset name or a .yaml path, got {base!r}")


def _merge(into: dict, layer: dict, origins: Origins, prefix: tuple[str, ...], source: str) -> None:
    for key, value in layer.items():
        key = str(key)
        here = (*prefix, key)
        old = into.get(key)
        renamed = isinstance(old, dict) and isinstance(value, dict) and "name" in value and value["name"] != old.get("name")
        if isinstance(old, dict) and isinstance(value, dict) and not renamed:
            _merge(old, value, origins, here, source)
        else:
            into[key] = _copy(value)
            for path in [p for p in origins if p[: len(here)] == here]:
                del origins[path]
            _mark(value, origins, here, source)
        origins.setdefault(here, source)


def _mark(value: Any, origins: Origins, here: tuple[str, ...], source: str) -> None:
    origins[here] = source
    if isinstance(value, dict):
        for key, sub in value.items():
            _mark(sub, origins, (*here, str(key)), source)


def _copy(value: Any) -> Any:
    return {k: _copy(v) for k, v in value.items()} if isinstance(value, dict) else value


def _apply_override(data: dict, origins: Origins, override: str) -> None:
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {override!r} must look like section.key=value")
    path = key.strip().split(".")
    try:
        value = yaml.load(raw, Loader=_Loader)
    except yaml.YAMLError:
        value = raw
    node = data
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    _merge(node, {path[-1]: value}, origins, tuple(path[:-1]), f"--set {override}")
