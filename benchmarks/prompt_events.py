"""How often a prompt's planned actions happen in the videos `dysen generate` makes of it (issue 8's done-when).

Usage:
    .venv/bin/python benchmarks/prompt_events.py [--prompt TEXT ...] [--seeds 10] [--checkpoint FOLDER]
        [--set KEY=VALUE ...] [--out benchmarks/results/prompt_events.json]

Each prompt (default: the README's example) is planned once by the run config's scene manager (the offline
default unless ``--checkpoint`` names a `dysen train` folder), then rendered from ``--seeds`` noises: video i
starts from the noise `dysen generate --seed i` starts from. The dynamic-shapes parser reads every video, and
each planned event counts as performed when a parsed event matches it one-to-one in its time units, under the
three views of ``shapes_events.py`` (the exact agent, its colour only, anyone). Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from shapes_events import VIEWS, view

from dysen_core.config import load_config, load_trained_config
from dysen_core.io import write_json_atomic
from dysen_core.metrics.matching import match_events
from dysen_core.scene_manager import SceneManager
from dysen_core.shapes.parser import ParserOptions, parse_video
from dysen_core.video_model import build_backbone

ROOT = Path(__file__).parent
README_PROMPT = "a red circle moves right, then a blue square jumps"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", action="append", help="A prompt to render (repeatable; default: the README's).")
    parser.add_argument("--seeds", type=int, default=10, help="Videos per prompt, from noise seeds 0, 1, ...")
    parser.add_argument("--checkpoint", type=Path, help="A trained backbone folder (default: the shipped model).")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="Override a run-config key.")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "prompt_events.json")
    args = parser.parse_args()

    if args.checkpoint:
        config = load_trained_config(args.checkpoint, args.set)
    else:
        config = load_config(overrides=args.set)
    with SceneManager(config) as manager:
        plans = [manager.run(prompt) for prompt in args.prompt or [README_PROMPT]]
    backbone = build_backbone(config)
    results = []
    for plan in plans:
        if plan.dsg is None or plan.plan is None:
            raise SystemExit(f"error: planning failed for {plan.prompt!r}: {plan.error}")
        videos = backbone.generate([plan.prompt] * args.seeds, [plan.dsg] * args.seeds, seed=0)
        events = plan.plan.events
        hits = {how: [0] * len(events) for how in VIEWS}
        complete = {how: 0 for how in VIEWS}
        parsed = []
        for video in videos:
            found = parse_video(video, ParserOptions(units=plan.plan.horizon)).events
            parsed.append([f"{e.agent} {e.predicate} [{e.start}, {e.end})" for e in found])
            for how in VIEWS:
                gold = [view(e, how) for e in events]
                pairs = match_events(gold, [view(e, how) for e in found], exact=True,
                                     gold_span=plan.plan.horizon, predicted_span=plan.plan.horizon).pairs
                for i, _ in pairs:
                    hits[how][i] += 1
                complete[how] += len(pairs) == len(events)
        results.append({
            "prompt": plan.prompt,
            "events": [{"event": f"{e.agent} {e.predicate} [{e.start}, {e.end})",
                        **{how: hits[how][i] / args.seeds for how in VIEWS}} for i, e in enumerate(events)],
            "all_events": {how: complete[how] / args.seeds for how in VIEWS},
            "parsed": parsed,
        })
    print(f"| prompt | planned event | {' | '.join(VIEWS)} |\n|---|---|---|---|---|")
    for result in results:
        for row in [*result["events"], {"event": "all of them", **result["all_events"]}]:
            print(f"| {result['prompt']} | {row['event']} | " + " | ".join(f"{row[how]:.2f}" for how in VIEWS) + " |")
    write_json_atomic(args.out, {"command": shlex.join(["benchmarks/prompt_events.py", *sys.argv[1:]]),
                                 "seeds": args.seeds, "checkpoint": str(args.checkpoint or "shipped"), "prompts": results})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
