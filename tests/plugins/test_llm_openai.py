"""The llm_openai plugin: litellm against a real OpenAI-compatible server on 127.0.0.1 (llama.cpp's server
running the SmolLM2 GGUF), through a proxy that injects 429, 5xx, timeouts, cut connections and bad bodies.
Covers retries, bounded concurrency, the one-line errors of the issue, and keeping keys out of everything.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:pydantic")  # litellm's own models warn on import
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # as the plugin does: never fetch prices online
pytest.importorskip("litellm")
pytest.importorskip(
    "llama_cpp.server.app", reason="needs llama.cpp's server: pip install -e 'plugins/llm_openai[test]'"
)

import dysen_plugin_llm_openai  # noqa: E402
from llm_servers import FaultProxy, free_port, llama_server  # noqa: E402

from dysen_core.chat import ChatMessage, ChatRequest  # noqa: E402
from dysen_core.errors import ConfigError, LLMError, LLMRetryableError  # noqa: E402
from dysen_core.llm_client import LLMClient, LLMClientOptions  # noqa: E402
from dysen_core.model_files import embedded_gguf  # noqa: E402
from dysen_core.protocols import LLM  # noqa: E402
from dysen_core.registry import Registry  # noqa: E402

PLUGIN = dysen_plugin_llm_openai  # what the `registry` fixture (tests/plugins/conftest.py) loads

KEY_ENV = "DYSEN_TEST_LLM_API_KEY"
KEY = "sk-dysen-test-5f1c0a9e77d24b0c"  # the server's key; must never show up in files or messages
QUESTION = [ChatMessage(role="user", content="Name one fruit.")]
SCHEMA = {"type": "object", "properties": {"fruit": {"type": "string"}}, "required": ["fruit"]}
FAST_RETRIES = {"backoff_s": 0.01, "max_backoff_s": 0.05}


@pytest.fixture(scope="session")
def server() -> str:
    """One llama.cpp server for the whole test session."""
    with llama_server(embedded_gguf(), api_key=KEY) as base:
        yield base


@pytest.fixture
def proxy(server):
    with FaultProxy(server) as fault_proxy:
        yield fault_proxy


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


def make(registry: Registry, api_base: str, **options):
    settings = {"model": "openai/smollm2", "api_base": api_base, "api_key_env": KEY_ENV, "max_tokens": 16,
                "response_format": "json_object", "timeout_s": 60, **options}  # fmt: skip
    return registry.create("llm", "litellm", settings)


def client(llm, tmp_path=None, **options) -> LLMClient:
    mode = {"cache_mode": "read-write", "cache_path": tmp_path / "llm.sqlite"} if tmp_path else {"cache_mode": "off"}
    return LLMClient(llm, LLMClientOptions(**mode, **FAST_RETRIES, **options))


def test_hook_registers_litellm_and_real_answers_come_back(registry, proxy):
    assert registry.names("llm") == ["litellm"]
    llm = make(registry, proxy.base)
    assert isinstance(llm, LLM)
    first, second = llm.complete(QUESTION), llm.complete(QUESTION)
    assert first.text.strip() and first.text == second.text  # temperature 0
    assert first.usage.prompt_tokens > 0 and 0 < first.usage.completion_tokens <= 16 and first.model == "smollm2"
    assert proxy.auth_headers == [f"Bearer {KEY}"] * 2  # the key from the environment was sent


def test_json_schema_answers_parse(registry, proxy):
    answer = make(registry, proxy.base, max_tokens=24).complete(QUESTION, json_schema=SCHEMA)
    assert isinstance(json.loads(answer.text)["fruit"], str)


@pytest.mark.parametrize("fault", ["429", "500", "503", "cut", "malformed", "no-choices", "timeout"])
def test_each_fault_is_retried_until_a_real_answer(registry, proxy, fault):
    # a "timeout" request hangs until the proxy stops; 3 s is far longer than a real answer takes
    llm = client(make(registry, proxy.base, timeout_s=3 if fault == "timeout" else 60), max_attempts=3)
    faults = [fault] if fault == "timeout" else [fault, fault]
    proxy.inject(*faults)
    answer = llm.complete(QUESTION)
    assert answer.text.strip() and proxy.requests == len(faults) + 1
    stats = llm.stats
    assert (stats.llm_calls, stats.retries, stats.failures) == (len(faults) + 1, len(faults), 0)


def test_giving_up_is_one_line_that_names_the_endpoint(registry, proxy):
    llm = client(make(registry, proxy.base), max_attempts=3)
    proxy.inject("503", "503", "503", "503")
    with pytest.raises(
        LLMRetryableError,
        match=r"failed for model 'openai/smollm2' \(HTTP 503: injected 503\) \(gave up after 3 attempts\)",
    ) as info:
        llm.complete(QUESTION)
    assert "\n" not in str(info.value) and proxy.requests == 3 and llm.stats.failures == 1


def test_concurrency_is_bounded(registry, proxy):
    llm = client(make(registry, proxy.base, max_tokens=4), max_concurrency=2)
    proxy.inject(*["slow"] * 6)
    requests = [ChatRequest(messages=[ChatMessage(role="user", content=f"Count to {i}.")]) for i in range(6)]
    answers = llm.map(requests)
    assert len(answers) == 6 and all(a.text for a in answers)
    assert proxy.max_in_flight == 2  # parallel, and never more than the bound


def test_wrong_key_is_one_line_without_the_key_and_not_retried(registry, proxy, monkeypatch):
    wrong = "sk-wrong-0123456789abcdef"
    monkeypatch.setenv(KEY_ENV, wrong)
    llm = client(make(registry, proxy.base))
    with pytest.raises(
        LLMError,
        match=rf"{proxy.base} rejected the API key for model 'openai/smollm2' \(HTTP 401\); set {KEY_ENV} to a valid",
    ) as info:
        llm.complete(QUESTION)
    assert not isinstance(info.value, LLMRetryableError) and proxy.requests == 1
    assert wrong not in str(info.value) and KEY not in str(info.value) and "\n" not in str(info.value)


def test_unreachable_api_base(registry):
    base = f"http://127.0.0.1:{free_port()}/v1"
    llm = client(make(registry, base), max_attempts=2)
    reason = r"\(Connection error.\); check api_base and the server \(gave up after 2 attempts\)"
    with pytest.raises(LLMRetryableError, match=rf"^cannot reach {base} for model 'openai/smollm2' {reason}$"):
        llm.complete(QUESTION)


def test_model_litellm_does_not_know(registry, proxy):
    with pytest.raises(LLMError, match=r"litellm does not know model 'gpt-9-unknown'; use a litellm model string"):
        make(registry, proxy.base, model="gpt-9-unknown").complete(QUESTION)
    assert proxy.requests == 0


def test_missing_keys_say_which_variable_to_set(registry, proxy, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(
        LLMError, match=rf"llm.options.api_key_env names {KEY_ENV}, which is not set; export {KEY_ENV}=<key>"
    ):
        make(registry, proxy.base).complete(QUESTION)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    hosted = registry.create("llm", "litellm", {"model": "gpt-4o-mini"})
    with pytest.raises(LLMError, match=r"model 'gpt-4o-mini' needs OPENAI_API_KEY in the environment; export it"):
        hosted.complete(QUESTION)
    assert proxy.requests == 0


def test_bad_options_are_config_errors_that_never_echo_a_pasted_key(registry):
    with pytest.raises(ConfigError, match=r"llm.options.api_base: Value error, api_base must start with http"):
        registry.create("llm", "litellm", {"model": "openai/x", "api_base": "127.0.0.1:8080"})
    from dysen_plugin_llm_openai.litellm_llm import LiteLLM

    with pytest.raises(ValueError, match=r"api_key_env must be the NAME of an environment variable") as info:
        LiteLLM.Options(model="openai/x", api_key_env=KEY)
    assert KEY not in str(info.value)


def test_the_key_never_reaches_the_cache_the_manifest_a_log_or_a_repr(registry, proxy, tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    llm = client(make(registry, proxy.base), tmp_path)
    llm.complete(QUESTION)
    llm.complete(QUESTION, json_schema=SCHEMA)
    proxy.inject("500", "429")
    llm.complete([ChatMessage(role="user", content="Name one colour.")])  # errors and retries get logged, if at all
    manifest = json.dumps(llm.manifest())
    llm.close()
    assert proxy.auth_headers == [f"Bearer {KEY}"] * 5, llm.stats
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())  # the database, its WAL and shm files
    assert b"openai/smollm2" in stored and KEY.encode() not in stored
    assert KEY not in manifest and KEY not in repr(llm.llm) and KEY not in json.dumps(llm.cache_identity())
    out, err = capfd.readouterr()
    assert KEY not in caplog.text and KEY not in out and KEY not in err


REPLAY = textwrap.dedent(
    """
    import sys
    from dysen_core.chat import ChatMessage
    from dysen_core.llm_client import LLMClient, LLMClientOptions
    from dysen_plugin_llm_openai.litellm_llm import LiteLLM
    options = LiteLLM.Options(model="openai/smollm2", api_base=sys.argv[2], api_key_env="UNSET_KEY_VAR",
                              max_tokens=16, response_format="json_object", timeout_s=10)
    llm = LLMClient(LiteLLM(options), LLMClientOptions(cache_mode="replay", cache_path=sys.argv[1]))
    print(llm.complete([ChatMessage(role="user", content="Name one fruit.")]).text)
    assert "litellm" not in sys.modules, "replay imported litellm"
    """
)


def test_replay_needs_neither_the_server_nor_litellm(registry, server, tmp_path):
    with FaultProxy(server) as recording_proxy:  # stopped once recorded
        base = recording_proxy.base
        recorded = client(make(registry, base), tmp_path).complete(QUESTION)
    out = subprocess.run(
        [sys.executable, "-c", REPLAY, str(tmp_path / "llm.sqlite"), base],
        capture_output=True, text=True, timeout=60, env={"PATH": "", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip("\n") == recorded.text
