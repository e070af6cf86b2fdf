"""The exact parser: it recovers the gold DSG and events from rendered clips, tolerates noise, rejects bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dysen_core.errors import InputError
from dysen_core.metrics.trirec import triplet_recall
from dysen_core.shapes import (
    ParserOptions,
    ShapesConfig,
    generate_clip,
    iter_clips,
    load_frames,
    parse_video,
    write_dataset,
)
from dysen_core.shapes.splits import split_of

CONFIG = ShapesConfig()


def _held_out_indices(count: int) -> list[int]:
    return list(itertools.islice((i for i in itertools.count() if split_of(i) != "train"), count))


def _event_set(events):
    return {(e.agent, e.predicate, e.target, e.start, e.end) for e in events}


def test_parser_recovers_the_gold_dsg_and_every_event_on_200_held_out_clips():
    for index in _held_out_indices(200):
        record, frames = generate_clip(CONFIG, 2024, index)
        parsed = parse_video(frames)
        assert _event_set(parsed.events) == _event_set(record.plan.events), record.id
        for f, (got, gold) in enumerate(zip(parsed.dsg.frames, record.dsg.frames, strict=True)):
            assert triplet_recall(got.relations, gold.relations) in (1.0, None), (record.id, f)
            assert got == gold, (record.id, f)


def test_parser_is_exact_on_stored_clips(tmp_path):
    write_dataset(tmp_path, 40, 77, CONFIG, workers=1)
    for split in ("train", "val", "test"):
        for record in iter_clips(tmp_path, split):
            parsed = parse_video(load_frames(tmp_path, record))
            assert _event_set(parsed.events) == _event_set(record.plan.events)
            assert parsed.dsg.frames == record.dsg.frames


def test_parser_reads_other_grids_and_sizes():
    config = ShapesConfig(frames=24, units=4, size=96)
    for index in range(40):
        record, frames = generate_clip(config, 1, index)
        parsed = parse_video(frames, ParserOptions(units=4))
        assert _event_set(parsed.events) == _event_set(record.plan.events)
        assert parsed.dsg.frames == record.dsg.frames


def test_parser_tolerates_noise_and_colour_shifts():
    rng = np.random.default_rng(0)
    events_found = events_total = 0
    recalls = []
    for index in range(120):
        record, frames = generate_clip(CONFIG, 8, index)
        noisy = frames.astype(np.float64) + rng.normal(0, 8, frames.shape) + rng.uniform(-15, 15, size=3)
        parsed = parse_video(np.clip(noisy, 0, 255).astype(np.uint8))
        events_found += len(_event_set(parsed.events) & _event_set(record.plan.events))
        events_total += len(record.plan.events)
        for got, gold in zip(parsed.dsg.frames, record.dsg.frames):
            score = triplet_recall(got.relations, gold.relations)
            if score is not None:
                recalls.append(score)
    assert events_found / events_total >= 0.97
    assert np.mean(recalls) >= 0.97


def test_parser_accepts_a_list_of_frames():
    record, frames = generate_clip(CONFIG, 0, 1)
    assert _event_set(parse_video(list(frames)).events) == _event_set(record.plan.events)


def test_empty_video_is_a_clear_error():
    with pytest.raises(InputError, match="video is empty"):
        parse_video([])
    with pytest.raises(InputError, match=r"expected \(F, H, W, 3\)"):
        parse_video(np.zeros((0, 64, 64, 3), dtype=np.uint8))


def test_frames_of_mixed_sizes_are_a_clear_error():
    frames = [np.zeros((64, 64, 3), np.uint8), np.zeros((32, 32, 3), np.uint8)]
    with pytest.raises(InputError, match=r"frame 1 has shape \(32, 32, 3\) but frame 0 has \(64, 64, 3\)"):
        parse_video(frames)


def test_wrong_dtype_and_grid_are_clear_errors():
    with pytest.raises(InputError, match="dtype float64; expected uint8"):
        parse_video(np.zeros((16, 64, 64, 3)))
    with pytest.raises(InputError, match="cannot read 4 units from 10 frames"):
        parse_video(np.zeros((10, 64, 64, 3), dtype=np.uint8))


def test_a_blank_video_parses_to_empty_scene_graphs():
    parsed = parse_video(np.full((16, 64, 64, 3), 128, dtype=np.uint8))
    assert parsed.events == []
    assert all(not graph.objects for graph in parsed.dsg.frames)
