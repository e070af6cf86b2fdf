"""Rendering simulated states into uint8 frames on a plain or textured grey background (issue 6, part 1).

Backgrounds are grey (equal RGB) so shapes, drawn in saturated palette colours with hard edges, can be
segmented by colour; textures (checks, stripes, gradients, blotches) make that segmentation earn its keep.
Rendering also returns, per shape and frame, the stamped mask's area and bounding box: the gold scene
graph is computed from exactly the pixels that were drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .geometry import shape_mask
from .motion import State
from .vocabulary import PALETTE

BACKGROUNDS = ("plain", "checks", "stripes", "gradient", "blotches")


@dataclass(frozen=True)
class Stamp:
    """A shape's pixels relative to its centre, in wipe order (column by column, left to right)."""

    ys: np.ndarray
    xs: np.ndarray
    bbox: tuple[int, int, int, int]  # relative x0, y0, x1, y1

    @property
    def area(self) -> int:
        return int(self.ys.size)


@lru_cache(maxsize=8192)
def stamp(shape: str, radius: float, angle: float) -> Stamp:
    mask = shape_mask(shape, radius, angle)
    k = mask.shape[0] // 2
    ys, xs = np.nonzero(mask)
    order = np.lexsort((ys, xs))
    ys, xs = ys[order] - k, xs[order] - k
    return Stamp(ys, xs, (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())))


def state_stamp(shape: str, state: State) -> Stamp:
    return stamp(shape, round(state.radius, 6), round(state.angle, 6))


def background(rng: np.random.Generator, size: int, kind: str) -> np.ndarray:
    """A grey ``(size, size, 3)`` uint8 background of ``kind`` (one of ``BACKGROUNDS``)."""
    low, high = sorted(int(v) for v in rng.integers(25, 231, size=2))
    if high - low < 30:
        low, high = max(low - 30, 0), min(high + 30, 255)
    yy, xx = np.mgrid[0:size, 0:size]
    if kind == "plain":
        grey = np.full((size, size), low, dtype=np.float64)
    elif kind == "checks":
        cell = int(rng.integers(4, 11))
        grey = np.where(((yy // cell) + (xx // cell)) % 2 == 0, low, high).astype(np.float64)
    elif kind == "stripes":
        period = int(rng.integers(6, 13))
        direction = [yy, xx, yy + xx][int(rng.integers(3))]
        grey = np.where((direction // (period // 2)) % 2 == 0, low, high).astype(np.float64)
    elif kind == "gradient":
        theta = rng.uniform(0, 2 * np.pi)
        ramp = (np.cos(theta) * xx + np.sin(theta) * yy).astype(np.float64)
        grey = low + (high - low) * (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1.0)
    elif kind == "blotches":
        coarse = rng.uniform(low, high, size=(size // 8 + 2, size // 8 + 2))
        fy, fx = yy / 8.0, xx / 8.0
        iy, ix = fy.astype(int), fx.astype(int)
        ty, tx = fy - iy, fx - ix
        grey = (coarse[iy, ix] * (1 - ty) * (1 - tx) + coarse[iy + 1, ix] * ty * (1 - tx)
                + coarse[iy, ix + 1] * (1 - ty) * tx + coarse[iy + 1, ix + 1] * ty * tx)
    else:
        raise ValueError(f"unknown background {kind!r}; known: {', '.join(BACKGROUNDS)}")
    return np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


def render(shapes: dict[str, str], states: dict[str, list[State]], bg: np.ndarray) -> np.ndarray:
    """Frames ``(F, H, W, 3)`` uint8: ``bg`` with every visible shape stamped; ``shapes`` maps name → class."""
    num_frames = len(next(iter(states.values())))
    frames = np.repeat(bg[None], num_frames, axis=0)
    for name, track in states.items():
        for f, state in enumerate(track):
            if not state.visible:
                continue
            st = state_stamp(shapes[name], state)
            cx, cy = state.centre
            ys, xs = st.ys + cy, st.xs + cx
            frames[f, ys, xs] = PALETTE[state.colour]
            if state.new_colour is not None:
                n_new = round(state.wipe * st.area)
                frames[f, ys[:n_new], xs[:n_new]] = PALETTE[state.new_colour]
    return frames
