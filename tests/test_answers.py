"""Parsing LLM answers: JSON and the paper's tuple format, unambiguous repairs, clear failures."""

from __future__ import annotations

import json

import pytest

from dysen_core.answers import extract_json, parse_plan, parse_polish, parse_scene_graph
from dysen_core.datamodel import SceneGraph
from dysen_core.errors import PlanParseError

PROMPT = "a lady sitting on the chair and drinking coffee"


def test_json_plan():
    text = json.dumps({"events": [
        {"agent": "lady", "predicate": "sitting on", "target": "chair", "start": 0, "end": 2},
        {"agent": "lady", "predicate": "drinking", "target": "coffee", "start": 1, "end": 2},
    ]})
    plan = parse_plan(text, PROMPT)
    assert plan.prompt == PROMPT
    assert [e.triplet for e in plan.events] == [("lady", "sitting on", "chair"), ("lady", "drinking", "coffee")]


def test_papers_tuple_format():
    text = "(lady, sitting on, chair, (0v, 5v))\n(lady, drinking, coffee, (1v, 2v))\n(lady, smiles, , (3, 4))"
    plan = parse_plan(text, PROMPT)
    assert [(e.agent, e.predicate, e.target, e.start, e.end) for e in plan.events] == [
        ("lady", "sitting on", "chair", 0, 5), ("lady", "drinking", "coffee", 1, 2), ("lady", "smiles", None, 3, 4)]


def test_fenced_json_and_chatter():
    text = 'Sure! Here it is:\n```json\n{"events": [{"agent": "cat", "predicate": "jumps", "target": null, "start": 0, "end": 1}]}\n```'
    assert parse_plan(text, "a cat jumps").events[0].predicate == "jumps"
    assert extract_json('The plan is {"a": 1} as asked.') == {"a": 1}


def test_unambiguous_repairs():
    text = json.dumps({"events": [
        {"agent": " cat ", "predicate": "jumps", "target": "none", "start": "3v", "end": 2},   # swapped, units
        {"agent": "cat", "predicate": "falls", "target": "", "start": 4, "end": 4},           # zero length
        {"agent": "cat", "predicate": "falls", "target": "", "start": 4, "end": 4},           # duplicate
    ]})
    plan = parse_plan(text, "a cat jumps and falls")
    assert [(e.agent, e.predicate, e.target, e.start, e.end) for e in plan.events] == [
        ("cat", "jumps", None, 0, 1), ("cat", "falls", None, 2, 3)]  # shifted to start at 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I cannot help with that.", "neither JSON nor"),
        ('{"plan": []}', 'no "events" list'),
        ('{"events": []}', 'no "events" list'),
        ('{"events": [{"agent": "cat", "start": 0, "end": 1}]}', "events.0.predicate: Field required"),
        ('{"events": [{"agent": "cat", "predicate": "x", "target": null, "start": 0, "end": 5000}]}',
         "less than or equal to 1024"),
    ],
)
def test_invalid_plans(text, message):
    with pytest.raises(PlanParseError, match=message):
        parse_plan(text, PROMPT)


def test_scene_graph_adds_missing_objects_and_drops_broken_tuples():
    graph = parse_scene_graph({
        "objects": ["lady"],
        "attributes": [["lady", "smiling"], ["cup"], ["cup", " "]],
        "relations": [["lady", "holding", "cup"], ["table", "in front of", "lady"], [1, 2, 3]],
    })
    assert graph.objects == ["lady", "cup", "table"]
    assert graph.attributes == [("lady", "smiling")]
    assert graph.relations == [("lady", "holding", "cup"), ("table", "in front of", "lady")]


def test_polish_answer_replaces_only_the_numbered_scene_graphs():
    given = [SceneGraph(objects=["a"]), SceneGraph(objects=["b"]), SceneGraph(objects=["c"])]
    answer = json.dumps({"changes": [{"sg": 2, "objects": ["b", "ball"], "attributes": [], "relations": [["b", "kicks", "ball"]]}]})
    polished = parse_polish(answer, given)
    assert polished[0] == given[0] and polished[2] == given[2]
    assert polished[1].relations == [("b", "kicks", "ball")]
    assert parse_polish('{"changes": []}', given) == given
    for bad, reason in [({"changes": [{"sg": 4, "objects": []}]}, "a number from 1 to 3"),
                        ({"changes": [{"sg": 1}, {"sg": 1}]}, "SG 1 is changed twice"),
                        ({"scene_graphs": []}, 'no "changes" list')]:
        with pytest.raises(PlanParseError, match=reason):
            parse_polish(json.dumps(bad), given)
    with pytest.raises(PlanParseError, match="must be a JSON object"):
        parse_scene_graph(["a"])
