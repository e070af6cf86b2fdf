"""The Stage I frame autoencoder of the Latent-VDM (Dysen-VDM §4.3 Stage I, §5.1: 256×256 RGB → 32×32×4 latents).

A diffusers ``AutoencoderKL`` (the Stable Diffusion VAE layout) applied to each frame on its own; the
3D-UNet then works on the stacked per-frame latents. Notation:

    video    (B, F, 3, H, W)  RGB frames in [-1, 1]
    latents  (B, C, F, h, w)  h = H / downsample, w = W / downsample; already multiplied by the scaling factor,
                              so the diffusion model sees latents of roughly unit variance (LDM's convention)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dysen_core.errors import ConfigError, InputError

NORM_GROUPS = 32  # GroupNorm groups of the SD VAE blocks; every block width must be a multiple of it
FOREGROUND_TOLERANCE = 0.05  # a pixel further than this (in [-1, 1] units, any channel) from its frame's median colour is foreground


if TYPE_CHECKING:
    from diffusers import AutoencoderKL  # imported where used: registering the plugin must stay light


class AutoencoderOptions(BaseModel):
    """How to get the frame VAE (a local pretrained folder, or a seeded new one) and its Stage I loss weights."""

    model_config = ConfigDict(extra="forbid")

    pretrained: str | None = Field(
        default=None,
        description="A local diffusers AutoencoderKL folder (config.json + diffusion_pytorch_model.safetensors), "
        "e.g. Stable Diffusion's `vae/`; nothing is downloaded. None builds a new VAE from the fields below.",
    )
    latent_channels: int = Field(default=4, ge=1, le=64, description="C, channels of each latent frame (paper: 4).")
    block_channels: list[int] = Field(
        default=[128, 256, 512, 512],
        description="Width of each encoder/decoder level (the SD VAE layout); the spatial downsample is "
        "2**(len-1), so 4 levels turn 256×256 frames into 32×32 latents.",
    )
    layers_per_block: int = Field(default=2, ge=1, le=8, description="ResNet layers per level (SD VAE: 2).")
    scaling_factor: float = Field(
        default=0.18215,
        gt=0,
        description="Latents are multiplied by this so they have about unit variance (SD VAE: 0.18215). "
        "With `pretrained`, the folder's config.json value is used unless this is set explicitly.",
    )
    decode_chunk: int = Field(default=4, ge=1, description="Frames sent through the VAE at once; bounds peak memory.")
    kl_weight: float = Field(default=1e-6, ge=0, description="Weight of the KL term in the Stage I loss (LDM's 1e-6).")
    foreground_weight: float = Field(
        default=0.0, ge=0,
        description="Stage I weighs each pixel unlike its frame's median colour by 1 + this (not in the paper). On plain "
        "backgrounds small objects are a few percent of the pixels, and an unweighted L1 loss learns to paint them over.",
    )
    sample_posterior: bool = Field(
        default=True,
        description="Stage I decodes a sample of each frame's posterior (LDM); false decodes its mean, a plain autoencoder "
        "whose latents the KL term still keeps small.",
    )
    train_encoder: bool = Field(
        default=True,
        description="Stage I trains the encoder too; false trains the decoder alone, so the latent space stays as it is "
        "and a UNet trained on it stays valid: a sharper decoder for a trained model (as Stable Diffusion's ft-MSE VAE).",
    )
    perceptual_weight: float = Field(
        default=0.0,
        ge=0,
        description="Weight of an LPIPS term in the Stage I loss; off, because LPIPS weights are not available offline.",
    )
    seed: int = Field(default=0, description="Seed of the initial weights of a new VAE (same seed, same weights).")

    @field_validator("block_channels")
    @classmethod
    def _block_channels_fit_groupnorm(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("block_channels is empty; give at least one width, e.g. [128, 256, 512, 512]")
        bad = [c for c in value if c <= 0 or c % NORM_GROUPS]
        if bad:
            raise ValueError(f"block_channels {bad} are not positive multiples of {NORM_GROUPS} (the VAE's GroupNorm groups)")
        return value

    @field_validator("perceptual_weight")
    @classmethod
    def _no_lpips(cls, value: float) -> float:
        if value > 0:
            raise ConfigError(
                f"perceptual_weight is {value}, but LPIPS weights are not available offline; set perceptual_weight: 0"
            )
        return value


class FrameAutoencoder:
    """An ``AutoencoderKL`` (in ``.vae``) run frame by frame over videos, plus its Stage I training loss.

    The VAE comes in eval mode (training code calls ``.vae.train()``); gradients are left to the caller:
    wrap ``encode``/``decode`` in ``torch.no_grad()`` for sampling.
    """

    def __init__(self, vae: AutoencoderKL, options: AutoencoderOptions | None = None):
        self.vae = vae.eval()
        self.options = options or AutoencoderOptions()  # decode_chunk and the Stage I loss settings are read here

    @classmethod
    def from_options(cls, options: AutoencoderOptions) -> FrameAutoencoder:
        """Load ``options.pretrained``, or build a new VAE with seeded weights (the caller's RNG is untouched)."""
        if options.pretrained is not None:
            vae = _load_vae(Path(options.pretrained))
            _check_architecture(options, vae.config)
            if "scaling_factor" in options.model_fields_set:
                vae.register_to_config(scaling_factor=options.scaling_factor)  # saved with the weights from now on
        else:
            from diffusers import AutoencoderKL

            levels = len(options.block_channels)
            with torch.random.fork_rng(devices=[]):  # seeded weights without touching the caller's RNG
                torch.manual_seed(options.seed)
                vae = AutoencoderKL(
                    down_block_types=("DownEncoderBlock2D",) * levels,
                    up_block_types=("UpDecoderBlock2D",) * levels,
                    block_out_channels=tuple(options.block_channels),
                    layers_per_block=options.layers_per_block,
                    latent_channels=options.latent_channels,
                    norm_num_groups=NORM_GROUPS,
                    scaling_factor=options.scaling_factor,
                )
        return cls(vae, options)

    @classmethod
    def from_pretrained(cls, folder: str | Path, options: AutoencoderOptions | None = None) -> FrameAutoencoder:
        """Load a folder written by ``save_pretrained`` (or any local diffusers AutoencoderKL folder); ``options``
        gives the chunking and Stage I loss settings (its architecture fields are ignored: the folder's config.json rules)."""
        return cls(_load_vae(Path(folder)), options)

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write ``config.json`` and ``diffusion_pytorch_model.safetensors`` (never pickle) into ``folder``."""
        folder = Path(folder)
        self.vae.save_pretrained(folder, safe_serialization=True)
        return folder

    @property
    def downsample(self) -> int:
        """Spatial factor between frames and latents (8 for the SD VAE)."""
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def latent_channels(self) -> int:
        """C, the channels of each latent frame."""
        return self.vae.config.latent_channels

    def encode(self, video: torch.Tensor, generator: torch.Generator | None = None, sample: bool = True) -> torch.Tensor:
        """Video (B, F, 3, H, W) in [-1, 1] → scaled latents (B, C, F, h, w).

        ``sample`` draws from each frame's posterior with ``generator``; ``sample=False`` takes its mode.
        """
        B, F, _, H, W = self._check_video(video)
        frames = video.reshape(B * F, 3, H, W).to(device=self.vae.device, dtype=self.vae.dtype)
        parts = []
        for chunk in frames.split(self.options.decode_chunk):
            posterior = self.vae.encode(chunk).latent_dist
            parts.append(posterior.sample(generator) if sample else posterior.mode())
        z = (torch.cat(parts) - self._shift) * self.vae.config.scaling_factor  # (B*F, C, h, w)
        z = z.reshape(B, F, *z.shape[1:])  # (B, F, C, h, w)
        return z.permute(0, 2, 1, 3, 4)  # (B, C, F, h, w)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents (B, C, F, h, w) → video (B, F, 3, H, W), clamped to [-1, 1] (the VAE can overshoot)."""
        if latents.ndim != 5 or latents.shape[1] != self.latent_channels:
            raise InputError(f"latents have shape {tuple(latents.shape)}; expected (B, {self.latent_channels}, F, h, w)")
        B, C, F, h, w = latents.shape
        z = latents.permute(0, 2, 1, 3, 4).reshape(B * F, C, h, w)  # (B*F, C, h, w)
        z = z.to(device=self.vae.device, dtype=self.vae.dtype) / self.vae.config.scaling_factor + self._shift
        frames = torch.cat([self.vae.decode(chunk).sample for chunk in z.split(self.options.decode_chunk)])  # (B*F, 3, H, W)
        return frames.reshape(B, F, *frames.shape[1:]).clamp(-1.0, 1.0)  # (B, F, 3, H, W)

    def stage1_loss(self, video: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Stage I loss on a clip: L1 reconstruction (mean; pixels unlike their frame's median colour weighted
        by 1 + foreground_weight) + kl_weight · KL (per-frame posterior KL, mean; constant without ``train_encoder``).

        All frames go through in one pass (chunking saves no memory while the graph is kept for backward).
        """
        B, F, _, H, W = self._check_video(video)
        frames = video.reshape(B * F, 3, H, W).to(device=self.vae.device, dtype=self.vae.dtype)
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.options.train_encoder):
            posterior = self.vae.encode(frames).latent_dist
        latent = posterior.sample(generator) if self.options.sample_posterior else posterior.mode()
        recon = self.vae.decode(latent).sample  # (B*F, 3, H, W), unclamped
        error = (recon - frames).abs()
        if self.options.foreground_weight:
            error = error * (1.0 + self.options.foreground_weight * foreground(frames))
        recon_loss = error.mean()
        kl = posterior.kl().mean()  # kl() sums over (C, h, w): one value per frame
        loss = recon_loss + self.options.kl_weight * kl
        return loss, {"recon": recon_loss.item(), "kl": kl.item()}

    @torch.no_grad()
    def calibrate_scale(self, videos: Sequence[torch.Tensor]) -> float:
        """Set the scaling factor to 1 / std of the unscaled latents of ``videos`` (LDM's rule), so the
        diffusion model sees latents of about unit variance; returns the new factor."""
        parts = [self.encode(v, sample=False) / self.vae.config.scaling_factor for v in videos]
        std = float(torch.cat([p.flatten() for p in parts]).std())
        if not std > 0:
            raise InputError("cannot calibrate the latent scale: the autoencoder's latents are constant")
        self.vae.register_to_config(scaling_factor=1.0 / std)
        return 1.0 / std

    @property
    def _shift(self) -> float:
        """Latent shift of VAEs that have one (SD3, Flux); 0 for the SD VAE."""
        return self.vae.config.get("shift_factor") or 0.0

    def _check_video(self, video: torch.Tensor) -> tuple[int, ...]:
        """Shape (B, F, 3, H, W) with H and W multiples of ``downsample``, or an InputError saying what is wrong."""
        if video.ndim != 5 or video.shape[2] != 3:
            raise InputError(f"video has shape {tuple(video.shape)}; expected (B, F, 3, H, W) RGB frames in [-1, 1]")
        H, W = video.shape[-2:]
        if H % self.downsample or W % self.downsample:
            raise InputError(
                f"frame size {H}×{W} is not a multiple of the VAE's downsample factor {self.downsample}; "
                f"resize or crop frames to e.g. {max(1, H // self.downsample) * self.downsample}×"
                f"{max(1, W // self.downsample) * self.downsample}"
            )
        return tuple(video.shape)


def foreground(frames: torch.Tensor) -> torch.Tensor:
    """Mask (N, 1, H, W) of the pixels of frames (N, 3, H, W) that differ from their frame's median colour."""
    background = frames.flatten(2).median(dim=2).values[:, :, None, None]  # (N, 3, 1, 1)
    return ((frames - background).abs().amax(dim=1, keepdim=True) > FOREGROUND_TOLERANCE).to(frames.dtype)


def _check_architecture(options: AutoencoderOptions, config: Any) -> None:
    """Architecture fields set next to ``pretrained`` must describe the folder's VAE (one config then serves
    Stage I, which builds the VAE, and Stage II, which loads it)."""
    found = {"latent_channels": config.latent_channels, "block_channels": list(config.block_out_channels),
             "layers_per_block": config.layers_per_block}
    wrong = [f"{name}: config {getattr(options, name)}, pretrained VAE {value}"
             for name, value in found.items() if name in options.model_fields_set and getattr(options, name) != value]
    if wrong:
        raise ConfigError(f"backbone.options.autoencoder does not describe the pretrained VAE '{options.pretrained}': "
                          + "; ".join(wrong))


def _load_vae(folder: Path) -> AutoencoderKL:
    """A local diffusers AutoencoderKL folder with safetensors weights; missing pieces are InputErrors."""
    if not folder.is_dir():
        raise InputError(f"pretrained VAE folder '{folder}' not found; give a local diffusers folder (nothing is downloaded)")
    for name in ("config.json", "diffusion_pytorch_model.safetensors"):
        if not (folder / name).is_file():
            raise InputError(f"pretrained VAE folder '{folder}' has no {name}; expected a diffusers AutoencoderKL folder "
                             "with safetensors weights (pickled .bin weights are not loaded)")
    from diffusers import AutoencoderKL

    return AutoencoderKL.from_pretrained(folder, local_files_only=True, use_safetensors=True)
