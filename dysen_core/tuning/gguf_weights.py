"""Reading a llama-architecture GGUF into float32 torch tensors, in llama.cpp's own layout.

The weights stay as llama.cpp stores them (rows = output features; Q and K rows permuted for its
interleaved rotary embedding), so an adapter trained on them applies to the GGUF unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError


@dataclass(frozen=True)
class LlamaShape:
    """The hyper-parameters a llama-architecture GGUF records under ``llama.*``."""

    layers: int
    width: int
    ffn_width: int
    heads: int
    kv_heads: int
    vocab: int
    rope_base: float
    norm_eps: float

    @property
    def head_dim(self) -> int:
        return self.width // self.heads


def _reader(path: Path):
    try:
        import gguf
    except ImportError as exc:
        raise ConfigError("reading GGUF weights needs the package gguf (pip install gguf)") from exc
    try:
        return gguf.GGUFReader(str(path))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read GGUF file {str(path)!r}: {exc}") from exc


def _field(reader, key: str):
    field = reader.fields.get(key)
    if field is None:
        raise ConfigError(f"GGUF file lacks {key!r}; only llama-architecture models can be tuned")
    return field.contents()


def read_shape(reader) -> LlamaShape:
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ConfigError(f"GGUF architecture is {arch!r}; only 'llama' models can be tuned")
    return LlamaShape(
        layers=int(_field(reader, "llama.block_count")),
        width=int(_field(reader, "llama.embedding_length")),
        ffn_width=int(_field(reader, "llama.feed_forward_length")),
        heads=int(_field(reader, "llama.attention.head_count")),
        kv_heads=int(_field(reader, "llama.attention.head_count_kv")),
        vocab=int(_field(reader, "llama.vocab_size")),
        rope_base=float(_field(reader, "llama.rope.freq_base")),
        norm_eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
    )


def load_gguf(path: str | Path) -> tuple[LlamaShape, dict[str, torch.Tensor]]:
    """The model's shape and every tensor, dequantised to float32, keyed by its GGUF name."""
    from gguf import dequantize

    reader = _reader(Path(path))
    shape = read_shape(reader)
    tensors = {}
    for tensor in reader.tensors:
        values = dequantize(tensor.data, tensor.tensor_type)
        dims = [int(d) for d in reversed(tensor.shape.tolist())]  # GGUF lists the fastest-varying dimension first
        tensors[tensor.name] = torch.from_numpy(np.array(values, dtype=np.float32).reshape(dims))
    return shape, tensors
