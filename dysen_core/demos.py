"""In-context demonstrations with gold annotations for the three LLM tasks (paper §4.1, App. A.3, Figs. 12–14),
and gold DSGs for scoring Step III.

A pool is a JSONL file, one demonstration a line. The shipped pools live in ``dysen_core/demos/``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .datamodel import ActionPlan, DynamicSceneGraph, SceneGraph
from .errors import InputError
from .io import read_text, validation_lines

POOLS_DIR = Path(__file__).parent / "demos"

PLAN_TAGS = ("sequential", "reversed", "concurrent", "overlap", "multi-agent", "intransitive", "shapes", "everyday")


class _Demo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="Stable identifier, unique within its pool.")


class PlanningDemo(_Demo):
    """Step I: a prompt and its gold action plan."""

    tags: list[str] = Field(default_factory=list, description=f"Kinds of temporal structure: {', '.join(PLAN_TAGS)}.")
    plan: ActionPlan


class ImaginationDemo(_Demo):
    """Step III, first round: the sliding window around one scene graph and the gold enriched graph."""

    prompt: str
    previous: SceneGraph | None = Field(description="The previous scene graph, already enriched (None at the start).")
    current: SceneGraph = Field(description="The skeleton scene graph to enrich.")
    next: SceneGraph | None = Field(description="The next skeleton scene graph (None at the end).")
    output: SceneGraph = Field(description="The enriched current scene graph; it replaces `current`.")


class DSGDemo(_Demo):
    """A prompt's gold plan and gold DSG: what Step III's imagination reward scores against (RL-based ICL)."""

    plan: ActionPlan = Field(description="The gold action plan; its prompt is the example's prompt.")
    dsg: DynamicSceneGraph = Field(description="The gold DSG, e.g. one scene graph per video frame.")


class PolishDemo(_Demo):
    """Step III, second round: a whole enriched DSG and its globally consistent revision."""

    prompt: str
    frames: list[SceneGraph] = Field(min_length=1)
    output: list[SceneGraph] = Field(min_length=1)


D = TypeVar("D", bound=_Demo)


def load_pool(path: str | Path, model: type[D]) -> tuple[D, ...]:
    """Read a JSONL pool; a bad line is an error naming the file, the line number and the field.

    Pools are read once per process (and again only if the file changes).
    """
    path = Path(path)
    stamp = path.stat().st_mtime_ns if path.is_file() else None
    return _load_pool(path.resolve(), model, stamp)


@lru_cache(maxsize=32)
def _load_pool(path: Path, model: type[D], stamp: int | None) -> tuple[D, ...]:
    demos: list[D] = []
    seen: set[str] = set()
    for number, line in enumerate(read_text(path, "demonstration pool").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            demo = model.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
        except ValidationError as exc:
            raise InputError(f"{path}:{number} is not a valid {model.__name__}:\n{validation_lines(exc)}") from None
        if demo.id in seen:
            raise InputError(f"{path}:{number}: duplicate id {demo.id!r}")
        seen.add(demo.id)
        demos.append(demo)
    return tuple(demos)
