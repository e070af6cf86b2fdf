"""Noise schedule, training loss and guided sampling for the latent video diffusion (paper §3.1, App. A.1).

Training uses DDPM's forward process with T steps (eqs. 8-9) and the ε-prediction L2 loss (eq. 1, repeated
as eq. 10); sampling runs any of diffusers' schedulers (DDIM 50 steps by default) with classifier-free
guidance, the unconditional branch using the learned null text and DSG tokens.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from .autoencoder import FOREGROUND_TOLERANCE, foreground
from .layers import CrossContext
from .unet import UNet3D

Sampler = Literal["ddim", "dpm-solver", "ddpm", "euler"]


class DiffusionOptions(BaseModel):
    """The noise schedule, the sampler and classifier-free guidance."""

    model_config = ConfigDict(extra="forbid")

    train_timesteps: int = Field(default=1000, ge=2, description="T of the training schedule (paper: 1000).")
    beta_schedule: Literal["scaled_linear", "linear", "squaredcos_cap_v2"] = Field(
        default="scaled_linear", description="β_t over t; latent diffusion uses scaled_linear from 0.00085 to 0.012."
    )
    beta_start: float = Field(default=0.00085, gt=0, lt=1, description="β_1.")
    beta_end: float = Field(default=0.012, gt=0, lt=1, description="β_T.")
    sampler: Sampler = Field(default="ddim", description="The diffusers scheduler used for sampling.")
    sampling_steps: int = Field(default=50, ge=1, le=1000, description="Denoising steps at sampling (paper code: 50).")
    guidance_scale: float = Field(default=7.5, ge=0.0, description="Classifier-free guidance; 1 turns it off.")
    text_drop: float = Field(default=0.1, ge=0.0, le=1.0, description="Chance a training sample's text becomes the null token.")
    graph_drop: float = Field(default=0.1, ge=0.0, le=1.0, description="Chance its DSG becomes the null token (independently).")
    foreground_weight: float = Field(
        default=0.0, ge=0.0, description="Weight the noise error of the latent cells that hold a shape by 1 + this "
        "(Stage I's foreground_weight, in latent space; not in the paper); 0: eq. 1 as written.")
    motion_weight: float = Field(
        default=0.0, ge=0.0, description="Weight the noise error of the latent cells whose pixels change from the "
        "previous or to the next frame by 1 + this, on top of foreground_weight (where the actions are; not in the "
        "paper); 0: eq. 1 as written.")


def training_scheduler(opts: DiffusionOptions):
    """The DDPM forward process q(z_t | z_0) with T steps; ᾱ_t is the cumulative product of α_k (eq. 9, see PAPER-NOTES)."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=opts.train_timesteps, beta_schedule=opts.beta_schedule,
                         beta_start=opts.beta_start, beta_end=opts.beta_end, clip_sample=False)


def sampling_scheduler(opts: DiffusionOptions):
    """The sampler named in ``opts``, sharing the training schedule's βs, set to ``sampling_steps``."""
    from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler

    classes = {"ddim": DDIMScheduler, "dpm-solver": DPMSolverMultistepScheduler, "ddpm": DDPMScheduler, "euler": EulerDiscreteScheduler}
    scheduler = classes[opts.sampler].from_config(training_scheduler(opts).config)
    scheduler.set_timesteps(opts.sampling_steps)
    return scheduler


def add_noise(z0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """Eq. 8: Z_t = √ᾱ_t · Z_0 + √(1 − ᾱ_t) · ε, per sample of the batch."""
    abar = alphas_cumprod.to(z0.device)[t].float().view(-1, *([1] * (z0.dim() - 1)))
    return (abar.sqrt() * z0.float() + (1 - abar).sqrt() * noise.float()).to(z0.dtype)


def denoising_loss(unet: UNet3D, z0: torch.Tensor, text: CrossContext, graph: CrossContext | None,
                   alphas_cumprod: torch.Tensor, generator: torch.Generator,
                   weight: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 1 (= eq. 10): E‖ε − ε_θ(Z_t, t, C(Y), H^G)‖² with t uniform over the T training steps.

    ``weight`` (broadcast to the latents' shape) makes it a weighted mean over the latent cells.
    """
    b = z0.shape[0]
    t = torch.randint(0, alphas_cumprod.shape[0], (b,), generator=generator, device=generator.device).to(z0.device)
    noise = torch.randn(z0.shape, generator=generator, device=generator.device).to(z0)
    predicted = unet(add_noise(z0, noise, t, alphas_cumprod), t, text, graph)
    if weight is None:
        return F.mse_loss(predicted.float(), noise.float())
    weight = weight.float().expand(z0.shape)
    return (weight * (predicted.float() - noise.float()).square()).sum() / weight.sum()


def latent_foreground(video: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Mask (B, 1, F, h, w) of the latent cells of ``size`` that a shape of ``video`` (B, F, 3, H, W) touches."""
    return _latent_cells(foreground(video.flatten(0, 1)).unflatten(0, video.shape[:2]), size)


def latent_motion(video: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Mask (B, 1, F, h, w) of the latent cells of ``size`` where ``video`` (B, F, 3, H, W) changes from the
    previous frame or to the next one: where shapes move, jump, grow, spin, appear or change colour."""
    step = ((video[:, 1:] - video[:, :-1]).abs().amax(dim=2, keepdim=True) > FOREGROUND_TOLERANCE).to(video.dtype)
    changed = torch.zeros(*video.shape[:2], 1, *video.shape[-2:], dtype=video.dtype, device=video.device)
    changed[:, 1:] = step
    changed[:, :-1] = torch.maximum(changed[:, :-1], step)
    return _latent_cells(changed, size)


def _latent_cells(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A pixel mask (B, F, 1, H, W) max-pooled onto the latent grid ``size``, as (B, 1, F, h, w)."""
    b, f = mask.shape[:2]
    pooled = F.adaptive_max_pool2d(mask.flatten(0, 1), size)  # (B·F, 1, h, w)
    return pooled.view(b, f, 1, *size).transpose(1, 2)


def loss_weight(video: torch.Tensor, size: tuple[int, int], opts: DiffusionOptions) -> torch.Tensor | None:
    """Each latent cell's weight in eq. 1: 1 + foreground_weight · shape + motion_weight · change; None when both are 0."""
    if not (opts.foreground_weight or opts.motion_weight):
        return None
    weight = torch.ones(1, dtype=video.dtype, device=video.device)
    if opts.foreground_weight:
        weight = weight + opts.foreground_weight * latent_foreground(video, size)
    if opts.motion_weight:
        weight = weight + opts.motion_weight * latent_motion(video, size)
    return weight


def drop_mask(batch: int, chance: float, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Which samples lose a condition in training (classifier-free guidance), drawn from ``generator``."""
    return (torch.rand(batch, generator=generator, device=generator.device) < chance).to(device)


def cat_contexts(a: CrossContext, b: CrossContext) -> CrossContext:
    """Two contexts stacked along the batch (conditional and unconditional halves of one guided step)."""
    return CrossContext(torch.cat([a.tokens, b.tokens]), torch.cat([a.mask, b.mask]), torch.cat([a.frame_group, b.frame_group]))


@torch.no_grad()
def sample(unet: UNet3D, noise: torch.Tensor, text: CrossContext, graph: CrossContext | None,
           null_text: CrossContext, null_graph: CrossContext | None, opts: DiffusionOptions,
           generator: torch.Generator, progress=None) -> torch.Tensor:
    """Denoise ``noise`` (B, C, F, h, w) into clean latents with the configured sampler and guidance.

    Guided ε = ε(∅) + s·(ε(text, DSG) − ε(∅)), where ∅ is the null text and null DSG; the two halves run as
    one batch. The conditions are fixed for the whole loop: the graph encoder ran once, before it.
    """
    scheduler = sampling_scheduler(opts)
    guided = opts.guidance_scale != 1.0
    if guided:
        text = cat_contexts(text, null_text)
        graph = cat_contexts(graph, null_graph) if graph is not None else None
    z = noise * scheduler.init_noise_sigma
    for step, t in enumerate(scheduler.timesteps):
        z_in = scheduler.scale_model_input(torch.cat([z, z]) if guided else z, t)
        eps = unet(z_in, t.to(z.device).expand(z_in.shape[0]), text, graph)
        if guided:
            cond, uncond = eps.chunk(2)
            eps = uncond + opts.guidance_scale * (cond - uncond)
        z = scheduler.step(eps, t, z, generator=generator).prev_sample
        if progress is not None:
            progress(step + 1, len(scheduler.timesteps))
    return z
