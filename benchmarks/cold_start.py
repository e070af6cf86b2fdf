"""Cold Steps I–III on the offline default: 3-event prompts, each in a fresh process with empty caches.

For each prompt a new Python process builds the scene manager and runs Steps I–III with an empty LLM
(and embedding) cache, as a first `dysen plan` on a new machine would. It reports the process wall time
(imports included) and the Steps I–III time, split per LLM call with its token counts. Prints a table
and writes benchmarks/results/cold_start.json.

Usage:
    .venv/bin/python benchmarks/cold_start.py [--limit 5] [--preset NAME] [--set k=v ...] [--out FILE]

Measure on a quiet machine: other processes on the two cores double every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dysen_core.demos import PlanningDemo, load_pool
from dysen_core.io import write_json_atomic

ROOT = Path(__file__).parent

CHILD = """
import json, sys, time
start = time.perf_counter()
from dysen_core.config import load_config
from dysen_core.scene_manager import SceneManager

args = json.loads(sys.argv[1])
config = load_config(None, preset=args["preset"], overrides=args["overrides"])
built = time.perf_counter()
calls = []
with SceneManager(config) as manager:
    ready = time.perf_counter()
    backend = manager.llm.llm
    complete = backend.complete

    def timed(messages, json_schema=None):
        t = time.perf_counter()
        answer = complete(messages, json_schema=json_schema)
        calls.append({"seconds": time.perf_counter() - t, "prompt_tokens": answer.usage.prompt_tokens,
                      "completion_tokens": answer.usage.completion_tokens})
        return answer

    backend.complete = timed
    result = manager.run(args["prompt"])
    done = time.perf_counter()
print(json.dumps({"imports_s": built - start, "build_s": ready - built, "steps_s": done - ready,
                  "in_process_s": done - built, "calls": calls, "error": result.error,
                  "segments": result.manifest["segments"], "notes": result.notes}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=ROOT / "data" / "planning_dev.jsonl")
    parser.add_argument("--limit", type=int, default=5, help="How many 3-event prompts to run.")
    parser.add_argument("--preset", default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "cold_start.json")
    args = parser.parse_args()

    prompts = [d.plan.prompt for d in load_pool(args.gold, PlanningDemo) if len(d.plan.events) == 3][: args.limit]
    rows = []
    for prompt in prompts:
        with tempfile.TemporaryDirectory() as tmp:
            overrides = [*args.overrides, f"llm_client.cache_path={Path(tmp) / 'cache.sqlite'}"]
            payload = json.dumps({"prompt": prompt, "preset": args.preset, "overrides": overrides})
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", CHILD, payload], capture_output=True, text=True, check=True)
            row = {"prompt": prompt, "process_s": time.perf_counter() - start, **json.loads(out.stdout.strip().splitlines()[-1])}
        rows.append(row)
        calls = ", ".join(f"{c['seconds']:.1f}s ({c['prompt_tokens']}+{c['completion_tokens']})" for c in row["calls"])
        print(f"{row['process_s']:5.1f} s process, {row['steps_s']:5.1f} s Steps I-III | {calls} | {prompt}", flush=True)

    summary = {key: statistics.mean(r[key] for r in rows) for key in ("process_s", "in_process_s", "steps_s", "imports_s")}
    report = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count()}, "preset": args.preset,
              "overrides": args.overrides, "prompts": len(rows), "mean": summary,
              "max_steps_s": max(r["steps_s"] for r in rows), "rows": rows}
    write_json_atomic(args.out, report)
    print(f"\n{'measure (mean over ' + str(len(rows)) + ' prompts)':40} seconds")
    for key, label in [("process_s", "process wall (imports included)"), ("in_process_s", "config + build + Steps I-III"),
                       ("steps_s", "Steps I-III"), ("imports_s", "imports")]:
        print(f"{label:40} {summary[key]:.2f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
