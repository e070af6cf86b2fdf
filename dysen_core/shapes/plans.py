"""Captions with gold plans and DSGs from the dynamic-shapes benchmark, as demonstrations (issue 7).

The RL-based ICL experiment (paper §5.5) needs three disjoint sets: a demonstration pool and training
examples from the train split, and evaluation examples from the val ("dev") split. For Step I a clip gives
one ``PlanningDemo``: a caption and the clip's gold plan with that caption as its prompt. For Step III a
clip gives one ``DSGDemo`` (its gold plan and gold DSG) to score against, and its pool clips one
``ImaginationDemo`` per segment of their skeleton DSG. ``varied`` takes the clip's last caption, a random
wording (synonyms, out-of-order clauses), so a planner must map "the red ball hops" onto the gold
"red circle" / "jumps"; ``plain`` takes the plain caption.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import combinations, count
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from ..demos import DSGDemo, ImaginationDemo, PlanningDemo
from ..icl_rewards import has_triplets
from ..io import atomic_file
from .generate import ClipRecord, ShapesConfig, generate_clip
from .splits import Split, split_of

Wording = Literal["plain", "varied"]


def planning_demo(record: ClipRecord, wording: Wording = "varied") -> PlanningDemo:
    """One clip's caption (plain or its last, varied one) with the clip's gold plan."""
    plan = record.plan.model_copy(update={"prompt": _caption(record, wording)})
    return PlanningDemo(id=record.id, tags=_tags(plan.events), plan=plan)


def dsg_demo(record: ClipRecord, wording: Wording = "varied") -> DSGDemo:
    """One clip's caption with its gold plan and gold DSG (one scene graph per video frame)."""
    prompt = _caption(record, wording)
    return DSGDemo(id=record.id, plan=record.plan.model_copy(update={"prompt": prompt}),
                   dsg=record.dsg.model_copy(update={"prompt": prompt, "plan": None}))


def imagination_demos(demo: DSGDemo, builder) -> list[ImaginationDemo]:
    """One Step III demonstration per segment of the gold plan's skeleton DSG (built by ``builder``): the
    window of skeleton graphs around it, the previous segment's answer, and as the answer the gold scene graph
    at the segment's middle."""
    segments = (skeleton := builder.build(demo.plan)).unique_segments()
    units, frames = len(skeleton.frames), len(demo.dsg.frames)
    demos: list[ImaginationDemo] = []
    for i, segment in enumerate(segments):
        gold = demo.dsg.frames[(segment.start + segment.end) * frames // (2 * units)]
        demos.append(ImaginationDemo(id=f"{demo.id}-{i}", prompt=demo.plan.prompt, previous=demos[-1].output if demos else None,
                                     current=segment.graph, next=segments[i + 1].graph if i + 1 < len(segments) else None,
                                     output=gold))
    return demos


def _caption(record: ClipRecord, wording: Wording) -> str:
    return record.captions[0 if wording == "plain" else -1]


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


def split_records(split: Split, seed: int, config: ShapesConfig | None = None) -> Iterator[ClipRecord]:
    """The clips of ``split`` in index order (generated on the fly, nothing written)."""
    config = config or ShapesConfig()
    for index in count():
        if split_of(index) == split:
            yield generate_clip(config, seed, index)[0]


def split_demos(split: Split, seed: int, config: ShapesConfig | None = None, wording: Wording = "varied") -> Iterator[PlanningDemo]:
    """The clips of ``split`` in index order, as planning demonstrations."""
    return (planning_demo(record, wording) for record in split_records(split, seed, config))


def planning_sets(seed: int, pool: int, train: int, dev: int, config: ShapesConfig | None = None,
                  wording: Wording = "varied") -> dict[str, list[PlanningDemo]]:
    """``pool`` then ``train`` demonstrations from the train split (disjoint clips) and ``dev`` from val."""
    clips = split_demos("train", seed, config, wording)
    pool_demos = [next(clips) for _ in range(pool)]
    train_demos = [next(clips) for _ in range(train)]
    dev_clips = split_demos("val", seed, config, wording)
    return {"pool": pool_demos, "train": train_demos, "dev": [next(dev_clips) for _ in range(dev)]}


def imagination_sets(seed: int, pool: int, train: int, dev: int, builder, config: ShapesConfig | None = None,
                     wording: Wording = "varied") -> dict[str, list]:
    """Step III's sets: the imagination demonstrations of ``pool`` train clips, then ``train`` further train clips
    and ``dev`` val clips as gold DSGs, each with a relation triplet (TriRec against a DSG without is undefined)."""
    clips = (dsg_demo(record, wording) for record in split_records("train", seed, config))
    pool_demos = [d for _ in range(pool) for d in imagination_demos(next(clips), builder)]
    scored = (d for d in clips if has_triplets(d.dsg))
    dev_clips = (d for d in (dsg_demo(r, wording) for r in split_records("val", seed, config)) if has_triplets(d.dsg))
    return {"pool": pool_demos, "train": [next(scored) for _ in range(train)], "dev": [next(dev_clips) for _ in range(dev)]}


def write_demos(path: str | Path, demos: Sequence[BaseModel]) -> Path:
    """Write ``demos`` as a JSONL pool (``demos.load_pool`` reads it back), atomically."""
    with atomic_file(path, "w") as handle:
        handle.writelines(demo.model_dump_json() + "\n" for demo in demos)
    return Path(path)
