"""Which planned actions a model's dynamic-shapes videos perform, per predicate (issue 8; docs/results.md).

Usage:
    .venv/bin/python benchmarks/shapes_events.py --videos runs/shapes-ablation/full/videos --data data/shapes-8f \
        [--split test] [--out benchmarks/results/shapes_events.json]

``--videos`` is read as ``dysen eval`` reads it (mp4s, from their lossless ``<name>_frames`` PNGs where present),
each video named by its clip id (``dysen ablate`` writes such a folder). Every gold event is matched one-to-one to
the parsed events as the ``dynamics`` metric's event recall does, under three views of who acts: the exact
agent ("red circle", the metric's view), its colour only ("red": the shape's outline misread), and anyone (the
action happened at all). Also counts what the parser found, gold or not: flicker reads as appears/disappears,
wobbling outlines as spins. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from dysen_core.datamodel import Event
from dysen_core.evaluation import list_videos, load_video
from dysen_core.io import write_json_atomic
from dysen_core.metrics.matching import match_events
from dysen_core.shapes import iter_clips
from dysen_core.shapes.parser import ParserOptions, parse_video

ROOT = Path(__file__).parent
VIEWS = ("exact", "colour", "anyone")


def view(event: Event, how: str) -> Event:
    """``event`` with its agent and target reduced to what ``how`` compares."""
    if how == "exact":
        return event
    if how == "colour":
        return event.model_copy(update={"agent": event.agent.split()[0],
                                        "target": event.target and event.target.split()[0]})
    return event.model_copy(update={"agent": "someone", "target": None})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, required=True, help="Generated videos named by clip id.")
    parser.add_argument("--data", type=Path, required=True, help="The `dysen data shapes` folder they were made from.")
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "shapes_events.json")
    args = parser.parse_args()

    gold = {record.id: record for record in iter_clips(args.data, args.split)}
    items = [item for item in list_videos(args.videos, "videos") if item.name in gold]
    if not items:
        raise SystemExit(f"error: no video in {args.videos} is named after a {args.split} clip of {args.data}")
    totals: Counter[str] = Counter()
    found: Counter[str] = Counter()
    matched = {how: Counter() for how in VIEWS}
    for item in items:
        record = gold[item.name]
        events = parse_video(load_video(item, None), ParserOptions(units=record.units)).events
        found.update(e.predicate for e in events)
        totals.update(e.predicate for e in record.plan.events)
        for how in VIEWS:
            g = [view(e, how) for e in record.plan.events]
            match = match_events(g, [view(e, how) for e in events], exact=True,
                                 gold_span=record.units, predicted_span=record.units)
            matched[how].update(g[i].predicate for i, _ in match.pairs)

    rows = [{"predicate": p, "gold": totals[p], **{how: matched[how][p] for how in VIEWS}, "parsed": found[p]}
            for p in sorted(totals.keys() | found.keys(), key=lambda p: (-totals[p], -found[p], p))]
    total = {"predicate": "all", "gold": sum(totals.values()), **{how: sum(matched[how].values()) for how in VIEWS},
             "parsed": sum(found.values())}
    recall = {how: round(total[how] / total["gold"], 3) for how in VIEWS}
    print(f"{len(items)} videos from {args.videos}; event recall by view: {recall}")
    print(f"| predicate | gold | {' | '.join(VIEWS)} | parsed |\n|---|---|---|---|---|---|")
    for row in [*rows, total]:
        print("| " + " | ".join(str(row[k]) for k in ("predicate", "gold", *VIEWS, "parsed")) + " |")
    write_json_atomic(args.out, {"videos": str(args.videos), "data": str(args.data), "split": args.split,
                                 "clips": len(items), "recall": recall, "rows": [*rows, total]})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
