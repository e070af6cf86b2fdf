"""``dysen plan``: one prompt with a timeline PNG, batches with resumption, and its user errors."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from dysen_core.cli import run
from dysen_core.scene_manager import PlanResult

pytestmark = pytest.mark.slow
FAST = ["--set", "demo_selector.name=fixed", "--set", "imaginer.options.num_demos=2"]


def call(capsys, *args):
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_one_prompt_with_timeline(capsys, tmp_path):
    out, png = tmp_path / "plan.json", tmp_path / "timeline.png"
    code, _, err = call(capsys, "plan", "a lady sits on a chair, then drinks coffee", "-o", str(out),
                        "--png", str(png), *FAST)
    assert code == 0, err
    result = PlanResult.model_validate_json(out.read_text())
    assert result.plan and result.skeleton and result.dsg and result.error is None
    assert result.manifest["llm_stats"]["requests"] == result.manifest["llm_requests"]
    assert f"wrote {out} and {png}: {len(result.plan.events)} events" in err
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width >= 800


def test_batch_resumes_and_keeps_going(capsys, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# two prompts and one that is too long\na dog runs to the door, then barks\n\n"
                       + "x" * 5000 + "\na red circle moves left\n")
    folder = tmp_path / "plans"
    args = ["plan", "--batch", str(prompts), "-o", str(folder), "--set", "imaginer=null", *FAST[:2], "-j", "2"]
    code, _, err = call(capsys, *args)
    assert code == 0, err
    summary = json.loads((folder / "summary.json").read_text())
    assert (summary["prompts"], summary["planned"], summary["failed"]) == (3, 2, 1)
    assert "the limit is 4000" in summary["failures"][0]
    assert len(list(folder.glob("0000*.json"))) == 3  # the failed prompt's result is kept too
    code, _, err = call(capsys, *args)  # a rerun skips what is done and retries what failed
    summary = json.loads((folder / "summary.json").read_text())
    assert (summary["skipped_done"], summary["planned"], summary["failed"]) == (2, 0, 1)
    assert summary["llm"]["requests"] == 0
    assert "0 planned, 2 already done, 1 failed" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give one prompt, or --batch FILE, but not both"),
        (["   "], "the prompt is empty"),
        (["x" * 20000], "the prompt has 20000 characters; the limit is 4000"),
        (["a cat", "--api-base", "http://127.0.0.1:9/v1"], "--api-base needs --llm"),
        (["--batch", "prompts.txt", "-o", "d", "--png", "t.png"], "--png draws one prompt's DSG"),
        (["--batch", "prompts.txt"], "--batch needs --output FOLDER"),
        (["--batch", "missing.txt", "-o", "d"], "prompts file 'missing.txt' not found"),
        (["a cat", "--preset", "no-dysen"], "this config has no planner"),
        (["a cat", "--llm", "openai/smollm2", "--api-base", "http://127.0.0.1:9/v1", "--set",
          "llm_client.max_attempts=1", "--set", "imaginer=null"], "Error: planning failed: "),
    ],
)
def test_user_errors(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = call(capsys, "plan", *args)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
