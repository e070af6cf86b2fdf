"""Per-frame prompt embeddings from a pipeline's own text encoder, blended across segment boundaries, packed.

For a batch of B videos of F frames: every distinct caption (``render.frame_texts``) is encoded once with
the pipeline's ``encode_prompt`` (so its tokenizer, clip-skip and negative-prompt conventions hold), each
frame takes its caption's embedding, optionally mixed linearly with its neighbours' near a segment boundary,
and the F frames' ``(S, D)`` contexts are laid side by side: ``(B, F·S, D)``, the layout ``attention.py``
unpacks inside the UNet.

Notation: ``weights`` (F, T) → how much of each of a video's T captions frame f reads (rows sum to 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .render import FrameTexts


def frame_weights(frame_text: Sequence[int], count: int, blend: int) -> torch.Tensor:
    """``(F, count)`` caption weights per frame: one-hot, then averaged over ``2·blend + 1`` neighbouring frames.

    A box average of a step is a linear ramp: with ``blend = b`` the 2b frames around a boundary move from
    one caption to the next in equal steps; frames further than b from every boundary keep their own caption.
    """
    one_hot = torch.nn.functional.one_hot(torch.tensor(list(frame_text)), count).float()  # (F, T)
    if blend == 0:
        return one_hot
    padded = torch.nn.functional.pad(one_hot.T[None], (blend, blend), mode="replicate")  # (1, T, F + 2b)
    return torch.nn.functional.avg_pool1d(padded, 2 * blend + 1, stride=1)[0].T  # (F, T)


def packed_contexts(pipe: Any, videos: Sequence[FrameTexts], *, blend: int, guidance: bool,
                    negative_prompt: str | None) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """Packed per-frame contexts ``(B, F·S, D)`` for ``videos``, the matching negative ones (or None without
    guidance) and S, the tokens per frame."""
    texts = [t for video in videos for t in video.texts]
    negative = None if negative_prompt is None else [negative_prompt] * len(texts)
    embeds, negative_embeds = pipe.encode_prompt(texts, pipe._execution_device, 1, guidance, negative)  # (N, S, D) each
    tokens = embeds.shape[1]
    rows, first = [], 0
    for video in videos:
        own = embeds[first:first + len(video.texts)].float()  # (T, S, D)
        first += len(video.texts)
        weights = frame_weights(video.frame_text, len(video.texts), blend).to(own.device)  # (F, T)
        rows.append(torch.einsum("ft,tsd->fsd", weights, own).flatten(0, 1))  # (F·S, D)
    packed = torch.stack(rows).to(embeds.dtype)  # (B, F·S, D)
    if negative_embeds is None:
        return packed, None, tokens
    frames = len(videos[0].frame_text)
    # the negative text is the same for every caption: repeat its (S, D) context once per frame
    return packed, negative_embeds[:1].repeat(len(videos), frames, 1), tokens  # (B, F·S, D)
