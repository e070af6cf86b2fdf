"""The ``latent-vdm`` backbone component: Dysen-VDM's latent video diffusion (§3.1, §4.2-4.3, App. A.1).

It owns the per-frame autoencoder, the 3D-UNet and the noise schedule, and borrows the run's text encoder
(H^Y) and graph encoder (H^G). ``generate`` encodes every DSG of the call once, then samples; ``fit`` runs
the paper's training stages; ``save_pretrained`` / the ``checkpoint`` option move trained weights around.
Without a graph encoder in the config it is the Latent-VDM baseline ("w/o Dysen").
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from dysen_core.config import VideoSettings
from dysen_core.datamodel import DynamicSceneGraph
from dysen_core.devices import torch_device
from dysen_core.errors import ConfigError, InputError
from dysen_core.graph_features import GraphFeatures
from dysen_core.protocols import GraphEncoder, TextEncoder
from dysen_core.training_data import TRAINING_STAGES
from dysen_core.video import from_uint8, to_uint8

from . import checkpoint as ckpt
from .autoencoder import AutoencoderOptions, FrameAutoencoder
from .diffusion import DiffusionOptions, denoising_loss, drop_mask, loss_weight, sample, training_scheduler
from .shipped_model import resolve_checkpoint
from .training import TrainResult, TrainSettings, train
from .unet import UNet3D, UNetConfig, UNetSizes

CALIBRATION_CLIPS = 64  # clips whose latents set the scaling factor at the end of Stage I

Stage = Literal["autoencoder", "vdm", "dysen"]


class LatentVDMOptions(BaseModel):
    """Settings of the latent video diffusion backbone; the defaults are the paper's model at 256×256."""

    model_config = ConfigDict(extra="forbid")

    unet: UNetSizes = Field(default_factory=UNetSizes, description="3D-UNet sizes (text and DSG widths come from the encoders).")
    autoencoder: AutoencoderOptions = Field(default_factory=AutoencoderOptions, description="The per-frame VAE (Stage I).")
    diffusion: DiffusionOptions = Field(default_factory=DiffusionOptions, description="Noise schedule, sampler, guidance.")
    training: TrainSettings = Field(default_factory=lambda: TrainSettings(steps=1000), description="`dysen train` settings.")
    checkpoint: str | None = Field(
        default=None,
        description="A folder written by `dysen train` / save_pretrained to load, or `shipped`: the Dysen-VDM trained "
        "on dynamic-shapes that comes with this plugin (8 frames of 48x48; the offline default's). The config may "
        "add causal temporal attention at UNet levels the folder's model lacks: those layers start as the identity "
        "(inflation), for training on from it.",
    )
    device: str = Field(default="cpu", description="torch device, e.g. 'cpu' or 'cuda'.")
    dtype: Literal["float32", "bfloat16"] = Field(default="float32", description="bfloat16 runs the UNet under autocast on GPU.")
    seed: int = Field(default=0, description="Seed of the initial weights.")


class LatentVDM:
    """Text- and DSG-conditioned latent video diffusion; ``generate`` returns uint8 videos (F, H, W, 3)."""

    name = "latent-vdm"
    Options = LatentVDMOptions

    def __init__(self, options: LatentVDMOptions | None = None, text_encoder: TextEncoder | None = None,
                 graph_encoder: GraphEncoder | None = None, video: VideoSettings | None = None):
        if text_encoder is None:
            raise ConfigError("backbone 'latent-vdm' needs a text_encoder for H^Y; add `text_encoder: {name: minilm}` to the config")
        self.options = opts = options or self.Options()
        self.text_encoder, self.graph_encoder = text_encoder, graph_encoder
        self.video = video or VideoSettings()
        self.device = torch_device(opts.device, "backbone.options.device")
        folder = resolve_checkpoint(opts.checkpoint)
        manifest = ckpt.read_manifest(folder) if folder is not None else None  # hashes checked before any file is read
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(opts.seed)
            self.autoencoder = (
                FrameAutoencoder.from_pretrained(folder / "autoencoder", opts.autoencoder)
                if folder is not None else FrameAutoencoder.from_options(opts.autoencoder)
            )
            cfg = UNetConfig(**opts.unet.model_dump(), text_dim=text_encoder.dim,
                             graph_dim=graph_encoder.width if graph_encoder is not None else None)
            self.unet = UNet3D(cfg)
        self._check_geometry()
        self.loaded_from: dict[str, str] = {}
        if folder is not None:
            self._load(folder, manifest)
        self.autoencoder.vae.to(self.device).eval()
        self.unet.to(self.device).eval()

    # -- what the weights need -------------------------------------------------------------------------------

    def needs(self) -> dict[str, Any]:
        """Everything a set of weights depends on; a checkpoint is refused where any of it differs."""
        graph = None
        if self.graph_encoder is not None:
            settings = getattr(self.graph_encoder, "options", None)
            graph = {"name": self.graph_encoder.name, "width": self.graph_encoder.width}
            if settings is not None:
                graph |= settings.model_dump(include={"layers", "heads", "recurrent"})
        return {
            "component": self.name,
            # the temporal mask holds no weights: a causal model loads into a bidirectional config, to train on
            "unet": self.unet.cfg.model_dump(exclude={"gradient_checkpointing", "dropout", "temporal_causal"}),
            "autoencoder": self.options.autoencoder.model_dump(include={"latent_channels", "block_channels", "layers_per_block"}),
            "text_encoder": {"name": self.text_encoder.name, "dim": self.text_encoder.dim},
            "graph_encoder": graph,
        }

    def describe(self) -> dict[str, Any]:
        """What a generated video's manifest records about the backbone."""
        d = self.options.diffusion
        return {
            "component": self.name, "versions": _versions(), "sampler": d.sampler, "steps": d.sampling_steps,
            "guidance_scale": d.guidance_scale, "dtype": self.options.dtype, "device": str(self.device),
            "dsg_branch": self.unet.has_graph_branch, "checkpoint": self.options.checkpoint, "checkpoint_sha256": self.loaded_from,
        }

    # -- sampling --------------------------------------------------------------------------------------------

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], dsgs: Sequence[DynamicSceneGraph | None], *, seed: int,
                 progress: Callable[[int, int], None] | None = None) -> list[np.ndarray]:
        """One uint8 video (F, H, W, 3) per prompt. Prompt i starts from noise seeded ``seed + i``.

        The graph encoder runs once for the whole call; a ``None`` DSG conditions on the null DSG token
        (text only, as the model saw when training dropped the DSG).
        """
        if len(prompts) != len(dsgs):
            raise InputError(f"got {len(prompts)} prompts but {len(dsgs)} DSGs; give one DSG (or None) per prompt")
        if not prompts:
            return []
        frames, (h, w) = self.video.frames, self._latent_size()
        b = len(prompts)
        with self._autocast():
            tokens, mask = self.text_encoder.tokens(list(prompts))
            tokens, mask = tokens.to(self.device), mask.to(self.device)
            text = self.unet.text_context(tokens, mask, frames)
            null_text = self.unet.text_context(tokens, mask, frames, drop=torch.ones(b, dtype=torch.bool, device=self.device))
            features, missing = self._graph_features(dsgs)
            graph = self.unet.graph_context(features, frames, b, drop=missing)
            null_graph = self.unet.graph_context(features, frames, b, drop=torch.ones(b, dtype=torch.bool, device=self.device))
            noise = torch.stack([
                torch.randn((self.unet.cfg.in_channels, frames, h, w), generator=torch.Generator().manual_seed(seed + i))
                for i in range(b)
            ]).to(self.device)
            generator = torch.Generator(device=self.device).manual_seed(seed)
            latents = sample(self.unet, noise, text, graph, null_text, null_graph, self.options.diffusion, generator, progress)
        videos = self.autoencoder.decode(latents.float())  # (B, F, 3, H, W), frame-chunked
        return [to_uint8(v.cpu()) for v in videos]

    def _graph_features(self, dsgs: Sequence[DynamicSceneGraph | None]) -> tuple[GraphFeatures | None, torch.Tensor]:
        """H^G for the batch, encoded in one call (None rows padded), and which rows have no DSG."""
        missing = torch.tensor([d is None for d in dsgs], dtype=torch.bool, device=self.device)
        present = [d for d in dsgs if d is not None]
        if self.graph_encoder is None or not present:
            return None, missing
        encoded = self.graph_encoder.encode(present).to(self.device)
        rows = (~missing).nonzero().squeeze(1)

        def scatter(t: torch.Tensor) -> torch.Tensor:
            out = torch.zeros((len(dsgs), *t.shape[1:]), dtype=t.dtype, device=self.device)
            out[rows] = t
            return out

        sg_mask = scatter(encoded.sg_mask)
        sg_mask[missing, 0] = True  # a placeholder scene graph; those rows read the null token
        return GraphFeatures(scatter(encoded.pooled), scatter(encoded.nodes), scatter(encoded.node_mask), sg_mask), missing

    # -- training --------------------------------------------------------------------------------------------

    def fit(self, stage: Stage, examples: Sequence[dict[str, Any]], out_dir: str | Path, *, resume: bool = True,
            progress: bool = True) -> TrainResult:
        """Train one stage (§4.3) on ``examples`` (dicts with ``video`` uint8 (F, H, W, 3), ``caption``, ``dsg``).

        Stage I ("autoencoder") trains the VAE; Stage II ("vdm") the UNet and the graph encoder on the DSGs
        given with the data; Stage III ("dysen") the same on DSGs the scene manager produced (the caller
        puts them in ``examples``). The final (EMA) weights are saved with ``save_pretrained`` to ``out_dir/final``.
        """
        if stage not in TRAINING_STAGES:
            raise InputError(f"unknown training stage {stage!r}; stages: {', '.join(TRAINING_STAGES)}")
        out_dir = Path(out_dir)
        model: nn.Module = _AutoencoderStage(self.autoencoder) if stage == "autoencoder" else _DenoiserStage(self)
        model.train()
        result = train(model, lambda m, batch, gen: m(batch, gen), examples, _collate, self.options.training, out_dir,
                       resume=resume, progress=progress, extra_state={"stage": stage, "needs": self.needs()})
        if result.ema_state is not None:
            model.load_state_dict(result.ema_state, strict=False)
        model.eval()
        ae = self.options.autoencoder
        if stage == "autoencoder" and ae.train_encoder and "scaling_factor" not in ae.model_fields_set:
            n = min(len(examples), CALIBRATION_CLIPS)
            batches = [_collate([examples[j] for j in range(i, min(i + 8, n))])["video"] for i in range(0, n, 8)]
            self.autoencoder.calibrate_scale(batches)
        self.save_pretrained(out_dir / "final")
        return result

    # -- checkpoints -----------------------------------------------------------------------------------------

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write the weights (safetensors) and ``backbone.json`` to ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        ckpt.save_state(self.unet, folder / "unet.safetensors")
        if self.graph_encoder is not None and hasattr(self.graph_encoder, "module"):
            ckpt.save_state(self.graph_encoder.module, folder / "graph_encoder.safetensors")
        self.autoencoder.save_pretrained(folder / "autoencoder")
        ckpt.write_manifest(folder, self.needs(), _versions())
        return folder

    def _load(self, folder: Path, manifest: dict[str, Any]) -> None:
        """Load ``folder``'s weights; temporal attention at levels the folder's model lacks keeps its identity start."""
        saved, wanted = manifest["needs"], self.needs()
        new_temporal = False
        if saved.get("unet") is not None:
            before = UNetConfig(**saved["unet"]).levels_with_temporal_attention
            after = self.unet.cfg.levels_with_temporal_attention
            if len(before) == len(after) and all(now or not had for had, now in zip(before, after)):
                new_temporal = before != after
                saved = {**saved, "unet": {**saved["unet"], "temporal_attention": wanted["unet"]["temporal_attention"]}}
        ckpt.check_needs(folder, saved, wanted)
        ckpt.load_state(self.unet, folder / "unet.safetensors", new=(lambda key: ".temporal." in key) if new_temporal else None)
        if (folder / "graph_encoder.safetensors").is_file() and self.graph_encoder is not None:
            ckpt.load_state(self.graph_encoder.module, folder / "graph_encoder.safetensors")
        self.loaded_from = manifest["files"]

    # -- helpers ---------------------------------------------------------------------------------------------

    def _latent_size(self) -> tuple[int, int]:
        factor = self.autoencoder.downsample
        return self.video.height // factor, self.video.width // factor

    def _check_geometry(self) -> None:
        factor = self.autoencoder.downsample * self.unet.cfg.downsample
        v = self.video
        if v.height % factor or v.width % factor:
            raise ConfigError(
                f"video {v.height}x{v.width} is not a multiple of {factor} (autoencoder ×{self.autoencoder.downsample}, "
                f"UNet ×{self.unet.cfg.downsample}); set video.height and video.width to multiples of {factor}"
            )
        if v.frames > self.unet.cfg.max_frames:
            raise ConfigError(f"video.frames {v.frames} exceeds backbone.options.unet.max_frames {self.unet.cfg.max_frames}")

    def _autocast(self):
        enabled = self.options.dtype == "bfloat16" and self.device.type == "cuda"
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=enabled)


class _AutoencoderStage(nn.Module):
    """Stage I: the VAE's reconstruction + KL loss."""

    def __init__(self, autoencoder: FrameAutoencoder):
        super().__init__()
        self.autoencoder = autoencoder
        self.vae = autoencoder.vae
        if not autoencoder.options.train_encoder:  # the decoder alone: the latents a UNet was trained on stay put
            for part in (self.vae.encoder, self.vae.quant_conv):
                if part is not None:
                    part.requires_grad_(False)

    def forward(self, batch: dict[str, Any], generator: torch.Generator) -> torch.Tensor:
        video = batch["video"].to(next(self.vae.parameters()).device)
        return self.autoencoder.stage1_loss(video, generator)[0]


class _DenoiserStage(nn.Module):
    """Stages II-III: eq. 1 on the UNet and the graph encoder, with text and DSG dropped independently (CFG),
    the shapes' latent cells weighted by 1 + ``foreground_weight`` and the changing ones by ``motion_weight`` more."""

    def __init__(self, backbone: LatentVDM):
        super().__init__()
        self.backbone = [backbone]  # a list, so the frozen VAE and encoders are not registered as parameters
        self.unet = backbone.unet
        graph = backbone.graph_encoder
        self.graph = graph.module if graph is not None and isinstance(getattr(graph, "module", None), nn.Module) else None
        self.alphas_cumprod = training_scheduler(backbone.options.diffusion).alphas_cumprod

    def train(self, mode: bool = True) -> _DenoiserStage:
        super().train(mode)
        self.backbone[0].autoencoder.vae.eval()
        return self

    def forward(self, batch: dict[str, Any], generator: torch.Generator) -> torch.Tensor:
        vdm = self.backbone[0]
        opts = vdm.options.diffusion
        device = next(self.unet.parameters()).device
        with torch.no_grad():
            video = batch["video"].to(device)
            z0 = vdm.autoencoder.encode(video, generator=generator)
            tokens, mask = vdm.text_encoder.tokens(batch["captions"])
            weight = loss_weight(video, z0.shape[-2:], opts)
        b, frames = z0.shape[0], z0.shape[2]
        drop_text = drop_mask(b, opts.text_drop, generator, device)
        text = self.unet.text_context(tokens.to(device), mask.to(device), frames, drop=drop_text)
        features, missing = vdm._graph_features(batch["dsgs"])
        drop_graph = drop_mask(b, opts.graph_drop, generator, device) | missing
        graph = self.unet.graph_context(features, frames, b, drop=drop_graph)
        return denoising_loss(self.unet, z0, text, graph, self.alphas_cumprod, generator, weight)


def _collate(examples: list[dict[str, Any]]) -> dict[str, Any]:
    """Videos as float (B, F, 3, H, W) in [-1, 1], captions and DSGs as lists."""
    videos = torch.stack([from_uint8(np.asarray(e["video"])) for e in examples])
    return {"video": videos, "captions": [e["caption"] for e in examples], "dsgs": [e.get("dsg") for e in examples]}


def _versions() -> dict[str, str]:
    found = {}
    for dist in ("dysen", "dysen-plugin-backbone-vdm", "torch", "diffusers"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found
