"""The backbone_diffusers plugin (issue 9): a DSG reaches existing diffusers text-to-video pipelines without training.

Every pipeline here is built in the test from tiny random configs (a character-level CLIP tokenizer made from a vocab,
2-level UNets, 1-block VAEs), saved to a folder and loaded back by the backbone: no download, CPU only.
"""

from __future__ import annotations

import json
from pathlib import Path

import dysen_plugin_backbone_diffusers
import numpy as np
import pytest
import torch
from dysen_plugin_backbone_diffusers.conditioning import frame_weights
from dysen_plugin_backbone_diffusers.render import frame_texts, graph_sentence

from dysen_core import ConfigError, DynamicSceneGraph, InputError, SceneGraph
from dysen_core.cli import run
from dysen_core.config import load_config
from dysen_core.video_model import build_backbone

PLUGIN = dysen_plugin_backbone_diffusers  # what the `registry` fixture (tests/plugins/conftest.py) loads

TOKENS = 64  # tokens per caption (the tiny tokenizer's model_max_length; one per character)
WIDTH = 16  # text width = the UNets' cross_attention_dim
pytestmark = pytest.mark.usefixtures("one_torch_thread")


# -- tiny pipelines ----------------------------------------------------------------------------------------------


def clip_parts():
    """A character-level CLIP tokenizer built from a vocab (no files) and a 1-layer CLIP text encoder."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz,.;:'-0123456789":
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=TOKENS)
    config = CLIPTextConfig(vocab_size=len(vocab), hidden_size=WIDTH, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                            max_position_embeddings=TOKENS, bos_token_id=0, eos_token_id=1, pad_token_id=1)
    return tokenizer, CLIPTextModel(config)


def tiny_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(block_out_channels=[8], in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"],
                         up_block_types=["UpDecoderBlock2D"], latent_channels=4, norm_num_groups=4, sample_size=16)


UNET = {"block_out_channels": (8, 16), "layers_per_block": 1, "sample_size": 8, "in_channels": 4, "out_channels": 4,
        "cross_attention_dim": WIDTH, "attention_head_dim": 4, "norm_num_groups": 4}


def text_to_video_sd():
    """ModelScope / Zeroscope's pipeline class at toy size."""
    from diffusers import DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel

    torch.manual_seed(0)
    unet = UNet3DConditionModel(down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"), up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
                                **UNET)
    tokenizer, text_encoder = clip_parts()
    return TextToVideoSDPipeline(vae=tiny_vae(), text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=DDIMScheduler())


def animatediff():
    """AnimateDiff: a 2D UNet plus a motion adapter, merged into a UNetMotionModel by the pipeline."""
    from diffusers import AnimateDiffPipeline, DDIMScheduler, MotionAdapter, UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
                                **UNET)
    adapter = MotionAdapter(block_out_channels=(8, 16), motion_layers_per_block=1, motion_norm_num_groups=4, motion_num_attention_heads=2,
                            motion_max_seq_length=32)
    tokenizer, text_encoder = clip_parts()
    return AnimateDiffPipeline(vae=tiny_vae(), text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, motion_adapter=adapter,
                               scheduler=DDIMScheduler())


def wan():
    """Wan 2.1: a DiT with no per-frame text entry point (text tokens are attended by every video token)."""
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel
    from transformers import T5Tokenizer, UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    tokenizer = T5Tokenizer()  # transformers 5 builds a minimal vocabulary without files
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=len(tokenizer), d_model=WIDTH, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                                               relative_attention_num_buckets=8))
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True])
    transformer = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8, in_channels=16, out_channels=16,
                                        text_dim=WIDTH, freq_dim=16, ffn_dim=16, num_layers=1, cross_attn_norm=True,
                                        qk_norm="rms_norm_across_heads", rope_max_seq_len=32)
    return WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, transformer=transformer, vae=vae,
                       scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """``saved(name)``: the folder of tiny pipeline ``name``, built and saved once per module."""
    builders = {"t2v": text_to_video_sd, "animatediff": animatediff, "wan": wan}
    folders: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in folders:
            folders[name] = tmp_path_factory.mktemp(name)
            builders[name]().save_pretrained(folders[name])
        return folders[name]

    return get


def backbone(registry, folder: Path, frames: int = 6, **options):
    """The ``diffusers`` backbone resolved by name from a run config, as `dysen generate` builds it."""
    options = {"model": str(folder), "device": "cpu", "diffusion": {"sampling_steps": 2}, **options}
    config = load_config(overrides=[f"video={json.dumps({'frames': frames, 'height': 16, 'width': 16})}",
                                    f"backbone={json.dumps({'name': 'diffusers', 'options': options})}",
                                    "text_encoder=null", "graph_encoder=null"])
    return build_backbone(config, registry)


def sg(*relations, attributes=()):
    objects = [name for s, _, o in relations for name in (s, o)] + [o for o, _ in attributes]
    return SceneGraph(objects=objects, relations=list(relations), attributes=list(attributes))


# Three segments over four scene graphs: with 6 frames, frame f reads SG floor(4f/6) = 0 0 1 2 2 3, i.e. segments 0 0 1 1 1 2.
DSG = DynamicSceneGraph(prompt="a cat and a table", frames=[
    sg(("cat", "sits on", "floor")), sg(("cat", "jumps onto", "table")), sg(("cat", "jumps onto", "table")),
    sg(("cat", "falls off", "table"), attributes=[("cat", "scared")]),
])
SEGMENT_OF_FRAME = [0, 0, 1, 1, 1, 2]


class Capture:
    """What the first text cross-attention layer's key projection reads: the context each frame-row attends to."""

    def __init__(self, unet):
        from diffusers.models.attention_processor import Attention

        layer = next(m for m in unet.modules() if isinstance(m, Attention) and m.is_cross_attention)
        self.calls: list[torch.Tensor] = []
        self.handle = layer.to_k.register_forward_hook(lambda _m, args, _out: self.calls.append(args[0].detach().clone()))

    def first(self) -> torch.Tensor:
        self.handle.remove()
        return self.calls[0]


# -- the DSG as captions ------------------------------------------------------------------------------------------


def test_scene_graphs_become_captions_and_frames_share_them_per_segment():
    assert graph_sentence(DSG.frames[3]) == "cat falls off table, cat scared"
    assert graph_sentence(SceneGraph(objects=["window"])) == "window"
    texts = frame_texts("a cat and a table", DSG, 6)
    assert texts.texts == ["a cat and a table; cat sits on floor", "a cat and a table; cat jumps onto table",
                           "a cat and a table; cat falls off table, cat scared"]
    assert texts.frame_text == SEGMENT_OF_FRAME
    assert frame_texts("a dog", None, 3).texts == ["a dog"] and frame_texts("a dog", None, 3).frame_text == [0, 0, 0]
    assert frame_texts("p", DSG, 6, include_prompt=False).texts[0] == "cat sits on floor"


def test_blending_ramps_linearly_across_boundaries_only():
    hard = frame_weights([0, 0, 0, 1, 1, 1], 2, blend=0)
    assert torch.equal(hard, torch.tensor([[1.0, 0.0]] * 3 + [[0.0, 1.0]] * 3))
    soft = frame_weights([0, 0, 0, 0, 1, 1, 1, 1], 2, blend=1)
    assert torch.allclose(soft[:, 1], torch.tensor([0, 0, 0, 1 / 3, 2 / 3, 1, 1, 1]))
    assert torch.allclose(soft.sum(dim=1), torch.ones(8))


# -- per-frame conditioning ---------------------------------------------------------------------------------------


def test_each_frame_reads_its_own_scene_graph_in_text_to_video_sd(registry, saved):
    model = backbone(registry, saved("t2v"))
    capture = Capture(model.pipe.unet)
    videos = model.generate([DSG.prompt, "a dog runs"], [DSG, None], seed=0)
    context = capture.first()  # (2 halves · B · F, S, D): negative first (the pipeline's CFG order), frames fastest
    assert context.shape == (2 * 2 * 6, TOKENS, WIDTH)
    negative, positive = context.view(2, 2, 6, TOKENS, WIDTH)
    expected, _ = model.pipe.encode_prompt(frame_texts(DSG.prompt, DSG, 6).texts + ["a dog runs"], "cpu", 1, False)
    for f, segment in enumerate(SEGMENT_OF_FRAME):
        assert torch.allclose(positive[0, f], expected[segment], atol=1e-6)  # frame f got its segment's caption
        assert torch.allclose(positive[1, f], expected[3], atol=1e-6)  # no DSG: the plain prompt on every frame
    assert not torch.allclose(positive[0, 1], positive[0, 2]) and not torch.allclose(positive[0, 4], positive[0, 5])
    assert torch.allclose(negative, negative[0, 0].expand_as(negative))  # one unconditional context everywhere
    assert [v.shape for v in videos] == [(6, 16, 16, 3)] * 2 and all(v.dtype == np.uint8 for v in videos)
    described = model.describe()
    assert described["injection"] == "per-frame" and described["pipeline"] == "TextToVideoSDPipeline"
    assert described["warnings"] == [] and described["guidance_scale"] == 9.0  # the pipeline's own default


def test_generation_is_seeded_per_prompt_and_plain_text_matches_the_unwrapped_pipeline(registry, saved):
    model = backbone(registry, saved("t2v"), frames=4)
    first = model.generate(["a cat", "a dog"], [None, None], seed=3)
    again = model.generate(["a dog"], [None], seed=4)  # prompt 2 of the first call was seeded 3 + 1
    assert np.array_equal(first[1], again[0])
    plain = model.pipe("a dog", num_frames=4, height=16, width=16, num_inference_steps=2, output_type="pt",
                       generator=torch.Generator().manual_seed(4)).frames[0]
    assert np.abs(plain.permute(0, 2, 3, 1).numpy() * 255 - again[0].astype(np.float32)).max() <= 1.0


def test_animatediff_gets_per_frame_contexts_and_prompt_travel(registry, saved):
    model = backbone(registry, saved("animatediff"))
    capture = Capture(model.pipe.unet)
    video = model.generate([DSG.prompt], [DSG], seed=0)[0]
    negative, positive = capture.first().view(2, 6, TOKENS, WIDTH)
    for f in range(5):
        same = SEGMENT_OF_FRAME[f] == SEGMENT_OF_FRAME[f + 1]
        assert torch.allclose(positive[f], positive[f + 1]) == same
    assert video.shape == (6, 16, 16, 3) and video.dtype == np.uint8

    travel = backbone(registry, saved("animatediff"), injection="prompt-travel")
    assert travel._travel(frame_texts(DSG.prompt, DSG, 6))["prompt"].keys() == {0, 1, 2, 4, 5}  # each segment's first and last frame
    capture = Capture(travel.pipe.unet)
    video = travel.generate([DSG.prompt], [DSG], seed=0)[0]
    positive = capture.first().view(2, 6, TOKENS, WIDTH)[1]
    assert torch.allclose(positive[0], positive[1]) and not torch.allclose(positive[1], positive[2])
    assert travel.describe()["injection"] == "prompt-travel" and video.shape == (6, 16, 16, 3)


def test_a_pipeline_without_a_per_frame_entry_falls_back_to_the_prompt_with_a_warning(registry, saved):
    model = backbone(registry, saved("wan"), frames=5)
    video = model.generate([DSG.prompt], [DSG], seed=0)[0]
    assert video.shape == (5, 16, 16, 3) and video.dtype == np.uint8
    described = model.describe()
    assert described["injection"] == "text" and "plain prompt" in described["warnings"][0]
    with pytest.raises(ConfigError, match=r"injection 'per-frame' is not offered by WanPipeline; it offers: text$"):
        backbone(registry, saved("wan"), frames=5, injection="per-frame")
    with pytest.raises(InputError, match=r"WanPipeline made 5 frames where video.frames is 6"):
        backbone(registry, saved("wan"), frames=6).generate(["a cat"], [None], seed=0)  # Wan makes 4k+1 frames


def test_user_mistakes_are_one_line_config_errors(registry, saved, tmp_path):
    with pytest.raises(ConfigError, match=r"backbone.options.model '.*nowhere': no such folder"):
        backbone(registry, tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"has no model_index.json; pass a folder saved by a diffusers pipeline$"):
        backbone(registry, tmp_path)
    with pytest.raises(ConfigError, match=r"injection 'prompt-travel' is not offered by TextToVideoSDPipeline"):
        backbone(registry, saved("t2v"), injection="prompt-travel")
    with pytest.raises(ConfigError, match=r"offload 'model' needs a CUDA device"):
        backbone(registry, saved("t2v"), offload="model")
    with pytest.raises(ConfigError, match=r"backbone.options.vae_slicin: Extra inputs are not permitted"):
        backbone(registry, saved("t2v"), vae_slicin=True)
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    image_unet = UNet2DModel(block_out_channels=(8, 8), down_block_types=("DownBlock2D",) * 2, up_block_types=("UpBlock2D",) * 2,
                             norm_num_groups=4, sample_size=8)
    DDPMPipeline(image_unet, scheduler=DDPMScheduler()).save_pretrained(tmp_path / "ddpm")  # an image pipeline
    with pytest.raises(ConfigError, match=r"cannot use DDPMPipeline: its __call__ takes no num_frames"):
        backbone(registry, tmp_path / "ddpm")


# -- the CLI ------------------------------------------------------------------------------------------------------


def test_cli_generates_with_the_diffusers_backbone_and_writes_its_manifest(saved, tmp_path, capsys):
    video = tmp_path / "cat.mp4"

    def args(model: Path) -> list[str]:  # no planner: the text-only path, so no LLM loads
        tiny = ["video={frames: 4, height: 16, width: 16}", "backbone.options.device=cpu", "planner=null", "imaginer=null", "llm=null",
                "demo_selector=null", "text_encoder=null", "graph_encoder=null"]
        return ["generate", "a cat jumps onto a table", "-o", str(video), "--backbone", "diffusers", "--model", str(model),
                "--steps", "2", "--guidance", "3", *[arg for key in tiny for arg in ("--set", key)]]

    assert run(args(saved("t2v"))) == 0, capsys.readouterr().err
    manifest = json.loads(video.with_suffix(".json").read_text())
    described = manifest["backbone"]
    assert described["component"] == "diffusers" and described["model"] == str(saved("t2v"))
    assert described["injection"] == "per-frame" and described["steps"] == 2 and described["guidance_scale"] == 3.0
    assert manifest["components"]["backbone"] == "diffusers" and video.is_file()
    assert run(args(tmp_path / "missing")) == 2
    err = capsys.readouterr().err
    assert "no such folder" in err and "Traceback" not in err


@pytest.mark.slow
def test_cli_plans_with_the_local_llm_then_conditions_each_frame(saved, tmp_path, capsys):
    """The whole flow: SmolLM2 plans (Step I, no imagination), the LLM is released, the pipeline reads the DSG per frame."""
    video = tmp_path / "cat.mp4"
    tiny = ["video={frames: 4, height: 16, width: 16}", "backbone.options.device=cpu", "imaginer=null", "demo_selector={name: fixed}",
            "text_encoder=null", "graph_encoder=null"]
    args = ["generate", "a cat jumps onto the table, then falls down", "-o", str(video), "--backbone", "diffusers",
            "--model", str(saved("t2v")), "--steps", "1", *[arg for key in tiny for arg in ("--set", key)]]
    assert run(args) == 0, capsys.readouterr().err
    manifest = json.loads(video.with_suffix(".json").read_text())
    assert manifest["plan"]["dsg"]["frames"] and manifest["backbone"]["injection"] == "per-frame"
