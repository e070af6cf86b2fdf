"""The dynamic-shapes generator: determinism, rules, gold scene graphs, captions, splits, files and CLI."""

from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from typer.testing import CliRunner

from dysen_core.datamodel import ActionPlan, Event
from dysen_core.errors import InputError
from dysen_core.shapes import (
    ShapesConfig,
    generate_clip,
    iter_clips,
    load_frames,
    write_dataset,
)
from dysen_core.shapes.captions import backwards_caption
from dysen_core.shapes.geometry import (
    classify_shape,
    mask_stats,
    shape_mask,
    size_word,
    spatial_relations,
)
from dysen_core.shapes.splits import HELD_OUT, split_of
from dysen_core.shapes.vocabulary import (
    COLOURS,
    PALETTE,
    SHAPES,
    SIZE_RADII,
    SIZES,
    action_of,
)

CONFIG = ShapesConfig()


@pytest.fixture(scope="module")
def clips():
    """300 clips of seed 5 (records and frames)."""
    return [generate_clip(CONFIG, 5, i) for i in range(300)]


def test_same_seed_and_index_give_the_same_clip():
    record_a, frames_a = generate_clip(CONFIG, 3, 17)
    record_b, frames_b = generate_clip(CONFIG, 3, 17)
    assert record_a == record_b
    assert np.array_equal(frames_a, frames_b)
    record_c, frames_c = generate_clip(CONFIG, 4, 17)
    assert record_c.captions != record_a.captions or not np.array_equal(frames_a, frames_c)


def test_clips_follow_the_benchmark_rules(clips):
    for record, frames in clips:
        assert frames.shape == (16, 64, 64, 3) and frames.dtype == np.uint8
        events = record.plan.events
        assert 1 <= len(events) <= 4
        assert len({(e.agent, e.predicate) for e in events}) == len(events)  # each (agent, predicate) once
        names = {o for graph in record.dsg.frames for o in graph.objects}
        assert 1 <= len(names) <= 3
        for e in events:
            assert 0 <= e.start < e.end <= record.units
            action_of(e.predicate)  # in the vocabulary
            assert (e.target is not None) == (e.predicate in ("moves toward", "follows"))


def test_event_mix_covers_every_action_and_every_structure(clips):
    actions = {action_of(e.predicate) for record, _ in clips for e in record.plan.events}
    assert len(actions) == 13
    counts = {len(record.plan.events) for record, _ in clips}
    assert counts == {1, 2, 3, 4}
    relations = set()
    for record, _ in clips:
        ev = record.plan.events
        for a, b in pairwise(ev):
            relations.add("concurrent" if (a.start, a.end) == (b.start, b.end) else
                          "sequential" if a.end <= b.start else "overlapping")
    assert relations == {"sequential", "overlapping", "concurrent"}


def test_gold_frames_hold_attributes_relations_and_active_events(clips):
    for record, _ in clips:
        grid = record.grid
        for graph in record.dsg.frames:
            for name in graph.objects:
                words = {a for o, a in graph.attributes if o == name}
                assert words & set(COLOURS) and words & set(SHAPES) and words & set(SIZES)
                assert name.split()[1] in words  # the name's shape word is its shape attribute
        for e in record.plan.events:
            for f in grid.frames_of(e.start, e.end):
                graph = record.dsg.frames[f]
                if e.target is None:
                    assert (e.agent, e.predicate) in graph.attributes
                else:
                    assert (e.agent, e.predicate, e.target) in graph.relations


def test_pixels_are_palette_colours_on_a_grey_background(clips):
    palette = {tuple(c) for c in PALETTE.values()}
    for _, frames in clips[:50]:
        pixels = frames.reshape(-1, 3)
        grey = (pixels[:, 0] == pixels[:, 1]) & (pixels[:, 1] == pixels[:, 2])
        coloured = {tuple(p) for p in np.unique(pixels[~grey], axis=0)}
        assert coloured <= palette


def test_no_held_out_pair_in_train_and_one_in_every_novel_clip(clips):
    for record, _ in clips:
        shape_of = {name: name.split()[1] for name in {o for g in record.dsg.frames for o in g.objects}}
        pairs = {(shape_of[e.agent], action_of(e.predicate)) for e in record.plan.events}
        assert record.split == split_of(int(record.id.split("-")[1]))
        if record.split == "train":
            assert not pairs & HELD_OUT
        if record.novel:
            assert pairs & HELD_OUT
    assert {r.split for r, _ in clips} == {"train", "val", "test"}
    assert any(r.novel for r, _ in clips) and any(r.split == "test" and not r.novel for r, _ in clips)


def test_captions_vary_and_tell_time_out_of_order(clips):
    all_text = " ".join(c.lower() for record, _ in clips for c in record.captions)
    for phrase in ("before ", " after ", "while ", "finally", " then "):
        assert phrase in all_text
    for record, _ in clips:
        assert record.captions[0] == record.plan.prompt == record.dsg.prompt
        assert len(set(record.captions)) == len(record.captions) >= 2
        for e in record.plan.events:
            colour = e.agent.split()[0]
            assert all(colour in c.lower() for c in record.captions)


def test_backwards_caption_tells_the_later_group_first():
    plan = ActionPlan(prompt="x", events=[
        Event(agent="red circle", predicate="moves right", start=0, end=1),
        Event(agent="blue square", predicate="moves toward", target="red circle", start=1, end=2),
        Event(agent="blue square", predicate="spins", start=1, end=2),
    ])
    assert backwards_caption(plan) == (
        "Before the blue square moves toward the red circle while the blue square spins, the red circle moves right.")
    two = plan.model_copy(update={"events": plan.events[:2]})
    overlapping = plan.model_copy(update={"events": [*plan.events, Event(agent="cat", predicate="naps", start=0, end=2)]})
    assert backwards_caption(two) is None and backwards_caption(overlapping) is None


@settings(max_examples=60, deadline=None, derandomize=True)
@given(shape=st.sampled_from(SHAPES), radius=st.floats(6.0, 24.0), angle=st.floats(0.0, 360.0))
def test_shapes_are_classified_at_any_size_and_angle(shape, radius, angle):
    ys, xs = np.nonzero(shape_mask(shape, radius, angle))
    assert classify_shape(mask_stats(ys, xs)) == shape


@pytest.mark.parametrize("shape", SHAPES)
def test_size_words_match_the_levels(shape):
    for word, radius in zip(SIZES, SIZE_RADII):
        for scale in (1.0, 1.5):
            area = int(shape_mask(shape, radius * scale, 0.0).sum())
            assert size_word(shape, area, scale) == word


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(1, 12), st.integers(1, 12)),
                min_size=2, max_size=4))
def test_spatial_relations_are_never_contradictory(rects):
    boxes = {f"s{i}": (x, y, x + w, y + h) for i, (x, y, w, h) in enumerate(rects)}
    relations = set(spatial_relations(boxes, 1.0))
    for a, predicate, b in relations:
        assert (b, predicate, a) not in relations


def test_config_rejects_a_grid_that_cannot_show_motion():
    with pytest.raises(ValidationError, match="even multiple of units"):
        ShapesConfig(frames=15, units=4)
    with pytest.raises(ValidationError, match="size"):
        ShapesConfig(size=16)


def test_other_frame_counts_and_sizes_work():
    record, frames = generate_clip(ShapesConfig(frames=24, units=4, size=96), 0, 3)
    assert frames.shape == (24, 96, 96, 3)
    assert len(record.dsg.frames) == 24 and record.plan.horizon <= 4


def test_dataset_files_stream_back_and_do_not_depend_on_workers(tmp_path):
    counts = write_dataset(tmp_path / "one", 70, 9, CONFIG, workers=1)
    write_dataset(tmp_path / "two", 70, 9, CONFIG, workers=2)
    assert counts == {"train": 56, "val": 7, "test": 7}
    for split in counts:
        one = (tmp_path / "one" / split / "manifest.jsonl").read_text()
        assert one == (tmp_path / "two" / split / "manifest.jsonl").read_text()
    records = list(iter_clips(tmp_path / "one", "val"))
    assert [r.id for r in records] == [f"shapes-{i:06d}" for i in range(70) if i % 10 == 8]
    record, frames = generate_clip(CONFIG, 9, 8)
    assert records[0] == record
    assert np.array_equal(load_frames(tmp_path / "one", records[0]), frames)
    meta = json.loads((tmp_path / "one" / "config.json").read_text())
    assert meta["seed"] == 9 and meta["config"]["frames"] == 16


def test_dataset_errors_name_the_fix(tmp_path):
    write_dataset(tmp_path, 10, 0, CONFIG)
    with pytest.raises(InputError, match="already holds a shapes dataset"):
        write_dataset(tmp_path, 10, 0, CONFIG)
    with pytest.raises(InputError, match="--n must be at least 1"):
        write_dataset(tmp_path / "new", 0, 0, CONFIG)
    with pytest.raises(InputError, match="dysen data shapes"):
        next(iter_clips(tmp_path / "nothing", "train"))
    with pytest.raises(InputError, match="unknown split"):
        next(iter_clips(tmp_path, "dev"))


@pytest.fixture
def dysen_data():
    """The ``data`` sub-app mounted as the lead's CLI mounts it (``dysen data …``)."""
    from dysen_core.cli.data import app as data_app

    root = typer.Typer()
    root.add_typer(data_app, name="data")
    root.callback()(lambda: None)
    return root


def test_cli_writes_a_dataset_and_prints_a_summary(tmp_path, dysen_data):
    result = CliRunner().invoke(dysen_data, ["data", "shapes", "--out", str(tmp_path), "--n", "20", "--seed", "1",
                                       "--frames", "8", "--units", "2", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "wrote 20 clips (train 16, val 2, test 2)" in result.output
    record = next(iter_clips(tmp_path, "train"))
    assert load_frames(tmp_path, record).shape == (8, 64, 64, 3)


def test_cli_bad_grid_raises_a_validation_error_naming_the_fields(tmp_path, dysen_data):
    result = CliRunner().invoke(dysen_data, ["data", "shapes", "--out", str(tmp_path), "--n", "5", "--frames", "15"])
    assert isinstance(result.exception, ValidationError)  # the top level prints it as one line and exits 2
    assert "frames (15) must be an even multiple of units (4)" in str(result.exception)
    assert not (tmp_path / "train").exists()
