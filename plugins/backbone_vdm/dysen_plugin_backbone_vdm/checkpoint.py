"""Backbone checkpoint folders: ``backbone.json`` (what the weights need) plus safetensors files, never pickle.

``backbone.json`` names the component, its model options, the text and graph encoders the weights were
trained with, the package versions and the sha256 of every weight file. Loading checks all of it before a
tensor is read, so a truncated or tampered file, or a config that builds a different model, fails with a
message that says what differs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dysen_core.errors import InputError
from dysen_core.io import write_json_atomic, write_safetensors_atomic

MANIFEST = "backbone.json"
FORMAT = "dysen-backbone/1"
# Not weights: `dysen train` writes the run config after the weights and rewrites it on a resumed or longer run.
UNHASHED = {MANIFEST, "run_config.json"}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, needs: Mapping[str, Any], versions: Mapping[str, str]) -> dict[str, Any]:
    """Hash every weight file under ``folder`` and write ``backbone.json``; returns what it wrote."""
    files = {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*"))
             if p.is_file() and p.relative_to(folder).as_posix() not in UNHASHED}
    manifest = {"format": FORMAT, "needs": dict(needs), "versions": dict(versions), "files": files}
    write_json_atomic(folder / MANIFEST, manifest)
    return manifest


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """``backbone.json`` of ``folder``, after checking every listed file is present and unchanged."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise InputError(f"{folder} is not a backbone checkpoint (no {MANIFEST}); pass a folder written by `dysen train`")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not readable JSON ({exc}); the checkpoint is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError(f"{path} is not a {FORMAT} manifest; it was written by another tool or version")
    for name, expected in manifest.get("files", {}).items():
        file = folder / name
        if not file.is_file():
            raise InputError(f"checkpoint {folder} lacks {name}; copy the whole folder")
        if sha256(file) != expected:
            raise InputError(f"checkpoint file {file} does not match its recorded sha256: it is truncated or was modified")
    return manifest


def differences(saved: Any, wanted: Any, path: str = "") -> list[str]:
    """Human-readable ``key: checkpoint X, config Y`` lines where two JSON-like values differ."""
    if isinstance(saved, dict) and isinstance(wanted, dict):
        lines = []
        for key in sorted(set(saved) | set(wanted)):
            lines += differences(saved.get(key), wanted.get(key), f"{path}.{key}" if path else str(key))
        return lines
    return [] if saved == wanted else [f"{path}: checkpoint {json.dumps(saved)}, config {json.dumps(wanted)}"]


def check_needs(folder: Path, saved: Mapping[str, Any], wanted: Mapping[str, Any]) -> None:
    """Refuse a checkpoint whose model options or encoders differ from the config's."""
    lines = differences(dict(saved), dict(wanted))
    if lines:
        shown = "; ".join(lines[:4]) + (f"; and {len(lines) - 4} more" if len(lines) > 4 else "")
        raise InputError(f"checkpoint {folder} does not fit this config: {shown}")


def load_state(module, file: Path, new: Callable[[str], bool] | None = None) -> None:
    """Load a safetensors state dict into ``module``, strictly but for keys ``new`` accepts as absent from the file.

    A mismatch is a one-line error.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(file))
    except (OSError, SafetensorError) as exc:
        raise InputError(f"{file} is not a readable safetensors file: {exc}") from None
    missing, unexpected = module.load_state_dict(state, strict=False)
    missing = [key for key in missing if new is None or not new(key)]
    if missing or unexpected:
        raise InputError(f"{file} does not fit the model: missing {missing[:3]}, unexpected {unexpected[:3]}")


def save_state(module, file: Path) -> None:
    """Write ``module``'s state dict to ``file`` as safetensors, atomically."""
    write_safetensors_atomic(file, module.state_dict())
