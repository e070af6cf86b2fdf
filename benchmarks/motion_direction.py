"""Do a model's shapes move the way the caption says, even where the parser reads no move? (issue 8; docs/results.md)

Usage:
    .venv/bin/python benchmarks/motion_direction.py --data data/shapes-8f [--clips 40] [--seeds 0 1 2]
        [--model NAME=FOLDER ...] [--out benchmarks/results/motion_direction.json]

The parser counts a move only when a shape keeps its outline and colour and goes straight along an axis, so an
event recall near zero cannot tell a model that moves nothing from one that moves the right way but jitters.
This measures the second directly. Test clips are taken whose plan has one move along an axis (left, right, up,
down) by a shape whose colour no other shape has. In each video the agent is the largest blob of its colour;
its displacement from the first to the last frame of the move's window (the frames that show the move), in
pixels per time unit, is projected on the commanded direction. Reported: how often the agent is found at both
ends, the mean projection (std over seeds), and the share of found agents that went the commanded way; the same
for the real clips, and for the generated displacements projected on another clip's direction (the chance
level: what the mean would be if the caption's direction did not matter). Videos are sampled with the gold DSG
("oracle") and with the caption alone ("text"), from the noises `dysen generate --seed` starts from.
Default model: the shipped one. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

from dysen_core.config import load_config, load_trained_config
from dysen_core.io import write_json_atomic
from dysen_core.shapes import iter_clips
from dysen_core.shapes.dataset import load_frames
from dysen_core.shapes.generate import ClipRecord
from dysen_core.shapes.segment import SegmentOptions, segment
from dysen_core.video_model import build_backbone

ROOT = Path(__file__).parent
DIRECTIONS = {"moves right": (1.0, 0.0), "moves left": (-1.0, 0.0), "moves down": (0.0, 1.0), "moves up": (0.0, -1.0)}
CONDITIONS = ("oracle", "text")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="A `dysen data shapes` folder.")
    parser.add_argument("--split", default="test")
    parser.add_argument("--clips", type=int, default=40, help="Clips with one axis move by a uniquely coloured shape.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--model", action="append", default=[], metavar="NAME=FOLDER",
                        help="A trained backbone (repeat); default: the shipped model.")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "motion_direction.json")
    args = parser.parse_args()

    clips = [(record, event) for record in iter_clips(args.data, args.split) if (event := single_move(record))][:args.clips]
    if not clips:
        raise SystemExit(f"error: no {args.split} clip of {args.data} has one axis move by a uniquely coloured shape")
    directions = np.array([DIRECTIONS[event.predicate] for _, event in clips])
    chance = np.roll(directions, 1, axis=0)  # each clip scored against its neighbour's direction
    real = [displacement(load_frames(args.data, record), record, event) for record, event in clips]
    rows = [summarise("real clips", "", [real], directions, chance)]
    models = [spec.split("=", 1) for spec in args.model] or [("shipped", None)]
    for name, folder in models:
        backbone = build_backbone(load_trained_config(folder) if folder else load_config())
        for condition in CONDITIONS:
            runs = []
            for seed in args.seeds:
                videos = backbone.generate([record.captions[0] for record, _ in clips],
                                           [record.dsg if condition == "oracle" else None for record, _ in clips], seed=seed)
                runs.append([displacement(np.asarray(video), record, event) for video, (record, event) in zip(videos, clips)])
            rows.append(summarise(name, condition, runs, directions, chance))
            print_row(rows[-1])
    print(f"\n{len(clips)} clips, seeds {args.seeds}")
    print("| model | condition | found | along the caption (px/unit) | went that way | chance (px/unit) |\n|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['model']} | {row['condition']} | {row['found']:.2f} | {cell(row['along'])} | "
              f"{cell(row['went_that_way'])} | {cell(row['chance'])} |")
    command = shlex.join(["benchmarks/motion_direction.py", *sys.argv[1:]])
    write_json_atomic(args.out, {"command": command, "data": str(args.data), "split": args.split, "clips": len(clips),
                                 "seeds": args.seeds, "rows": rows})
    print(f"wrote {args.out}")


def single_move(record: ClipRecord):
    """The clip's one axis move, when its agent's colour is the agent's alone; else None."""
    moves = [e for e in record.plan.events if e.predicate in DIRECTIONS]
    if len(moves) != 1:
        return None
    shapes = {name for graph in record.dsg.frames for name in graph.objects}
    colour = moves[0].agent.split()[0]
    return moves[0] if [s.split()[0] for s in shapes].count(colour) == 1 else None


def displacement(frames: np.ndarray, record: ClipRecord, event) -> np.ndarray | None:
    """The agent's (dx, dy) in pixels per time unit over the move's window, or None where it is not found at both ends."""
    grid = record.grid
    first, last = grid.window(event.start)[0], grid.window(event.end - 1)[-1]
    colour = event.agent.split()[0]
    blobs = segment(frames[[first, last]], SegmentOptions(), min(frames.shape[1:3]) / 64.0)
    ends = []
    for frame in blobs:
        mine = [blob for blob in frame if colour in blob.colours]
        if not mine:
            return None
        biggest = max(mine, key=lambda blob: blob.stats.area)
        ends.append((biggest.stats.cx, biggest.stats.cy))
    return (np.array(ends[1]) - np.array(ends[0])) * grid.per_unit / (last - first)


def summarise(model: str, condition: str, runs: list[list], directions: np.ndarray, chance: np.ndarray) -> dict:
    """Found share, mean projection on the caption's direction (and on a neighbour's), share that went that way."""
    def per_run(run, towards):
        found = [i for i, d in enumerate(run) if d is not None]
        along = np.array([run[i] @ towards[i] for i in found])
        return len(found) / len(run), along.mean() if found else np.nan, (along > 0).mean() if found else np.nan

    own = np.array([per_run(run, directions) for run in runs])
    other = np.array([per_run(run, chance)[1] for run in runs])
    return {"model": model, "condition": condition, "found": round(float(own[:, 0].mean()), 3),
            "along": mean_std(own[:, 1]), "went_that_way": mean_std(own[:, 2]), "chance": mean_std(other)}


def mean_std(values: np.ndarray) -> dict:
    return {"mean": round(float(np.nanmean(values)), 3), "std": round(float(np.nanstd(values)), 3)}


def cell(value: dict) -> str:
    return f"{value['mean']:.2f} ± {value['std']:.2f}" if value["std"] else f"{value['mean']:.2f}"


def print_row(row: dict) -> None:
    print(f"{row['model']:>14} {row['condition']:>7} found {row['found']:.2f} along {cell(row['along'])} "
          f"went that way {cell(row['went_that_way'])} chance {cell(row['chance'])}", flush=True)


if __name__ == "__main__":
    main()
