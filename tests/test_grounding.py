"""Grounded Step I (issue 10): names restricted to the prompt's words, unmentioned repeats merged."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dysen_core.config import load_config
from dysen_core.datamodel import ActionPlan, Event
from dysen_core.demos import PlanningDemo, load_pool
from dysen_core.grounding import WORD, grounded_plan_schema, merge_repeats, prompt_words
from dysen_core.prompts import PLAN_SCHEMA

BENCHMARK_DATA = Path(__file__).parent.parent / "benchmarks" / "data"
PROMPT = "First the woman cracks two eggs into a bowl, then she whisks them with a fork."


def _name_pattern(schema: dict) -> re.Pattern:
    return re.compile(schema["properties"]["events"]["items"]["properties"]["predicate"]["pattern"])


def _plan(prompt: str, *events: tuple[str, str, str | None, int, int]) -> ActionPlan:
    return ActionPlan(prompt=prompt, events=[Event(agent=a, predicate=p, target=t, start=s, end=e) for a, p, t, s, e in events])


def test_prompt_words_keep_hyphens_and_lower_case_forms():
    assert prompt_words("A woman does push-ups. She rests") == ["A", "a", "woman", "does", "push-ups", "She", "she", "rests"]
    assert prompt_words("Zoë's café, 2 cats_") == ["Zoë's", "zoë's", "café", "2", "cats"]


def test_the_schema_admits_phrases_of_prompt_words_only():
    pattern = _name_pattern(grounded_plan_schema(PROMPT))
    for name in ("woman", "cracks", "eggs", "whisks", "whisks with", "First", "two eggs"):
        assert pattern.fullmatch(name), name
    for name in ("whisking", "cracked", "egg", "man", "eggs ", " eggs", "woman,", ""):
        assert not pattern.fullmatch(name), name
    target = grounded_plan_schema(PROMPT)["properties"]["events"]["items"]["properties"]["target"]
    assert {"type": "null"} in target["anyOf"]
    assert grounded_plan_schema("...") is PLAN_SCHEMA  # no words: nothing to restrict to
    assert "pattern" not in json.dumps(PLAN_SCHEMA)  # the shared schema is left untouched


@pytest.mark.parametrize("path", ["planning_dev.jsonl", "planning_natural.jsonl"])
def test_every_gold_plan_is_grounded(path):
    """The convention the constraint enforces holds for every gold plan we have (and for the corpus, by design)."""
    for demo in load_pool(BENCHMARK_DATA / path, PlanningDemo):
        pattern = _name_pattern(grounded_plan_schema(demo.plan.prompt))
        for event in demo.plan.events:
            for name in filter(None, (event.agent, event.predicate, event.target)):
                assert pattern.fullmatch(" ".join(WORD.findall(name))), (demo.id, name)
        assert merge_repeats(demo.plan) is demo.plan, demo.id


def test_llama_cpp_compiles_the_schema_to_a_grammar():
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")
    grammar = llama_grammar.LlamaGrammar.from_json_schema(json.dumps(grounded_plan_schema("the woman whisks")))
    rule = next(line for line in grammar._grammar.splitlines() if line.startswith("events-item-predicate-1 ::="))
    assert all(part in rule for part in ("whisk", "woma", "th")) and "egg" not in rule  # the converter splits words


def test_copies_of_a_once_mentioned_event_merge_into_one_longer_event():
    plan = _plan("A man laces up his gloves and then punches a bag.",
                 ("man", "laces up", "gloves", 0, 1), ("man", "laces up", "gloves", 1, 2), ("man", "punches", "bag", 2, 3))
    merged = merge_repeats(plan)
    assert [(e.predicate, e.start, e.end) for e in merged.events] == [("laces up", 0, 2), ("punches", 2, 3)]


def test_a_distant_copy_is_dropped_and_overlapping_copies_span_both():
    plan = _plan("The dog barks at the cat.", ("dog", "barks at", "cat", 0, 1), ("cat", "runs", None, 1, 2),
                 ("dog", "barks at", "cat", 3, 4), ("dog", "barks at", "the cat", 0, 3))
    assert [(e.predicate, e.start, e.end) for e in merge_repeats(plan).events] == [("barks at", 0, 3), ("runs", 1, 2)]


def test_repeats_the_prompt_mentions_are_kept():
    again = _plan("The truck backs up, turns right, then backs up again.", ("truck", "backs up", None, 0, 1),
                  ("truck", "turns right", None, 1, 2), ("truck", "backs up", None, 2, 3))
    assert merge_repeats(again) is again
    two_agents = _plan("A man and a woman dance.", ("man", "dance", None, 0, 1), ("woman", "dance", None, 0, 1))
    assert merge_repeats(two_agents) is two_agents


def test_the_default_preset_grounds_the_planner_and_the_others_do_not():
    assert load_config(preset="default").planner.options["grounded"] is True
    assert not load_config(preset="paper").planner.options.get("grounded", False)
    local_icl = load_config(preset="local-icl")  # the plain model, prompted the paper's way
    assert local_icl.planner.options["grounded"] is False and local_icl.llm.options["adapter"] is None
