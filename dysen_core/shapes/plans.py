"""Captions with gold action plans from the dynamic-shapes benchmark, as planning demonstrations (issue 7).

The RL-based ICL experiment (paper §5.5) needs three disjoint sets of ``PlanningDemo``: a demonstration
pool and training prompts from the train split, and evaluation prompts from the val ("dev") split. A clip
gives one demonstration: a caption and the clip's gold plan with that caption as its prompt. ``varied``
takes the clip's last caption, a random wording (synonyms, out-of-order clauses), so a planner must map
"the red ball hops" onto the gold "red circle" / "jumps"; ``plain`` takes the plain caption.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations, count
from pathlib import Path
from typing import Literal

from ..demos import PlanningDemo
from ..io import atomic_file
from .generate import ClipRecord, ShapesConfig, generate_clip
from .splits import Split, split_of

Wording = Literal["plain", "varied"]


def planning_demo(record: ClipRecord, wording: Wording = "varied") -> PlanningDemo:
    """One clip's caption (plain or its last, varied one) with the clip's gold plan."""
    prompt = record.captions[0 if wording == "plain" else -1]
    plan = record.plan.model_copy(update={"prompt": prompt})
    return PlanningDemo(id=record.id, tags=_tags(plan.events), plan=plan)


def _tags(events) -> list[str]:
    """The kinds of temporal structure a plan shows (``demos.PLAN_TAGS``)."""
    tags = {"shapes"}
    for a, b in combinations(events, 2):
        if a.end <= b.start or b.end <= a.start:
            tags.add("sequential")
        elif (a.start, a.end) == (b.start, b.end):
            tags.add("concurrent")
        else:
            tags.add("overlap")
    if len({e.agent for e in events}) > 1:
        tags.add("multi-agent")
    if any(e.target is None for e in events):
        tags.add("intransitive")
    return sorted(tags)


def split_demos(split: Split, seed: int, config: ShapesConfig | None = None, wording: Wording = "varied") -> Iterator[PlanningDemo]:
    """The clips of ``split`` in index order, as demonstrations (generated on the fly, nothing written)."""
    config = config or ShapesConfig()
    for index in count():
        if split_of(index) == split:
            yield planning_demo(generate_clip(config, seed, index)[0], wording)


def planning_sets(seed: int, pool: int, train: int, dev: int, config: ShapesConfig | None = None,
                  wording: Wording = "varied") -> dict[str, list[PlanningDemo]]:
    """``pool`` then ``train`` demonstrations from the train split (disjoint clips) and ``dev`` from val."""
    clips = split_demos("train", seed, config, wording)
    pool_demos = [next(clips) for _ in range(pool)]
    train_demos = [next(clips) for _ in range(train)]
    dev_clips = split_demos("val", seed, config, wording)
    return {"pool": pool_demos, "train": train_demos, "dev": [next(dev_clips) for _ in range(dev)]}


def write_demos(path: str | Path, demos: list[PlanningDemo]) -> Path:
    """Write ``demos`` as a JSONL pool (``demos.load_pool`` reads it back), atomically."""
    with atomic_file(path, "w") as handle:
        handle.writelines(demo.model_dump_json(exclude_none=True) + "\n" for demo in demos)
    return Path(path)
