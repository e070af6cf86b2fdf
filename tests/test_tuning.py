"""Tuning the local model (issue 10): the torch decoder reproduces llama.cpp on the same GGUF, LoRA adapters
exported as GGUF are applied by llama.cpp exactly as trained, training lowers the loss, resumes exactly, and
the CLI writes an adapter with its provenance. A tiny random llama GGUF with SmolLM2's real tokenizer keeps
most tests fast; the embedded SmolLM2 itself is checked once (slow)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

gguf = pytest.importorskip("gguf")
llama_cpp = pytest.importorskip("llama_cpp")

from dysen_core.chat import ChatMessage  # noqa: E402
from dysen_core.cli import run  # noqa: E402
from dysen_core.demos import POOLS_DIR  # noqa: E402
from dysen_core.llama_loading import open_llama  # noqa: E402
from dysen_core.model_files import embedded_gguf  # noqa: E402
from dysen_core.prompts import planning_messages  # noqa: E402
from dysen_core.tuning.adapter_file import read_adapter_provenance, read_header, write_adapter_gguf  # noqa: E402
from dysen_core.tuning.chat_tokens import ChatTokenizer  # noqa: E402
from dysen_core.tuning.gguf_weights import load_gguf  # noqa: E402
from dysen_core.tuning.llama import PROJECTIONS, LlamaDecoder  # noqa: E402
from dysen_core.tuning.lora import adapter_tensors, attach  # noqa: E402
from dysen_core.tuning.trainer import TuningConfig, TuningRun  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CHAT = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nText: The man locks the door "
        'after he turns off the lights.<|im_end|>\n<|im_start|>assistant\n{"events": [{"agent": "man"')


def write_tiny_llama(path: Path, layers: int = 2, width: int = 32, heads: int = 4, kv_heads: int = 2, ffn: int = 64) -> Path:
    """A random llama GGUF (float32) carrying SmolLM2's tokenizer and chat template."""
    source = gguf.GGUFReader(str(embedded_gguf()))
    vocab = int(source.fields["llama.vocab_size"].contents())
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(layers)
    writer.add_context_length(1024)
    writer.add_embedding_length(width)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(vocab)
    writer.add_rope_dimension_count(width // heads)
    for key, field in source.fields.items():
        if key.startswith("tokenizer."):
            kind = field.types[0]
            extra = {"sub_type": field.types[-1]} if kind == gguf.GGUFValueType.ARRAY else {}
            writer.add_key_value(key, field.contents(), kind, **extra)
    rng = np.random.default_rng(0)
    kv_width = kv_heads * (width // heads)
    shapes = {"attn_q": (width, width), "attn_k": (kv_width, width), "attn_v": (kv_width, width),
              "attn_output": (width, width), "ffn_gate": (ffn, width), "ffn_up": (ffn, width), "ffn_down": (width, ffn)}
    writer.add_tensor("token_embd.weight", (rng.standard_normal((vocab, width)) * 0.5).astype(np.float32))
    writer.add_tensor("output_norm.weight", np.ones(width, np.float32))
    for i in range(layers):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", (1 + 0.1 * rng.standard_normal(width)).astype(np.float32))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", (1 + 0.1 * rng.standard_normal(width)).astype(np.float32))
        for name, shape in shapes.items():
            writer.add_tensor(f"blk.{i}.{name}.weight", (rng.standard_normal(shape) * 0.2).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama.gguf")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A corpus split of four planning demos (so every step trains on the same batch)."""
    folder = tmp_path_factory.mktemp("corpus") / "train"
    folder.mkdir()
    lines = (POOLS_DIR / "planning.jsonl").read_text().splitlines()[:4]
    (folder / "planning.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def llama_cpp_logits(model: Path, tokens: list[int], adapter: Path | None = None) -> np.ndarray:
    llm = open_llama(str(model), logits_all=True, n_ctx=256, verbose=False, lora_path=str(adapter) if adapter else None)
    try:
        llm.eval(tokens)
        return np.array(llm.scores[: len(tokens)])
    finally:
        llm.close()


def torch_logits(model: LlamaDecoder, tokens: list[int]) -> np.ndarray:
    with torch.no_grad():
        return model.logits(model(torch.tensor([tokens]))).numpy()[0]


def tokens_of(model: Path, text: str = CHAT) -> list[int]:
    tokenizer = ChatTokenizer(model)
    try:
        return tokenizer._llama.tokenize(text.encode(), add_bos=False, special=True)
    finally:
        tokenizer.close()


def test_decoder_reproduces_llama_cpp_on_a_float_gguf(tiny_gguf):
    tokens = tokens_of(tiny_gguf)
    model = LlamaDecoder.from_tensors(*load_gguf(tiny_gguf)).eval()
    ours, theirs = torch_logits(model, tokens), llama_cpp_logits(tiny_gguf, tokens)
    assert np.abs(ours - theirs).max() < 2e-2 * np.abs(theirs).max()
    assert (ours.argmax(-1) == theirs.argmax(-1)).mean() >= 0.97


@pytest.mark.slow
def test_decoder_reproduces_llama_cpp_on_the_embedded_smollm2():
    path = embedded_gguf()
    tokens = tokens_of(path)
    model = LlamaDecoder.from_tensors(*load_gguf(path)).eval()
    ours, theirs = torch_logits(model, tokens), llama_cpp_logits(path, tokens)
    # llama.cpp quantises activations for its Q4_1 matmuls, so agreement is close, not exact
    assert np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] > 0.995
    assert (ours.argmax(-1) == theirs.argmax(-1)).mean() >= 0.9


def test_the_fast_header_reader_agrees_with_gguf(tiny_gguf):
    header, reader = read_header(tiny_gguf, "model"), gguf.GGUFReader(str(tiny_gguf))
    assert header.shapes == {t.name: [int(d) for d in t.shape] for t in reader.tensors}
    assert header.strings["general.architecture"] == "llama"
    assert header.strings["tokenizer.chat_template"] == reader.fields["tokenizer.chat_template"].contents()


def test_fresh_lora_changes_nothing(tiny_gguf):
    tokens = tokens_of(tiny_gguf)[:20]
    model = LlamaDecoder.from_tensors(*load_gguf(tiny_gguf)).eval()
    before = torch_logits(model, tokens)
    attach(model, PROJECTIONS, rank=4, alpha=8)
    assert np.array_equal(before, torch_logits(model, tokens))
    assert all(not p.requires_grad for n, p in model.named_parameters() if "lora_" not in n)


def test_exported_adapter_is_applied_by_llama_cpp_as_trained(tiny_gguf, tmp_path):
    tokens = tokens_of(tiny_gguf)
    model = LlamaDecoder.from_tensors(*load_gguf(tiny_gguf)).eval()
    plain = torch_logits(model, tokens)
    adapters = attach(model, PROJECTIONS, rank=4, alpha=8)
    torch.manual_seed(0)
    with torch.no_grad():
        for adapter in adapters.values():
            adapter.lora_b.normal_(0, 0.3)
    tuned = torch_logits(model, tokens)
    path = write_adapter_gguf(tmp_path / "adapter.gguf", adapter_tensors(adapters), 8, {"steps": 0, "seed": 1})
    assert read_adapter_provenance(path) == {"steps": 0, "seed": 1}
    applied = llama_cpp_logits(tiny_gguf, tokens, adapter=path)
    assert np.abs(tuned - plain).max() > 0.5  # the adapter matters ...
    assert np.abs(applied - tuned).max() < 2e-2 * np.abs(tuned).max()  # ... and llama.cpp applies it as trained


def test_chat_tokens_are_what_llama_cpp_feeds_the_model(tiny_gguf):
    messages = planning_messages("A dog runs to the ball and then picks it up.", [], "tuned")
    tokenizer = ChatTokenizer(tiny_gguf)
    try:
        ids = tokenizer.prompt_ids(messages)
        text = tokenizer._llama.detokenize(ids, special=True).decode()
        answer = tokenizer.answer_ids('{"events": []}')
    finally:
        tokenizer.close()
    llm = open_llama(str(tiny_gguf), n_ctx=256, verbose=False)
    try:
        usage = llm.create_chat_completion(
            [{"role": "system", "content": "You are a helpful assistant."}, *({"role": m.role, "content": m.content} for m in messages)],
            max_tokens=1)["usage"]
    finally:
        llm.close()
    assert usage["prompt_tokens"] == len(ids)
    assert text.endswith("Text: A dog runs to the ball and then picks it up.<|im_end|>\n<|im_start|>assistant\n")
    assert answer[-1] == tokenizer.eos


def config(tiny_gguf: Path, corpus: Path, **changes) -> TuningConfig:
    settings = {"base": str(tiny_gguf), "corpus": corpus, "mixture": {"plan": 1.0}, "steps": 6, "batch_size": 4,
                "lr": 0.02, "warmup_steps": 0, "rank": 4, "alpha": 8, "checkpoint_every": 2, "seed": 3}
    return TuningConfig.model_validate({**settings, **changes})


def trained(settings: TuningConfig, out: Path, resume: bool = False) -> TuningRun:
    run = TuningRun(settings, out)
    if resume:
        run.resume()
    run.train()
    run.close()
    return run


def test_training_lowers_the_answer_loss(tiny_gguf, corpus, tmp_path):
    run = trained(config(tiny_gguf, corpus), tmp_path)
    losses = [h["loss"] for h in run.history]
    assert losses[-1] < 0.8 * losses[0]  # the same four examples every step: the loss must fall
    assert all(h["tokens"] > 0 for h in run.history)


class Killed(Exception):
    pass


def kill_at(step: int):
    def progress(now: int, loss: float) -> None:
        if now == step:
            raise Killed

    return progress


def test_resumed_training_ends_where_an_uninterrupted_run_ends(tiny_gguf, corpus, tmp_path):
    settings = config(tiny_gguf, corpus, steps=4)
    straight = trained(settings, tmp_path / "a")
    interrupted = TuningRun(settings, tmp_path / "b")
    with pytest.raises(Killed):
        interrupted.train(kill_at(3))  # killed after step 3; the last checkpoint is step 2's
    interrupted.close()
    resumed = trained(settings, tmp_path / "b", resume=True)
    assert resumed.step == 4
    for name, value in adapter_tensors(straight.adapters).items():
        torch.testing.assert_close(adapter_tensors(resumed.adapters)[name], value, rtol=1e-5, atol=1e-6)
    assert [h["loss"] for h in resumed.history] == pytest.approx([h["loss"] for h in straight.history], rel=1e-4)


def test_resume_refuses_other_settings(tiny_gguf, corpus, tmp_path):
    trained(config(tiny_gguf, corpus, steps=2), tmp_path)
    run = TuningRun(config(tiny_gguf, corpus, steps=4, lr=0.5), tmp_path)
    with pytest.raises(Exception, match="other settings"):
        run.resume()
    run.close()


def test_cli_trains_and_exports_an_adapter_with_provenance(tiny_gguf, corpus, tmp_path, capsys):
    settings = tmp_path / "tune.yaml"
    settings.write_text(f"base: {tiny_gguf}\ncorpus: {corpus}\nmixture: {{plan: 1.0}}\nsteps: 2\nbatch_size: 2\nrank: 2\n")
    out = tmp_path / "run"
    assert run(["planner", "train", "--config", str(settings), "--out", str(out), "--set", "seed=5"]) == 0
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["steps"] == 2 and provenance["seed"] == 5
    assert provenance["data"]["files"]["planning.jsonl"]["bytes"] == (corpus / "planning.jsonl").stat().st_size
    assert read_adapter_provenance(out / "adapter.gguf") == provenance
    assert run(["planner", "train", "--config", str(settings), "--out", str(out)]) == 2  # a run is there already
    assert "already holds a run" in capsys.readouterr().err
    assert run(["planner", "train", "--config", str(settings), "--out", str(tmp_path / "x"), "--set", "rank=0"]) == 2
    assert run(["planner", "train", "--config", str(settings), "--out", str(tmp_path / "y"),
                "--set", f"corpus={tmp_path}"]) == 2  # no planning.jsonl there


def test_llama_cpp_llm_applies_a_given_adapter_and_names_it_in_its_cache_identity(tiny_gguf, corpus, tmp_path):
    llm_local = pytest.importorskip("dysen_plugin_llm_local.llama_cpp_llm")
    out = tmp_path / "run"
    trained(config(tiny_gguf, corpus, steps=2), out).export()
    plain = llm_local.LlamaCppLLM(llm_local.LlamaCppLLM.Options(model=str(tiny_gguf)))
    assert plain.adapter_path is None  # 'auto' adds the shipped adapter only to the embedded model
    tuned = llm_local.LlamaCppLLM(llm_local.LlamaCppLLM.Options(model=str(tiny_gguf), adapter=str(out / "adapter.gguf"),
                                                                max_tokens=8))
    assert tuned.cache_identity()["adapter"].startswith("adapter.gguf:")
    assert "adapter" not in plain.cache_identity()
    with tuned:
        assert tuned.complete([ChatMessage(role="user", content="hi")]).usage.completion_tokens > 0
    from dysen_core.errors import ConfigError

    with pytest.raises(ConfigError, match="no adapter file"):
        llm_local.LlamaCppLLM(llm_local.LlamaCppLLM.Options(model=str(tiny_gguf), adapter=str(tmp_path / "none.gguf")))
    broken = tmp_path / "broken.gguf"
    shutil.copy(corpus / "planning.jsonl", broken)  # llama.cpp itself would accept it and crash later
    with pytest.raises(ConfigError, match="not a readable GGUF adapter"):
        llm_local.LlamaCppLLM(llm_local.LlamaCppLLM.Options(model=str(tiny_gguf), adapter=str(broken)))
    with pytest.raises(ConfigError, match="not a LoRA adapter"):
        llm_local.LlamaCppLLM(llm_local.LlamaCppLLM.Options(model=str(tiny_gguf), adapter=str(tiny_gguf)))
    with pytest.raises(ConfigError, match="does not fit"):  # an adapter for another model's shapes
        llm_local.LlamaCppLLM(llm_local.LlamaCppLLM.Options(model=str(embedded_gguf()), adapter=str(out / "adapter.gguf")))


@pytest.mark.slow
def test_the_default_preset_plans_with_the_shipped_adapter():
    """The offline default as a user gets it: the embedded SmolLM2 with the shipped adapter, one-line prompt."""
    pytest.importorskip("dysen_plugin_llm_local")
    from dysen_core.config import load_config
    from dysen_core.grounding import WORD
    from dysen_core.scene_manager import SceneManager

    with SceneManager(load_config(preset="default")) as manager:
        assert manager.llm.cache_identity()["adapter"].startswith("dysen-planner-smollm2-135m.gguf:")
        result = manager.run("The man locks the door after he turns off the lights and grabs his keys.", plan_only=True)
    events = {(e.agent, e.predicate, e.target): e for e in result.plan.events}
    turns_off, locks = events[("man", "turns off", "lights")], events[("man", "locks", "door")]
    assert turns_off.end <= locks.start  # "after" respected
    words = set(WORD.findall(result.plan.prompt.lower()))
    assert all(set(WORD.findall(name.lower())) <= words for e in result.plan.events for name in e.triplet if name)  # grounded
    assert result.manifest["llm_requests"] == 1
