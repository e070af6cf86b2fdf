"""Scores a scene-manager configuration against gold plans: plan accuracy, LLM calls, latency, replay speed.

Usage:
    .venv/bin/python benchmarks/planning.py [--gold FILE] [--preset NAME | --config FILE] [--set k=v ...]
        [--limit N] [--plan-only] [--replay-batch 1000] [--out benchmarks/results/planning.json]

The gold file has the demonstration pools' JSONL format (one PlanningDemo a line). Accuracy is
dysen's ``plan-accuracy`` metric (the paper's Fig. 9 measures plus temporal order over event pairs). LLM
calls per prompt are compared with the paper's per-SG loop (1 plan + M imaginations + 1 polish). With
``--replay-batch N`` the answers just recorded are replayed for a batch of N prompts (the gold prompts
cycled) to measure cached throughput. ``--plan-only`` runs and times Step I alone (with the temporal check when
the config turns it on): the scores need only the plan.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from dysen_core.config import load_config
from dysen_core.demos import PlanningDemo, load_pool
from dysen_core.io import write_json_atomic
from dysen_core.metrics.plan_accuracy import PlanAccuracy
from dysen_core.scene_manager import SceneManager

ROOT = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=ROOT / "data" / "planning_dev.jsonl")
    parser.add_argument("--preset", default=None)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--limit", type=int, default=None, help="Score only the first N gold prompts.")
    parser.add_argument("--plan-only", action="store_true", help="Run Step I (and the temporal check) only, not Steps II-III.")
    parser.add_argument("--replay-batch", type=int, default=0, help="Replay a batch of N prompts from the cache.")
    parser.add_argument("--cache", type=Path, default=ROOT / "results" / "planning-cache.sqlite")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "planning.json")
    args = parser.parse_args()

    gold = list(load_pool(args.gold, PlanningDemo))[: args.limit]
    overrides = [*args.overrides, f"llm_client.cache_path={args.cache}"]
    config = load_config(args.config, preset=args.preset, overrides=overrides)
    metric = PlanAccuracy()
    rows = []
    with SceneManager(config) as manager:
        for demo in gold:
            start = time.perf_counter()
            result = manager.run(demo.plan.prompt, plan_only=args.plan_only)
            seconds = time.perf_counter() - start
            metric.update(result.plan, demo.plan)
            per_sg = 1 + len(result.skeleton.frames) + 1 if result.skeleton is not None else None
            rows.append({"id": demo.id, "seconds": seconds, "llm_requests": result.manifest["llm_requests"],
                         "paper_loop_requests": per_sg, "events_gold": len(demo.plan.events),
                         "events_planned": len(result.plan.events) if result.plan else 0, "notes": result.notes,
                         "error": result.error})
            print(f"{demo.id}: {seconds:5.1f} s, {result.manifest['llm_requests']} requests"
                  f"{'  ERROR ' + result.error if result.error else ''}", flush=True)
        stats = manager.llm.stats.model_dump() if manager.llm is not None else {}

    replay = None
    if args.replay_batch:
        replay_config = load_config(args.config, preset=args.preset,
                                    overrides=[*overrides, "llm_client.cache_mode=replay"])
        prompts = [gold[i % len(gold)].plan.prompt for i in range(args.replay_batch)]
        with SceneManager(replay_config) as manager:
            start = time.perf_counter()
            failed = sum(result.error is not None for result in manager.run_many(prompts, plan_only=args.plan_only))
            seconds = time.perf_counter() - start
        replay = {"prompts": len(prompts), "seconds": seconds, "prompts_per_s": len(prompts) / seconds, "failed": failed}

    scores = metric.compute()
    ok = [r for r in rows if r["error"] is None]
    looped = [r["paper_loop_requests"] for r in ok if r["paper_loop_requests"] is not None]
    report = {
        "gold": str(args.gold), "config": config.description, "overrides": args.overrides, "plan_only": args.plan_only,
        "temporal_check": config.temporal_check.model_dump(), "prompts": len(rows),
        "failed": len(rows) - len(ok), "scores": scores,
        "llm_requests_per_prompt": statistics.mean(r["llm_requests"] for r in ok) if ok else None,
        "paper_loop_requests_per_prompt": statistics.mean(looped) if looped else None,
        "temporal_repaired_prompts": sum(any(note.startswith("temporal check:") for note in r["notes"]) for r in rows),
        "seconds_per_prompt": statistics.mean(r["seconds"] for r in rows) if rows else None,
        "llm_stats": stats, "replay": replay, "rows": rows,
    }
    write_json_atomic(args.out, report)

    print(f"\n{'measure':34} value")
    for key, value in scores.items():
        print(f"{key:34} {value:.3f}")
    for key in ("llm_requests_per_prompt", "paper_loop_requests_per_prompt", "seconds_per_prompt"):
        if report[key] is not None:
            print(f"{key:34} {report[key]:.2f}")
    print(f"{'prompts re-timed by temporal check':34} {report['temporal_repaired_prompts']}")
    print(f"{'failed prompts':34} {report['failed']} / {report['prompts']}")
    if replay:
        print(f"{'replay prompts/s':34} {replay['prompts_per_s']:.0f} ({replay['prompts']} prompts)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
