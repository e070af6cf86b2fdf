"""The plan data model: validation messages name the field and value; JSON round-trips; segments."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from dysen_core.datamodel import (
    MAX_EVENTS,
    ActionPlan,
    DynamicSceneGraph,
    Event,
    SceneGraph,
    frame_to_sg,
)


def event(**kw):
    return {"agent": "cat", "predicate": "jumps on", "target": "table", "start": 0, "end": 1, **kw}


def test_round_trip(figure3_plan):
    text = figure3_plan.model_dump_json()
    assert ActionPlan.model_validate_json(text) == figure3_plan
    assert json.loads(text)["schema_version"] == "1.0"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"start": 3, "end": 3}, "events.0", "end (3) must be greater than start (3)"),
        ({"start": 4, "end": 2}, "events.0", "end (2) must be greater than start (4)"),
        ({"start": -1}, "events.0.start", "greater than or equal to 0"),
        ({"agent": "   "}, "events.0.agent", "at least 1 character"),
        ({"predicate": ""}, "events.0.predicate", "at least 1 character"),
        ({"target": "x" * 10_000}, "events.0.target", "at most 200 characters"),
        ({"end": 10**6}, "events.0.end", "less than or equal to 1024"),
    ],
)
def test_event_errors_name_field_and_value(changes, field, message):
    with pytest.raises(ValidationError, match=re.escape(message)) as info:
        ActionPlan.model_validate({"prompt": "p", "events": [event(**changes)]})
    assert field in {".".join(map(str, e["loc"])) for e in info.value.errors()}


def test_absurd_sizes_rejected():
    with pytest.raises(ValidationError, match=f"at most {MAX_EVENTS} items"):
        ActionPlan.model_validate({"prompt": "p", "events": [event()] * 10**6})
    with pytest.raises(ValidationError, match="at least 1 item"):
        ActionPlan(prompt="p", events=[])
    with pytest.raises(ValidationError, match="at most 4000 characters"):
        ActionPlan(prompt="x" * 20_000, events=[Event(**event())])


def test_unknown_schema_version_rejected():
    with pytest.raises(ValidationError, match="unsupported schema_version '2.0'"):
        ActionPlan.model_validate({"schema_version": "2.0", "prompt": "p", "events": [event()]})


def test_extra_keys_rejected():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Event.model_validate(event(colour="red"))


def test_relation_naming_unknown_object():
    with pytest.raises(ValidationError, match="names unknown object 'sofa'"):
        SceneGraph(objects=["lady"], relations=[("lady", "sitting on", "sofa")])
    with pytest.raises(ValidationError, match="attribute \\('dog', 'brown'\\) names unknown object 'dog'"):
        SceneGraph(objects=["lady"], attributes=[("dog", "brown")])


def test_scene_graph_is_a_set():
    a = SceneGraph(objects=["a", "b", "a"], relations=[("a", "r", "b"), ("a", "r", "b")])
    b = SceneGraph(objects=["b", "a"], relations=[("a", "r", "b")])
    assert a.objects == ["a", "b"] and len(a.relations) == 1
    assert a == b and hash(a) == hash(b)


def test_names_are_stripped():
    assert Event(agent="  lady ", predicate="sits", start=0, end=1).agent == "lady"


def test_unique_segments():
    g1 = SceneGraph(objects=["a"])
    g2 = SceneGraph(objects=["a", "b"], relations=[("a", "near", "b")])
    dsg = DynamicSceneGraph(prompt="p", frames=[g1, g1, g2, g2, g2, g1])
    assert [(s.start, s.end) for s in dsg.unique_segments()] == [(0, 2), (2, 5), (5, 6)]
    assert [s.graph for s in dsg.unique_segments()] == [g1, g2, g1]


def test_frame_mapping():
    assert frame_to_sg(8, 4) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert frame_to_sg(3, 6) == [0, 2, 4]
    with pytest.raises(ValueError, match="num_frames must be at least 1"):
        frame_to_sg(0, 3)


def test_frame_map_validated():
    with pytest.raises(ValidationError, match="frame_to_sg\\[1\\] = 5 is outside 0..0"):
        DynamicSceneGraph(prompt="p", frames=[SceneGraph()], frame_to_sg=[0, 5])
    with pytest.raises(ValidationError, match="must not decrease"):
        DynamicSceneGraph(prompt="p", frames=[SceneGraph(), SceneGraph()], frame_to_sg=[1, 0])
