"""Loading a diffusers pipeline for one GPU: where it comes from, its dtype and device, offloading and VAE memory.

The model is a local folder (with ``model_index.json``) or a Hugging Face hub id; a user's mistake (no such
folder, a hub id that cannot be fetched, offloading without a GPU) is a ``ConfigError`` with one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch

from dysen_core.errors import ConfigError

Offload = Literal["none", "model", "sequential"]
DTypes = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto`` is float16 on a GPU (how the public video checkpoints are run) and float32 on the CPU."""
    if name == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    return DTypes[name]


def load_pipeline(model: str, *, dtype: torch.dtype, local_files_only: bool) -> Any:
    """The pipeline saved at folder ``model``, or under hub id ``model``, with its weights in ``dtype``."""
    from diffusers import DiffusionPipeline

    folder = Path(model).expanduser()
    if folder.exists():
        if not (folder / "model_index.json").is_file():
            raise ConfigError(f"backbone.options.model {model!r} has no model_index.json; pass a folder saved by a diffusers pipeline")
        source = str(folder)
    elif model.startswith((".", "/", "~")) or model.count("/") != 1:
        raise ConfigError(f"backbone.options.model {model!r}: no such folder; pass a diffusers pipeline folder or a hub id (org/name)")
    else:
        source = model
    try:
        return DiffusionPipeline.from_pretrained(source, dtype=dtype, local_files_only=local_files_only)
    except (OSError, ValueError) as exc:  # unreachable hub, unknown id, a folder diffusers cannot read
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"backbone.options.model {model!r} could not be loaded: {first}") from None


def place(pipe: Any, device: torch.device, offload: Offload, *, vae_slicing: bool, vae_tiling: bool) -> None:
    """Put ``pipe`` on ``device``, or let it offload to the CPU between (``model``) or inside (``sequential``) modules."""
    if offload != "none" and device.type != "cuda":
        raise ConfigError(f"backbone.options.offload {offload!r} needs a CUDA device; use offload: none on {device.type}")
    if offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
    vae = getattr(pipe, "vae", None)
    for wanted, method in ((vae_slicing, "enable_slicing"), (vae_tiling, "enable_tiling")):
        if not wanted:
            continue
        if not callable(getattr(vae, method, None)):
            raise ConfigError(f"this pipeline's VAE ({type(vae).__name__}) has no {method}; set backbone.options.vae_{method[7:]}: false")
        getattr(vae, method)()
