"""The 3D-UNet's building blocks (Dysen-VDM App. A.1 eqs. 11-12, §4.2 eq. 6).

Spatial layers run on frames folded into the batch, ``(B·F, C, H, W)``; temporal attention unfolds them to
``(B·H·W, F, C)``. Attention goes through ``scaled_dot_product_attention``; ``attention_reference`` spells out
the same softmax for tests and readers.

References: Ho et al. 2022 (video diffusion 3D-UNet), Rombach et al. 2022 (latent diffusion transformer
blocks), Dysen-VDM (Fei et al., CVPR 2024).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def attention_reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(q·kᵀ/√d + mask)·v with an additive mask: the explicit form of ``F.scaled_dot_product_attention``."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores + mask
    return scores.softmax(dim=-1) @ v


def causal_mask(frames: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Eq. 12's mask as an additive (F, F) matrix: 0 where frame i may see frame j (j ≤ i), -inf elsewhere.

    The paper multiplies the softmax by M with the inequality inverted (PAPER-NOTES errata); the intent,
    frame i attends to frames j ≤ i, is an additive -inf before the softmax (DESIGN.md decision 5).
    """
    return torch.full((frames, frames), float("-inf"), device=device, dtype=dtype).triu(diagonal=1)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal features of the diffusion step ``t`` (B,) → (B, dim), as in the Transformer position code."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    n, length, width = x.shape
    return x.view(n, length, heads, width // heads).transpose(1, 2)  # (N, h, L, d)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    n, heads, length, d = x.shape
    return x.transpose(1, 2).reshape(n, length, heads * d)  # (N, L, h·d)


class FrameAffine(nn.Module):
    """Eq. 11: Z^i ← W^i·Conv(Z^i) + b^i, a per-frame, per-channel scale and shift after the shared convolution.

    Initialised to the identity (W = 1, b = 0), so the block starts as a plain image ResBlock.
    """

    def __init__(self, channels: int, max_frames: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(max_frames, channels))
        self.bias = nn.Parameter(torch.zeros(max_frames, channels))

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        bf, c, h, w = x.shape
        x = x.view(bf // frames, frames, c, h, w)  # (B, F, C, H, W)
        x = x * self.weight[:frames, :, None, None] + self.bias[:frames, :, None, None]
        return x.view(bf, c, h, w)


class ResBlock(nn.Module):
    """Shared spatial convolutions with eq. 11's per-frame affine after each, plus the timestep embedding."""

    def __init__(self, cin: int, cout: int, temb_dim: int, max_frames: int, groups: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.affine1 = FrameAffine(cout, max_frames)
        self.temb = nn.Linear(temb_dim, cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.affine2 = FrameAffine(cout, max_frames)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor, frames: int) -> torch.Tensor:
        # x (B·F, Cin, H, W); temb (B·F, temb_dim)
        h = self.affine1(self.conv1(F.silu(self.norm1(x))), frames)
        h = h + self.temb(F.silu(temb))[:, :, None, None]
        h = self.affine2(self.conv2(self.dropout(F.silu(self.norm2(h)))), frames)
        return self.skip(x) + h


class Attention(nn.Module):
    """Multi-head attention of queries ``x`` over ``context`` (itself when None), with an optional key mask."""

    def __init__(self, width: int, heads: int, context_dim: int | None = None):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not a multiple of heads {heads}")
        self.heads = heads
        self.to_q = nn.Linear(width, width, bias=False)
        self.to_k = nn.Linear(context_dim or width, width, bias=False)
        self.to_v = nn.Linear(context_dim or width, width, bias=False)
        self.to_out = nn.Linear(width, width)

    def project_context(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of a context; cross-attention computes them once and shares them across frames."""
        return self.to_k(context), self.to_v(context)

    def forward(self, x: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor] | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        # x (N, Lq, C); kv: keys and values (N, Lk, C); mask: additive or boolean, broadcast to (N, h, Lq, Lk)
        k, v = kv if kv is not None else self.project_context(x)
        q, k, v = (_split_heads(t, self.heads) for t in (self.to_q(x), k, v))  # (N, h, L, d)
        if mask is not None and mask.is_floating_point():
            mask = mask.to(q.dtype)  # under autocast q may be bf16 while the mask was built in float32
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.to_out(_merge_heads(out))


class FeedForward(nn.Module):
    """GEGLU feed-forward of the latent-diffusion transformer block."""

    def __init__(self, width: int, mult: int = 4):
        super().__init__()
        self.proj = nn.Linear(width, width * mult * 2)
        self.out = nn.Linear(width * mult, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, gate = self.proj(x).chunk(2, dim=-1)
        return self.out(a * F.gelu(gate))


class CrossContext:
    """A conditioning sequence for cross-attention: tokens (B, G, L, D), key mask (B, G, L) and the group of each frame.

    Text has one group per sample (G = 1, every frame uses it); a DSG has one group per scene graph and
    ``frame_group`` (B, F) maps frame f to SG m = floor(f·M/F) (DESIGN.md decision 1). Keys and values are
    projected per group and gathered per frame, so a 16-frame video with 4 distinct SGs projects 4, not 16.
    """

    def __init__(self, tokens: torch.Tensor, mask: torch.Tensor, frame_group: torch.Tensor):
        self.tokens, self.mask, self.frame_group = tokens, mask, frame_group
        self.dense = bool(mask.all())  # no padding: attention runs without a mask, a faster kernel

    def keys_values(self, attn: Attention) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(K, V, mask) for ``attn``, one row per frame: (B·F, L, C), (B·F, L, C), (B·F, 1, 1, L) boolean or None."""
        b, g, length, _ = self.tokens.shape
        k, v = attn.project_context(self.tokens)  # (B, G, L, C)
        index = self.frame_group[:, :, None, None].expand(-1, -1, length, k.shape[-1])  # (B, F, L, C)
        k = k.gather(1, index).flatten(0, 1)
        v = v.gather(1, index).flatten(0, 1)
        if self.dense:
            return k, v, None
        mask = self.mask.gather(1, self.frame_group[:, :, None].expand(-1, -1, length)).flatten(0, 1)
        return k, v, mask[:, None, None, :]


class SpatialTransformer(nn.Module):
    """Per-frame transformer: self-attention, then eq. 6's DSG cross-attention, then text cross-attention.

    Eq. 6: Ĥ = Softmax(H·H^G/√d)·H^G, then Ĥ ← Softmax(Ĥ·H^Y/√d)·H^Y, each inside the usual pre-norm residual
    form. Without ``graph_dim`` (the Latent-VDM baseline, "w/o Dysen") the DSG branch does not exist; its
    output projection starts at zero, so adding it to a trained baseline changes nothing until it learns.
    """

    def __init__(self, width: int, heads: int, text_dim: int, graph_dim: int | None, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, width)
        self.proj_in = nn.Linear(width, width)
        self.norm_self = nn.LayerNorm(width)
        self.self_attn = Attention(width, heads)
        self.graph_attn = Attention(width, heads, graph_dim) if graph_dim else None
        if self.graph_attn is not None:
            self.norm_graph = nn.LayerNorm(width)
            nn.init.zeros_(self.graph_attn.to_out.weight)
            nn.init.zeros_(self.graph_attn.to_out.bias)
        self.norm_text = nn.LayerNorm(width)
        self.text_attn = Attention(width, heads, text_dim)
        self.norm_ff = nn.LayerNorm(width)
        self.ff = FeedForward(width)
        self.proj_out = nn.Linear(width, width)
        nn.init.zeros_(self.proj_out.weight)  # the block starts as the identity
        nn.init.zeros_(self.proj_out.bias)

    def forward(self, x: torch.Tensor, text: CrossContext, graph: CrossContext | None) -> torch.Tensor:
        bf, c, h, w = x.shape
        tokens = self.proj_in(self.norm(x).flatten(2).transpose(1, 2))  # (B·F, HW, C)
        tokens = tokens + self.self_attn(self.norm_self(tokens))
        if graph is not None and self.graph_attn is not None:
            k, v, mask = graph.keys_values(self.graph_attn)
            tokens = tokens + self.graph_attn(self.norm_graph(tokens), (k, v), mask)  # eq. 6, first part: H^G
        k, v, mask = text.keys_values(self.text_attn)
        tokens = tokens + self.text_attn(self.norm_text(tokens), (k, v), mask)  # eq. 6, second part: H^Y
        tokens = tokens + self.ff(self.norm_ff(tokens))
        return x + self.proj_out(tokens).transpose(1, 2).reshape(bf, c, h, w)


class TemporalAttention(nn.Module):
    """Eq. 12: causal self-attention across frames at each spatial location (frame i sees frames j ≤ i);
    ``causal=False`` lets every frame see every frame."""

    def __init__(self, width: int, heads: int, max_frames: int, groups: int, causal: bool = True):
        super().__init__()
        self.causal = causal
        self.norm = nn.GroupNorm(groups, width)
        self.position = nn.Parameter(torch.zeros(max_frames, width))  # learned frame positions
        self.attn = Attention(width, heads)
        nn.init.zeros_(self.attn.to_out.weight)  # identity at init, like the spatial block
        nn.init.zeros_(self.attn.to_out.bias)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        bf, c, h, w = x.shape
        b = bf // frames
        tokens = self.norm(x).view(b, frames, c, h * w).permute(0, 3, 1, 2).reshape(b * h * w, frames, c)  # (B·HW, F, C)
        tokens = tokens + self.position[:frames]
        out = self.attn(tokens, mask=causal_mask(frames, x.device, tokens.dtype) if self.causal else None)
        out = out.view(b, h * w, frames, c).permute(0, 2, 3, 1).reshape(bf, c, h, w)
        return x + out


class Downsample(nn.Module):
    """Halves H and W with a strided convolution; frames are untouched."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Doubles H and W (nearest neighbour, then a convolution)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
