"""Training examples for the tuned local model: the planning corpus's gold turned into chat exchanges.

Each task's prompt is built by the same functions the planner and imaginer use at inference (with no
demonstrations and the chosen instruction set), so the model trains on exactly what it will be asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ..chat import ChatMessage
from ..demos import ImaginationDemo, PlanningDemo, PolishDemo, load_pool
from ..errors import InputError
from ..prompts import graph_text, imagination_messages, plan_answer, planning_messages, polish_answer, polish_messages

Task = Literal["plan", "imagine", "polish"]
CORPUS_FILES: dict[str, str] = {"plan": "planning.jsonl", "imagine": "imagination.jsonl", "polish": "polish.jsonl"}

Example = tuple[list[ChatMessage], str]


def task_examples(folder: Path, task: str, templates: str) -> list[Example]:
    """(messages, gold answer) for every demonstration of ``task`` in ``folder`` (a corpus split)."""
    path = Path(folder) / CORPUS_FILES[task]
    if not path.is_file():
        raise InputError(f"corpus: {path} not found; make it with `dysen data planning -o DIR` and point corpus at DIR/train")
    if task == "plan":
        return [(planning_messages(d.plan.prompt, [], templates), plan_answer(d.plan)) for d in load_pool(path, PlanningDemo)]
    if task == "imagine":
        return [(imagination_messages(d.prompt, d.previous, d.current, d.next, [], templates), graph_text(d.output))
                for d in load_pool(path, ImaginationDemo)]
    return [(polish_messages(d.prompt, d.frames, [], templates), polish_answer(d.frames, d.output))
            for d in load_pool(path, PolishDemo)]
