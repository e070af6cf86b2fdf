"""The exact parser: video frames → per-frame scene graphs and timed events (issue 6, part 2; paper App. B.1).

Stages: segment blobs by colour (``segment``); link blobs into tracks, one per shape, by colour (colours
are unique in a clip and a colour change shows both colours in one blob, which joins them); classify each
track's shape by majority over frames; read attributes and spatial relations per frame with the shared
``geometry`` functions; detect actions per time unit over the unit's window of frames; merge runs of
units into events. On the generator's own frames it recovers the gold exactly; thresholds are
tolerances, so noisy or generated frames parse too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..datamodel import DynamicSceneGraph, Event, SceneGraph
from ..errors import InputError
from .geometry import (
    angle_step,
    classify_shape,
    orientation,
    pursuit_cosine,
    size_word,
    spatial_relations,
)
from .segment import Blob, SegmentOptions, segment
from .timegrid import TimeGrid
from .vocabulary import (
    AXIS_SLOPE,
    AXIS_TOLERANCE,
    JUMP_HEIGHT,
    Action,
    entity_name,
    turn_predicate,
)

MOVE_MIN = 3.0  # px (at 64): a unit's net displacement that counts as motion; a moving shape does 6–8
JUMP_RISE, JUMP_FALL = 0.5, 0.15  # fractions of JUMP_HEIGHT a hop must rise, then fall back, inside a unit
GROW_RATIO = 1.05  # area ratio over a unit for grows/shrinks; a still shape keeps its exact area, while
# a resizing rectangle, whose raster area moves in whole rows and columns, may change by only ~1.1 in a unit
SPIN_MIN = 12.0  # mean degrees per frame of orientation change for spins (a spin turns 30)
PURSUIT_COS = 0.9  # pursuit_cosine to a shape for moves toward / follows


class ParserOptions(BaseModel):
    """Settings of the parser: the time grid it reads events on, and its segmentation tolerances."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    units: int = Field(default=4, ge=1, le=256, description="Time units per clip to report events on.")
    segment: SegmentOptions = Field(default_factory=SegmentOptions, description="Colour segmentation tolerances.")


class ParsedVideo(BaseModel):
    """What the parser read: one scene graph per frame, and the events on the unit grid."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dsg: DynamicSceneGraph = Field(description="One scene graph per video frame.")
    events: list[Event] = Field(description="Detected events, in time order.")
    units: int = Field(description="Time units the events are measured in.")


@dataclass
class _Track:
    """One shape over the clip: its blob in each frame (None when not drawn)."""

    blobs: list[Blob | None]
    name: str = ""
    shape: str = ""
    unit_events: list[list[tuple[str, str | None]]] = field(default_factory=list)  # per unit: (predicate, target)

    def visible(self, f: int) -> bool:
        return self.blobs[f] is not None

    def centres(self, frames: range) -> np.ndarray:
        return np.array([(self.blobs[f].stats.cx, self.blobs[f].stats.cy) for f in frames], dtype=np.float64)


def check_frames(frames: object) -> np.ndarray:
    """``frames`` as one ``(F, H, W, 3)`` uint8 array, or an InputError naming what is wrong."""
    if isinstance(frames, np.ndarray):
        array = frames
    else:
        frames = list(frames)  # type: ignore[call-overload]
        if not frames:
            raise InputError("no frames to parse: the video is empty; pass an (F, H, W, 3) uint8 array with F >= 1")
        first = np.asarray(frames[0]).shape
        for f, frame in enumerate(frames):
            if np.asarray(frame).shape != first:
                raise InputError(f"frame {f} has shape {np.asarray(frame).shape} but frame 0 has {first}; "
                                 "all frames must have the same size")
        array = np.stack([np.asarray(frame) for frame in frames])
    if array.ndim != 4 or array.shape[-1] != 3 or array.shape[0] == 0:
        raise InputError(f"frames have shape {array.shape}; expected (F, H, W, 3) with F >= 1")
    if array.dtype != np.uint8:
        raise InputError(f"frames have dtype {array.dtype}; expected uint8 RGB")
    return array


def parse_video(frames: object, options: ParserOptions | None = None) -> ParsedVideo:
    """Parse ``frames`` (an ``(F, H, W, 3)`` uint8 array or a list of ``(H, W, 3)`` frames)."""
    options = options or ParserOptions()
    array = check_frames(frames)
    try:
        grid = TimeGrid(frames=array.shape[0], units=options.units)
    except ValidationError as exc:
        raise InputError(f"cannot read {options.units} units from {array.shape[0]} frames: "
                         f"{exc.errors()[0]['msg']}") from None
    scale = min(array.shape[1:3]) / 64.0
    tracks = _link(segment(array, options.segment, scale), grid.frames)
    for track in tracks:
        _identify(track)
    for track in tracks:
        track.unit_events = [_unit_events(track, tracks, grid, u, scale) for u in range(grid.units)]
    events = _merge(tracks, grid)
    graphs = [_frame_graph(tracks, events, grid, f, scale) for f in range(grid.frames)]
    return ParsedVideo(dsg=DynamicSceneGraph(prompt="", frames=graphs), events=events, units=grid.units)


def _link(blobs: list[list[Blob]], num_frames: int) -> list[_Track]:
    """Group blobs into tracks: colours seen together in one blob belong to one shape (union-find)."""
    parent: dict[str, str] = {}

    def root(colour: str) -> str:
        while parent.setdefault(colour, colour) != colour:
            colour = parent[colour]
        return colour

    for frame in blobs:
        for blob in frame:
            for colour in blob.colours[1:]:
                parent[root(colour)] = root(blob.colours[0])
    by_root: dict[str, _Track] = {}
    for f, frame in enumerate(blobs):
        for blob in frame:
            track = by_root.setdefault(root(blob.colours[0]), _Track([None] * num_frames))
            held = track.blobs[f]
            track.blobs[f] = blob if held is None or held.stats.area < blob.stats.area else held
    return list(by_root.values())


def _identify(track: _Track) -> None:
    seen = [b for b in track.blobs if b is not None]
    track.shape = Counter(classify_shape(b.stats) for b in seen).most_common(1)[0][0]
    track.name = entity_name(seen[0].colours[0], track.shape)


def _unit_events(track: _Track, tracks: list[_Track], grid: TimeGrid, unit: int, scale: float) -> list[tuple[str, str | None]]:
    own = grid.frames_of(unit, unit + 1)
    shown = [track.visible(f) for f in own]
    if not any(shown):
        return []
    if not all(shown):  # blinking: an appearing shape is drawn on odd frames of its event, a vanishing one on even
        return [((Action.DISAPPEAR if shown[0] else Action.APPEAR).value, None)]
    window = [f for f in grid.window(unit) if track.visible(f)]
    out: list[tuple[str, str | None]] = []
    centres = track.centres(window)
    motion = _motion(track, tracks, window, centres, scale)
    if motion:
        out.append(motion)
    angles = [orientation(track.shape, track.blobs[f].ys, track.blobs[f].xs) for f in window]
    spinning = track.shape != "circle" and np.mean(
        [angle_step(track.shape, a, b) for a, b in pairwise(angles)]) >= SPIN_MIN
    if spinning:
        out.append((Action.SPIN.value, None))
    else:  # a spinning polygon's raster area wobbles with its angle, so sizes are read only when still
        ratio = track.blobs[window[-1]].stats.area / track.blobs[window[0]].stats.area
        if ratio >= GROW_RATIO:
            out.append((Action.GROW.value, None))
        elif ratio <= 1 / GROW_RATIO:
            out.append((Action.SHRINK.value, None))
    changes = [track.blobs[f].colours[1] for f in own if len(track.blobs[f].colours) == 2]
    if 2 * len(changes) >= len(own):
        out.append((turn_predicate(Counter(changes).most_common(1)[0][0]), None))
    return out


def _motion(track: _Track, tracks: list[_Track], window: list[int], centres: np.ndarray,
            scale: float) -> tuple[str, str | None] | None:
    if len(window) < 2:
        return None
    ys = centres[:, 1]
    dx, dy = centres[-1] - centres[0]
    rise, fall = ys[0] - ys.min(), ys[-1] - ys.min()
    straight = AXIS_TOLERANCE * scale
    if rise >= JUMP_RISE * JUMP_HEIGHT * scale and fall >= JUMP_FALL * JUMP_HEIGHT * scale and abs(dx) <= straight:
        return (Action.JUMP.value, None)
    distance = float(np.hypot(dx, dy))
    if distance < MOVE_MIN * scale:
        return None
    if min(abs(dx), abs(dy)) <= max(straight, AXIS_SLOPE * distance):
        if abs(dx) > abs(dy):
            return ((Action.RIGHT if dx > 0 else Action.LEFT).value, None)
        return ((Action.DOWN if dy > 0 else Action.UP).value, None)
    best, best_cos = None, PURSUIT_COS
    for other in tracks:
        if other is track or not all(other.visible(f) for f in window):
            continue
        cosine = pursuit_cosine(centres, other.centres(window))
        if cosine >= best_cos:
            best, best_cos = other, cosine
    if best is None:
        return None
    other_moves = np.hypot(*(best.centres(window)[-1] - best.centres(window)[0])) >= MOVE_MIN * scale
    return ((Action.FOLLOW if other_moves else Action.TOWARD).value, best.name)


def _merge(tracks: list[_Track], grid: TimeGrid) -> list[Event]:
    """Runs of units with the same (predicate, target) become events."""
    events = []
    for track in tracks:
        labels = sorted({label for unit in track.unit_events for label in unit})
        for predicate, target in labels:
            units = [u for u in range(grid.units) if (predicate, target) in track.unit_events[u]]
            runs: list[list[int]] = []
            for u in units:
                if runs and runs[-1][-1] == u - 1:
                    runs[-1].append(u)
                else:
                    runs.append([u])
            for run in runs:
                events.append(Event(agent=track.name, predicate=predicate, target=target, start=run[0], end=run[-1] + 1))
    return sorted(events, key=lambda e: (e.start, e.end, e.agent, e.predicate))


def _frame_graph(tracks: list[_Track], events: list[Event], grid: TimeGrid, f: int, scale: float) -> SceneGraph:
    unit = f // grid.per_unit
    active = [e for e in events if e.start <= unit < e.end]
    blinking = {e.agent for e in active if e.predicate in (Action.APPEAR.value, Action.DISAPPEAR.value)}
    objects, attributes, boxes = [], [], {}
    for track in tracks:
        if not (track.visible(f) or track.name in blinking):
            continue
        blob = track.blobs[f] or _nearest_blob(track, f)
        objects.append(track.name)
        attributes += [(track.name, blob.colours[0]), (track.name, track.shape),
                       (track.name, size_word(track.shape, blob.stats.area, scale))]
        if track.visible(f):
            boxes[track.name] = blob.stats.bbox
    attributes += [(e.agent, e.predicate) for e in active if e.target is None]
    relations = spatial_relations(boxes, scale) + [(e.agent, e.predicate, e.target) for e in active if e.target]
    return SceneGraph(objects=objects, attributes=attributes, relations=relations)


def _nearest_blob(track: _Track, f: int) -> Blob:
    drawn = [g for g, blob in enumerate(track.blobs) if blob is not None]
    return track.blobs[min(drawn, key=lambda g: (abs(g - f), g))]

