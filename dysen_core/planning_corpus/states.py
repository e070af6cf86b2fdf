"""Imagination gold (Step III, first round): each skeleton segment plus the states the text implies (issue 10).

A segment's gold graph is its skeleton scene graph (``skeleton.build_skeleton``) plus every state that holds
when the segment starts:

- what the text says outright: adjectives ("a red ball" → (red ball, red)), a shape's colour, class and size,
  post-modifiers ("a man in a suit" → (man, in, suit)), scenes ("in the park" → (man, in, park)), where a
  thing is put ("puts the cup on the shelf" → (cup, on, shelf));
- what finished events leave behind (``Verb.post``: "opens the door" → (door, open); "picks up the ball" →
  (man, holding, ball) until he puts it down, ``Verb.ends``);
- what an event presupposes until it starts (``Verb.pre``: before "opens the door", (door, closed)).

A state shows only while its subject is in the scene, and a relation only while its object is too (or its
object is no plan entity, like "park" or "suit", which comes along with its subject).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..datamodel import SceneGraph, Segment
from ..demos import ImaginationDemo
from ..shapes.vocabulary import COLOURS
from ..skeleton import build_skeleton
from .lexicon import MULTI_SLOTS, Effect, Release, Role
from .realise import Sentence
from .sampling import Clause, Referent, destination_noun

_LABELS = {"in": "in", "into": "in", "on": "on", "onto": "on", "above": "above"}
"""Relation label of a destination or scene phrase by its preposition."""


@dataclass(frozen=True)
class State:
    """An attribute (``obj`` None) or a relation of ``subject``, in a slot (see ``lexicon.Effect``)."""

    subject: str
    slot: str
    value: str
    obj: str | None = None

    @property
    def key(self) -> tuple[str, str, str | None]:
        return self.subject, self.slot, self.obj if self.slot in MULTI_SLOTS else None


@dataclass(frozen=True)
class Imagined:
    """One unique segment: its skeleton and its gold enriched graph."""

    segment: Segment
    output: SceneGraph


def imagine(sentence: Sentence) -> list[Imagined]:
    """The gold enriched graph of every unique skeleton segment, in time order."""
    dsg = build_skeleton(sentence.plan)
    timeline = _Timeline(sentence)
    entities = {n for e in sentence.plan.events for n in (e.agent, e.target) if n}
    result = []
    for segment in dsg.unique_segments():
        present = set(segment.graph.objects)
        states = [s for s in timeline.at(segment.start)
                  if s.subject in present and (s.obj is None or s.obj in present or s.obj not in entities)]
        graph = segment.graph
        result.append(Imagined(segment=segment, output=SceneGraph(
            objects=[*graph.objects, *(s.obj for s in states if s.obj is not None)],
            attributes=[*graph.attributes, *((s.subject, s.value) for s in states if s.obj is None)],
            relations=[*graph.relations, *((s.subject, s.value, s.obj) for s in states if s.obj is not None)],
        )))
    return result


def imagination_demo(demo_id: str, prompt: str, imagined: list[Imagined], i: int) -> ImaginationDemo:
    """The demonstration for segment ``i``: its sliding window (previous gold, current and next skeleton) and gold."""
    return ImaginationDemo(
        id=demo_id,
        prompt=prompt,
        previous=imagined[i - 1].output if i else None,
        current=imagined[i].segment.graph,
        next=imagined[i + 1].segment.graph if i + 1 < len(imagined) else None,
        output=imagined[i].output,
    )


class _Timeline:
    """Every state key's changes over time: ``(time, state)``, where ``None`` means the state stopped holding."""

    def __init__(self, sentence: Sentence):
        self.changes: dict[tuple, list[tuple[int, State | None]]] = {}
        draft = sentence.draft
        clauses = sentence.clauses
        for ref in _referents(clauses):
            for state in _said(ref):
                self._set(0, state)
        if draft.scene is not None:
            for ref in _referents(clauses):
                if ref.animate:
                    self._set(0, State(ref.name, "scene", draft.scene.locative, draft.scene.name))
        for clause in clauses:
            if clause.scene is not None:
                self._set(0, State(clause.agent.name, "scene", clause.scene.locative, clause.scene.name))
        timed = sorted(zip(clauses, sentence.plan.events), key=lambda ce: ce[1].end)
        for clause, event in timed:  # what finished events leave behind
            for release in clause.verb.ends:
                self._set(event.end, None, _key(release, clause))
            for effect in clause.verb.post:
                self._set(event.end, _state(effect, clause))
            if clause.destination and clause.target is not None:
                preposition = clause.destination.split()[0]
                self._set(event.end, State(clause.target.name, "place", _LABELS[preposition], destination_noun(clause.destination)))
        for clause, event in zip(clauses, sentence.plan.events):  # what events presuppose
            for effect in clause.verb.pre:
                self._presuppose(_state(effect, clause), event.start)

    def _set(self, time: int, state: State | None, key: tuple | None = None) -> None:
        self.changes.setdefault(key or state.key, []).append((time, state))

    def _presuppose(self, state: State, start: int) -> None:
        """``state`` holds from its key's last change before ``start`` (or 0) until ``start``, unless the key
        already has a value then."""
        changes = self.changes.setdefault(state.key, [])
        before = [(t, s) for t, s in changes if t <= start]
        since, value = max(before, key=lambda c: c[0]) if before else (0, None)
        if value is None and since < start:
            changes += [(since, state), (start, None)]

    def at(self, time: int) -> list[State]:
        """The states holding at ``time``, in the order their keys were first set."""
        states = []
        for changes in self.changes.values():
            past = [(t, k, s) for k, (t, s) in enumerate(changes) if t <= time]
            if past:
                state = max(past, key=lambda c: (c[0], c[1]))[2]
                if state is not None:
                    states.append(state)
        return states


def _referents(clauses: tuple[Clause, ...]) -> list[Referent]:
    seen: dict[int, Referent] = {}
    for clause in clauses:
        for ref in (clause.agent, clause.target):
            if ref is not None:
                seen.setdefault(id(ref), ref)
    return list(seen.values())


def _said(ref: Referent) -> list[State]:
    """States the text gives a referent outright: adjectives, a shape's colour/class/size, a post-modifier."""
    states = []
    if "shape" in ref.noun.kinds:
        colour, shape = ref.noun.name.split()
        states += [State(ref.name, "colour", colour), State(ref.name, "shape", shape)]
    if ref.adjective:
        states.append(State(ref.name, "colour" if ref.adjective in COLOURS else f"adjective {ref.adjective}", ref.adjective))
    if ref.size:
        states.append(State(ref.name, "size", ref.size))
    if ref.descriptor is not None:
        states.append(State(ref.name, "descriptor", ref.descriptor.label, ref.descriptor.item))
    return states


def _name(clause: Clause, role: Role) -> str:
    ref = clause.agent if role == "agent" else clause.target
    if ref is None:
        raise ValueError(f"{clause.verb.key} has a state about a {role} the clause lacks")
    return ref.name


def _state(effect: Effect, clause: Clause) -> State:
    return State(_name(clause, effect.subject), effect.slot, effect.value,
                 _name(clause, effect.obj) if effect.obj else None)


def _key(release: Release, clause: Clause) -> tuple:
    obj = _name(clause, release.obj) if release.obj else None
    return _name(clause, release.subject), release.slot, obj if release.slot in MULTI_SLOTS else None
