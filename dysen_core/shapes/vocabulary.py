"""The closed vocabulary of the dynamic-shapes benchmark: shapes, colours, sizes, actions (issue 6, part 1).

Everything a clip can contain is named here, once, so the generator, the caption grammar, the gold scene
graphs and the parser agree by construction. Geometry is given for a 64-pixel frame and scaled linearly
(``scale = size / 64``) for other sizes.

Predicates (the plan vocabulary; intransitive unless marked):
``moves left``, ``moves right``, ``moves up``, ``moves down``, ``jumps``, ``grows``, ``shrinks``,
``appears``, ``disappears``, ``spins``, ``turns <colour>`` (e.g. ``turns blue``), and the transitive
``moves toward`` and ``follows`` (target: another shape).
Per-frame relations: ``left of``, ``above``, ``near`` (spatial, from the rendered masks) plus the active
transitive events. Attributes: colour, shape and size words, plus the active intransitive events.
"""

from __future__ import annotations

from enum import Enum

SHAPES = ("circle", "square", "triangle", "rectangle")
"""Shape classes; the parser tells them apart by rotation-invariant features (fill ratio, elongation)."""

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (235, 225, 30),
    "green": (30, 180, 50),
    "cyan": (30, 200, 220),
    "blue": (40, 60, 230),
    "purple": (150, 40, 210),
    "pink": (250, 110, 190),
}
"""Saturated shape colours, each ≥ 80 RGB units from the others; backgrounds are grey (unsaturated)."""

COLOURS = tuple(PALETTE)

SIZES = ("small", "medium", "large")
SIZE_RADII = (6.0, 8.5, 11.0)
"""Circumradius in pixels (64-pixel frame) of each size level; grow/shrink moves one level.
Below 6 px a rasterised square cannot be told from a circle at every angle."""

SPEED = 2.0  # pixels per frame for every translation, so one unit of 4 frames moves 8 px
JUMP_HEIGHT = 8.0  # pixels; one hop per time unit
SPIN_STEP = 30.0  # degrees per frame: well above the ±7° raster jitter of a small shape's orientation
MIN_GAP = 3.0  # pixels kept free between any two shapes' bounding circles (no occlusion, no merging)
AXIS_TOLERANCE = 1.0  # pixels: a unit's displacement this close to an axis (or AXIS_SLOPE of its length) is straight
AXIS_SLOPE = 0.15
NEAR_GAP = 6  # pixels: two masks whose bounding boxes are at most this far apart are "near"

LEFT_OF = "left of"
ABOVE = "above"
NEAR = "near"


class Channel(str, Enum):
    """What an action changes; one agent runs at most one action per channel at a time."""

    POSITION = "position"
    SIZE = "size"
    ROTATION = "rotation"
    COLOUR = "colour"
    VISIBILITY = "visibility"  # exclusive: nothing else happens to a blinking shape


class Action(str, Enum):
    """Action classes; ``TURN`` becomes the predicate ``turns <colour>``."""

    LEFT = "moves left"
    RIGHT = "moves right"
    UP = "moves up"
    DOWN = "moves down"
    JUMP = "jumps"
    GROW = "grows"
    SHRINK = "shrinks"
    APPEAR = "appears"
    DISAPPEAR = "disappears"
    SPIN = "spins"
    TURN = "turns"
    TOWARD = "moves toward"
    FOLLOW = "follows"


CHANNEL: dict[Action, Channel] = {
    Action.LEFT: Channel.POSITION,
    Action.RIGHT: Channel.POSITION,
    Action.UP: Channel.POSITION,
    Action.DOWN: Channel.POSITION,
    Action.JUMP: Channel.POSITION,
    Action.TOWARD: Channel.POSITION,
    Action.FOLLOW: Channel.POSITION,
    Action.GROW: Channel.SIZE,
    Action.SHRINK: Channel.SIZE,
    Action.SPIN: Channel.ROTATION,
    Action.TURN: Channel.COLOUR,
    Action.APPEAR: Channel.VISIBILITY,
    Action.DISAPPEAR: Channel.VISIBILITY,
}

TRANSITIVE = frozenset({Action.TOWARD, Action.FOLLOW})
AXIS_MOVES: dict[Action, tuple[int, int]] = {
    Action.LEFT: (-1, 0),
    Action.RIGHT: (1, 0),
    Action.UP: (0, -1),
    Action.DOWN: (0, 1),
}
"""Unit direction (dx, dy) of each straight move; image y grows downwards."""

TURN_PREFIX = "turns "


def turn_predicate(colour: str) -> str:
    """The predicate of a colour change to ``colour``."""
    return TURN_PREFIX + colour


def action_of(predicate: str) -> Action:
    """The action class of a plan predicate (``turns red`` → ``Action.TURN``)."""
    if predicate.startswith(TURN_PREFIX) and predicate[len(TURN_PREFIX):] in PALETTE:
        return Action.TURN
    return Action(predicate)


def can_do(shape: str, action: Action) -> bool:
    """A spinning circle looks static, so circles never spin."""
    return not (shape == "circle" and action is Action.SPIN)


def entity_name(colour: str, shape: str) -> str:
    """A shape's stable name: its colour when first seen, then its class (``red circle``)."""
    return f"{colour} {shape}"
