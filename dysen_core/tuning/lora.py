"""LoRA (Hu et al. 2021): a frozen linear layer plus a trainable low-rank update, y = Wx + (alpha/r)·B(Ax).

B starts at zero, so an attached adapter leaves the model's output unchanged until it is trained. Adapters
are named by the GGUF tensor they update (``blk.3.attn_q.weight``), which is also how llama.cpp's adapter
files name them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from .llama import PROJECTIONS, LlamaDecoder


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.rank, self.alpha = rank, alpha
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout)

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (self.dropout(x) @ self.lora_a.T @ self.lora_b.T) * self.scale


def attach(model: LlamaDecoder, targets: Iterable[str], rank: int, alpha: float, dropout: float = 0.0) -> dict[str, LoRALinear]:
    """Freeze ``model`` and wrap the named projections of every block; returns the adapters by GGUF name."""
    targets = list(targets)
    unknown = sorted(set(targets) - set(PROJECTIONS))
    if unknown:
        raise ValueError(f"unknown LoRA targets {unknown}; choose from {list(PROJECTIONS)}")
    model.requires_grad_(False)
    adapters = {}
    for index, block in enumerate(model.blocks):
        for name in targets:
            adapter = LoRALinear(getattr(block, name), rank, alpha, dropout)
            setattr(block, name, adapter)
            adapters[f"blk.{index}.{name}.weight"] = adapter
    return adapters


def adapter_tensors(adapters: dict[str, LoRALinear]) -> dict[str, torch.Tensor]:
    """``<gguf name>.lora_a`` (rank, in) and ``.lora_b`` (out, rank) for every adapter, detached, on the CPU."""
    tensors = {}
    for name, adapter in adapters.items():
        tensors[f"{name}.lora_a"] = adapter.lora_a.detach().cpu().clone()
        tensors[f"{name}.lora_b"] = adapter.lora_b.detach().cpu().clone()
    return tensors


def load_adapter_tensors(adapters: dict[str, LoRALinear], tensors: dict[str, torch.Tensor]) -> None:
    """Put saved ``adapter_tensors`` back; names and shapes must match exactly."""
    expected = {f"{name}.{part}" for name in adapters for part in ("lora_a", "lora_b")}
    if set(tensors) != expected:
        missing, extra = sorted(expected - set(tensors))[:3], sorted(set(tensors) - expected)[:3]
        raise ValueError(f"adapter tensors do not match the model (missing {missing}, unexpected {extra})")
    with torch.no_grad():
        for name, adapter in adapters.items():
            adapter.lora_a.copy_(tensors[f"{name}.lora_a"])
            adapter.lora_b.copy_(tensors[f"{name}.lora_b"])
