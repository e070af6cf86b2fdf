"""The ``dysen`` command: each command works, and each user mistake is one line on stderr with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dysen_core.cli import run
from dysen_core.datamodel import DynamicSceneGraph

EXAMPLES = Path(__file__).parent.parent / "examples"

FIGURE3 = str(EXAMPLES / "figure3_plan.json")


def call(capsys, *args):
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_commands(capsys):
    code, out, _ = call(capsys, "--help")
    assert code == 0
    for command in ("plugins", "schema", "dsg", "config"):
        assert command in out


def test_version(capsys):
    assert call(capsys, "--version")[:2] == (0, "dysen 0.1.0\n")


def test_plugins_json(capsys):
    code, out, _ = call(capsys, "plugins", "--json")
    data = json.loads(out)
    assert code == 0
    assert {"kind": "dsg_builder", "name": "skeleton", "distribution": "dysen", "version": "0.1.0",
            "plugin": "dysen_core.default_plugins.skeleton"} in data["components"]
    listed = {row["distribution"] for row in data["components"]} | {
        row["distribution"] for row in data["plugins_without_components"]}
    assert {"dysen-plugin-llm-openai", "dysen-plugin-llm-local", "dysen-plugin-encoder-rgtrm",
            "dysen-plugin-backbone-vdm"} <= listed


def test_plugins_table(capsys):
    code, out, _ = call(capsys, "plugins")
    assert code == 0 and "skeleton" in out and "dsg_builder" in out


@pytest.mark.parametrize(("which", "title"), [("plan", "ActionPlan"), ("dsg", "DynamicSceneGraph"), ("event", "Event")])
def test_schema(capsys, which, title):
    code, out, _ = call(capsys, "schema", which)
    assert code == 0 and json.loads(out)["title"] == title


def test_dsg_to_file(capsys, tmp_path):
    target = tmp_path / "out" / "dsg.json"
    code, _, err = call(capsys, "dsg", FIGURE3, "--frames", "16", "-o", str(target))
    assert code == 0
    assert f"wrote {target}: 5 scene graphs, 5 segments, 16 frames" in err
    dsg = DynamicSceneGraph.model_validate_json(target.read_text())
    assert dsg.frame_to_sg == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert [p.name for p in target.parent.iterdir()] == ["dsg.json"]  # no temporary file left behind
    assert target.stat().st_mode & 0o777 == 0o644  # an ordinary file, not the temporary file's private mode


def test_dsg_to_stdout_with_options_from_config(capsys, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("base: default\ndsg_builder:\n  options: {persist_entities: false}\n")
    code, out, _ = call(capsys, "dsg", FIGURE3, "--config", str(config))
    assert code == 0
    assert set(DynamicSceneGraph.model_validate_json(out).frames[2].objects) == {"lady", "chair"}


def test_config_show(capsys):
    code, out, err = call(capsys, "config", "show", "--preset", "no-swc", "--set", "seed=4")
    assert code == 0
    assert "seed: 4" in out and "sliding_window: false" in out and "persist_entities: true" in out
    assert "note: graph_encoder 'rgtrm' is not installed" in err or "rgtrm" in out


def test_config_presets(capsys):
    code, out, _ = call(capsys, "config", "presets")
    assert code == 0 and "no-rl-icl" in out and "paper" in out


def write(tmp_path, text, name="plan.json"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (lambda t: ["dsg", str(t / "missing.json")], "action plan file '{t}/missing.json' not found"),
        (lambda t: ["dsg", write(t, "{oops")], "plan.json: invalid JSON at line 1 column 2"),
        (lambda t: ["dsg", write(t, '{"prompt": "p", "events": [{"agent": "a", "predicate": "b", "start": 2, "end": 1}]}')],
         "events.0: Value error, end (1) must be greater than start (2)"),
        (lambda t: ["dsg", write(t, '{"prompt": "p", "events": []}')], "events: List should have at least 1 item"),
        (lambda t: ["dsg", FIGURE3, "-o", str(t)], "is a folder"),
        (lambda t: ["dsg", FIGURE3, "--preset", "nope"], "unknown preset 'nope'"),
        (lambda t: ["dsg", FIGURE3, "--config", write(t, "dsg_builder: {name: skeletn}\n", "c.yaml")],
         "unknown dsg_builder 'skeletn'; installed: skeleton"),
        (lambda t: ["config", "show", "--preset", "paper", "--set", "video.frames=-3"],
         "video.frames: Input should be greater than or equal to 1 (set in --set video.frames=-3)"),
        (lambda t: ["config", "show", "--preset", "paper", "--set", "llm.name=no-such-llm", "--strict"],
         "unknown llm 'no-such-llm'; installed: "),
        (lambda t: ["config", "show", "--config", write(t, "video: {frame: 3}\n", "c.yaml")],
         "video.frame: Extra inputs are not permitted"),
        (lambda t: ["dsg", FIGURE3, "--frames", "0"], "Invalid value for '--frames' / '-f'"),
        (lambda t: ["schema", "graph"], "'graph' is not one of"),
        (lambda t: ["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_user_errors_exit_2_without_traceback(capsys, tmp_path, args, message):
    code, _, err = call(capsys, *args(tmp_path))
    assert code == 2
    assert message.format(t=tmp_path) in err
    assert "Traceback" not in err


def test_console_script_exit_code(tmp_path):
    """The installed entry point exits 2 on a user error and prints one line."""
    result = subprocess.run(
        [sys.executable, "-c", "from dysen_core.cli import main; main()", "dsg", str(tmp_path / "nope.json")],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"Error: action plan file '{tmp_path}/nope.json' not found"
