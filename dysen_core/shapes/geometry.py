"""Shape geometry shared by the renderer, the gold scene graphs and the parser (issue 6, parts 1–2).

One definition of each geometric fact: how a shape is rasterised, how its class and size are read off a
pixel mask, and when two masks stand in a spatial relation. The generator computes the gold scene graph
with these functions on the masks it stamps; the parser applies them to the masks it segments, so on
clean frames both must agree exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .vocabulary import ABOVE, LEFT_OF, NEAR, NEAR_GAP, SHAPES, SIZE_RADII, SIZES

AREA_PER_R2 = {"circle": math.pi, "square": 2.0, "triangle": 3 * math.sqrt(3) / 4, "rectangle": 1.6}
"""Area of each shape over its squared circumradius; the rectangle is 2:1 with half-sides 2R/√5, R/√5."""

ELONGATED = 2.2  # second-moment eigenvalue ratio: 4 for a 2:1 rectangle, 1 for the regular shapes
ROUND = 0.833  # fill ratio area / (pi R_max^2); for R >= 6 px at any angle: circle >= 0.843, square <= 0.822
SQUARISH = 0.546  # square >= 0.566, triangle <= 0.526 (measured over R = 6 … 25 px, every 3°)
SYMMETRY = {"square": 4, "triangle": 3, "rectangle": 2}
"""k-fold symmetry of each polygon: its orientation is defined modulo 360°/k."""


def _half_planes(shape: str, radius: float, angle: float) -> list[tuple[float, float, float]]:
    """Edges ``(nx, ny, offset)`` with the shape = {p : n·p ≤ offset for every edge} (image axes, y down)."""
    theta = math.radians(angle)
    if shape == "square":
        normals, offsets = [theta + k * math.pi / 2 for k in range(4)], [radius / math.sqrt(2)] * 4
    elif shape == "triangle":  # pointing up at angle 0: vertices at -90° + 120°k, edge normals at -30° + 120°k
        normals, offsets = [theta - math.pi / 6 + k * 2 * math.pi / 3 for k in range(3)], [radius / 2] * 3
    elif shape == "rectangle":
        half_w, half_h = 2 * radius / math.sqrt(5), radius / math.sqrt(5)
        normals = [theta + k * math.pi / 2 for k in range(4)]
        offsets = [half_w, half_h, half_w, half_h]
    else:
        raise ValueError(f"unknown polygon shape {shape!r}; known: {', '.join(SHAPES)}")
    return [(math.cos(n), math.sin(n), o) for n, o in zip(normals, offsets)]


@lru_cache(maxsize=4096)
def shape_mask(shape: str, radius: float, angle: float = 0.0) -> np.ndarray:
    """Boolean stamp of ``shape`` with circumradius ``radius`` px, rotated by ``angle`` degrees.

    The stamp is ``(2k+1, 2k+1)`` with the shape's centre on the middle pixel; pixels are in when their
    centre is. Hard edges keep every shape pixel exactly its palette colour.
    """
    k = math.ceil(radius) + 1
    dy, dx = np.mgrid[-k : k + 1, -k : k + 1].astype(np.float64)
    if shape == "circle":
        mask = dx * dx + dy * dy <= radius * radius
    else:
        mask = np.ones(dx.shape, dtype=bool)
        for nx, ny, offset in _half_planes(shape, radius, angle):
            mask &= nx * dx + ny * dy <= offset + 1e-9
    mask.setflags(write=False)
    return mask


@dataclass(frozen=True)
class MaskStats:
    """What the scene graph needs from one shape's pixels in one frame."""

    area: int
    cx: float
    cy: float
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 inclusive
    fill: float  # area / (pi * R_max^2)
    elongation: float  # largest / smallest eigenvalue of the pixel covariance


def mask_stats(ys: np.ndarray, xs: np.ndarray) -> MaskStats:
    """Statistics of the pixels at rows ``ys`` and columns ``xs`` (one shape)."""
    area = int(ys.size)
    cy, cx = float(ys.mean()), float(xs.mean())
    ddy, ddx = ys - cy, xs - cx
    r_max = math.sqrt(float((ddx * ddx + ddy * ddy).max())) + 0.5  # +0.5: pixels are squares, not points
    cov_xx, cov_yy, cov_xy = float((ddx * ddx).mean()), float((ddy * ddy).mean()), float((ddx * ddy).mean())
    half_trace, det = (cov_xx + cov_yy) / 2, cov_xx * cov_yy - cov_xy * cov_xy
    root = math.sqrt(max(half_trace * half_trace - det, 0.0))
    small = max(half_trace - root, 1e-6)
    bbox = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
    return MaskStats(area, cx, cy, bbox, area / (math.pi * r_max * r_max), (half_trace + root) / small)


def orientation(shape: str, ys: np.ndarray, xs: np.ndarray) -> float | None:
    """Orientation in degrees modulo 360/k of a k-fold symmetric mask, from the phase of its k-th complex moment.

    Scale- and translation-invariant, so a spin shows as a steady phase change even while the shape moves.
    ``None`` for circles, which have no orientation.
    """
    k = SYMMETRY.get(shape)
    if k is None:
        return None
    z = (xs - xs.mean()) + 1j * (ys - ys.mean())
    return math.degrees(float(np.angle((z**k).sum()))) / k


def angle_step(shape: str, before: float, after: float) -> float:
    """Smallest absolute change between two orientations of ``shape`` (modulo its symmetry)."""
    period = 360.0 / SYMMETRY[shape]
    delta = (after - before) % period
    return min(delta, period - delta)


def pursuit_cosine(agent: np.ndarray, target: np.ndarray) -> float:
    """How well ``agent``'s motion over a window points at ``target``: cos(net displacement, mean bearing).

    ``agent`` and ``target`` are ``(T, 2)`` centres over the window's frames; the bearing is averaged over
    the steps, so pursuing a moving target scores as well as approaching a still one.
    """
    bearings = target[:-1] - agent[:-1]
    norms = np.linalg.norm(bearings, axis=1, keepdims=True)
    mean_bearing = (bearings / np.maximum(norms, 1e-9)).mean(axis=0)
    move = agent[-1] - agent[0]
    denominator = float(np.linalg.norm(move) * np.linalg.norm(mean_bearing))
    return float(move @ mean_bearing) / denominator if denominator > 1e-9 else 0.0


def classify_shape(stats: MaskStats) -> str:
    """The shape class of a mask, from rotation-invariant features (works for spinning shapes)."""
    if stats.elongation > ELONGATED:
        return "rectangle"
    if stats.fill > ROUND:
        return "circle"
    return "square" if stats.fill > SQUARISH else "triangle"


def size_word(shape: str, area: float, scale: float) -> str:
    """The size word of a ``shape`` mask of ``area`` pixels; thresholds sit midway between the levels."""
    radius = math.sqrt(area / AREA_PER_R2[shape]) / scale
    for word, low, high in zip(SIZES, SIZE_RADII, SIZE_RADII[1:]):
        if radius < (low + high) / 2:
            return word
    return SIZES[-1]


def spatial_relations(boxes: dict[str, tuple[int, int, int, int]], scale: float) -> list[tuple[str, str, str]]:
    """``left of`` / ``above`` (disjoint boxes in that order) and ``near`` (gap ≤ NEAR_GAP, once per pair)."""
    near_gap = NEAR_GAP * scale
    names = sorted(boxes)
    out: list[tuple[str, str, str]] = []
    for i, a in enumerate(names):
        ax0, ay0, ax1, ay1 = boxes[a]
        for b in names[i + 1 :]:
            bx0, by0, bx1, by1 = boxes[b]
            if ax1 < bx0:
                out.append((a, LEFT_OF, b))
            elif bx1 < ax0:
                out.append((b, LEFT_OF, a))
            if ay1 < by0:
                out.append((a, ABOVE, b))
            elif by1 < ay0:
                out.append((b, ABOVE, a))
            gap = max(bx0 - ax1 - 1, ax0 - bx1 - 1, by0 - ay1 - 1, ay0 - by1 - 1, 0)
            if gap <= near_gap:
                out.append((a, NEAR, b))
    return out
