"""Run configuration: presets, the base chain, overlays, overrides and errors that name key and file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dysen_core.config import STAGES, load_config, load_trained_config, preset_names, resolve
from dysen_core.errors import ConfigError, UnknownComponentError
from dysen_core.registry import Registry

ABLATIONS = {
    "no-dysen": {"llm", "demo_selector", "planner", "imaginer", "graph_encoder"},
    "no-imagination": {"imaginer"},
    "no-swc": {"imaginer"},
    "no-rl-icl": {"demo_selector", "imagination_selector"},
    "rgnn": {"graph_encoder"},
}


def test_presets_present():
    assert {"paper", "default", *ABLATIONS} <= set(preset_names())


def test_paper_preset_has_the_papers_settings():
    paper = load_config(preset="paper")
    assert (paper.video.frames, paper.video.height, paper.video.width) == (16, 256, 256)
    assert paper.graph_encoder.name == "rgtrm"
    assert paper.graph_encoder.options == {"layers": 12, "heads": 8, "width": 768, "dropout": 0.3}
    assert paper.planner.options["num_demos"] == 5 and paper.imaginer.options["num_demos"] == 5
    backbone = paper.backbone.options
    assert backbone["diffusion"]["train_timesteps"] == 1000
    downsample = 2 ** (len(backbone["autoencoder"]["block_channels"]) - 1)
    assert (paper.video.height // downsample, backbone["autoencoder"]["latent_channels"]) == (32, 4)
    assert paper.llm.options == {"model": "gpt-3.5-turbo", "temperature": 0.0, "max_tokens": 512}


@pytest.mark.parametrize(("name", "changed"), ABLATIONS.items())
def test_ablations_are_small_overlays_on_paper(name, changed):
    paper, variant = load_config(preset="paper"), load_config(preset=name)
    differing = {stage for stage in STAGES if getattr(paper, stage) != getattr(variant, stage)}
    assert differing == changed
    assert variant.video == paper.video and variant.seed == paper.seed


def test_ablation_details():
    assert load_config(preset="no-swc").imaginer.options["sliding_window"] is False
    assert load_config(preset="no-swc").imaginer.options["polish"] is True
    assert load_config(preset="no-imagination").imaginer is None
    no_rl = load_config(preset="no-rl-icl")
    assert no_rl.demo_selector.model_dump() == no_rl.imagination_selector.model_dump() == {"name": "random", "options": {}}
    rgnn = load_config(preset="rgnn").graph_encoder
    assert rgnn.name == "rgnn" and rgnn.options == {"layers": 12, "heads": 8, "width": 768, "dropout": 0.3}  # RGTrm's size, listed


def test_the_shapes_training_configs_differ_only_in_the_dsg_branch():
    configs = Path(__file__).parent.parent / "configs"
    dysen, latent = (load_config(configs / f"shapes-{name}.yaml") for name in ("dysen", "latent-vdm"))
    differing = {stage for stage in STAGES if getattr(dysen, stage) != getattr(latent, stage)}
    assert differing == {"graph_encoder"} and latent.graph_encoder is None and dysen.graph_encoder.name == "rgtrm"
    assert dysen.video == latent.video and dysen.seed == latent.seed
    default = load_config(preset="default")  # the shipped model is shapes-dysen.yaml's: same settings, trained weights
    assert default.backbone.options.pop("checkpoint") == "shipped" and dysen.backbone.options.pop("checkpoint") is None
    assert {stage for stage in STAGES if getattr(default, stage) != getattr(dysen, stage)} == set() and default.video == dysen.video


def test_file_with_base_and_overrides(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("base: no-swc\nseed: 7\ngraph_encoder:\n  options: {layers: 4}\n")
    config = load_config(path, overrides=["video.frames=8", "graph_encoder.options.heads=2"])
    assert config.seed == 7 and config.video.frames == 8
    assert config.graph_encoder.options == {"layers": 4, "heads": 2, "width": 768, "dropout": 0.3}
    assert config.imaginer.options["sliding_window"] is False  # from the no-swc preset
    assert config.origin("graph_encoder", "options", "layers") == str(path)
    assert config.origin("graph_encoder", "options", "width").endswith("paper.yaml")
    assert config.origin("video", "frames") == "--set video.frames=8"


def test_relative_base_path(tmp_path):
    (tmp_path / "base.yaml").write_text("base: paper\nseed: 3\n")
    (tmp_path / "child.yaml").write_text("base: base.yaml\nvideo: {frames: 4}\n")
    config = load_config(tmp_path / "child.yaml")
    assert (config.seed, config.video.frames, config.video.width) == (3, 4, 256)


def test_unknown_key_names_key_and_file(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("base: paper\nvideo:\n  frame: 8\n")
    with pytest.raises(ConfigError, match=f"video.frame: Extra inputs are not permitted \\(set in {path}\\)"):
        load_config(path)
    path.write_text("base: paper\ngraph_encodr: {name: rgnn}\n")
    with pytest.raises(ConfigError, match=f"graph_encodr: Extra inputs are not permitted \\(set in {path}\\)"):
        load_config(path)


def test_component_option_error_names_file(tmp_path, core_manager):
    path = tmp_path / "opts.yaml"
    path.write_text("base: default\ndsg_builder:\n  options: {persist: false}\n")
    with pytest.raises(ConfigError, match=f"(?s)dsg_builder.options.persist: Extra inputs.*options set in {path}"):
        resolve(load_config(path), Registry.from_manager(core_manager))


def test_resolve_fills_defaults_and_notes_missing(core_manager):
    resolved, notes = resolve(load_config(preset="paper"), Registry.from_manager(core_manager))
    assert resolved.dsg_builder.options["persist_entities"] is True
    assert any("graph_encoder 'rgtrm' is not installed" in note for note in notes)
    with pytest.raises(UnknownComponentError, match="unknown llm 'litellm'; installed: none"):
        resolve(load_config(preset="paper"), Registry.from_manager(core_manager), strict=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("video: [1, 2\n", "invalid YAML at line 2"),
        ("- a\n- b\n", "a config file must be a mapping of sections, got list"),
        ("base: 3\n", "`base` must be a preset name or a .yaml path, got 3"),
        ("base: nope\n", "unknown preset 'nope'; presets: default, local-icl, no-dysen"),
        ("base: missing.yaml\n", "missing.yaml' not found"),
        ("video: {frames: 0}\n", "video.frames: Input should be greater than or equal to 1"),
    ],
)
def test_bad_files(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises((ConfigError, UnknownComponentError), match=message):
        load_config(path)


def test_base_loop(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ConfigError, match="`base` chain loops back"):
        load_config(tmp_path / "a.yaml")


def test_bad_override():
    with pytest.raises(ConfigError, match="override 'seed' must look like section.key=value"):
        load_config(preset="paper", overrides=["seed"])
    with pytest.raises(ConfigError, match="seed: Input should be a valid integer.*--set seed=many"):
        load_config(preset="paper", overrides=["seed=many"])


def test_file_and_preset_together(tmp_path):
    with pytest.raises(ConfigError, match="either a config file or a preset"):
        load_config(tmp_path / "x.yaml", preset="paper")


def test_secret_pasted_into_options_is_not_echoed(core_manager, monkeypatch):
    monkeypatch.setenv("MY_SERVICE_API_KEY", "s3cr3t-value-123")
    config = load_config(preset="default", overrides=["dsg_builder.options.persist_entities=s3cr3t-value-123"])
    with pytest.raises(ConfigError) as info:
        resolve(config, Registry.from_manager(core_manager))
    assert "s3cr3t-value-123" not in str(info.value) and "persist_entities" in str(info.value)


def test_secret_in_an_override_is_not_echoed(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_API_KEY", "s3cr3t-value-123")
    with pytest.raises(ConfigError) as info:
        load_config(preset="paper", overrides=["seed=s3cr3t-value-123"])
    assert "s3cr3t-value-123" not in str(info.value) and "seed: Input should be a valid integer" in str(info.value)


def test_a_trained_folder_gives_its_run_config_set_to_load_its_weights(tmp_path):
    trained = load_config(preset="paper", overrides=["video.frames=8"])
    (tmp_path / "run_config.json").write_text(json.dumps(trained.model_dump(mode="json", exclude_none=True)))
    config = load_trained_config(tmp_path, ["seed=5"])
    assert config.video.frames == 8 and config.seed == 5
    assert config.backbone.options["checkpoint"] == str(tmp_path)
