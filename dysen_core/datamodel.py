"""The plan data model: events, action plans, scene graphs and dynamic scene graphs (paper §3.2, §4.1).

Every value validates on construction, so a plan or DSG read from a file, an LLM answer or a user's
code is either well formed or rejected with a message naming the field and the bad value. The JSON
Schema of these models (``dysen schema``) is the contract of the files ``dysen plan`` / ``dysen dsg``
write; ``schema_version`` is bumped on any incompatible change.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

SCHEMA_VERSION = "1.0"

# Limits that keep one bad input from eating the machine; far above anything a video prompt needs.
MAX_NAME_CHARS = 200
MAX_PROMPT_CHARS = 4000
MAX_EVENTS = 256
MAX_TIME = 1024  # time units v; also the largest number of scene graphs in a DSG
MAX_OBJECTS = 512  # per scene graph
MAX_TRIPLETS = 2048  # attributes + relations per scene graph

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_CHARS)]
Prompt = Annotated[str, StringConstraints(max_length=MAX_PROMPT_CHARS)]
Triplet = tuple[str, str, str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Versioned(_Model):
    schema_version: Literal["1.0"] = Field(
        default=SCHEMA_VERSION, description="Version of this file format; readers reject other versions."
    )

    @field_validator("schema_version", mode="before")
    @classmethod
    def _known_version(cls, value: object) -> object:
        if value != SCHEMA_VERSION:
            raise ValueError(f"unsupported schema_version {value!r}; this dysen reads {SCHEMA_VERSION!r}")
        return value


class Event(_Model):
    """One planned action ``(agent, predicate, target, (start, end))`` on the integer time grid of units v.

    The event is active on ``[start, end)``. ``target`` is ``None`` for an intransitive action
    ("the cat falls"), which Step II turns into an attribute of the agent.
    """

    agent: Name = Field(description="The action performer, e.g. 'lady'.")
    predicate: Name = Field(description="The main action, e.g. 'drinking'.")
    target: Name | None = Field(default=None, description="The action recipient, or null if intransitive.")
    start: int = Field(ge=0, le=MAX_TIME, description="First time unit (inclusive).")
    end: int = Field(ge=1, le=MAX_TIME, description="Time unit where the event stops (exclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> Event:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be greater than start ({self.start})")
        return self

    @property
    def triplet(self) -> tuple[str, str, str | None]:
        return (self.agent, self.predicate, self.target)


class ActionPlan(_Versioned):
    """Step I's output: the prompt's actions in time order (paper Fig. 3)."""

    prompt: Prompt = Field(description="The text the plan was made from.")
    events: list[Event] = Field(min_length=1, max_length=MAX_EVENTS, description="Planned events.")

    @property
    def horizon(self) -> int:
        """Number of time units the plan spans: ``max(end)``."""
        return max(event.end for event in self.events)


class SceneGraph(_Model):
    """One scene graph: object nodes, (object, attribute) pairs and (subject, predicate, object) triplets.

    Lists are kept in first-seen order with duplicates dropped; equality ignores order.
    """

    objects: list[Name] = Field(default_factory=list, max_length=MAX_OBJECTS, description="Object nodes.")
    attributes: list[tuple[Name, Name]] = Field(
        default_factory=list, max_length=MAX_TRIPLETS, description="(object, attribute) pairs."
    )
    relations: list[tuple[Name, Name, Name]] = Field(
        default_factory=list, max_length=MAX_TRIPLETS, description="(subject, predicate, object) triplets."
    )

    @field_validator("objects", "attributes", "relations", mode="after")
    @classmethod
    def _dedupe(cls, items: list) -> list:
        return list(dict.fromkeys(items))

    @model_validator(mode="after")
    def _known_objects(self) -> SceneGraph:
        known = set(self.objects)
        for obj, attribute in self.attributes:
            if obj not in known:
                raise ValueError(f"attribute ({obj!r}, {attribute!r}) names unknown object {obj!r}")
        for subject, predicate, obj in self.relations:
            for name in (subject, obj):
                if name not in known:
                    raise ValueError(
                        f"relation ({subject!r}, {predicate!r}, {obj!r}) names unknown object {name!r}"
                    )
        return self

    def union(self, other: SceneGraph) -> SceneGraph:
        """Every node, attribute and relation of both graphs (this one's first)."""
        return SceneGraph(
            objects=[*self.objects, *other.objects],
            attributes=[*self.attributes, *other.attributes],
            relations=[*self.relations, *other.relations],
        )

    def key(self) -> tuple[frozenset, frozenset, frozenset]:
        """Order-free identity of the graph, used to compare consecutive SGs."""
        return frozenset(self.objects), frozenset(self.attributes), frozenset(self.relations)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SceneGraph) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())


class Segment(_Model):
    """A run of identical consecutive scene graphs ``frames[start:end]``."""

    start: int
    end: int
    graph: SceneGraph


class DynamicSceneGraph(_Versioned):
    """A DSG: one scene graph per time unit m = 0 … M-1 (paper §3.2); entity names are stable over time."""

    prompt: Prompt = Field(description="The text the DSG describes.")
    frames: list[SceneGraph] = Field(
        min_length=1, max_length=MAX_TIME, description="Scene graphs G_1 … G_M, one per time unit."
    )
    plan: ActionPlan | None = Field(default=None, description="The action plan it was built from, if any.")
    frame_to_sg: list[int] | None = Field(
        default=None,
        description="For each of F video frames, the index m of its scene graph (floor(f·M/F)).",
    )

    @model_validator(mode="after")
    def _valid_frame_map(self) -> DynamicSceneGraph:
        if self.frame_to_sg is not None:
            m_count = len(self.frames)
            for f, m in enumerate(self.frame_to_sg):
                if not 0 <= m < m_count:
                    raise ValueError(f"frame_to_sg[{f}] = {m} is outside 0..{m_count - 1}")
                if f and m < self.frame_to_sg[f - 1]:
                    raise ValueError(f"frame_to_sg must not decrease (frame {f} maps to {m})")
        return self

    def unique_segments(self) -> list[Segment]:
        """The runs of identical consecutive SGs, in time order (Step III works once per segment)."""
        segments: list[Segment] = []
        start = 0
        for m in range(1, len(self.frames) + 1):
            if m == len(self.frames) or self.frames[m] != self.frames[start]:
                segments.append(Segment(start=start, end=m, graph=self.frames[start]))
                start = m
        return segments

    def with_frames(self, num_frames: int) -> DynamicSceneGraph:
        """This DSG with ``frame_to_sg`` set for a video of ``num_frames`` frames."""
        return self.model_copy(update={"frame_to_sg": frame_to_sg(num_frames, len(self.frames))})


def frame_to_sg(num_frames: int, num_sgs: int) -> list[int]:
    """Map video frames f = 0 … F-1 onto scene graphs by m = floor(f·M/F) (DESIGN.md decision 1)."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    if num_sgs < 1:
        raise ValueError(f"num_sgs must be at least 1, got {num_sgs}")
    return [f * num_sgs // num_frames for f in range(num_frames)]
