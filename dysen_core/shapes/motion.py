"""Frame-by-frame simulation of a sampled scene, and the geometric checks a clip must pass (issue 6, part 1).

Frame f shows the state *before* the changes of frame f (see ``timegrid``). Translations move ``SPEED``
px per active frame (pursuits toward the target's current centre), a jump is one sine hop per unit,
a resize moves the circumradius linearly to the next level, a spin turns ``SPIN_STEP`` degrees per frame.
An appearing shape blinks on odd frames of its event, a disappearing one on even frames; a colour change
is a left-to-right wipe whose new-colour share runs from 20 % to 80 % of the pixels.
A clip is kept only if every shape stays inside the frame with a margin, no two shapes come within
``MIN_GAP`` of each other, and every pursuit is clearly diagonal and clearly aimed at its target alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .geometry import pursuit_cosine
from .scene import PlanEvent, ShapeSpec
from .timegrid import TimeGrid
from .vocabulary import (
    AXIS_MOVES,
    AXIS_SLOPE,
    AXIS_TOLERANCE,
    JUMP_HEIGHT,
    MIN_GAP,
    SIZE_RADII,
    SPEED,
    SPIN_STEP,
    TRANSITIVE,
    Action,
)

WIPE_FIRST, WIPE_LAST = 0.2, 0.8  # new-colour pixel share at the first and last frame of a colour change
PURSUIT_MIN_COS = 0.95  # the pursuer's unit displacement must point at its target at least this well …
OTHER_MAX_COS = 0.8  # … and at no other shape this well
AXIS_MARGIN = 2.0  # a pursuit's unit displacement stays this many times the parser's axis tolerance off-axis


@dataclass(frozen=True)
class State:
    """One shape in one frame."""

    present: bool  # in the scene graph (visible, or blinking in or out)
    visible: bool  # drawn in this frame
    x: float
    y: float
    radius: float
    angle: float
    colour: str  # the colour before any change in progress
    new_colour: str | None = None  # set while a colour change is in progress
    wipe: float = 0.0  # share of pixels already in ``new_colour``

    @property
    def centre(self) -> tuple[int, int]:
        """Pixel centre where the stamp goes (round half up)."""
        return math.floor(self.x + 0.5), math.floor(self.y + 0.5)


def simulate(cast: list[ShapeSpec], events: list[PlanEvent], grid: TimeGrid, scale: float) -> dict[str, list[State]]:
    """Every shape's state in every frame."""
    per_unit = grid.per_unit
    base = {s.name: [s.x, s.y] for s in cast}
    radius = {s.name: SIZE_RADII[s.level] * scale for s in cast}
    angle = {s.name: s.angle for s in cast}
    active = [(e, grid.frames_of(e.start, e.end)) for e in events]
    out: dict[str, list[State]] = {s.name: [] for s in cast}
    for f in range(grid.frames):
        shown = {}
        for spec in cast:
            name = spec.name
            x, y = base[name]
            present = visible = True
            colour, new_colour, wipe = spec.colour, None, 0.0
            for event, frames in active:
                if event.agent != name:
                    continue
                k = f - frames.start
                inside = frames.start <= f < frames.stop
                if event.action is Action.JUMP and inside:
                    y -= JUMP_HEIGHT * scale * math.sin(math.pi * (k % per_unit) / per_unit)
                elif event.action is Action.APPEAR:
                    present &= f >= frames.start
                    visible &= f >= frames.stop or (inside and k % 2 == 1)
                elif event.action is Action.DISAPPEAR:
                    present &= f < frames.stop
                    visible &= f < frames.start or (inside and k % 2 == 0)
                elif event.action is Action.TURN and f >= frames.start:
                    if inside:
                        new_colour = event.colour
                        wipe = WIPE_FIRST + (WIPE_LAST - WIPE_FIRST) * k / (len(frames) - 1)
                    else:
                        colour = event.colour
            shown[name] = State(present, visible and present, x, y, radius[name], angle[name], colour, new_colour, wipe)
        for name, state in shown.items():
            out[name].append(state)
        for event, frames in active:  # the changes made during frame f, seen from frame f + 1
            if not frames.start <= f < frames.stop:
                continue
            name = event.agent
            if event.action in AXIS_MOVES:
                dx, dy = AXIS_MOVES[event.action]
                base[name][0] += SPEED * scale * dx
                base[name][1] += SPEED * scale * dy
            elif event.action in TRANSITIVE:
                me, it = shown[name], shown[event.target]
                dx, dy = it.x - me.x, it.y - me.y
                norm = math.hypot(dx, dy) or 1.0
                base[name][0] += SPEED * scale * dx / norm
                base[name][1] += SPEED * scale * dy / norm
            elif event.action in (Action.GROW, Action.SHRINK):
                spec_level = _level_before(cast, events, event)
                to_level = spec_level + (1 if event.action is Action.GROW else -1)
                radius[name] += (SIZE_RADII[to_level] - SIZE_RADII[spec_level]) * scale / len(frames)
            elif event.action is Action.SPIN:
                angle[name] = (angle[name] + SPIN_STEP) % 360.0
    return out


def _level_before(cast: list[ShapeSpec], events: list[PlanEvent], event: PlanEvent) -> int:
    level = next(s.level for s in cast if s.name == event.agent)
    for e in events:
        if e.agent == event.agent and e.end <= event.start:
            level += {Action.GROW: 1, Action.SHRINK: -1}.get(e.action, 0)
    return level


def fits(states: dict[str, list[State]], events: list[PlanEvent], grid: TimeGrid, size: int, scale: float) -> bool:
    """Whether the simulated clip keeps every shape inside, apart, and every pursuit unambiguous."""
    names = list(states)
    for f in range(grid.frames):
        for i, a in enumerate(names):
            sa = states[a][f]
            if not sa.present:
                continue
            (cx, cy), reach = sa.centre, math.ceil(sa.radius)
            if cx - reach < 1 or cy - reach < 1 or cx + reach > size - 2 or cy + reach > size - 2:
                return False
            for b in names[i + 1 :]:
                sb = states[b][f]
                if sb.present and math.hypot(sa.x - sb.x, sa.y - sb.y) < sa.radius + sb.radius + MIN_GAP * scale:
                    return False
    return all(_clear_pursuit(states, e, grid, scale) for e in events if e.action in TRANSITIVE)


def _clear_pursuit(states: dict[str, list[State]], event: PlanEvent, grid: TimeGrid, scale: float) -> bool:
    for unit in range(event.start, event.end):
        window = list(grid.window(unit))
        agent = np.array([states[event.agent][f].centre for f in window], dtype=np.float64)
        dx, dy = np.abs(agent[-1] - agent[0])
        if min(dx, dy) < AXIS_MARGIN * max(AXIS_TOLERANCE * scale, AXIS_SLOPE * math.hypot(dx, dy)):
            return False
        for other, track in states.items():
            if other == event.agent or not all(track[f].visible for f in window):
                continue
            cosine = pursuit_cosine(agent, np.array([track[f].centre for f in window], dtype=np.float64))
            if other == event.target and cosine < PURSUIT_MIN_COS:
                return False
            if other != event.target and cosine >= OTHER_MAX_COS:
                return False
    return True


def place(rng: np.random.Generator, cast: list[ShapeSpec], events: list[PlanEvent], grid: TimeGrid, size: int,
          scale: float) -> list[ShapeSpec]:
    """``cast`` at random centres at least the largest radius plus a margin from the border.

    A pursuer starts on a random diagonal (30–60° off the axes) from its target: for ``moves toward`` as
    far away as it travels plus both radii; for ``follows`` a little behind the target's move, where the
    target is when the chase begins. Most pursuits then pass ``fits`` within a few tries.
    """
    margin = SIZE_RADII[-1] * scale + 2
    centres: dict[str, np.ndarray] = {}
    for spec in cast:  # a few tries to start apart from the shapes already placed (cheap; fits decides)
        for _ in range(10):
            centre = rng.uniform(margin, size - margin, size=2)
            if all(np.hypot(*(centre - c)) >= 2 * margin for c in centres.values()):
                break
        centres[spec.name] = centre
    radius = {s.name: SIZE_RADII[s.level] * scale for s in cast}
    for e in events:
        if e.action not in TRANSITIVE:
            continue
        gap = radius[e.agent] + radius[e.target] + MIN_GAP * scale
        target, behind = centres[e.target], None
        if e.action is Action.FOLLOW:  # start behind the target's move, where it was when the chase begins
            move = next(m for m in events if m.agent == e.target and m.action in AXIS_MOVES and m.overlaps(e.start, e.end))
            direction = np.array(AXIS_MOVES[move.action], dtype=np.float64)
            target = target + direction * SPEED * scale * len(grid.frames_of(move.start, e.start))
            behind, distance = -direction, gap + rng.uniform(4, 12) * scale
        else:
            distance = gap + SPEED * scale * len(grid.frames_of(e.start, e.end)) + rng.uniform(0, 4) * scale
        for quadrant in rng.permutation(4):
            theta = math.radians(rng.uniform(30, 60) + 90 * int(quadrant))
            offset = np.array([math.cos(theta), math.sin(theta)])
            if behind is not None and offset @ behind <= 0:
                continue
            centre = target + distance * offset
            if np.all(centre >= radius[e.agent] + 2) and np.all(centre <= size - radius[e.agent] - 3):
                centres[e.agent] = centre
                break
    return [ShapeSpec(s.name, s.shape, s.colour, s.level, float(centres[s.name][0]), float(centres[s.name][1]), s.angle)
            for s in cast]
