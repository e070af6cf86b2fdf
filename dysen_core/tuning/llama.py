"""A llama-architecture decoder in torch that runs a GGUF's weights as llama.cpp does.

Modules are named after the GGUF tensors (``blocks[i].attn_q`` is ``blk.i.attn_q.weight``), and the rotary
embedding is llama.cpp's "normal" one (adjacent pairs rotate), which is what the GGUF's permuted Q and K rows
expect. Used for training adapters, so it computes full sequences with a causal mask and no KV cache.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .gguf_weights import LlamaShape

PROJECTIONS = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


class RMSNorm(nn.Module):
    def __init__(self, width: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding over adjacent pairs (x[2i], x[2i+1]); x is (batch, heads, time, head_dim)."""
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, shape: LlamaShape):
        super().__init__()
        kv_width = shape.kv_heads * shape.head_dim
        self.shape = shape
        self.attn_norm = RMSNorm(shape.width, shape.norm_eps)
        self.attn_q = nn.Linear(shape.width, shape.width, bias=False)
        self.attn_k = nn.Linear(shape.width, kv_width, bias=False)
        self.attn_v = nn.Linear(shape.width, kv_width, bias=False)
        self.attn_output = nn.Linear(shape.width, shape.width, bias=False)
        self.ffn_norm = RMSNorm(shape.width, shape.norm_eps)
        self.ffn_gate = nn.Linear(shape.width, shape.ffn_width, bias=False)
        self.ffn_up = nn.Linear(shape.width, shape.ffn_width, bias=False)
        self.ffn_down = nn.Linear(shape.ffn_width, shape.width, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, time, _ = x.shape
        s = self.shape
        h = self.attn_norm(x)
        q = self.attn_q(h).view(batch, time, s.heads, s.head_dim).transpose(1, 2)
        k = self.attn_k(h).view(batch, time, s.kv_heads, s.head_dim).transpose(1, 2)
        v = self.attn_v(h).view(batch, time, s.kv_heads, s.head_dim).transpose(1, 2)
        q, k = rotate_pairs(q, cos, sin), rotate_pairs(k, cos, sin)
        groups = s.heads // s.kv_heads
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.attn_output(attended.transpose(1, 2).reshape(batch, time, s.width))
        h = self.ffn_norm(x)
        return x + self.ffn_down(F.silu(self.ffn_gate(h)) * self.ffn_up(h))


class LlamaDecoder(nn.Module):
    """Token ids in, hidden states out; ``logits`` maps chosen positions to the vocabulary."""

    def __init__(self, shape: LlamaShape):
        super().__init__()
        self.shape = shape
        self.token_embd = nn.Embedding(shape.vocab, shape.width)
        self.blocks = nn.ModuleList(Block(shape) for _ in range(shape.layers))
        self.output_norm = RMSNorm(shape.width, shape.norm_eps)
        self.output = nn.Linear(shape.width, shape.vocab, bias=False)

    @classmethod
    def from_tensors(cls, shape: LlamaShape, tensors: dict[str, torch.Tensor]) -> LlamaDecoder:
        """The decoder holding a GGUF's tensors (an absent ``output.weight`` ties it to the embedding)."""
        model = cls(shape)
        state = {}
        for name, value in tensors.items():
            if name.startswith("blk."):
                _, index, rest = name.split(".", 2)
                name = f"blocks.{index}.{rest}"
            state[name] = value
        state.setdefault("output.weight", tensors["token_embd.weight"])
        model.load_state_dict(state, strict=True)
        return model

    def forward(self, ids: torch.Tensor, padding: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states (batch, time, width); ``padding`` (batch, time) marks right-padding to ignore."""
        batch, time = ids.shape
        s = self.shape
        device = ids.device
        position = torch.arange(time, dtype=torch.float32, device=device)
        inv_freq = s.rope_base ** (-torch.arange(0, s.head_dim, 2, dtype=torch.float32, device=device) / s.head_dim)
        angles = position[:, None] * inv_freq[None, :]
        cos, sin = angles.cos(), angles.sin()
        mask = torch.ones(time, time, dtype=torch.bool, device=device).tril()
        if padding is not None:
            mask = mask & ~padding[:, None, None, :]
            mask = mask | torch.eye(time, dtype=torch.bool, device=device)  # a padded row still attends to itself
        x = self.token_embd(ids)
        for block in self.blocks:
            x = block(x, cos, sin, mask)
        return self.output_norm(x)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.output(hidden)
