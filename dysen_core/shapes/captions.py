"""The caption grammar of the dynamic-shapes benchmark: varied wordings of one clip's plan (issue 6, part 1).

A caption is an optional cast sentence, then one clause per event (noun phrase + verb phrase) joined by
connectives chosen from the time relation of consecutive events: sequential (``then``, ``after that``,
``finally``), overlapping or concurrent (``while``, ``as``, ``at the same time``). The first pair may be
told out of time order (``before B, A``; ``B after A``; ``while A, B``), so a planner must read the
connectives, not the word order. Caption 0 is the plain form (first synonym, in order) and is the plan's
prompt; the others draw every choice at random. ``backwards_caption`` tells a gold plan of 3 or more events
wholly out of order, for evaluation only (the generator never uses it).
"""

from __future__ import annotations

import numpy as np

from ..datamodel import ActionPlan
from .scene import PlanEvent, ShapeSpec
from .vocabulary import SIZES, Action

SHAPE_WORDS = {
    "circle": ("circle", "disc", "ball"),
    "square": ("square", "box"),
    "triangle": ("triangle",),
    "rectangle": ("rectangle", "bar", "block"),
}

VERBS: dict[Action, tuple[str, ...]] = {
    Action.LEFT: ("moves left", "slides to the left", "drifts leftward", "travels to the left"),
    Action.RIGHT: ("moves right", "slides to the right", "drifts rightward", "travels to the right"),
    Action.UP: ("moves up", "rises", "floats upward", "slides up"),
    Action.DOWN: ("moves down", "sinks", "drops down", "slides down"),
    Action.JUMP: ("jumps", "hops", "bounces", "jumps up and down"),
    Action.GROW: ("grows", "gets bigger", "expands", "grows larger"),
    Action.SHRINK: ("shrinks", "gets smaller", "contracts", "shrinks down"),
    Action.APPEAR: ("appears", "shows up", "blinks into view", "pops into view"),
    Action.DISAPPEAR: ("disappears", "vanishes", "blinks out", "goes away"),
    Action.SPIN: ("spins", "rotates", "spins around", "twirls"),
    Action.TURN: ("turns {colour}", "changes colour to {colour}", "becomes {colour}", "changes to {colour}"),
    Action.TOWARD: ("moves toward {target}", "approaches {target}", "heads toward {target}", "slides toward {target}"),
    Action.FOLLOW: ("follows {target}", "chases {target}", "trails {target}", "goes after {target}"),
}

SEQUENTIAL = (", then ", ", and then ", ". After that, ", ". Next, ")
FINALLY = (", and finally ", ". Finally, ")
TOGETHER = (" while ", ", and at the same time ", " as ")
BACKGROUND_WORDS = {
    "plain": "a plain background",
    "checks": "a checkered background",
    "stripes": "a striped background",
    "gradient": "a shaded background",
    "blotches": "a mottled background",
}


class _Wording:
    """One caption's choices: plain (always the first option) or random."""

    def __init__(self, rng: np.random.Generator | None, cast: dict[str, ShapeSpec]):
        self.rng, self.cast = rng, cast

    def pick(self, options: tuple[str, ...]) -> str:
        return options[0] if self.rng is None else options[int(self.rng.integers(len(options)))]

    def chance(self, p: float) -> bool:
        return self.rng is not None and bool(self.rng.random() < p)

    def noun(self, name: str) -> str:
        spec = self.cast[name]
        words = [spec.colour, self.pick(SHAPE_WORDS[spec.shape])]
        if self.chance(0.25):
            words.insert(0, SIZES[spec.level])
        return "the " + " ".join(words)

    def clause(self, event: PlanEvent, previous: PlanEvent | None) -> str:
        verb = self.pick(VERBS[event.action])
        target = self.noun(event.target) if event.target else ""
        same = previous is not None and previous.agent == event.agent
        subject = "it" if same and self.chance(0.5) else self.noun(event.agent)
        return f"{subject} {verb.format(colour=event.colour or '', target=target)}"


def _relation(first: PlanEvent, second: PlanEvent) -> str:
    return "sequential" if first.end <= second.start else "together"


def caption(rng: np.random.Generator | None, cast: list[ShapeSpec], events: list[PlanEvent], background: str) -> str:
    """One caption of ``events`` (sorted by start); ``rng=None`` gives the plain caption."""
    w = _Wording(rng, {s.name: s for s in cast})
    ordered = sorted(events, key=lambda e: (e.start, e.end))
    clauses = [w.clause(e, ordered[i - 1] if i else None) for i, e in enumerate(ordered)]
    if len(ordered) >= 2 and w.chance(0.5):  # the first pair as a subordinate clause
        if _relation(ordered[0], ordered[1]) == "together":
            form = "while {a}, {b}"
        elif len(ordered) == 2:  # out of time order only when no later clause could attach to the wrong event
            form = w.pick(("before {b}, {a}", "{b} after {a}", "after {a}, {b}"))
        else:
            form = "after {a}, {b}"
        text = form.format(a=clauses[0], b=clauses[1])
        rest = 2
    else:
        text, rest = clauses[0], 1
    for i in range(rest, len(ordered)):
        if _relation(ordered[i - 1], ordered[i]) == "together":
            joiner = w.pick(TOGETHER)
        else:
            joiner = w.pick(FINALLY if i == len(ordered) - 1 and len(ordered) >= 3 else SEQUENTIAL)
        text += joiner + clauses[i]
    if w.chance(0.3):
        text = f"On {BACKGROUND_WORDS[background]}, {text}"
    sentences = [s.strip() for s in text.split(". ")]
    return ". ".join(s[0].upper() + s[1:] for s in sentences) + "."


def captions(rng: np.random.Generator, cast: list[ShapeSpec], events: list[PlanEvent], background: str,
             count: int) -> list[str]:
    """``count`` distinct captions when the grammar allows (plain first), else as many as it found."""
    out = [caption(None, cast, events, background)]
    for _ in range(count * 4):
        if len(out) >= count:
            break
        text = caption(rng, cast, events, background)
        if text not in out:
            out.append(text)
    return out


def backwards_caption(plan: ActionPlan) -> str | None:
    """``plan`` told later events first: "Before C while D, A while B." (plain wording).

    Defined when the events fall into an earlier and a later group, each of concurrent events, and there are at
    least 3; else None. Evaluation prompts for planners that must read "before" rather than the word order.
    """
    events = sorted(plan.events, key=lambda e: (e.start, e.end))
    split = min((e.start for e in events if e.start >= events[0].end), default=None)
    if len(events) < 3 or split is None:
        return None
    earlier = [e for e in events if e.end <= split]
    later = [e for e in events if e.start >= split]
    if len(earlier) + len(later) != len(events) or any(
        not all(a.start < b.end and b.start < a.end for a in group for b in group) for group in (earlier, later)
    ):
        return None

    def told(group: list) -> str:
        return TOGETHER[0].join(f"the {e.agent} {e.predicate}" + (f" the {e.target}" if e.target else "") for e in group)

    return f"Before {told(later)}, {told(earlier)}."
