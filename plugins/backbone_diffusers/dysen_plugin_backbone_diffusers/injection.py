"""Which way a DSG reaches each pipeline: the injection methods, what each pipeline class offers, and the choice.

- ``per-frame``: every frame gets its own scene graph's caption embedding (``conditioning.py``, ``attention.py``).
  Only for pipelines whose UNet folds frames into the batch before text cross-attention, frame index fastest,
  and that take ``prompt_embeds`` (checked in their source, diffusers 0.42).
- ``prompt-travel``: a ``{frame: caption}`` schedule given to the pipeline's FreeNoise prompt interpolation
  (AnimateDiff-style prompt travel); the pipeline encodes and interpolates the captions itself.
- ``text``: the plain prompt; the DSG is not used. Any pipeline whose ``__call__`` takes ``num_frames``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Literal

from dysen_core.errors import ConfigError

Injection = Literal["per-frame", "prompt-travel", "text"]
Requested = Literal["auto", "per-frame", "prompt-travel", "text"]

PER_FRAME_PIPELINES = frozenset({"TextToVideoSDPipeline", "AnimateDiffPipeline"})
"""Pipeline classes verified to fold frames into the batch (row = frame fastest) ahead of text cross-attention."""


@dataclass(frozen=True)
class Choice:
    """The injection method a backbone uses, and why it may differ from the one asked for."""

    method: Injection
    warnings: list[str] = field(default_factory=list)


def offered(pipe: Any) -> list[Injection]:
    """The injection methods ``pipe`` supports, best first; empty when it is no text-to-video pipeline."""
    if "num_frames" not in inspect.signature(type(pipe).__call__).parameters:
        return []
    methods: list[Injection] = []
    if type(pipe).__name__ in PER_FRAME_PIPELINES:
        methods.append("per-frame")
    if callable(getattr(pipe, "enable_free_noise", None)):
        methods.append("prompt-travel")
    return [*methods, "text"]


def choose(pipe: Any, requested: Requested) -> Choice:
    """The method for ``requested`` on ``pipe``: ``auto`` takes the best offered and says when that is plain text."""
    name = type(pipe).__name__
    methods = offered(pipe)
    if not methods:
        raise ConfigError(f"backbone 'diffusers' cannot use {name}: its __call__ takes no num_frames (not a text-to-video pipeline); "
                          "pass a text-to-video pipeline such as TextToVideoSDPipeline or AnimateDiffPipeline")
    if requested == "auto":
        if methods[0] == "text":
            return Choice("text", [f"{name} takes no per-frame text conditioning: the DSG is not used, the video is conditioned "
                                   "on the plain prompt"])
        return Choice(methods[0])
    if requested not in methods:
        raise ConfigError(f"backbone.options.injection {requested!r} is not offered by {name}; it offers: {', '.join(methods)}")
    return Choice(requested)
