"""`dysen eval`: pairing, streaming scores, per-video failures, clear errors, and re-runs (issue 6 part 5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dysen_core.cli import run
from dysen_core.evaluation import Item, Sources, evaluate, pair
from dysen_core.shapes import ShapesConfig
from dysen_core.shapes.dataset import iter_clips, load_frames, write_dataset
from dysen_core.video import write_frames_png, write_video


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    write_dataset(root, 6, 0, ShapesConfig(frames=8, units=2, size=48))
    return root


def _gold_copies(dataset: Path, folder: Path, kind: str) -> list[str]:
    """Write the train split's gold clips into ``folder`` as mp4 files or PNG folders named by clip id."""
    names = []
    for record in iter_clips(dataset, "train"):
        frames = load_frames(dataset, record)
        if kind == "mp4":
            write_video(folder / f"{record.id}.mp4", frames)
        else:
            write_frames_png(folder / record.id, frames)
        names.append(record.id)
    return names


def _eval(tmp_path: Path, generated: Path, reference: Path, metrics: str, *extra: str) -> int:
    out = tmp_path / "out" / "eval.json"
    return run(["eval", "--generated", str(generated), "--reference", str(reference), "--split", "train",
                "--metrics", metrics, "--output", str(out), *extra])


def test_dynamics_of_gold_png_frames_is_exact_and_rerun_is_identical(dataset, tmp_path, capsys):
    _gold_copies(dataset, tmp_path / "gen", "png")
    assert _eval(tmp_path, tmp_path / "gen", dataset, "dynamics") == 0
    out = tmp_path / "out" / "eval.json"
    report = json.loads(out.read_text())
    scores = report["metrics"]["dynamics"]["scores"]
    assert scores["trirec"] == 1.0 and scores["event_recall"] == 1.0
    assert report["counts"]["failed"] == 0 and report["counts"]["missing"] == 0
    assert "| dynamics | trirec | 1.0000 |" in out.with_suffix(".md").read_text()
    first = out.read_bytes()
    assert _eval(tmp_path, tmp_path / "gen", dataset, "dynamics") == 0
    assert out.read_bytes() == first
    assert "scored" in capsys.readouterr().out


def test_an_mp4_is_scored_from_the_lossless_frames_written_beside_it(dataset, tmp_path):
    gen = tmp_path / "gen"
    for record in iter_clips(dataset, "train"):
        write_video(gen / f"{record.id}.mp4", np.zeros((8, 48, 48, 3), np.uint8))  # blank: no event to read
        write_frames_png(gen / f"{record.id}_frames", load_frames(dataset, record))
    assert _eval(tmp_path, gen, dataset, "dynamics") == 0
    scores = json.loads((tmp_path / "out" / "eval.json").read_text())["metrics"]["dynamics"]["scores"]
    assert scores["trirec"] == 1.0 and scores["event_recall"] == 1.0


def test_rerun_reuses_finished_metrics_without_reading_videos(dataset, tmp_path):
    _gold_copies(dataset, tmp_path / "gen", "png")
    out, totals = tmp_path / "eval.json", []
    first = evaluate(tmp_path / "gen", dataset, ["dynamics"], out, split="train", on_start=totals.append)
    second = evaluate(tmp_path / "gen", dataset, ["dynamics"], out, split="train", on_start=totals.append)
    assert first == second and totals == [first["counts"]["generated"], 0]
    (tmp_path / "gen" / sorted(p.name for p in (tmp_path / "gen").iterdir())[0] / "frame_000.png").touch()
    evaluate(tmp_path / "gen", dataset, ["dynamics"], out, split="train", on_start=totals.append)
    assert totals[-1] == first["counts"]["generated"]  # a changed input is read again


def test_corrupt_and_empty_mp4_are_failures_and_the_rest_is_scored(dataset, tmp_path, capsys):
    names = _gold_copies(dataset, tmp_path / "gen", "mp4")
    (tmp_path / "gen" / f"{names[0]}.mp4").write_bytes(b"")
    (tmp_path / "gen" / f"{names[1]}.mp4").write_bytes(b"not an mp4 at all" * 10)
    assert _eval(tmp_path, tmp_path / "gen", dataset, "dynamics") == 0
    report = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert {f["video"] for f in report["failures"]} == {names[0], names[1]}
    assert report["counts"]["scored"] == len(names) - 2 == report["metrics"]["dynamics"]["scored"]
    assert 0.0 < report["metrics"]["dynamics"]["scores"]["trirec"] <= 1.0  # yuv420p blurs colour edges at 48 px
    assert "2 failed" in capsys.readouterr().out


def test_mixed_frame_sizes_in_a_frame_folder_are_a_failure(dataset, tmp_path):
    names = _gold_copies(dataset, tmp_path / "gen", "png")
    write_frames_png(tmp_path / "odd", np.zeros((1, 32, 32, 3), np.uint8))
    (tmp_path / "odd" / "frame_000.png").replace(tmp_path / "gen" / names[0] / "frame_003.png")
    assert _eval(tmp_path, tmp_path / "gen", dataset, "dynamics") == 0
    failures = json.loads((tmp_path / "out" / "eval.json").read_text())["failures"]
    assert failures[0]["video"] == names[0] and "mixes frame sizes" in failures[0]["error"]


def test_fewer_generated_than_reference_records_missing(dataset, tmp_path, capsys):
    names = _gold_copies(dataset, tmp_path / "gen", "png")
    for name in names[2:]:
        for frame in (tmp_path / "gen" / name).iterdir():
            frame.unlink()
        (tmp_path / "gen" / name).rmdir()
    assert _eval(tmp_path, tmp_path / "gen", dataset, "dynamics") == 0
    report = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert report["missing"] == names[2:] and report["counts"]["scored"] == 2
    assert "fewer generated than reference" in capsys.readouterr().out


def test_pairing_by_name_else_by_sorted_position():
    ref = [Item(n, Path(n)) for n in ("a", "b", "c")]
    by_name, missing = pair(Sources([Item("c", Path("x")), Item("a", Path("y"))], ref, None))
    assert [(g.name, r.name) for g, r in by_name] == [("c", "c"), ("a", "a")] and missing == ["b"]
    by_position, missing = pair(Sources([Item("00001-x", Path("x")), Item("00002-y", Path("y"))], ref, None))
    assert [(g.name, r.name) for g, r in by_position] == [("00001-x", "a"), ("00002-y", "b")] and missing == ["c"]


@pytest.mark.parametrize(("metrics", "extra", "match"), [
    ("dynamics,fvdd", [], "unknown metric 'fvdd'; installed: "),
    ("fvd", [], "fvd needs I3D weights: pass metric option `weights:"),
    ("trirec", [], "scores plans, not videos"),
    ("fvd", ["--metric-option", "kvd.weights=/x"], "not in --metrics"),
    ("fvd", ["--metric-option", "fvd.nonsense=1"], "nonsense"),
])
def test_bad_metric_requests_exit_2_with_one_line(dataset, tmp_path, capsys, metrics, extra, match):
    _gold_copies(dataset, tmp_path / "gen", "png")
    assert _eval(tmp_path, tmp_path / "gen", dataset, metrics, *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and match in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before any work


def test_fvd_weights_option_is_named_and_dynamics_needs_a_dataset(dataset, tmp_path, capsys):
    _gold_copies(dataset, tmp_path / "gen", "png")
    assert _eval(tmp_path, tmp_path / "gen", tmp_path / "gen", "dynamics") == 2
    assert "needs gold clips" in capsys.readouterr().err
    assert _eval(tmp_path, tmp_path / "gen", dataset, "fvd", "--metric-option", "fvd.weights=/nowhere/i3d.pt") == 2
    assert "/nowhere/i3d.pt" in capsys.readouterr().err


def test_shapes_fvd_of_a_set_against_itself_is_near_zero(tmp_path):
    dataset = tmp_path / "shapes16"  # the shipped feature network reads 16-frame clips
    write_dataset(dataset, 6, 0, ShapesConfig(frames=16, units=4, size=48))
    _gold_copies(dataset, tmp_path / "gen", "png")
    assert _eval(tmp_path, tmp_path / "gen", dataset, "shapes-fvd", "--metric-option", "shapes-fvd.batch_size=2") == 0
    scores = json.loads((tmp_path / "out" / "eval.json").read_text())["metrics"]["shapes-fvd"]["scores"]
    assert abs(scores["shapes_fvd"]) < 1e-3
