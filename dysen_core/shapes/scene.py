"""Sampling a clip's cast and its timed events under the benchmark's rules (issue 6, part 1).

A scene is 1–3 shapes with distinct colours plus 1–4 events whose intervals are sequential, overlapping
or concurrent. The rules keep every event visible and unambiguous in the video: one action per channel per
agent at a time (a blinking shape does nothing else), no spin while resizing, each (agent, predicate)
at most once, ``moves toward`` only a still target and ``follows`` only a target that moves along an
axis for the whole event, colour changes only to colours unused in the clip. Geometry (room to move, no
collisions) is checked afterwards by the simulation in ``motion``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .splits import HELD_OUT, Split, allowed
from .vocabulary import (
    AXIS_MOVES,
    CHANNEL,
    COLOURS,
    SHAPES,
    SIZE_RADII,
    TRANSITIVE,
    Action,
    Channel,
    can_do,
    entity_name,
    turn_predicate,
)

MAX_RESIZE_UNITS = 1  # spread over more units, a resize can leave a square's raster unchanged for a whole unit
MAX_EVENT_UNITS = 3


@dataclass(frozen=True)
class ShapeSpec:
    """One shape's identity and initial state (centre in pixels, angle in degrees)."""

    name: str
    shape: str
    colour: str
    level: int  # index into SIZE_RADII
    x: float
    y: float
    angle: float


@dataclass(frozen=True)
class PlanEvent:
    """One gold event on the unit grid; ``colour`` is the new colour of a ``TURN``."""

    agent: str
    action: Action
    start: int
    end: int
    target: str | None = None
    colour: str | None = None

    @property
    def predicate(self) -> str:
        return turn_predicate(self.colour) if self.action is Action.TURN else self.action.value

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end


def sample_cast(rng: np.random.Generator, count: int) -> list[ShapeSpec]:
    """``count`` shapes with distinct colours; positions are placeholders set by ``motion.place``."""
    colours = rng.choice(len(COLOURS), size=count, replace=False)
    cast = []
    for colour_index in colours:
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        colour = COLOURS[int(colour_index)]
        angle = 30.0 * int(rng.integers(12)) if shape != "circle" else 0.0
        cast.append(ShapeSpec(entity_name(colour, shape), shape, colour, int(rng.integers(len(SIZE_RADII))), 0, 0, angle))
    return cast


def sample_intervals(rng: np.random.Generator, count: int, units: int) -> list[tuple[int, int]]:
    """``count`` intervals in start order, each sequential to, overlapping or concurrent with the previous.

    The relation is drawn among those that fit on the grid (concurrent always does).
    """
    out: list[tuple[int, int]] = []
    while len(out) < count:
        length = int(rng.integers(1, min(MAX_EVENT_UNITS, units) + 1))
        if not out:
            start = int(rng.integers(0, units - length + 1))
            out.append((start, start + length))
            continue
        prev_start, prev_end = out[-1]
        sequential = [(s, s + length) for s in range(prev_end, units - length + 1)]
        overlapping = [(s, s + length) for s in range(prev_start + 1, prev_end) if s + length <= units]
        groups = [g for g in ([(prev_start, prev_end)], sequential, overlapping) if g]
        group = groups[int(rng.integers(len(groups)))]
        out.append(group[int(rng.integers(len(group)))])
    return out


class _Casting:
    """The state of event assignment: which channels and facts each agent has used so far."""

    def __init__(self, cast: list[ShapeSpec], split: Split, colour_order: list[str]):
        self.cast = {spec.name: spec for spec in cast}
        self.colour_order = colour_order  # a random order: the first unused colour is the next turn's
        self.split = split
        self.events: list[PlanEvent] = []
        self.used_colours = {spec.colour for spec in cast}

    def _of(self, name: str) -> list[PlanEvent]:
        return [e for e in self.events if e.agent == name]

    def present(self, name: str, start: int, end: int) -> bool:
        """Visible and steady over ``[start, end)``: not before its appearance, not blinking, not gone."""
        for e in self._of(name):
            if e.action is Action.APPEAR and start < e.end:
                return False
            if e.action is Action.DISAPPEAR and end > e.start:
                return False
        return True

    def moving(self, name: str, start: int, end: int) -> list[PlanEvent]:
        return [e for e in self._of(name) if CHANNEL[e.action] is Channel.POSITION and e.overlaps(start, end)]

    def level(self, name: str) -> int:
        level = self.cast[name].level
        for e in self._of(name):
            level += {Action.GROW: 1, Action.SHRINK: -1}.get(e.action, 0)
        return level

    def options(self, start: int, end: int) -> list[PlanEvent]:
        """Every event the rules allow over ``[start, end)``."""
        out = []
        for name, spec in self.cast.items():
            mine = self._of(name)
            busy = {CHANNEL[e.action] for e in mine if e.overlaps(start, end)}
            done = {e.predicate for e in mine}
            pursuits = [e for e in self.events if e.target == name]
            for action in Action:
                channel = CHANNEL[action]
                if not (can_do(spec.shape, action) and allowed(spec.shape, action, self.split)):
                    continue
                if channel in busy or Channel.VISIBILITY in busy or (channel is Channel.VISIBILITY and busy):
                    continue  # one action per channel; a blinking shape does nothing else
                if {channel} | busy >= {Channel.SIZE, Channel.ROTATION}:
                    continue  # the parser reads no size change on a spinning shape (raster area varies with angle)
                if action is Action.APPEAR:
                    if mine or pursuits:
                        continue
                elif not self.present(name, start, end):
                    continue
                if action is Action.DISAPPEAR and any(e.end > start for e in pursuits):
                    continue
                if channel is Channel.POSITION and any(e.overlaps(start, end) for e in pursuits):
                    continue  # a pursued shape keeps the motion its pursuer was sampled against
                if action in (Action.GROW, Action.SHRINK):
                    step = 1 if action is Action.GROW else -1
                    if end - start > MAX_RESIZE_UNITS or not 0 <= self.level(name) + step < len(SIZE_RADII):
                        continue
                if action is Action.TURN:
                    free = [c for c in self.colour_order if c not in self.used_colours]
                    if free and not any(e.action is Action.TURN for e in mine):
                        out.append(PlanEvent(name, action, start, end, colour=free[0]))
                elif action in TRANSITIVE:
                    out.extend(self._pursuits(name, action, start, end, done))
                elif action.value not in done:
                    out.append(PlanEvent(name, action, start, end))
        return out

    def _pursuits(self, name: str, action: Action, start: int, end: int, done: set[str]) -> list[PlanEvent]:
        if action.value in done:
            return []
        out = []
        for other in self.cast:
            if other == name or not self.present(other, start, end):
                continue
            moves = self.moving(other, start, end)
            if action is Action.TOWARD and not moves:
                out.append(PlanEvent(name, action, start, end, target=other))
            if action is Action.FOLLOW and any(
                e.action in AXIS_MOVES and e.start <= start and e.end >= end for e in moves
            ):
                out.append(PlanEvent(name, action, start, end, target=other))
        return out

    def add(self, event: PlanEvent) -> None:
        self.events.append(event)
        if event.colour:
            self.used_colours.add(event.colour)


def sample_events(
    rng: np.random.Generator, cast: list[ShapeSpec], units: int, count: int, split: Split, novel: bool
) -> list[PlanEvent] | None:
    """``count`` events for ``cast`` under the rules, or ``None`` when this draw painted itself into a corner.

    The action class is drawn uniformly among the feasible ones, then one of its options, so rare but
    feasible actions (pursuits) are not crowded out by actions that have many agents or colours.
    """
    intervals = sample_intervals(rng, count, units)
    casting = _Casting(cast, split, [COLOURS[int(i)] for i in rng.permutation(len(COLOURS))])
    forced = int(rng.integers(len(intervals))) if novel else -1
    for i, (start, end) in enumerate(intervals):
        options = casting.options(start, end)
        if i == forced:
            options = [e for e in options if (casting.cast[e.agent].shape, e.action) in HELD_OUT]
        actions = sorted({e.action for e in options}, key=list(Action).index)
        if not actions:
            return None
        action = actions[int(rng.integers(len(actions)))]
        options = [e for e in options if e.action is action]
        casting.add(options[int(rng.integers(len(options)))])
    return casting.events
