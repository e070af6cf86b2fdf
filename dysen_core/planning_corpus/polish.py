"""Polishment gold (Step III, second round): imagined graphs with one slip, and the consistent graphs (issue 10).

The frames are a plan's gold imagined graphs (``states.imagine``), one per unique segment; in about 60% of
demonstrations one inconsistency is injected that a reader of the whole DSG can see and undo:

- ``drop_state``: a state that holds before and after a middle segment is missing from it;
- ``flip``: an attribute turns into a contradicting value ("open" → "closed", "red" → "blue") in one segment
  while its neighbours keep it;
- ``drop_object``: an object present before and after a middle segment, and taking no part in its events, is
  missing from it (with its attributes and relations).

The output is always the gold graphs; unchanged frames teach the answer "no changes".
"""

from __future__ import annotations

import random

from ..datamodel import SceneGraph
from ..demos import PolishDemo
from ..shapes.vocabulary import COLOURS
from .states import Imagined

CONTRARY = {"open": "closed", "closed": "open", "on": "off", "off": "on", "locked": "unlocked",
            "unlocked": "locked", "full": "empty", "empty": "full", "asleep": "awake", "awake": "asleep",
            "sitting": "standing", "standing": "sitting", "lying": "standing", "hot": "cool", "cool": "hot",
            "lit": "out", "out": "lit", "tied": "untied", "untied": "tied", "wrapped": "unwrapped",
            "unwrapped": "wrapped", "clean": "dirty", "small": "large", "large": "small", "medium": "small"}
"""A contradicting value for each attribute value a flip may change."""
INJECTED_SHARE = 0.6


def polish_demo(demo_id: str, prompt: str, imagined: list[Imagined], rng: random.Random) -> PolishDemo | None:
    """A polishment demonstration, or None when no slip can be injected into these graphs."""
    gold = [item.output for item in imagined]
    slipped = [frames for slip in (_drop_state, _flip, _drop_object) if (frames := slip(imagined, rng)) is not None]
    if not slipped:
        return None
    frames = rng.choice(slipped) if rng.random() < INJECTED_SHARE else gold
    return PolishDemo(id=demo_id, prompt=prompt, frames=frames, output=gold)


def _extra(item: Imagined) -> tuple[set, set]:
    """The attributes and relations the gold adds to a segment's skeleton."""
    skeleton, gold = item.segment.graph, item.output
    return set(gold.attributes) - set(skeleton.attributes), set(gold.relations) - set(skeleton.relations)


def _replace(imagined: list[Imagined], i: int, graph: SceneGraph) -> list[SceneGraph]:
    return [graph if k == i else item.output for k, item in enumerate(imagined)]


def _drop_state(imagined: list[Imagined], rng: random.Random) -> list[SceneGraph] | None:
    options = []
    for i in range(1, len(imagined) - 1):
        before, now, after = (_extra(imagined[k]) for k in (i - 1, i, i + 1))
        options += [(i, a, None) for a in now[0] & before[0] & after[0]]
        options += [(i, None, r) for r in now[1] & before[1] & after[1]]
    if not options:
        return None
    i, attribute, relation = rng.choice(sorted(options, key=str))
    graph = imagined[i].output
    return _replace(imagined, i, SceneGraph(objects=graph.objects,
                                            attributes=[a for a in graph.attributes if a != attribute],
                                            relations=[r for r in graph.relations if r != relation]))


def _flip(imagined: list[Imagined], rng: random.Random) -> list[SceneGraph] | None:
    options = []
    for i, item in enumerate(imagined):
        neighbours = [imagined[k] for k in (i - 1, i + 1) if 0 <= k < len(imagined)]
        for obj, value in _extra(item)[0]:
            flippable = value in CONTRARY or value in COLOURS
            if flippable and neighbours and all((obj, value) in n.output.attributes for n in neighbours):
                options.append((i, obj, value))
    if not options:
        return None
    i, obj, value = rng.choice(sorted(options))
    other = CONTRARY.get(value) or rng.choice([c for c in COLOURS if c != value])
    graph = imagined[i].output
    attributes = [(o, other) if (o, v) == (obj, value) else (o, v) for o, v in graph.attributes]
    return _replace(imagined, i, SceneGraph(objects=graph.objects, attributes=attributes, relations=graph.relations))


def _drop_object(imagined: list[Imagined], rng: random.Random) -> list[SceneGraph] | None:
    options = []
    for i in range(1, len(imagined) - 1):
        skeleton = imagined[i].segment.graph
        active = {n for a in skeleton.attributes for n in a[:1]} | {n for r in skeleton.relations for n in (r[0], r[2])}
        shared = set(imagined[i - 1].output.objects) & set(imagined[i].output.objects) & set(imagined[i + 1].output.objects)
        options += [(i, name) for name in shared - active]
    if not options:
        return None
    i, name = rng.choice(sorted(options))
    graph = imagined[i].output
    return _replace(imagined, i, SceneGraph(
        objects=[o for o in graph.objects if o != name],
        attributes=[a for a in graph.attributes if a[0] != name],
        relations=[r for r in graph.relations if name not in (r[0], r[2])],
    ))
