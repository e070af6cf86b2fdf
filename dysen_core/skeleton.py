"""Step II, event-to-DSG conversion (paper §4.1): an action plan becomes one scene graph per time unit.

Semantics (DESIGN.md decision 1): an event is active on ``[start, end)``; the DSG has M = max(end) scene
graphs; a transitive event is the relation ``(agent, predicate, target)`` while it is active, an
intransitive one the attribute ``(agent, predicate)``. An entity appears as an object node from its
first event on (Figure 3) and stays in later scene graphs, unless it is the agent of a removing event
(its predicate's first word is a form of ``disappear``, ``vanish``, ``leave`` or ``exit``), after which
it is gone. With ``introduce: start`` (not in the paper) every entity is in the scene from the first time unit
instead, unless it is the agent of an introducing event (``appear``, ``enter``, ``arrive``, ``emerge``), which
brings it in: the convention of dynamic-shapes' gold DSGs, where every shape is on screen until told otherwise.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .datamodel import ActionPlan, DynamicSceneGraph, Event, SceneGraph

REMOVING_VERBS = ("disappear", "vanish", "leave", "exit")
INTRODUCING_VERBS = ("appear", "enter", "arrive", "emerge")


def _verb_in(event: Event, verbs: list[str]) -> bool:
    """Whether the first word of ``event``'s predicate is a form of one of ``verbs`` (base forms)."""
    return event.predicate.lower().split()[0].startswith(tuple(verb.lower().removesuffix("e") for verb in verbs))


class SkeletonBuilder:
    """The deterministic Step II builder."""

    name = "skeleton"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

        persist_entities: bool = Field(
            default=True, description="Keep an entity as an object node after its events end."
        )
        removing_verbs: list[str] = Field(
            default=list(REMOVING_VERBS),
            description="Verbs (base form) whose events remove their agent from the scene once they end.",
        )
        introduce: Literal["first_event", "start"] = Field(
            default="first_event",
            description="When an entity enters the scene: at its first event (the paper's Figure 3), or at the "
            "first time unit unless an introducing event brings it in later.",
        )
        introducing_verbs: list[str] = Field(
            default=list(INTRODUCING_VERBS),
            description="With introduce: start, verbs (base form) whose events bring their agent into the scene.",
        )

    def __init__(self, options: Options | None = None):
        self.options = options or self.Options()

    def build(self, plan: ActionPlan) -> DynamicSceneGraph:
        introduced: dict[str, int] = {}  # entity -> first time unit it is in the scene
        removed: dict[str, int] = {}  # entity -> first time unit it is gone
        for event in plan.events:
            for entity in (event.agent, event.target):
                if entity is not None:
                    introduced[entity] = min(introduced.get(entity, event.start), event.start)
            if _verb_in(event, self.options.removing_verbs):
                removed[event.agent] = max(removed.get(event.agent, event.end), event.end)
        if self.options.introduce == "start":
            brought_in: dict[str, int] = {}  # entity -> start of its first introducing event
            for event in plan.events:
                if _verb_in(event, self.options.introducing_verbs):
                    brought_in[event.agent] = min(brought_in.get(event.agent, event.start), event.start)
            introduced = {name: brought_in.get(name, 0) for name in introduced}

        frames = []
        for m in range(plan.horizon):
            active = [e for e in plan.events if e.start <= m < e.end]
            if self.options.persist_entities:
                present = [n for n, t in introduced.items() if t <= m and removed.get(n, m + 1) > m]
            else:
                present = []
            objects = [*present, *(n for e in active for n in (e.agent, e.target) if n is not None)]
            frames.append(
                SceneGraph(
                    objects=objects,
                    attributes=[(e.agent, e.predicate) for e in active if e.target is None],
                    relations=[(e.agent, e.predicate, e.target) for e in active if e.target is not None],
                )
            )
        return DynamicSceneGraph(prompt=plan.prompt, frames=frames, plan=plan)


def build_skeleton(plan: ActionPlan) -> DynamicSceneGraph:
    """Step II with the default options."""
    return SkeletonBuilder().build(plan)
