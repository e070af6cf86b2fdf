"""The dynamic-shapes benchmark: a generator of captioned clips with gold plans and per-frame scene graphs,
and an exact parser from frames back to scene graphs and events (issue 6; paper App. B.1 metrics).

Modules, one job each: ``vocabulary`` (what can appear), ``geometry`` (rasterising and measuring shapes),
``timegrid`` (frames ↔ time units), ``scene`` (sampling casts and events), ``motion`` (simulating and
checking them), ``render`` (pixels), ``gold`` (gold plan and scene graphs), ``captions`` (grammar),
``splits`` (held-out pairs), ``generate`` (one clip), ``dataset`` (files), ``segment`` and ``parser``.
"""

from .dataset import iter_clips, load_frames, write_dataset
from .generate import ClipRecord, ShapesConfig, generate_clip
from .parser import ParsedVideo, ParserOptions, parse_video

__all__ = [
    "ClipRecord",
    "ParsedVideo",
    "ParserOptions",
    "ShapesConfig",
    "generate_clip",
    "iter_clips",
    "load_frames",
    "parse_video",
    "write_dataset",
]
