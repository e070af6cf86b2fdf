"""Per-frame text in a UNet that folds frames into the batch: a wrapper around its cross-attention processors.

ModelScope's ``UNet3DConditionModel`` repeats the text context ``(B, S, D)`` once per frame before the spatial
transformers, and ``AnimateDiffPipeline`` does the same before its ``UNetMotionModel``; either way each
cross-attention layer sees ``(B·F, S, D)`` with the frame index running fastest (row r is frame r mod F).
The backbone passes a packed context instead: the F frames' contexts side by side, ``(B, F·S, D)``. The
folding repeats that per frame, and ``PerFrameContext`` hands each row only its own frame's S tokens, then
calls the layer's original processor. A context of exactly S tokens passes through unchanged, so plain
prompts behave as without the wrapper; the K/V projections run on S tokens, never F·S.
"""

from __future__ import annotations

from typing import Any

import torch


def frame_context(context: torch.Tensor, tokens: int) -> torch.Tensor:
    """Row r of a frame-folded ``(B·F, F·S, D)`` packed context → its own frame's ``(B·F, S, D)`` tokens."""
    rows, length, dim = context.shape
    frames = length // tokens
    if frames <= 1 or length % tokens:
        return context  # an unpacked context
    if rows % frames:
        raise ValueError(f"a packed context of {frames} frames reached a batch of {rows} rows, not a multiple of {frames}")
    blocks = context.view(rows, frames, tokens, dim)  # (B·F, F, S, D)
    own = torch.arange(rows, device=context.device) % frames  # frame of each row
    return blocks[torch.arange(rows, device=context.device), own]  # (B·F, S, D)


class PerFrameContext:
    """A cross-attention processor that gives each frame-folded row its own frame's text, then runs ``inner``."""

    def __init__(self, inner: Any, tokens: int):
        self.inner, self.tokens = inner, tokens

    def __call__(self, attn: Any, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        if encoder_hidden_states is not None:
            encoder_hidden_states = frame_context(encoder_hidden_states, self.tokens)
        return self.inner(attn, hidden_states, encoder_hidden_states=encoder_hidden_states, attention_mask=attention_mask, **kwargs)


def install(unet: torch.nn.Module, tokens: int) -> int:
    """Wrap every text cross-attention layer of ``unet`` (once) for contexts of ``tokens`` per frame; returns the count."""
    from diffusers.models.attention_processor import Attention

    layers = [m for m in unet.modules() if isinstance(m, Attention) and m.is_cross_attention]
    for layer in layers:
        if isinstance(layer.processor, PerFrameContext):
            layer.processor.tokens = tokens
        else:
            layer.set_processor(PerFrameContext(layer.processor, tokens))
    return len(layers)
