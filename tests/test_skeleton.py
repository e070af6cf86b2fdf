"""Step II (paper §4.1): the Figure 3 example and properties over random valid plans."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dysen_core.datamodel import ActionPlan, Event
from dysen_core.skeleton import SkeletonBuilder, build_skeleton


def relations(dsg):
    return [set(g.relations) for g in dsg.frames]


def test_figure3(figure3_plan):
    dsg = build_skeleton(figure3_plan)
    sit = ("lady", "sitting on", "chair")
    look = ("lady", "looking out", "window")
    # The figure's skeleton: G1 {sit}; G2 + drinking coffee; G3 coffee removed; G4 + meet, greet, look;
    # G5 meeting and greeting removed (the figure's G6 repeats G5).
    assert relations(dsg) == [
        {sit},
        {sit, ("lady", "drinking", "coffee")},
        {sit},
        {sit, ("lady", "meeting", "friend"), ("lady", "greeting", "friend"), look},
        {sit, look},
    ]
    assert dsg.plan == figure3_plan
    assert set(dsg.frames[2].objects) == {"lady", "chair", "coffee"}  # entities persist as nodes
    assert set(dsg.frames[4].objects) == {"lady", "chair", "coffee", "friend", "window"}
    assert len(dsg.unique_segments()) == 5


def test_intransitive_events_are_attributes():
    plan = ActionPlan(prompt="a cat jumps, then falls", events=[
        Event(agent="cat", predicate="jumps", start=0, end=1),
        Event(agent="cat", predicate="falls", start=1, end=2),
    ])
    dsg = build_skeleton(plan)
    assert [g.attributes for g in dsg.frames] == [[("cat", "jumps")], [("cat", "falls")]]
    assert all(g.relations == [] for g in dsg.frames)


def test_removing_event_takes_agent_out():
    plan = ActionPlan(prompt="a red circle disappears, then a blue square jumps", events=[
        Event(agent="red circle", predicate="disappears", start=0, end=1),
        Event(agent="blue square", predicate="jumps", start=1, end=2),
    ])
    dsg = build_skeleton(plan)
    assert dsg.frames[0].objects == ["red circle"]
    assert dsg.frames[1].objects == ["blue square"]


def test_introduce_at_start_puts_every_entity_in_from_the_first_unit():
    plan = ActionPlan(prompt="a red circle moves right, then a blue square jumps, then a green star appears", events=[
        Event(agent="red circle", predicate="moves right", start=0, end=1),
        Event(agent="blue square", predicate="jumps", start=1, end=2),
        Event(agent="green star", predicate="appears", start=2, end=3),
    ])
    start = SkeletonBuilder(SkeletonBuilder.Options(introduce="start")).build(plan)
    assert [g.objects for g in start.frames] == [
        ["red circle", "blue square"], ["red circle", "blue square"], ["red circle", "blue square", "green star"]]
    assert [g.attributes for g in start.frames] == [[("red circle", "moves right")], [("blue square", "jumps")],
                                                    [("green star", "appears")]]
    assert build_skeleton(plan).frames[0].objects == ["red circle"]  # the paper's default: in from the first event


def test_entities_can_be_dropped_when_not_persisting(figure3_plan):
    dsg = SkeletonBuilder(SkeletonBuilder.Options(persist_entities=False)).build(figure3_plan)
    assert set(dsg.frames[2].objects) == {"lady", "chair"}


ENTITIES = st.sampled_from(["lady", "cat", "red circle", "window", "table"])
PREDICATES = st.sampled_from(["jumps on", "looks at", "moves", "spins", "holds"])


@st.composite
def plans(draw):
    events = []
    for _ in range(draw(st.integers(1, 6))):
        start = draw(st.integers(0, 12))
        events.append(Event(
            agent=draw(ENTITIES),
            predicate=draw(PREDICATES),
            target=draw(st.none() | ENTITIES),
            start=start,
            end=start + draw(st.integers(1, 6)),
        ))
    return ActionPlan(prompt="random", events=events)


@settings(max_examples=200, deadline=None)
@given(plans(), st.integers(1, 64))
def test_properties(plan, num_frames):
    dsg = build_skeleton(plan).with_frames(num_frames)
    assert len(dsg.frames) == max(e.end for e in plan.events)
    for m, graph in enumerate(dsg.frames):
        active = [e for e in plan.events if e.start <= m < e.end]
        # a triplet is present at m exactly when an event carrying it is active at m
        assert set(graph.relations) == {(e.agent, e.predicate, e.target) for e in active if e.target}
        assert set(graph.attributes) == {(e.agent, e.predicate) for e in active if e.target is None}
    mapping = dsg.frame_to_sg
    assert len(mapping) == num_frames and mapping[0] == 0
    assert all(a <= b for a, b in zip(mapping, mapping[1:]))
    segments = dsg.unique_segments()
    assert segments[0].start == 0 and segments[-1].end == len(dsg.frames)
    assert all(a.end == b.start and a.graph != b.graph for a, b in zip(segments, segments[1:]))
