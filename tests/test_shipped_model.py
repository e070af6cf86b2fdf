"""The shipped Dysen-VDM (issue 8): the offline default generates the README's example with the shipped weights,
and the exact parser reads the planned agents from its frames in the planned order. (It does not yet read the
planned actions: docs/results.md.) Real SmolLM2 planning and the shipped weights: slow."""

from __future__ import annotations

import json

import pytest

from dysen_core.cli import run
from dysen_core.evaluation import read_frames
from dysen_core.scene_manager import PlanResult
from dysen_core.shapes.parser import ParserOptions, parse_video

pytestmark = pytest.mark.slow
README_PROMPT = "a red circle moves right, then a blue square jumps"


def test_the_default_generates_the_readme_example_with_the_planned_agents_in_order(tmp_path, capsys):
    video = tmp_path / "out.mp4"
    assert run(["generate", README_PROMPT, "-o", str(video), "--frames", "--sheet"]) == 0, capsys.readouterr().err
    manifest = json.loads(video.with_suffix(".json").read_text())
    assert manifest["backbone"]["checkpoint"] == "shipped" and manifest["backbone"]["dsg_branch"]
    assert not manifest["warnings"]
    plan = PlanResult.model_validate(manifest["plan"]).plan
    assert [(e.agent, e.predicate) for e in plan.events] == [("red circle", "moves right"), ("blue square", "jumps")]
    frames = read_frames(tmp_path / "out_frames")
    assert frames.shape == (8, 48, 48, 3)
    parsed = parse_video(frames, ParserOptions(units=2))
    colours = [{value for _, value in graph.attributes} & {"red", "blue"} for graph in parsed.dsg.frames]
    # the red circle's unit, then the blue square's: red from the start, blue only once its unit begins
    assert colours[:4] == [{"red"}] * 4 and all("blue" in seen for seen in colours[4:])
    assert (tmp_path / "out_sheet.png").is_file()
