"""The denoising 3D-UNet ε_θ of Dysen-VDM (paper §3.1, §4.2 eq. 6, App. A.1 eqs. 11-12), in one file.

A latent video ``z`` (B, C, F, H, W) and a diffusion step go in; the predicted noise of the same shape comes
out. Each level stacks ResBlocks (shared spatial convolution + eq. 11's per-frame affine) and, at attention
levels, a spatial transformer (self-attention, DSG cross-attention, text cross-attention: eq. 6), each followed
by causal temporal attention (eq. 12) at the levels ``temporal_attention`` names (by default the attention
levels; App. A.1 has it after the convolution at every level). ``graph_dim: null`` builds the paper's Latent-VDM baseline ("w/o Dysen").

Conditioning arrives as ``CrossContext`` objects built once per sample (``text_context``, ``graph_context``)
and reused at every denoising step. Learned null tokens stand in for a dropped text or DSG, for classifier-free
guidance and for prompts whose plan failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn
from torch.utils.checkpoint import checkpoint

from dysen_core.errors import InputError

from .layers import CrossContext, Downsample, ResBlock, SpatialTransformer, TemporalAttention, Upsample, timestep_embedding

if TYPE_CHECKING:
    from dysen_core.graph_features import GraphFeatures


class UNetSizes(BaseModel):
    """Sizes of the 3D-UNet; the defaults are the latent-diffusion layout used by Latent-VDM at 256×256."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    in_channels: int = Field(default=4, ge=1, description="Latent channels (the autoencoder's, paper: 4).")
    channels: list[int] = Field(default=[320, 640, 1280, 1280], min_length=1, description="Width of each level.")
    attention: list[bool] | None = Field(
        default=None, description="Which levels have spatial+temporal attention (default: all but the deepest)."
    )
    temporal_attention: list[bool] | None = Field(
        default=None, description="Which levels have temporal attention (eq. 12) (default: the attention levels; "
        "App. A.1: every level). Cheap: sequences of F frames per pixel.",
    )
    temporal_causal: bool = Field(
        default=True, description="Eq. 12's causal mask: frame i attends to frames j ≤ i. false: every frame attends to "
        "every frame (not in the paper): denoised together, frames then read the same evidence, so the first frame "
        "is not drawn as a lone image (docs/results.md).",
    )
    layers_per_level: int = Field(default=2, ge=1, le=8, description="ResBlocks per level on the way down.")
    heads: int = Field(default=8, ge=1, description="Attention heads (every width must be a multiple).")
    max_frames: int = Field(default=16, ge=1, le=1024, description="Most frames; eq. 11 learns one affine per frame.")
    groups: int = Field(default=32, ge=1, description="GroupNorm groups (every width must be a multiple).")
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="Dropout inside ResBlocks.")
    gradient_checkpointing: bool = Field(default=False, description="Recompute blocks in backward to save memory.")

    @model_validator(mode="after")
    def _check(self) -> UNetSizes:
        for name in ("attention", "temporal_attention"):
            if (levels := getattr(self, name)) is not None and len(levels) != len(self.channels):
                raise ValueError(f"{name} has {len(levels)} entries but channels has {len(self.channels)} levels")
        for width in self.channels:
            if width % self.heads or width % self.groups:
                raise ValueError(f"every width must be a multiple of heads ({self.heads}) and groups ({self.groups}), got {width}")
        return self

    @property
    def levels_with_attention(self) -> list[bool]:
        return self.attention if self.attention is not None else [i < len(self.channels) - 1 for i in range(len(self.channels))]

    @property
    def levels_with_temporal_attention(self) -> list[bool]:
        return self.temporal_attention if self.temporal_attention is not None else self.levels_with_attention

    @property
    def downsample(self) -> int:
        """H and W of a latent must be multiples of this."""
        return 2 ** (len(self.channels) - 1)


class UNetConfig(UNetSizes):
    """``UNetSizes`` plus the widths of the conditions, which the backbone takes from its encoders."""

    text_dim: int = Field(default=768, ge=1, description="Width of the text tokens H^Y (CLIP-L: 768, MiniLM: 384).")
    graph_dim: int | None = Field(
        default=768, ge=1, description="Width of the DSG features H^G; null builds the Latent-VDM baseline (w/o Dysen)."
    )


class UNetBlock(nn.Module):
    """One ResBlock, then the spatial transformer (``attend``) and the causal temporal attention (``temporal``)."""

    def __init__(self, cin: int, cout: int, temb_dim: int, attend: bool, temporal: bool, cfg: UNetConfig):
        super().__init__()
        self.res = ResBlock(cin, cout, temb_dim, cfg.max_frames, cfg.groups, cfg.dropout)
        self.spatial = SpatialTransformer(cout, cfg.heads, cfg.text_dim, cfg.graph_dim, cfg.groups) if attend else None
        self.temporal = TemporalAttention(cout, cfg.heads, cfg.max_frames, cfg.groups, cfg.temporal_causal) if temporal else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor, text: CrossContext, graph: CrossContext | None,
                frames: int) -> torch.Tensor:
        x = self.res(x, temb, frames)
        if self.spatial is not None:
            x = self.spatial(x, text, graph)
        if self.temporal is not None:
            x = self.temporal(x, frames)
        return x


class UNet3D(nn.Module):
    """ε_θ(z_t, t, H^Y, H^G): the 3D-UNet with DSG and text cross-attention."""

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.cfg = cfg
        ch0 = cfg.channels[0]
        temb_dim = 4 * ch0
        self.time_mlp = nn.Sequential(nn.Linear(ch0, temb_dim), nn.SiLU(), nn.Linear(temb_dim, temb_dim))
        self.null_text = nn.Parameter(torch.randn(cfg.text_dim) * 0.02)
        self.null_graph = nn.Parameter(torch.randn(cfg.graph_dim) * 0.02) if cfg.graph_dim else None
        self.conv_in = nn.Conv2d(cfg.in_channels, ch0, 3, padding=1)

        attend, temporal = cfg.levels_with_attention, cfg.levels_with_temporal_attention
        self.down = nn.ModuleList()
        skips, cin = [ch0], ch0
        for level, width in enumerate(cfg.channels):
            for _ in range(cfg.layers_per_level):
                self.down.append(UNetBlock(cin, width, temb_dim, attend[level], temporal[level], cfg))
                skips.append(cin := width)
            if level < len(cfg.channels) - 1:
                self.down.append(Downsample(width))
                skips.append(width)
        self.mid = nn.ModuleList([UNetBlock(cin, cin, temb_dim, True, True, cfg), UNetBlock(cin, cin, temb_dim, False, False, cfg)])
        self.up = nn.ModuleList()
        for level in reversed(range(len(cfg.channels))):
            width = cfg.channels[level]
            for _ in range(cfg.layers_per_level + 1):
                self.up.append(UNetBlock(cin + skips.pop(), width, temb_dim, attend[level], temporal[level], cfg))
                cin = width
            if level > 0:
                self.up.append(Upsample(width))
        self.norm_out = nn.GroupNorm(cfg.groups, ch0)
        self.conv_out = nn.Conv2d(ch0, cfg.in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    @property
    def has_graph_branch(self) -> bool:
        return self.null_graph is not None

    def text_context(self, tokens: torch.Tensor, mask: torch.Tensor, frames: int, drop: torch.Tensor | None = None) -> CrossContext:
        """Text tokens (B, S, D) and mask (B, S) as a context shared by all frames; rows in ``drop`` become the null token."""
        tokens, mask = _with_null(tokens[:, None], mask[:, None], self.null_text, drop)
        return CrossContext(tokens, mask, torch.zeros(tokens.shape[0], frames, dtype=torch.long, device=tokens.device))

    def graph_context(self, features: GraphFeatures | None, frames: int, batch: int = 1,
                      drop: torch.Tensor | None = None) -> CrossContext | None:
        """Per-SG tokens [H^G_m; node tokens] for the DSG cross-attention, frame f reading SG floor(f·M/F).

        ``None`` features (no DSG, e.g. the plan failed) give the null token for all ``batch`` samples: the
        condition the model saw when training dropped the DSG. A model without the DSG branch returns None.
        """
        if self.null_graph is None:
            return None
        if features is None:
            null = self.null_graph.expand(batch, 1, 1, -1)
            mask = torch.ones(batch, 1, 1, dtype=torch.bool, device=null.device)
            return CrossContext(null, mask, torch.zeros(batch, frames, dtype=torch.long, device=null.device))
        tokens = torch.cat([features.pooled[:, :, None], features.nodes], dim=2)  # (B, M, 1+N, d)
        mask = torch.cat([features.sg_mask[:, :, None], features.node_mask], dim=2)  # (B, M, 1+N)
        sgs = features.sg_mask.sum(dim=1).clamp(min=1)  # M of each DSG (B,)
        frame = torch.arange(frames, device=tokens.device)
        frame_group = (frame[None] * sgs[:, None]) // frames  # (B, F): DESIGN.md decision 1
        tokens, mask = _with_null(tokens, mask, self.null_graph, drop)
        return CrossContext(tokens, mask, frame_group)

    def forward(self, z: torch.Tensor, t: torch.Tensor, text: CrossContext, graph: CrossContext | None = None) -> torch.Tensor:
        """Predicted noise for latents ``z`` (B, C, F, H, W) at steps ``t`` (B,); ``graph=None`` skips the DSG branch."""
        b, c, frames, h, w = z.shape
        self.check_input(frames, h, w)
        temb = self.time_mlp(timestep_embedding(t.expand(b), self.cfg.channels[0]).to(z.dtype))
        temb = temb.repeat_interleave(frames, dim=0)  # (B·F, temb)
        x = self.conv_in(z.transpose(1, 2).reshape(b * frames, c, h, w))  # frames folded into the batch
        skips = [x]
        for block in self.down:
            x = self._run(block, x, temb, text, graph, frames)
            skips.append(x)
        for block in self.mid:
            x = self._run(block, x, temb, text, graph, frames)
        for block in self.up:
            if isinstance(block, UNetBlock):
                x = torch.cat([x, skips.pop()], dim=1)
            x = self._run(block, x, temb, text, graph, frames)
        x = self.conv_out(nn.functional.silu(self.norm_out(x)))
        return x.view(b, frames, c, h, w).transpose(1, 2)

    def check_input(self, frames: int, height: int, width: int) -> None:
        """Raise ``InputError`` for a frame count or latent size this UNet cannot take."""
        if frames > self.cfg.max_frames:
            raise InputError(f"{frames} frames exceed this model's max_frames ({self.cfg.max_frames}); eq. 11 learns one affine per frame")
        factor = self.cfg.downsample
        if height % factor or width % factor:
            raise InputError(
                f"latent size {height}x{width} is not a multiple of {factor} ({len(self.cfg.channels)} UNet levels); "
                f"choose a video size that is a multiple of {factor} times the autoencoder's factor"
            )

    def _run(self, block: nn.Module, x, temb, text, graph, frames):
        if not isinstance(block, UNetBlock):
            return block(x)
        if self.cfg.gradient_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(block, x, temb, text, graph, frames, use_reentrant=False)
        return block(x, temb, text, graph, frames)


def _with_null(tokens: torch.Tensor, mask: torch.Tensor, null: torch.Tensor,
               drop: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens (B, G, L, D) and mask (B, G, L) where rows flagged in ``drop`` (B,) hold only the null token.

    A dropped row repeats the null token at every position, all unmasked: attention over L identical keys
    is attention over one, and rows without padding let the whole batch skip the mask.
    """
    if drop is None:
        return tokens, mask
    pick = drop.view(-1, 1, 1)
    return torch.where(pick[..., None], null.to(tokens.dtype), tokens), mask | pick
