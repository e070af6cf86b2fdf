"""Turning LLM answers into plans and scene graphs: JSON or the paper's tuple format, repaired where unambiguous.

An answer that still does not validate raises ``PlanParseError`` with a message short enough to send back
to the LLM as the reason for a retry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from .datamodel import ActionPlan, SceneGraph
from .errors import PlanParseError

# (agent, predicate, target, (start, end)) with optional "v" units, as in the paper's Figure 3.
_TUPLE = re.compile(
    r"\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*,\s*([^,()]*?)\s*,\s*\(\s*(\d+)\s*v?\s*,\s*(\d+)\s*v?\s*\)\s*\)"
)
_NO_TARGET = {"", "none", "null", "n/a", "na", "-", "nothing"}
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def extract_json(text: str) -> Any:
    """The JSON value in ``text``: the whole text, a fenced block, or the outermost ``{…}``."""
    candidates = [text.strip(), *(m.strip() for m in _FENCE.findall(text))]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    raise PlanParseError("the answer is not JSON")


def parse_plan(text: str, prompt: str) -> ActionPlan:
    """The action plan in an LLM answer (JSON, or tuple lines as in the paper), repaired and validated."""
    try:
        data = extract_json(text)
        events = data.get("events") if isinstance(data, dict) else data
    except PlanParseError:
        events = [
            {"agent": a, "predicate": p, "target": t, "start": int(s), "end": int(e)}
            for a, p, t, s, e in _TUPLE.findall(text)
        ]
        if not events:
            raise PlanParseError("the answer is neither JSON nor (agent, predicate, target, (start, end)) tuples") from None
    if not isinstance(events, list) or not events:
        raise PlanParseError('the answer has no "events" list')
    repaired = _dedupe([_repair_event(e) for e in events if isinstance(e, dict)])
    if repaired:
        shift = min((e["start"] for e in repaired if isinstance(e.get("start"), int)), default=0)
        for e in repaired:  # the time grid starts at 0; an answer starting later is shifted, order kept
            if isinstance(e.get("start"), int) and isinstance(e.get("end"), int):
                e["start"], e["end"] = e["start"] - shift, e["end"] - shift
    try:
        return ActionPlan(prompt=prompt, events=repaired)
    except ValidationError as exc:
        raise PlanParseError(f"invalid plan: {_first_error(exc)}") from None


def parse_scene_graph(data: Any) -> SceneGraph:
    """A scene graph from its JSON form; objects named only in attributes or relations are added."""
    if not isinstance(data, dict):
        raise PlanParseError("a scene graph must be a JSON object with objects, attributes and relations")
    attributes = [_strings(a) for a in data.get("attributes") or [] if _is_tuple(a, 2)]
    relations = [_strings(r) for r in data.get("relations") or [] if _is_tuple(r, 3)]
    objects = [o.strip() for o in data.get("objects") or [] if isinstance(o, str)]
    objects += [a[0] for a in attributes] + [n for r in relations for n in (r[0], r[2])]
    try:
        return SceneGraph(objects=[o for o in objects if o], attributes=attributes, relations=relations)
    except ValidationError as exc:
        raise PlanParseError(f"invalid scene graph: {_first_error(exc)}") from None


def parse_polish(text: str, graphs: Sequence[SceneGraph]) -> list[SceneGraph]:
    """``graphs`` with the scene graphs a polishment answer changes put in place (``{"changes": [...]}``,
    each ``{"sg": n, ...}`` counting from 1); an empty list keeps them all."""
    data = extract_json(text)
    changes = data.get("changes") if isinstance(data, dict) else None
    if not isinstance(changes, list):
        raise PlanParseError('the answer has no "changes" list')
    polished = list(graphs)
    seen: set[int] = set()
    for change in changes:
        number = change.get("sg") if isinstance(change, dict) else None
        if not isinstance(number, int) or not 1 <= number <= len(graphs):
            raise PlanParseError(f'each change needs "sg", a number from 1 to {len(graphs)}')
        if number in seen:
            raise PlanParseError(f"SG {number} is changed twice")
        seen.add(number)
        polished[number - 1] = parse_scene_graph(change)
    return polished


def _repair_event(event: dict) -> dict:
    fixed = {k: v.strip() if isinstance(v, str) else v for k, v in event.items()
             if k in ("agent", "predicate", "target", "start", "end")}
    target = fixed.get("target")
    if isinstance(target, str) and target.lower() in _NO_TARGET:
        fixed["target"] = None
    for key in ("start", "end"):
        value = fixed.get(key)
        if isinstance(value, str) and re.fullmatch(r"\d+\s*v?", value):
            fixed[key] = int(value.rstrip("v ").strip())
    start, end = fixed.get("start"), fixed.get("end")
    if isinstance(start, int) and isinstance(end, int):
        if start > end:
            fixed["start"], fixed["end"] = end, start
        elif start == end:
            fixed["end"] = start + 1
    return fixed


def _dedupe(events: list[dict]) -> list[dict]:
    seen, unique = set(), []
    for event in events:
        key = json.dumps(event, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            unique.append(event)
    return unique


def _is_tuple(value: Any, n: int) -> bool:
    """A list of ``n`` non-blank strings; anything else in an answer's tuple lists is dropped."""
    return isinstance(value, (list, tuple)) and len(value) == n and all(isinstance(v, str) and v.strip() for v in value)


def _strings(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(v.strip() for v in values)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(map(str, err['loc'])) or 'answer'}: {err['msg']}"
