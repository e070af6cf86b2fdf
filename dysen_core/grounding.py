"""Grounded Step I: a plan says only what its prompt says (issue 10).

Every word of a gold plan's agent, predicate and target is a word of its prompt (true of the whole planning
corpus, the dev set and the natural set), and each mention of a verb is one event: "jumps twice" is one
event lasting longer, "jumps again" is a second mention. A small planner breaks both: it changes tense
("putting" for "puts"), invents words ("sack", "dirty field") and emits the same event over and over. Two
deterministic parts hold it to the prompt:

- ``grounded_plan_schema``: the Step I answer schema with each name restricted to a sequence of the prompt's
  words, so a constrained decoder that enforces ``pattern`` (llama.cpp's grammar, outlines) cannot leave them;
- ``merge_repeats``: an event may occur at most as many times as the prompt mentions its predicate's first
  word; extra copies merge into the neighbouring copy (one longer interval) or, when apart, are dropped.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from typing import Any

from .datamodel import ActionPlan, Event
from .metrics.labels import triplet
from .prompts import PLAN_SCHEMA

WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")  # letters and digits of any script, inner hyphens and apostrophes
MAX_NAME_WORDS = 6  # "climbed out of", "big pile of snow": names in a plan are short


def prompt_words(prompt: str) -> list[str]:
    """The distinct words of ``prompt`` as written and lower-cased, in order of first appearance."""
    words = dict.fromkeys(w for word in WORD.findall(prompt) for w in (word, word.lower()))
    return list(words)


def grounded_plan_schema(prompt: str) -> dict[str, Any]:
    """``PLAN_SCHEMA`` whose agent, predicate and target are 1 to ``MAX_NAME_WORDS`` words of ``prompt``."""
    words = prompt_words(prompt)
    if not words:
        return PLAN_SCHEMA
    word = "(" + "|".join(sorted(words, key=len, reverse=True)) + ")"
    name = {"type": "string", "pattern": f"^{word}( {word}){{0,{MAX_NAME_WORDS - 1}}}$"}
    schema = copy.deepcopy(PLAN_SCHEMA)
    event = schema["properties"]["events"]["items"]["properties"]
    event["agent"] = event["predicate"] = name
    event["target"] = {"anyOf": [name, {"type": "null"}]}
    return schema


def merge_repeats(plan: ActionPlan) -> ActionPlan:
    """``plan`` with each (agent, predicate, target) kept no more often than the prompt mentions the verb.

    Copies beyond the mention count merge into the previous kept copy when their intervals touch or
    overlap (the event lasts longer), otherwise they are dropped; other events keep their intervals.
    """
    mentions = Counter(word.lower() for word in WORD.findall(plan.prompt))
    kept: list[Event] = []
    for event in plan.events:
        key = triplet(event)
        copies = [i for i, e in enumerate(kept) if triplet(e) == key]
        verb = event.predicate.split()[0].lower()
        if len(copies) < max(1, mentions[verb]):
            kept.append(event)
        elif event.start <= kept[copies[-1]].end and event.end >= kept[copies[-1]].start:
            previous = kept[copies[-1]]
            kept[copies[-1]] = previous.model_copy(update={"start": min(previous.start, event.start),
                                                           "end": max(previous.end, event.end)})
    if len(kept) == len(plan.events):
        return plan
    return plan.model_copy(update={"events": kept})
