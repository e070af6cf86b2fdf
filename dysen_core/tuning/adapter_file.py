"""LoRA adapters as llama.cpp reads them: a GGUF of type ``adapter`` whose tensors ``<name>.lora_a`` (rank × in)
and ``<name>.lora_b`` (out × rank) update the base model's ``<name>``, scaled by ``adapter.lora.alpha / rank``."""

from __future__ import annotations

import json
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..io import atomic_path

if TYPE_CHECKING:  # the llama-cpp LLM checks adapters with this module and must not import torch
    import torch


def write_adapter_gguf(path: str | Path, tensors: dict[str, torch.Tensor], alpha: float, provenance: dict[str, Any]) -> Path:
    """Write ``tensors`` (float16 on disk) as a llama-architecture LoRA adapter, atomically; ``provenance``
    goes into the file's metadata too, so the adapter always says where it came from."""
    import gguf
    import numpy as np
    import torch

    with atomic_path(path) as tmp:
        writer = gguf.GGUFWriter(str(tmp), "llama")
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
        writer.add_string("dysen.provenance", json.dumps(provenance, sort_keys=True))
        for name, value in sorted(tensors.items()):
            writer.add_tensor(name, value.detach().to(torch.float16).numpy().astype(np.float16))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return Path(path)


def read_adapter_provenance(path: str | Path) -> dict[str, Any]:
    """The provenance a dysen adapter file records (empty for adapters made elsewhere)."""
    text = read_header(path, "adapter").strings.get("dysen.provenance")
    return json.loads(text) if text is not None else {}


def check_adapter(adapter: str | Path, model: str | Path) -> None:
    """Raise ``ConfigError`` unless ``adapter`` is a LoRA GGUF whose tensors fit ``model``'s.

    llama.cpp loads a malformed or mismatched adapter without complaint and crashes the process on the first
    call, so adapters are checked here first, from the two files' headers (milliseconds, no tensor data read).
    """
    found, base = read_header(adapter, "adapter"), read_header(model, "model")
    if found.strings.get("general.type") != "adapter" or found.strings.get("adapter.type") != "lora":
        raise ConfigError(f"llm.options.adapter: {str(adapter)!r} is not a LoRA adapter GGUF")
    arch, model_arch = found.strings.get("general.architecture"), base.strings.get("general.architecture")
    if arch != model_arch:
        raise ConfigError(f"llm.options.adapter: {str(adapter)!r} is for {arch!r} models, the model is {model_arch!r}")
    for tensor, dims in found.shapes.items():
        name, _, part = tensor.rpartition(".")
        in_out = base.shapes.get(name)
        fits = in_out is not None and len(dims) == 2 and (
            (part == "lora_a" and dims[0] == in_out[0]) or (part == "lora_b" and dims[1] == in_out[1]))
        if not fits:
            raise ConfigError(f"llm.options.adapter: {str(adapter)!r} does not fit {Path(model).name} (tensor {tensor} {dims})")


@dataclass(frozen=True)
class Header:
    """A GGUF's string-valued metadata and its tensors' dimensions (fastest-varying first, as GGUF lists them)."""

    strings: dict[str, str]
    shapes: dict[str, list[int]]


_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # GGUF scalar value types
_STRING, _ARRAY = 8, 9


def read_header(path: str | Path, what: str) -> Header:
    """Parse a GGUF (v2/v3) header: metadata and tensor infos, skipping arrays (the tokenizer's 49k strings)
    without decoding them. ``gguf.GGUFReader`` decodes everything and takes seconds on a model file."""
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _parse_header(data)
    except (OSError, ValueError, struct.error, UnicodeDecodeError) as exc:
        raise ConfigError(f"llm.options.{what}: {str(path)!r} is not a readable GGUF {what} ({exc})") from None


def _parse_header(data: mmap.mmap) -> Header:
    if data[:4] != b"GGUF":
        raise ValueError("no GGUF magic number")
    version, tensors, entries = struct.unpack_from("<IQQ", data, 4)
    if version < 2:
        raise ValueError(f"GGUF version {version} is too old")
    at = 24

    def string(at: int) -> tuple[str, int]:
        (length,) = struct.unpack_from("<Q", data, at)
        return bytes(data[at + 8 : at + 8 + length]).decode("utf-8"), at + 8 + length

    def skip(kind: int, at: int) -> int:
        if kind in _SIZES:
            return at + _SIZES[kind]
        if kind == _STRING:
            return at + 8 + struct.unpack_from("<Q", data, at)[0]
        if kind == _ARRAY:
            inner, count = struct.unpack_from("<IQ", data, at)
            at += 12
            if inner in _SIZES:
                return at + count * _SIZES[inner]
            for _ in range(count):
                at = skip(inner, at)
            return at
        raise ValueError(f"unknown metadata value type {kind}")

    strings: dict[str, str] = {}
    for _ in range(entries):
        key, at = string(at)
        (kind,) = struct.unpack_from("<I", data, at)
        at += 4
        if kind == _STRING:
            strings[key], at = string(at)
        else:
            at = skip(kind, at)
    shapes: dict[str, list[int]] = {}
    for _ in range(tensors):
        name, at = string(at)
        (dims,) = struct.unpack_from("<I", data, at)
        shapes[name] = list(struct.unpack_from(f"<{dims}Q", data, at + 4))
        at += 4 + 8 * dims + 4 + 8  # dimensions, then the tensor type and data offset
    return Header(strings, shapes)
