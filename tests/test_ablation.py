"""`dysen ablate` (issue 7 part 4): Table 4's six variants end to end on CPU, on recorded answers of the real
local LLM.

``data/ablation_answers.sqlite`` holds the answers of the real SmolLM2-135M-Instruct (Q4_1 through llama-cpp, the
default preset's decoding, no adapter, ungrounded, the paper's in-context prompts) to every Step I and Step III request that
the variants of ``TINY`` make for the two test clips of ``workspace``'s dataset, recorded in cache_mode read-write
by ``_record``. After a change to the prompts, templates or demo pools, record them again with
``DYSEN_RECORD_ANSWERS=1 pytest tests/test_ablation.py`` (about three minutes on two CPU cores). The ablations
themselves run in replay mode, so no model is loaded.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from pathlib import Path

import pytest

from dysen_core.cli import run
from dysen_core.config import load_config, read_variant
from dysen_core.scene_manager import SceneManager
from dysen_core.shapes.dataset import iter_clips, write_dataset
from dysen_core.shapes.generate import ShapesConfig

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]
RECORDED = Path(__file__).parent / "data" / "ablation_answers.sqlite"
EXAMPLES = Path(__file__).parent.parent / "examples"
TABLE4 = ["paper", "no-dysen", "no-imagination", "no-swc", "no-rl-icl", "rgnn"]
TINY = """
base: {base}
description: Tiny Dysen-VDM for the ablation tests
llm: {{options: {{n_ctx: 4096, adapter: null}}}}
demo_selector: {{name: fixed}}
planner: {{options: {{templates: icl, num_demos: 1, max_repairs: 0, grounded: false}}}}
imaginer: {{options: {{templates: icl, num_demos: 1, polish_demos: 1, max_repairs: 0}}}}
backbone:
  options:
    diffusion: {{sampling_steps: 1}}
    training: {{steps: 1, checkpoint_every: 1}}
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A dynamic-shapes dataset (2 test clips of 8 frames of 48x48), the tiny base config and a copy of the answers."""
    root = tmp_path_factory.mktemp("ablation")
    write_dataset(root / "shapes", 20, 0, ShapesConfig(frames=8, units=2, size=48))
    (root / "tiny.yaml").write_text(TINY.format(base=EXAMPLES / "tiny-backbone.yaml"))
    if os.environ.get("DYSEN_RECORD_ANSWERS") == "1":
        _record(root)
    shutil.copy(RECORDED, root / "answers.sqlite")
    return root


def _record(root: Path) -> None:
    """Ask the real LLM every planning request of every variant, storing the answers in ``RECORDED``."""
    RECORDED.unlink(missing_ok=True)
    prompts = [record.captions[0] for record in iter_clips(root / "shapes", "test")]
    for variant in TABLE4:
        config = load_config(root / "tiny.yaml", variant=read_variant(variant), overrides=[f"llm_client.cache_path={RECORDED}"])
        if config.planner is not None:
            with SceneManager(config) as manager:
                manager.run_many(prompts)


def ablate(root: Path, *variants: str) -> int:
    return run(["ablate", "--config", str(root / "tiny.yaml"), "--reference", str(root / "shapes"), "--metrics", "dynamics",
                "--train", str(root / "shapes"), "--variants", ",".join(variants), "-o", str(root / "out"),
                "--set", f"llm_client.cache_path={root / 'answers.sqlite'}", "--set", "llm_client.cache_mode=replay"])


@pytest.fixture(scope="module")
def table(workspace) -> dict:
    assert ablate(workspace, *TABLE4) == 0
    return json.loads((workspace / "out" / "ablation.json").read_text())


def test_the_table_has_a_row_per_variant_with_deltas_to_the_full_model(workspace, table):
    rows = {row["variant"]: row for row in table["rows"]}
    assert list(rows) == TABLE4 and table["reference_row"] == "paper"
    assert "dynamics.trirec" in table["columns"] and table["command"].startswith("dysen ablate --reference")
    for name, row in rows.items():
        assert row.get("error") is None, row
        assert math.isfinite(row["scores"]["dynamics.trirec"]) and math.isfinite(row["scores"]["dynamics.event_recall"])
        for column, delta in row["deltas"].items():
            if delta is not None:
                assert delta == pytest.approx(row["scores"][column] - rows["paper"]["scores"][column])
        assert not any("got no plan" in note for note in row.get("notes", [])), row["notes"]  # every answer was replayed
        folder = workspace / "out" / name
        assert (folder / "train" / "final" / "backbone.json").is_file() and len(list((folder / "videos").glob("*.mp4"))) == 2
    assert all(delta in (0.0, None) for delta in rows["paper"]["deltas"].values())
    assert any("'policy' by 'random', but this base config uses 'fixed'" in note for note in rows["no-rl-icl"]["notes"])
    rgnn = load_config(workspace / "out" / "rgnn" / "config.yaml").graph_encoder
    assert rgnn.name == "rgnn" and rgnn.options == {"layers": 1, "heads": 2, "width": 16, "dropout": 0.0}  # the base's size
    markdown = (workspace / "out" / "ablation.md").read_text()
    assert sum(line.startswith(f"| {name} |") for name in TABLE4 for line in markdown.splitlines()) == 6
    assert "| variant | description | dynamics.trirec |" in markdown and re.search(r"\d \([+-]\d+\.\d{4}\) \|", markdown)


def test_a_rerun_skips_finished_variants_and_a_failing_one_keeps_the_others(workspace, table, capsys):
    (workspace / "broken.yaml").write_text("base: paper\ndescription: width not a multiple of heads\n"
                                           "graph_encoder: {options: {width: 15}}\n")
    finished = {name: (workspace / "out" / name / "result.json").stat().st_mtime_ns for name in ("paper", "no-dysen")}
    assert ablate(workspace, "paper", "no-dysen", str(workspace / "broken.yaml")) == 2
    err = capsys.readouterr().err
    assert "paper: done before, skipped" in err and "no-dysen: done before, skipped" in err
    assert "1 of 3 variants failed" in err.splitlines()[-1]
    assert {name: (workspace / "out" / name / "result.json").stat().st_mtime_ns for name in finished} == finished
    rows = json.loads((workspace / "out" / "ablation.json").read_text())["rows"]
    assert [row["variant"] for row in rows] == ["paper", "no-dysen", str(workspace / "broken.yaml")]
    assert rows[0]["scores"] == table["rows"][0]["scores"] and "width" in rows[2]["error"]
    assert "| error: " in (workspace / "out" / "ablation.md").read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["--variants", "paper,no-such"], "unknown variant 'no-such'; give full, a preset ("),
    (["--variants", "paper,paper"], "names one folder twice"),
    (["--metrics", "dynamics,fvdd"], "unknown metric 'fvdd'"),
    (["--metrics", "trirec"], "scores plans, not videos"),
    (["--split", "val2"], "is not a dynamic-shapes dataset with a 'val2' split"),
    (["--train", "nowhere", "--stage", "warmup"], "unknown --stage 'warmup'"),
])
def test_user_mistakes_exit_2_with_one_line(workspace, capsys, args, message):
    base = ["ablate", "--config", str(workspace / "tiny.yaml"), "--reference", str(workspace / "shapes"), "-o", str(workspace / "bad")]
    assert run([*base, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not (workspace / "bad").exists()  # nothing runs before the inputs are checked


def test_a_variant_applies_only_its_switches_to_any_base(tmp_path):
    tiny = EXAMPLES / "tiny-backbone.yaml"
    base = load_config(tiny)
    assert load_config(tiny, variant=read_variant("paper")) == base == load_config(tiny, variant=read_variant("full"))
    no_dysen = load_config(tiny, variant=read_variant("no-dysen"))
    assert (no_dysen.planner, no_dysen.imaginer, no_dysen.graph_encoder) == (None, None, None) and no_dysen.backbone == base.backbone
    no_swc = load_config(tiny, variant=read_variant("no-swc"))
    assert no_swc.imaginer.options == {**base.imaginer.options, "sliding_window": False}
    off = tmp_path / "off.yaml"  # a base without Step III: w/o SWC has nothing to switch off
    off.write_text(f"base: {tiny}\nimaginer: null\n")
    assert load_config(off, variant=read_variant("no-swc")).imaginer is None
