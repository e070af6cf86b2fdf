"""Colour segmentation of frames into shape blobs: the parser's first stage (issue 6, part 2).

A pixel is a shape pixel when it is saturated (backgrounds are grey) and within a tolerance of a palette
colour; 8-connected components of shape pixels in one frame are blobs. Tolerances, not exact colours,
so noisy or generated frames segment too. A blob keeps its pixels, their palette labels and the
statistics the scene graph needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage

from .geometry import MaskStats, mask_stats
from .vocabulary import COLOURS, PALETTE

_PALETTE = np.array([PALETTE[c] for c in COLOURS], dtype=np.int32)  # (K, 3)
_SAME_FRAME = np.zeros((3, 3, 3), dtype=bool)
_SAME_FRAME[1] = True  # 8-connectivity inside a frame, none across frames


class SegmentOptions(BaseModel):
    """Tolerances of the colour segmentation (defaults suit clean and mildly noisy 64-pixel frames)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_saturation: int = Field(default=60, ge=0, le=255, description="Least max−min RGB spread of a shape pixel.")
    colour_tolerance: float = Field(default=90.0, gt=0, description="Largest RGB distance to a palette colour.")
    min_area: int = Field(default=12, ge=1, description="Smallest blob in pixels at 64 px (scaled by size²).")
    min_colour_share: float = Field(
        default=0.08, gt=0, lt=0.5, description="Share of a blob's pixels a colour needs to count (a colour change)."
    )


@dataclass(frozen=True)
class Blob:
    """One connected shape region in one frame."""

    ys: np.ndarray
    xs: np.ndarray
    stats: MaskStats
    colours: tuple[str, ...]  # significant colours, the old (rightmost) first during a colour change


def segment(frames: np.ndarray, options: SegmentOptions, scale: float) -> list[list[Blob]]:
    """The blobs of every frame of ``frames`` ``(F, H, W, 3)`` uint8."""
    r, g, b = frames[..., 0], frames[..., 1], frames[..., 2]
    spread = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
    shape_px = spread >= options.min_saturation  # grey backgrounds drop out
    where = np.flatnonzero(shape_px)
    rgb = frames.reshape(-1, 3)[where].astype(np.int32)
    dist2 = ((rgb[:, None, :] - _PALETTE) ** 2).sum(axis=-1)  # (P, K) for the P saturated pixels only
    nearest = dist2.argmin(axis=1)
    keep = dist2[np.arange(where.size), nearest] <= options.colour_tolerance**2
    shape_px.reshape(-1)[where[~keep]] = False
    label = np.zeros(shape_px.shape, dtype=np.intp)
    label.reshape(-1)[where] = nearest
    components, count = ndimage.label(shape_px, structure=_SAME_FRAME)
    sizes = np.bincount(components.ravel(), minlength=count + 1)
    min_area = options.min_area * scale * scale
    out: list[list[Blob]] = [[] for _ in range(frames.shape[0])]
    for index, where in enumerate(ndimage.find_objects(components), start=1):
        if where is None or sizes[index] < min_area:
            continue
        inside = components[where] == index
        labels = label[where][inside]
        counts = np.bincount(labels, minlength=len(COLOURS))
        significant = [k for k in np.argsort(-counts)[:2] if counts[k] >= max(2, options.min_colour_share * labels.size)]
        keep = np.isin(labels, significant)  # stray pixels of other colours are noise touching the shape
        if keep.sum() < min_area:
            continue
        fs, ys, xs = (axis[keep] for axis in np.nonzero(inside))
        ys, xs = ys + where[1].start, xs + where[2].start
        labels = labels[keep]
        significant.sort(key=lambda k: -float(xs[labels == k].mean()))  # a colour change wipes in from the left
        out[int(fs[0]) + where[0].start].append(
            Blob(ys, xs, mask_stats(ys, xs), tuple(COLOURS[k] for k in significant))
        )
    return out
