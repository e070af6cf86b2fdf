"""Replay throughput of the LLM cache: a batch of 1,000 requests recorded once with the real local model
(SmolLM2 through llama.cpp), then served from the SQLite cache by a replay-mode ``LLMClient``.

Prints a table and writes benchmarks/results/llm_replay.json. Run: ``.venv/bin/python benchmarks/llm_replay.py``
(``--requests 100`` for a quick look; ``--cache FILE`` keeps the recording for the next run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from dysen_plugin_llm_local.llama_cpp_llm import LlamaCppLLM

from dysen_core.chat import ChatMessage, ChatRequest
from dysen_core.llm_client import LLMClient, LLMClientOptions

RESULTS = Path(__file__).parent / "results" / "llm_replay.json"
SCHEMA = {"type": "object", "properties": {"agent": {"type": "string"}}, "required": ["agent"]}


def batch(n: int) -> list[ChatRequest]:
    """``n`` distinct planner-like requests, each with a JSON schema."""
    return [
        ChatRequest(
            messages=[ChatMessage(role="user", content=f"Who acts in: 'person {i} waves at a dog'? Answer in JSON.")],
            json_schema=SCHEMA,
        )
        for i in range(n)
    ]


def client(cache: Path, mode: str, concurrency: int = 4) -> LLMClient:
    backend = LlamaCppLLM(LlamaCppLLM.Options(max_tokens=8, n_ctx=512))
    return LLMClient(backend, LLMClientOptions(cache_mode=mode, cache_path=cache, max_concurrency=concurrency))


def one_by_one(llm: LLMClient, requests: list[ChatRequest]) -> list:
    return [llm.complete(r.messages, json_schema=r.json_schema) for r in requests]


def timed(label: str, run, n: int) -> dict:
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    return {"phase": label, "requests": n, "seconds": round(seconds, 4), "requests_per_s": round(n / seconds, 1),
            "us_per_request": round(1e6 * seconds / n, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--cache", type=Path, default=None, help="cache file to (re)use; default: a temporary one")
    args = parser.parse_args()
    requests = batch(args.requests)
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or Path(tmp) / "llm.sqlite"
        rows = []
        with client(cache, "read-write") as recorder:  # answers missing from the cache are recorded, for real
            rows.append(timed("record (read-write, llama.cpp)", lambda: recorder.map(requests), len(requests)))
            recorded = recorder.stats
        replayers = {c: client(cache, "replay", c) for c in (1, 4, 16)}
        rows.append(timed("replay, complete() one by one", lambda: one_by_one(replayers[1], requests), len(requests)))
        for concurrency, replayer in replayers.items():
            rows.append(timed(f"replay, map() x{concurrency}", lambda r=replayer: r.map(requests), len(requests)))
        for replayer in replayers.values():
            assert not replayer.llm.loaded and replayer.stats.llm_calls == 0  # every answer came from the file
            replayer.close()
        size = cache.stat().st_size
    result = {
        "benchmark": "llm_replay",
        "machine": {
            "cpu_count": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),  # other work on the machine slows the record phase
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf (llama.cpp), max_tokens 8, JSON schema",
        "recorded_llm_calls": recorded.llm_calls,
        "recorded_completion_tokens": recorded.completion_tokens,
        "cache_file_bytes": size,
        "rows": rows,
    }
    print(f"{'phase':<36}{'requests':>9}{'seconds':>10}{'req/s':>10}{'us/req':>10}")
    for row in rows:
        print(
            f"{row['phase']:<36}{row['requests']:>9}{row['seconds']:>10.3f}{row['requests_per_s']:>10.1f}{row['us_per_request']:>10.1f}"
        )
    print(f"cache file: {size / 1e6:.2f} MB for {args.requests} answers; recorded {recorded.llm_calls} LLM calls")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
