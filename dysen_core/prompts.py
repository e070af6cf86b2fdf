"""In-context prompts for the three LLM tasks of the scene manager (paper §4.1, App. A.3, Figs. 3, 12–14).

Each prompt is 1) the task's instruction (``templates/<set>/<task>.txt``), 2) D demonstrations with gold
answers and 3) the test input. Two instruction sets ship: ``icl``, the paper's wording for in-context
learning, and ``tuned``, one-line instructions for the specialised local model, which needs no demonstrations
(issue 10). Demonstrations are chat turns (the input as a user turn, the gold answer as an assistant turn), so
a chat model sees the exact answer format before it answers; the answer format is JSON matching the task's
schema, which backends with constrained decoding enforce.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from .chat import ChatMessage
from .datamodel import ActionPlan, SceneGraph
from .demos import ImaginationDemo, PlanningDemo, PolishDemo
from .errors import ConfigError

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE_SETS = ("icl", "tuned")
TemplateSet = Annotated[str, Field(
    description="Instructions: 'icl' (the paper's wording, for in-context learning), 'tuned' (one line, for the "
    "specialised local model, which needs no demonstrations) or a folder of plan.txt, imagine.txt, polish.txt.")]
MAX_ANSWER_EVENTS = 12
MAX_ANSWER_ITEMS = 16
MAX_ANSWER_NAME = 60  # a grammar-constrained decoder unrolls maxLength; names in a plan are short

_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_ANSWER_NAME}


def _tuple(n: int) -> dict[str, Any]:
    return {"type": "array", "items": _NAME, "minItems": n, "maxItems": n}


def scene_graph_schema(max_items: int = MAX_ANSWER_ITEMS) -> dict[str, Any]:
    """One scene graph with at most ``max_items`` objects, attributes and relations each.

    A grammar-constrained small model that starts to repeat itself runs on until the bound (or
    ``max_tokens``), so a tight bound is both a sanity check and a cap on decoding time.
    """
    return {
        "type": "object",
        "properties": {
            "objects": {"type": "array", "items": _NAME, "maxItems": max_items},
            "attributes": {"type": "array", "items": _tuple(2), "maxItems": max_items},
            "relations": {"type": "array", "items": _tuple(3), "maxItems": max_items},
        },
        "required": ["objects", "attributes", "relations"],
        "additionalProperties": False,
    }


PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "events": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_ANSWER_EVENTS,
            "items": {
                "type": "object",
                "properties": {
                    "agent": _NAME,
                    "predicate": _NAME,
                    "target": {"anyOf": [_NAME, {"type": "null"}]},
                    "start": {"type": "integer", "minimum": 0, "maximum": 64},
                    "end": {"type": "integer", "minimum": 1, "maximum": 64},
                },
                "required": ["agent", "predicate", "target", "start", "end"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["events"],
    "additionalProperties": False,
}


def polish_schema(graphs_in: Sequence[SceneGraph], slack: int) -> dict[str, Any]:
    """The polishment answer: the changed scene graphs only, each in full with its number (1 to M), none
    longer than the longest given list plus ``slack`` (polishing fixes a graph; it does not grow it)."""
    longest = max((len(items) for g in graphs_in for items in (g.objects, g.attributes, g.relations)), default=0)
    change = scene_graph_schema(min(MAX_ANSWER_ITEMS, longest + slack))
    change["properties"] = {"sg": {"type": "integer", "minimum": 1, "maximum": max(1, len(graphs_in))}, **change["properties"]}
    change["required"] = ["sg", *change["required"]]
    changes = {"type": "array", "items": change, "maxItems": len(graphs_in)}
    return {"type": "object", "properties": {"changes": changes}, "required": ["changes"], "additionalProperties": False}


def polish_answer(graphs_in: Sequence[SceneGraph], graphs_out: Sequence[SceneGraph]) -> str:
    """A gold polishment as the answer format asks: the scene graphs that differ, numbered from 1."""
    changes = [{"sg": m + 1, **graph_json(out)} for m, (given, out) in enumerate(zip(graphs_in, graphs_out)) if out != given]
    return compact({"changes": changes})


@cache
def instruction(task: str, templates: str = "icl") -> str:
    """The instruction for ``task`` from a shipped set (``icl``, ``tuned``) or a folder of ``<task>.txt`` files."""
    folder = TEMPLATES / templates if (TEMPLATES / templates).is_dir() else Path(templates).expanduser()
    path = folder / f"{task}.txt"
    if not path.is_file():
        raise ConfigError(f"templates: no {task}.txt in {templates!r}; name a shipped set ({', '.join(TEMPLATE_SETS)}) "
                          "or a folder holding plan.txt, imagine.txt and polish.txt")
    return path.read_text(encoding="utf-8").strip()


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def plan_answer(plan: ActionPlan) -> str:
    events = [e.model_dump(include={"agent", "predicate", "target", "start", "end"}) for e in plan.events]
    return compact({"events": events})


def graph_json(graph: SceneGraph) -> dict[str, Any]:
    return {"objects": graph.objects, "attributes": [list(a) for a in graph.attributes],
            "relations": [list(r) for r in graph.relations]}


def graph_text(graph: SceneGraph | None) -> str:
    return "none" if graph is None else compact(graph_json(graph))


def window_text(prompt: str, previous: SceneGraph | None, current: SceneGraph, following: SceneGraph | None) -> str:
    return (f"Text: {prompt}\nPrevious SG: {graph_text(previous)}\nCurrent SG: {graph_text(current)}\n"
            f"Next SG: {graph_text(following)}")


def dsg_text(prompt: str, graphs: Sequence[SceneGraph]) -> str:
    lines = "\n".join(f"SG {m + 1}: {graph_text(g)}" for m, g in enumerate(graphs))
    return f"Text: {prompt}\nDSG ({len(graphs)} SGs):\n{lines}"


def _conversation(task: str, turns: Sequence[tuple[str, str]], test_input: str, templates: str) -> list[ChatMessage]:
    """Instruction first, then one (user, assistant) pair per demonstration, then the test input."""
    messages: list[ChatMessage] = []
    head = instruction(task, templates) + "\n\n"
    for user, assistant in turns:
        messages += [ChatMessage(role="user", content=head + user), ChatMessage(role="assistant", content=assistant)]
        head = ""
    return [*messages, ChatMessage(role="user", content=head + test_input)]


def planning_messages(prompt: str, demos: Sequence[PlanningDemo], templates: str = "icl") -> list[ChatMessage]:
    """Step I: extract the prompt's events with their time intervals."""
    turns = [(f"Text: {d.plan.prompt}", plan_answer(d.plan)) for d in demos]
    return _conversation("plan", turns, f"Text: {prompt}", templates)


def imagination_messages(
    prompt: str, previous: SceneGraph | None, current: SceneGraph, following: SceneGraph | None,
    demos: Sequence[ImaginationDemo], templates: str = "icl",
) -> list[ChatMessage]:
    """Step III, first round: enrich the current SG given its sliding window."""
    turns = [(window_text(d.prompt, d.previous, d.current, d.next), graph_text(d.output)) for d in demos]
    return _conversation("imagine", turns, window_text(prompt, previous, current, following), templates)


def polish_messages(prompt: str, graphs: Sequence[SceneGraph], demos: Sequence[PolishDemo], templates: str = "icl") -> list[ChatMessage]:
    """Step III, second round: review the whole DSG for temporal and logical consistency."""
    turns = [(dsg_text(d.prompt, d.frames), polish_answer(d.frames, d.output)) for d in demos]
    return _conversation("polish", turns, dsg_text(prompt, graphs), templates)
