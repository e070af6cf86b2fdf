"""LLMClient around the real local model (SmolLM2 through llama.cpp): cache modes, record/replay, batches,
accounting, and the guard that keeps keys out of cache keys. Retries against a faulty server are tested
in tests/plugins/test_llm_openai.py.
"""

from __future__ import annotations

import json
import random

import pytest

from dysen_core.chat import ChatMessage, ChatRequest
from dysen_core.errors import LLMError, PluginError, ReplayMissError
from dysen_core.llm_client import LLMClient, LLMClientOptions
from dysen_core.protocols import LLM

pytest.importorskip("dysen_plugin_llm_local")
from dysen_plugin_llm_local.llama_cpp_llm import LlamaCppLLM  # noqa: E402

QUESTION = [ChatMessage(role="user", content="Name one fruit.")]
SCHEMA = {"type": "object", "properties": {"fruit": {"type": "string"}}, "required": ["fruit"]}


def local_llm() -> LlamaCppLLM:
    return LlamaCppLLM(LlamaCppLLM.Options(max_tokens=24, n_ctx=1024, n_threads=1))


def client(tmp_path, mode: str, **options) -> LLMClient:
    return LLMClient(local_llm(), LLMClientOptions(cache_mode=mode, cache_path=tmp_path / "llm.sqlite", **options))


def test_read_write_answers_a_repeat_from_the_cache(tmp_path):
    with client(tmp_path, "read-write") as llm:
        first = llm.complete(QUESTION)
        again = llm.complete(QUESTION)
        stats = llm.stats
    assert first.text.strip() and again == first
    assert (stats.requests, stats.cache_hits, stats.llm_calls, stats.failures) == (2, 1, 1, 0)
    assert stats.prompt_tokens == first.usage.prompt_tokens > 0 and stats.latency_s > 0


def test_replay_serves_recorded_answers_without_loading_the_model(tmp_path):
    with client(tmp_path, "record") as recorder:
        recorded = recorder.complete(QUESTION, json_schema=SCHEMA)
    assert isinstance(json.loads(recorded.text)["fruit"], str)

    replayer = client(tmp_path, "replay")
    assert replayer.complete(QUESTION, json_schema=SCHEMA) == recorded
    assert not replayer.llm.loaded  # the answer came from the file, the model never loaded
    with pytest.raises(ReplayMissError, match=r"^replay: no recorded answer for llm 'llama-cpp' request [0-9a-f]{12}"):
        replayer.complete(QUESTION)  # same messages, no schema: another request
    assert replayer.stats.failures == 1 and replayer.stats.llm_calls == 0
    replayer.close()


def test_record_mode_always_asks_and_off_mode_keeps_no_file(tmp_path):
    with client(tmp_path, "record") as recorder:
        recorder.complete(QUESTION)
        recorder.complete(QUESTION)
        assert recorder.stats.llm_calls == 2 and recorder.stats.cache_hits == 0
    with client(tmp_path / "off", "off") as plain:
        plain.complete(QUESTION)
        assert plain.cache is None and plain.manifest()["cache_path"] is None
    assert not (tmp_path / "off").exists()


def test_answers_are_deterministic_across_fresh_models(tmp_path):
    texts = {client(tmp_path / str(i), "off").complete(QUESTION).text for i in range(2)}
    assert len(texts) == 1


def test_map_keeps_order_and_reports_per_prompt_failures(tmp_path):
    fruits = ["apple", "pear", "plum"]
    requests = [ChatRequest(messages=[ChatMessage(role="user", content=f"Say the word {f}.")]) for f in fruits]
    with client(tmp_path, "read-write", max_concurrency=2) as recorder:
        recorded = recorder.map(requests)
    direct = [client(tmp_path / "direct", "off").complete(r.messages) for r in requests]
    assert [c.text for c in recorded] == [c.text for c in direct]

    missing = ChatRequest(messages=[ChatMessage(role="user", content="Say the word fig.")])
    with client(tmp_path, "replay", max_concurrency=3) as replayer:
        mixed = replayer.map([requests[0], missing, requests[2]], return_exceptions=True)
        assert [type(r).__name__ for r in mixed] == ["Completion", "ReplayMissError", "Completion"]
        assert mixed[0] == recorded[0] and mixed[2] == recorded[2]
        with pytest.raises(ReplayMissError):
            replayer.map([requests[0], missing])


def test_backoff_doubles_with_jitter_and_respects_retry_after(tmp_path):
    llm = client(tmp_path, "off", backoff_s=0.5, max_backoff_s=3.0)
    llm._rng = random.Random(0)
    for attempt, step in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (9, 3.0)]:
        waits = [llm._backoff(attempt, None) for _ in range(50)]
        assert all(step / 2 <= w <= step for w in waits) and max(waits) - min(waits) > 0
    assert llm._backoff(1, 2.5) == 2.5  # the server asked for longer than our step
    assert llm._backoff(1, 100.0) == 3.0  # but never longer than max_backoff_s


def test_close_frees_the_model_and_manifest_has_accounting(tmp_path):
    llm = client(tmp_path, "read-write")
    llm.complete(QUESTION)
    assert llm.llm.loaded
    manifest = llm.manifest()
    llm.close()
    assert not llm.llm.loaded
    assert isinstance(llm, LLM) and isinstance(llm.llm, LLM)  # a client is an LLM too, so stages cannot tell
    assert manifest["name"] == "llama-cpp" and manifest["cache_mode"] == "read-write"
    assert manifest["identity"]["model"].startswith("SmolLM2-135M-Instruct.Q4_1.gguf:")
    assert manifest["stats"]["llm_calls"] == 1 and manifest["stats"]["completion_tokens"] > 0
    json.dumps(manifest)  # embeddable as is


def test_a_backend_that_leaks_a_key_into_its_identity_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SOME_PROVIDER_API_KEY", "pk-live-0123456789abcdef")

    class LeakyLLM(LlamaCppLLM):
        def cache_identity(self):
            return {**super().cache_identity(), "auth": "pk-live-0123456789abcdef"}

    with pytest.raises(PluginError, match=r"llm 'llama-cpp' puts a secret in its cache_identity\(\)") as info:
        LLMClient(LeakyLLM(), LLMClientOptions(cache_mode="off"))
    assert "0123456789abcdef" not in str(info.value)


def test_a_prompt_longer_than_the_context_is_a_one_line_error(tmp_path):
    small = LLMClient(
        LlamaCppLLM(LlamaCppLLM.Options(n_ctx=256, max_tokens=8, n_threads=1)), LLMClientOptions(cache_mode="off")
    )
    with pytest.raises(
        LLMError, match=r"llm 'llama-cpp' \(SmolLM2-135M-Instruct.Q4_1.gguf\) rejected the request"
    ) as info:
        small.complete([ChatMessage(role="user", content="apple " * 400)])
    assert "\n" not in str(info.value) and small.stats.failures == 1 and small.stats.retries == 0
