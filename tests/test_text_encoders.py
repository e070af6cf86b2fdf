"""Text encoders behind the ``text_encoder`` protocol: random (seeded), MiniLM (offline wheel), CLIP (local folder)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from dysen_core import ConfigError, InputError
from dysen_core.plugins import new_plugin_manager
from dysen_core.protocols import TextEncoder
from dysen_core.registry import Registry
from dysen_core.text_encoders import CLIPTextEncoder, MiniLMTextEncoder, RandomTextEncoder


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.from_manager(new_plugin_manager(load_entry_points=False))


def test_core_registers_its_text_encoders(registry):
    assert registry.names("text_encoder") == ["clip", "minilm", "random"]
    encoder = registry.create("text_encoder", "random", {"dim": 12, "seed": 5})
    assert isinstance(encoder, TextEncoder) and encoder.dim == 12
    assert registry.create("text_encoder", "minilm").name == "minilm"  # building loads no model (reading .dim would)
    with pytest.raises(ConfigError, match=r"text_encoder.options.dimension"):
        registry.create("text_encoder", "random", {"dimension": 12})


def test_importing_the_text_encoders_does_not_import_torch():
    code = "import sys, dysen_core.default_plugins.text_encoders, dysen_core.text_encoders, dysen_core.graph_features; "
    subprocess.run([sys.executable, "-c", code + "assert 'torch' not in sys.modules"], check=True)


def test_random_encoder_is_seeded_and_compositional():
    a = RandomTextEncoder(RandomTextEncoder.Options(dim=64, seed=1))
    b = RandomTextEncoder(RandomTextEncoder.Options(dim=64, seed=1))
    c = RandomTextEncoder(RandomTextEncoder.Options(dim=64, seed=2))
    texts = ["a lady drinking coffee", "a lady", "window", ""]
    vectors = a.embed(texts)
    assert vectors.shape == (4, 64) and torch.isfinite(vectors).all()
    assert torch.equal(vectors, b.embed(texts)) and not torch.allclose(vectors, c.embed(texts))
    torch.testing.assert_close(vectors.norm(dim=-1), torch.ones(4))
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3  # shared words, closer vectors
    assert torch.equal(a.embed(["Lady!"])[0], a.embed(["lady !"])[0])  # lower-cased, punctuation is a token


def test_random_encoder_tokens():
    encoder = RandomTextEncoder(RandomTextEncoder.Options(dim=8, max_tokens=4))
    features, mask = encoder.tokens(["a lady", "", "one two three four five"])
    assert features.shape == (3, 4, 8) and mask.tolist() == [
        [True, True, True, False], [True, False, False, False], [True, True, True, True],
    ]
    assert features[~mask].abs().max() == 0
    torch.testing.assert_close(features[0, 0], features[1, 0])  # every text starts with <s>
    empty_features, empty_mask = encoder.tokens([])
    assert empty_features.shape == (0, 0, 8) and empty_mask.shape == (0, 0)


@pytest.mark.parametrize("encoder", [RandomTextEncoder(), MiniLMTextEncoder(), CLIPTextEncoder()])
def test_a_single_string_is_rejected(encoder):
    with pytest.raises(InputError, match="takes a list of strings"):
        encoder.embed("a lady")


def test_unloadable_clip_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"text_encoder.options.model '.*nowhere' could not be loaded"):
        CLIPTextEncoder(CLIPTextEncoder.Options(model=str(tmp_path / "nowhere"))).embed(["x"])


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> str:
    """A seeded random CLIP text model with a byte-level tokenizer, saved like a downloaded one."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    folder = tmp_path_factory.mktemp("tiny-clip")
    chars = list(bytes_to_unicode().values())
    tokens = [*chars, *(c + "</w>" for c in chars), "<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(tokens)}
    CLIPTokenizer(vocab=vocab, merges=[]).save_pretrained(folder)
    config = CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=77, bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
        pad_token_id=vocab["<|endoftext|>"],
    )
    torch.manual_seed(0)
    CLIPTextModel(config).save_pretrained(folder)
    return str(folder)


def test_clip_from_a_local_folder(tiny_clip, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = CLIPTextEncoder(CLIPTextEncoder.Options(model=tiny_clip, max_tokens=8, batch_size=2))
    texts = ["a lady", "a lady drinking coffee by the window", "hi"]
    vectors = encoder.embed(texts)
    features, mask = encoder.tokens(texts)
    assert encoder.dim == 32 and vectors.shape == (3, 32) and torch.isfinite(vectors).all()
    assert features.shape == (3, 8, 32) and mask.sum(-1).tolist() == [7, 8, 4]  # <s> + bytes + </s>, cut at 8
    assert features[~mask].abs().max() == 0
    torch.testing.assert_close(encoder.embed(texts[:1]), vectors[:1], rtol=1e-5, atol=1e-5)  # batching-independent


@pytest.mark.slow
def test_minilm_offline_from_the_wheel(tmp_path, monkeypatch):
    """The packaged all-MiniLM-L6-v2, no hub access, run by ``sentence_bert``: the vectors and token features
    sentence-transformers gives for the same folder."""
    from sentence_transformers import SentenceTransformer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"text_encoder.options.model_path '.*nowhere' is not a BERT sentence-embedding"):
        MiniLMTextEncoder(MiniLMTextEncoder.Options(model_path=str(tmp_path / "nowhere"))).embed(["x"])
    encoder = MiniLMTextEncoder(MiniLMTextEncoder.Options(batch_size=2))
    texts = ["a lady drinking coffee", "a woman sipping coffee", "a truck on a highway"]
    vectors = encoder.embed(texts)
    assert encoder.dim == 384 and vectors.shape == (3, 384)
    torch.testing.assert_close(vectors.norm(dim=-1), torch.ones(3))
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    reference = SentenceTransformer(str(encoder.folder), device="cpu")
    reference.max_seq_length = encoder.options.max_tokens
    torch.testing.assert_close(reference.encode(texts, convert_to_tensor=True), vectors, rtol=1e-4, atol=1e-5)
    features, mask = encoder.tokens(texts)
    expected = reference.encode(texts, output_value="token_embeddings")
    for row, n, want in zip(features, mask.sum(-1).tolist(), expected):
        torch.testing.assert_close(row[:n], want[:n], rtol=1e-4, atol=1e-4)
    assert features.shape[0] == 3 and features.shape[2] == 384 and mask[:, 0].all()
    assert mask.sum(-1).tolist() == [6, 6, 7]  # [CLS] words [SEP]
    assert features[~mask].abs().max() == 0
