"""The gold action plan and per-frame gold scene graphs of a rendered clip (issue 6, part 1; paper §3.2).

Frame f's scene graph holds every present shape (blinking ones included) with its colour, shape and size
attributes, the spatial relations between the shapes drawn in that frame, and the events active at f in
Step II's form (DESIGN.md decision 1): an intransitive event is the attribute ``(agent, predicate)``, a
transitive one the relation ``(agent, predicate, target)``. Sizes and relations are read off the stamped
pixels with the same functions the parser uses.
"""

from __future__ import annotations

from ..datamodel import ActionPlan, Event, SceneGraph
from .geometry import size_word, spatial_relations
from .motion import State
from .render import state_stamp
from .scene import PlanEvent, ShapeSpec
from .timegrid import TimeGrid


def gold_plan(events: list[PlanEvent], prompt: str) -> ActionPlan:
    """The plan in time order, with the benchmark's predicate vocabulary."""
    ordered = sorted(events, key=lambda e: (e.start, e.end, e.agent))
    return ActionPlan(
        prompt=prompt,
        events=[Event(agent=e.agent, predicate=e.predicate, target=e.target, start=e.start, end=e.end) for e in ordered],
    )


def gold_frames(cast: list[ShapeSpec], states: dict[str, list[State]], events: list[PlanEvent], grid: TimeGrid,
                scale: float) -> list[SceneGraph]:
    """One scene graph per video frame."""
    graphs = []
    for f in range(grid.frames):
        objects, attributes, boxes = [], [], {}
        for spec in cast:
            state = states[spec.name][f]
            if not state.present:
                continue
            st = state_stamp(spec.shape, state)
            objects.append(spec.name)
            attributes += [(spec.name, state.colour), (spec.name, spec.shape),
                           (spec.name, size_word(spec.shape, st.area, scale))]
            if state.visible:
                cx, cy = state.centre
                x0, y0, x1, y1 = st.bbox
                boxes[spec.name] = (x0 + cx, y0 + cy, x1 + cx, y1 + cy)
        active = [e for e in events if f in grid.frames_of(e.start, e.end)]
        attributes += [(e.agent, e.predicate) for e in active if e.target is None]
        relations = spatial_relations(boxes, scale) + [(e.agent, e.predicate, e.target) for e in active if e.target]
        graphs.append(SceneGraph(objects=objects, attributes=attributes, relations=relations))
    return graphs
