"""Step II, event-to-DSG conversion (paper §4.1): an action plan becomes one scene graph per time unit.

Semantics (DESIGN.md decision 1): an event is active on ``[start, end)``; the DSG has M = max(end) scene
graphs; a transitive event is the relation ``(agent, predicate, target)`` while it is active, an
intransitive one the attribute ``(agent, predicate)``. An entity appears as an object node from its
first event on and stays in later scene graphs, unless it is the agent of a removing event
(its predicate's first word is a form of ``disappear``, ``vanish``, ``leave`` or ``exit``), after which
it is gone.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .datamodel import ActionPlan, DynamicSceneGraph, SceneGraph

REMOVING_VERBS = ("disappear", "vanish", "leave", "exit")


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

    def __init__(self, options: Options | None = None):
        self.options = options or self.Options()

    def build(self, plan: ActionPlan) -> DynamicSceneGraph:
        stems = tuple(verb.lower().removesuffix("e") for verb in self.options.removing_verbs)
        introduced: dict[str, int] = {}  # entity -> first time unit it is in the scene
        removed: dict[str, int] = {}  # entity -> first time unit it is gone
        for event in plan.events:
            for entity in (event.agent, event.target):
                if entity is not None:
                    introduced[entity] = min(introduced.get(entity, event.start), event.start)
            if event.predicate.lower().split()[0].startswith(stems):
                removed[event.agent] = max(removed.get(event.agent, event.end), event.end)

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
