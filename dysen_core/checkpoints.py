"""Optimizer state inside safetensors checkpoints: tensors by parameter slot, the rest as JSON metadata.

Checkpoints are never pickles, so an optimizer's state dict is split into named tensors and a JSON string
that together rebuild it.
"""

from __future__ import annotations

import json
from typing import Any

import torch


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], str]:
    """``optim.<param id>.<slot>`` tensors and the parameter groups as JSON."""
    saved = optimizer.state_dict()
    tensors = {f"optim.{pid}.{name}": value.detach().cpu().clone().contiguous()
               for pid, slots in saved["state"].items() for name, value in slots.items()}
    return tensors, json.dumps(saved["param_groups"])


def optimizer_state(tensors: dict[str, torch.Tensor], groups: str) -> dict[str, Any]:
    """The state dict ``optimizer_tensors`` split up (other tensors in ``tensors`` are ignored)."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".")
            state.setdefault(int(pid), {})[name] = value
    return {"state": state, "param_groups": json.loads(groups)}
