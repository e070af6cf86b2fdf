"""The ``diffusers`` backbone component: Dysen's plan inside an existing diffusers text-to-video pipeline.

No weights are trained. The enriched DSG reaches the pipeline through its text conditioning only: each
frame's scene graph is captioned (``render.py``) and encoded by the pipeline's own text encoder, then given
per frame inside the UNet (``per-frame``) or as a timed prompt schedule (``prompt-travel``); a pipeline
with neither gets the plain prompt and the manifest says so (``injection.py``). This stands in for the
paper's DSG cross-attention (eq. 6), which needs a trained UNet (``latent-vdm``).
"""

from __future__ import annotations

import importlib.metadata
import inspect
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from dysen_core.config import VideoSettings
from dysen_core.datamodel import DynamicSceneGraph
from dysen_core.devices import torch_device
from dysen_core.errors import InputError
from dysen_core.video import to_uint8

from . import attention, conditioning
from .injection import Requested, choose
from .loading import Offload, load_pipeline, place, resolve_dtype
from .render import FrameTexts, frame_texts


class Sampling(BaseModel):
    """Sampler settings, named as the native backbone's so `dysen generate --steps/--guidance` reach them."""

    model_config = ConfigDict(extra="forbid")

    sampling_steps: int = Field(default=25, ge=1, le=1000, description="Denoising steps (the pipeline's num_inference_steps).")
    guidance_scale: float | None = Field(default=None, ge=0.0, description="Classifier-free guidance scale; null keeps the pipeline's default.")


class DiffusersOptions(BaseModel):
    """Settings of the diffusers adapter backbone: which pipeline, how the DSG reaches it, and its memory."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Folder of a saved diffusers pipeline (with model_index.json), or a hub id such as 'org/name'.")
    injection: Requested = Field(
        default="auto", description="How the DSG reaches the pipeline: auto (the best it offers), per-frame, prompt-travel or text."
    )
    blend_frames: int = Field(
        default=0, ge=0, le=64, description="Frames on each side of a scene-graph change that mix the two captions linearly (per-frame)."
    )
    include_prompt: bool = Field(default=True, description="Start each frame's caption with the prompt, then its scene graph.")
    negative_prompt: str | None = Field(default=None, description="Text to guide away from; null is the pipeline's empty prompt.")
    diffusion: Sampling = Field(default_factory=Sampling, description="Denoising steps and guidance.")
    device: str = Field(default="auto", description="torch device; auto is cuda when a GPU is visible, else cpu.")
    # float16 is how the public video checkpoints are run on a GPU; the CPU has no fast float16 kernels
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        default="auto", description="Weight dtype; auto is float16 on cuda and float32 on cpu."
    )
    offload: Offload = Field(
        default="none", description="CPU offloading on one GPU: none, model (a whole model at a time) or sequential (layer by layer)."
    )
    vae_slicing: bool = Field(default=False, description="Decode the video's frames in slices to save GPU memory.")
    vae_tiling: bool = Field(default=False, description="Decode each frame in tiles to save GPU memory at large sizes.")
    local_files_only: bool = Field(default=False, description="Never download: a hub id must already be in the local cache.")


class DiffusersBackbone:
    """A diffusers text-to-video pipeline conditioned on the DSG's captions; ``generate`` returns uint8 (F, H, W, 3)."""

    name = "diffusers"
    Options = DiffusersOptions

    def __init__(self, options: DiffusersOptions, video: VideoSettings | None = None):
        self.options = opts = options
        self.video = video or VideoSettings()
        self.device = torch_device(opts.device, "backbone.options.device")
        self.dtype = resolve_dtype(opts.dtype, self.device)
        self.pipe = load_pipeline(opts.model, dtype=self.dtype, local_files_only=opts.local_files_only)
        self.choice = choose(self.pipe, opts.injection)
        place(self.pipe, self.device, opts.offload, vae_slicing=opts.vae_slicing, vae_tiling=opts.vae_tiling)
        if self.choice.method == "prompt-travel" and not self.pipe.free_noise_enabled:
            self.pipe.enable_free_noise(context_length=self.video.frames)
        self.guidance = opts.diffusion.guidance_scale if opts.diffusion.guidance_scale is not None else _default_guidance(self.pipe)

    def describe(self) -> dict[str, Any]:
        """What a generated video's manifest records about the backbone, with the injection method and its warnings."""
        o = self.options
        return {
            "component": self.name, "versions": _versions(), "model": o.model, "pipeline": type(self.pipe).__name__,
            "injection": self.choice.method, "blend_frames": o.blend_frames, "steps": o.diffusion.sampling_steps,
            "guidance_scale": self.guidance, "negative_prompt": o.negative_prompt, "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device), "offload": o.offload, "vae_slicing": o.vae_slicing, "vae_tiling": o.vae_tiling,
            "warnings": list(self.choice.warnings),
        }

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], dsgs: Sequence[DynamicSceneGraph | None], *, seed: int) -> list[np.ndarray]:
        """One uint8 video (F, H, W, 3) per prompt, prompt i from noise seeded ``seed + i``; a ``None`` DSG is text only."""
        if len(prompts) != len(dsgs):
            raise InputError(f"got {len(prompts)} prompts but {len(dsgs)} DSGs; give one DSG (or None) per prompt")
        if not prompts:
            return []
        videos = [frame_texts(p, d, self.video.frames, include_prompt=self.options.include_prompt) for p, d in zip(prompts, dsgs)]
        if self.choice.method == "prompt-travel":  # a prompt schedule is one video per call
            return [self._sample(self._travel(v), [seed + i])[0] for i, v in enumerate(videos)]
        seeds = [seed + i for i in range(len(prompts))]
        if self.choice.method == "per-frame":
            return self._sample(self._per_frame(videos), seeds)
        negative = {} if self.options.negative_prompt is None else {"negative_prompt": [self.options.negative_prompt] * len(prompts)}
        return self._sample({"prompt": list(prompts), **negative}, seeds)

    # -- the three ways in -----------------------------------------------------------------------------------

    def _per_frame(self, videos: list[FrameTexts]) -> dict[str, Any]:
        embeds, negative, tokens = conditioning.packed_contexts(
            self.pipe, videos, blend=self.options.blend_frames, guidance=self.guidance > 1.0,
            negative_prompt=self.options.negative_prompt,
        )
        attention.install(self.pipe.unet, tokens)
        return {"prompt_embeds": embeds, "negative_prompt_embeds": negative}

    def _travel(self, video: FrameTexts) -> dict[str, Any]:
        """A ``{frame: caption}`` schedule with a key at each segment's first and last frame, so segments hold still."""
        schedule: dict[int, str] = {}
        for f, t in enumerate(video.frame_text):
            if f == 0 or t != video.frame_text[f - 1]:
                if f:
                    schedule[f - 1] = video.texts[video.frame_text[f - 1]]
                schedule[f] = video.texts[t]
        return {"prompt": schedule, "negative_prompt": self.options.negative_prompt}

    def _sample(self, inputs: dict[str, Any], seeds: list[int]) -> list[np.ndarray]:
        """Run the pipeline on ``inputs``, video i from CPU noise seeded ``seeds[i]`` (the same on any device)."""
        v = self.video
        out = self.pipe(**inputs, num_frames=v.frames, height=v.height, width=v.width, num_inference_steps=self.options.diffusion.sampling_steps,
                        guidance_scale=self.guidance, generator=[torch.Generator().manual_seed(s) for s in seeds], output_type="pt")
        frames = out.frames  # (B, F, 3, H, W) in [0, 1]
        if frames.shape[1] != v.frames:
            raise InputError(f"{type(self.pipe).__name__} made {frames.shape[1]} frames where video.frames is {v.frames}; "
                             "set video.frames to a count this pipeline supports")
        return [to_uint8(video.float() * 2.0 - 1.0) for video in frames]


def _default_guidance(pipe: Any) -> float:
    """The guidance scale ``pipe`` uses when given none (ModelScope 9.0, AnimateDiff 7.5, ...)."""
    default = inspect.signature(type(pipe).__call__).parameters.get("guidance_scale")
    return float(default.default) if default is not None and isinstance(default.default, (int, float)) else 1.0


def _versions() -> dict[str, str]:
    found = {}
    for dist in ("dysen", "dysen-plugin-backbone-diffusers", "torch", "diffusers", "transformers"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found
