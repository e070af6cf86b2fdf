"""Scores trained video models on the dynamic-shapes test split (issue 8; docs/backbone.md).

Usage:
    .venv/bin/python benchmarks/shapes_vdm.py --data data/shapes-8f \
        --model dysen=runs/shapes-dysen/final --model latent-vdm=runs/shapes-latent-vdm/final \
        [--split test] [--limit 60] [--seeds 0 1 2] [--plans runs/shapes-plans-<config>.jsonl] [--out benchmarks/results/shapes_vdm.json]
        [--set backbone.options.diffusion.guidance_scale=6]

Each model renders the first caption of the first ``--limit`` clips under every condition it can take:

- ``oracle``: the clip's gold DSG (models with a DSG branch);
- ``planned``: the DSG the scene manager (Steps I-III, the model's own run config: the embedded LLM) plans from
  the caption, after ``--set``; plans are kept in ``--plans`` (by default a file named after a hash of the
  settings that plan) so every model and seed reads the same ones, and a changed setting plans afresh;
- ``text``: no DSG (the null DSG token; a text-only model's only condition).

Videos are scored in memory, never through mp4 (whose colour subsampling would blur what the exact parser
reads), with the ``dynamics`` metric on all clips and on two subsets, ``novel`` (a held-out shape-action
pair) and ``familiar``; and on ``reordered``: ``--reordered`` more clips of the split rendered from a varied
caption told out of time order ("before B, A", "B after A"; the plain first caption never is); and on
``backwards``: ``--backwards`` more clips of 3-4 events in two groups, told later group first ("Before C while
D, A while B": ``shapes.captions.backwards_caption``, which the training captions never use). Also
the ``shapes-fvd`` distance over the ``--limit`` clips, with each frame shown twice (its network reads 16
frames). The ``autoencoder`` row scores the gold clips after a round trip through the model's autoencoder: the
ceiling the latent space allows. ``--autoencoder-only`` scores just that row. Every score is mean ± std over
the sampling seeds; a table is printed and JSON written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from dysen_core.config import RunConfig, load_config, load_trained_config
from dysen_core.io import write_json_atomic, write_text_atomic
from dysen_core.metrics.dynamics import Dynamics
from dysen_core.metrics.standard import ShapesFVD
from dysen_core.scene_manager import PlanResult, SceneManager
from dysen_core.shapes import iter_clips, load_frames
from dysen_core.shapes.captions import backwards_caption
from dysen_core.video import from_uint8, to_uint8
from dysen_core.video_model import build_backbone

ROOT = Path(__file__).parent
REORDERED = re.compile(r"^before |\w (?<!goes )after (?!that)", re.IGNORECASE)  # the generator's out-of-order forms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="A `dysen data shapes` folder.")
    parser.add_argument("--model", action="append", required=True, help="NAME=FOLDER of a trained backbone (repeat).")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=60, help="Clips scored (the first N of the split).")
    parser.add_argument("--reordered", type=int, default=20, help="Extra clips rendered from a caption told out of time order.")
    parser.add_argument("--backwards", type=int, default=20, help="Extra clips of 3-4 events told later group first.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--plans", type=Path, help="Planned DSGs, made if missing (default: runs/shapes-plans-<config hash>.jsonl).")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "shapes_vdm.json")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="Override a run-config key of every model, e.g. backbone.options.diffusion.guidance_scale=6.")
    parser.add_argument("--autoencoder-only", action="store_true",
                        help="Score only the autoencoder round trip (any `dysen train` folder, Stage I's included).")
    args = parser.parse_args()

    clips = [r for _, r in zip(range(args.limit), iter_clips(args.data, args.split))]
    told = [(r, c) for r in iter_clips(args.data, args.split)
            if (c := next((c for c in r.captions[1:] if REORDERED.search(c)), None))][:args.reordered]
    scored = {r.id for r in clips}
    backwards = [(r, c) for r in iter_clips(args.data, args.split)
                 if r.id not in scored and (c := backwards_caption(r.plan))][:args.backwards]
    records = clips + [r for r, _ in told] + [r for r, _ in backwards]
    prompts = [r.captions[0] for r in clips] + [c for _, c in told] + [c for _, c in backwards]
    gold = [load_frames(args.data, r) for r in records]
    kinds = ["all"] * len(clips) + ["reordered"] * len(told) + ["backwards"] * len(backwards)
    first = [k == "all" for k in kinds]
    members = {
        "all": first,
        "novel": [f and r.novel for f, r in zip(first, records)],
        "familiar": [f and not r.novel for f, r in zip(first, records)],
        **{kind: [k == kind for k in kinds] for kind in ("reordered", "backwards")},
    }
    models = dict(spec.split("=", 1) for spec in args.model)
    planning = load_config(Path(next(iter(models.values()))) / "run_config.json", overrides=args.set)
    plans = [] if args.autoencoder_only else planned_dsgs(prompts, planning, args.plans or plans_path(planning))
    rows = []
    for name, folder in models.items():
        config = load_trained_config(folder, args.set)
        backbone = build_backbone(config)
        conditions = {"text": [None] * len(records)}
        if backbone.graph_encoder is not None:
            conditions = {"oracle": [r.dsg for r in records], "planned": [p.dsg for p in plans], **conditions}
        rows.append(score(name, "autoencoder", [round_trip(backbone, gold)], records, gold, members))
        print_row(rows[-1])
        for condition, dsgs in ({} if args.autoencoder_only else conditions).items():
            runs, seconds = [], 0.0
            for seed in args.seeds:
                start = time.perf_counter()
                videos = render(backbone, prompts, dsgs, seed * 10_000, args.batch_size)
                seconds += time.perf_counter() - start
                runs.append(videos)
            row = score(name, condition, runs, records, gold, members)
            row["seconds_per_video"] = round(seconds / (len(args.seeds) * len(records)), 3)
            rows.append(row)
            print_row(row)
    result = {
        "command": shlex.join(["benchmarks/shapes_vdm.py", *sys.argv[1:]]),
        "data": str(args.data), "split": args.split, "clips": len(records), "seeds": args.seeds,
        "subset_sizes": {k: sum(v) for k, v in members.items()}, "threads": torch.get_num_threads(),
        "planning_failures": sum(p.dsg is None for p in plans), "rows": rows,
    }
    write_json_atomic(args.out, result)
    print(markdown(result))
    print(f"wrote {args.out}")


def planned_dsgs(prompts: list[str], config: RunConfig, path: Path) -> list[PlanResult]:
    """Steps I-III for every prompt with ``config``'s scene manager, kept in ``path`` (JSON lines) across runs."""
    known: dict[str, PlanResult] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            result = PlanResult.model_validate_json(line)
            known[result.prompt] = result
    missing = [p for p in dict.fromkeys(prompts) if p not in known]
    if missing:
        with SceneManager(config) as manager:
            for result in manager.run_many(missing):
                known[result.prompt] = result
        write_text_atomic(path, "".join(r.model_dump_json() + "\n" for r in known.values()))
    return [known[p] for p in prompts]


def plans_path(config: RunConfig) -> Path:
    """The default plans file for ``config``: named after a hash of the settings Steps I-III read."""
    steps = config.model_dump(mode="json", include={"llm", "demo_selector", "planner", "dsg_builder", "imaginer", "temporal_check"})
    digest = hashlib.sha256(json.dumps(steps, sort_keys=True).encode()).hexdigest()[:12]
    return Path("runs") / f"shapes-plans-{digest}.jsonl"


def render(backbone, prompts: list[str], dsgs: list, seed: int, batch_size: int) -> list[np.ndarray]:
    """Prompt n from noise seeded ``seed + n``, ``batch_size`` at a time."""
    videos: list[np.ndarray] = []
    for first in range(0, len(prompts), batch_size):
        videos += backbone.generate(prompts[first:first + batch_size], dsgs[first:first + batch_size], seed=seed + first)
    return videos


@torch.no_grad()
def round_trip(backbone, gold: list[np.ndarray]) -> list[np.ndarray]:
    """The gold clips through the autoencoder (posterior mode): what the latent space can express."""
    out = []
    for video in gold:
        x = from_uint8(video).unsqueeze(0)
        out.append(to_uint8(backbone.autoencoder.decode(backbone.autoencoder.encode(x, sample=False))[0]))
    return out


def score(model: str, condition: str, runs: list[list[np.ndarray]], records, gold, members) -> dict:
    """Mean and std over runs (seeds) of each subset's dynamics scores, and shapes-fvd over all clips."""
    per_run = []
    for videos in runs:
        scores = {}
        for subset, keep in members.items():
            metric = Dynamics()
            for video, record, inside in zip(videos, records, keep):
                if inside:
                    metric.update(video, record)
            scores |= {f"{subset}.{k}": v for k, v in metric.compute().items()}
        fvd = ShapesFVD()
        for video, reference in zip(videos[:sum(members["all"])], gold):
            fvd.update(video, reference)  # 8-frame clips: the metric shows each frame twice
        scores |= {f"all.{k}": v for k, v in fvd.compute().items()}
        per_run.append(scores)
    summary = {}
    for key in per_run[0]:
        values = [s[key] for s in per_run if s[key] == s[key]]  # NaN: nothing to count in that subset
        summary[key] = {"mean": statistics.fmean(values) if values else None,
                        "std": statistics.pstdev(values) if len(values) > 1 else 0.0}
    return {"model": model, "condition": condition, "runs": len(runs), "scores": summary}


COLUMNS = ("all.trirec", "all.event_recall", "all.temporal_order", "all.timing_iou", "all.shapes_fvd",
           "novel.event_recall", "reordered.temporal_order", "backwards.event_recall", "backwards.temporal_order")


def cell(value: dict | None) -> str:
    if value is None or value["mean"] is None:
        return "n/a"
    return f"{value['mean']:.3f} ± {value['std']:.3f}" if value["std"] else f"{value['mean']:.3f}"


def print_row(row: dict) -> None:
    print(f"{row['model']:>12} {row['condition']:>12} " + " ".join(cell(row["scores"].get(c)) for c in COLUMNS), flush=True)


def markdown(result: dict) -> str:
    lines = ["| model | condition | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---|" * len(COLUMNS)]
    for row in result["rows"]:
        lines.append(f"| {row['model']} | {row['condition']} | " + " | ".join(cell(row["scores"].get(c)) for c in COLUMNS) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
