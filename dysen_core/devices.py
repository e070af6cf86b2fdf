"""Device settings (``device: auto | cpu | cuda | cuda:1 ...``) as torch devices, with errors that say what to write."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    import torch


def torch_device(name: str, option: str) -> torch.device:
    """``name`` as a torch device; ``auto`` is CUDA when torch sees a GPU, else the CPU. ``option`` names the
    setting (e.g. ``backbone.options.device``) in the error a bad value gets."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"{option} {name!r} is not a torch device; write 'auto', 'cpu' or 'cuda'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{option} is {name!r} but torch sees no CUDA GPU here; write 'cpu' (or 'auto')")
    return device
