"""Real-data loaders: dataset layouts → manifest records, the manifest file, clip decoding, bad videos, CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from dysen_core.cli import run
from dysen_core.errors import InputError
from dysen_core.video_data import (
    ClipDataset,
    VideoRecord,
    activitynet,
    camel_words,
    csv_pairs,
    iter_clips,
    iter_manifest,
    msrvtt,
    read_clip,
    ucf101,
    write_manifest,
)

FPS = 10
LEVEL0, LEVEL_STEP = 20, 7  # frame i is grey LEVEL0 + LEVEL_STEP * i, so its index survives compression


def frame_image(index: int, height: int = 48, width: int = 64) -> np.ndarray:
    """Frame ``index``: a grey level telling the index, a red band at the left and a blue one at the right (8 px each)."""
    image = np.full((height, width, 3), LEVEL0 + LEVEL_STEP * index, np.uint8)
    image[:, :8] = (255, 0, 0)
    image[:, -8:] = (0, 0, 255)
    return image


def write_video(path: Path, n: int = 30, height: int = 48, width: int = 64, first: int = 0, **kwargs) -> Path:
    """An n-frame 10 fps video of ``frame_image(first …)`` at ``path``."""
    writer = imageio_ffmpeg.write_frames(str(path), (width, height), fps=FPS, macro_block_size=1, ffmpeg_log_level="error", **kwargs)
    writer.send(None)
    for i in range(first, first + n):
        writer.send(frame_image(i, height, width).tobytes())
    writer.close()
    return path


def indices(clip: np.ndarray) -> list[int]:
    """The source frame index of each clip frame, from the grey level at its centre."""
    centre = clip[:, clip.shape[1] // 2 - 2: clip.shape[1] // 2 + 2, clip.shape[2] // 2 - 2: clip.shape[2] // 2 + 2]
    return [round((float(level) - LEVEL0) / LEVEL_STEP) for level in centre.mean(axis=(1, 2, 3))]


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    """A 3 s video, a 1 s one, one whose second half is smaller, a corrupt, an empty and an audio-only file."""
    root = tmp_path_factory.mktemp("videos")
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    mjpeg = {"codec": "mjpeg", "pix_fmt_out": "yuvj420p"}  # each JPEG frame has its own size, so parts can be spliced
    write_video(root / "part1.avi", n=10, **mjpeg)
    write_video(root / "part2.avi", n=10, height=32, width=40, first=10, **mjpeg)
    (root / "parts.txt").write_text("file part1.avi\nfile part2.avi\n")
    subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-f", "concat", "-safe", "0", "-i", str(root / "parts.txt"),
                    "-c", "copy", str(root / "mixed.avi")], check=True)
    subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=0.3", str(root / "tone.m4a")], check=True)
    (root / "corrupt.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (root / "empty.mp4").write_bytes(b"")
    return {
        "long": write_video(root / "long.mp4"),
        "short": write_video(root / "short.mp4", n=10),
        "mixed": root / "mixed.avi",
        "tone": root / "tone.m4a",
        "corrupt": root / "corrupt.mp4",
        "empty": root / "empty.mp4",
    }


# --- sources ----------------------------------------------------------------------------------------------------


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not decoded by the sources")
    return path


def test_camel_case_class_names_become_words():
    assert camel_words("ApplyEyeMakeup") == "apply eye makeup"
    assert camel_words("YoYo") == "yo yo"
    assert camel_words("Mixing2Colors") == "mixing 2 colors"


def test_ucf101_captions_from_class_folders_and_splits_by_group_or_official_list(tmp_path):
    touch(tmp_path / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01.avi")
    touch(tmp_path / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g08_c02.avi")
    touch(tmp_path / "HandstandPushups" / "v_HandStandPushups_g07_c01.mp4")  # the real data spells it so
    touch(tmp_path / "HandstandPushups" / "notes.txt")

    records = list(ucf101(tmp_path))
    assert [(r.id, r.captions, r.split) for r in records] == [
        ("v_ApplyEyeMakeup_g01_c01", ["apply eye makeup"], "test"),
        ("v_ApplyEyeMakeup_g08_c02", ["apply eye makeup"], "train"),
        ("v_HandStandPushups_g07_c01", ["handstand pushups"], "test"),
    ]
    assert records[0].video == tmp_path / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01.avi"

    testlist = tmp_path / "testlist01.txt"
    testlist.write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c02.avi\nYoYo/v_YoYo_g01_c01.avi\n")
    skipped = []
    splits = {r.id: r.split for r in ucf101(tmp_path, testlist, on_skip=skipped.append)}
    assert splits == {"v_ApplyEyeMakeup_g01_c01": "train", "v_ApplyEyeMakeup_g08_c02": "test", "v_HandStandPushups_g07_c01": "train"}
    assert [(s.id, s.kind) for s in skipped] == [("v_YoYo_g01_c01", "missing")]

    with pytest.raises(InputError, match="trainlist0N.txt or testlist0N.txt"):
        list(ucf101(tmp_path, tmp_path / "classInd.txt"))
    with pytest.raises(InputError, match="UCF-101 folder .* not found"):
        list(ucf101(tmp_path / "nowhere"))


def test_msrvtt_groups_sentences_per_video_and_reports_missing_videos(tmp_path):
    touch(tmp_path / "videos" / "video0.mp4")
    touch(tmp_path / "videos" / "video1.mp4")
    info = {
        "info": {"year": 2016},
        "videos": [{"video_id": "video0", "split": "train"}, {"video_id": "video1", "split": "validate"},
                   {"video_id": "video2", "split": "test"}, {"video_id": "video3", "split": "test"}],
        "sentences": [{"video_id": "video0", "caption": "a man is cooking", "sen_id": 0},
                      {"video_id": "video1", "caption": "a dog runs", "sen_id": 1},
                      {"video_id": "video0", "caption": "someone makes food", "sen_id": 2},
                      {"video_id": "video2", "caption": "a car drives", "sen_id": 3}],
    }
    (tmp_path / "videodatainfo.json").write_text(json.dumps(info))
    skipped = []
    records = list(msrvtt(tmp_path / "videos", tmp_path / "videodatainfo.json", on_skip=skipped.append))
    assert [(r.id, r.captions, r.split) for r in records] == [
        ("video0", ["a man is cooking", "someone makes food"], "train"),
        ("video1", ["a dog runs"], "val"),
    ]
    assert [(s.id, s.kind) for s in skipped] == [("video2", "missing"), ("video3", "no caption")]

    (tmp_path / "bad.json").write_text(json.dumps({"videos": []}))
    with pytest.raises(InputError, match="sentences: Field required"):
        list(msrvtt(tmp_path / "videos", tmp_path / "bad.json"))


def test_activitynet_joins_dense_captions_in_time_order(tmp_path):
    touch(tmp_path / "videos" / "v_abc.mp4")
    touch(tmp_path / "videos" / "xyz.mkv")  # downloaded without the v_ prefix
    annotations = {
        "v_abc": {"duration": 20.0, "timestamps": [[8.0, 15.0], [0.5, 7.9], [21.0, 18.0]],
                  "sentences": [" She dries her hair", "A woman washes her hair.", "She leaves!"]},
        "v_xyz": {"duration": 5.0, "timestamps": [[0, 5]], "sentences": ["A cat sleeps."]},
        "v_gone": {"duration": 5.0, "timestamps": [[0, 5]], "sentences": ["Nothing here."]},
    }
    (tmp_path / "train.json").write_text(json.dumps(annotations))
    skipped = []
    records = list(activitynet(tmp_path / "videos", tmp_path / "train.json", "train", on_skip=skipped.append))
    assert [r.id for r in records] == ["v_abc", "v_xyz"]
    abc = records[0]
    assert abc.captions == ["A woman washes her hair. She dries her hair. She leaves!"]
    assert [(d.start, d.end, d.text) for d in abc.dense_captions] == [
        (0.5, 7.9, "A woman washes her hair."), (8.0, 15.0, "She dries her hair"), (18.0, 20.0, "She leaves!")]
    assert records[1].video.name == "xyz.mkv"
    assert [(s.id, s.kind) for s in skipped] == [("v_gone", "missing")]

    with pytest.raises(InputError, match="unknown split 'dev'"):
        list(activitynet(tmp_path / "videos", tmp_path / "train.json", "dev"))
    (tmp_path / "bad.json").write_text(json.dumps({"v_abc": {"timestamps": [[0, 1]], "sentences": []}}))
    with pytest.raises(InputError, match="1 timestamps but 0 sentences"):
        list(activitynet(tmp_path / "videos", tmp_path / "bad.json", "val"))


def test_csv_pairs_reads_paths_and_urls_and_merges_consecutive_captions(tmp_path):
    touch(tmp_path / "dl" / "1066.mp4")
    touch(tmp_path / "dl" / "sub" / "2077.mp4")
    (tmp_path / "webvid.csv").write_text(
        "videoid,contentUrl,name\n"
        "1066,https://example.com/videos/1066.mp4,Aerial shot of a forest\n"
        "1066,https://example.com/videos/1066.mp4,Drone over trees\n"
        "2077,sub/2077.mp4,A boat on a lake\n"
        "3000,https://example.com/videos/3000.mp4,Not downloaded\n"
        "4000,sub/4000.mp4,\n"
    )
    skipped = []
    records = list(csv_pairs(tmp_path / "webvid.csv", "contentUrl", "name", videos_dir=tmp_path / "dl", split="val",
                             on_skip=skipped.append))
    assert [(r.id, r.captions, r.split, r.video) for r in records] == [
        ("1066", ["Aerial shot of a forest", "Drone over trees"], "val", tmp_path / "dl" / "1066.mp4"),
        ("2077", ["A boat on a lake"], "val", tmp_path / "dl" / "sub" / "2077.mp4"),
    ]
    assert [(s.id, s.kind) for s in skipped] == [("4000", "no caption"), ("3000", "missing")]

    with pytest.raises(InputError, match=r"no column 'caption' \(--caption-col\); columns found: videoid, contentUrl, name"):
        list(csv_pairs(tmp_path / "webvid.csv", "contentUrl", "caption"))


# --- the manifest -------------------------------------------------------------------------------------------------


def test_manifest_round_trip_stores_paths_relative_to_its_folder(tmp_path, figure3_plan):
    inside, outside = touch(tmp_path / "data" / "clips" / "a.mp4"), touch(tmp_path / "elsewhere" / "b.mp4")
    records = [
        VideoRecord(id="a", video=inside, captions=["a lady drinks"], split="train", plan=figure3_plan, start=1.5, end=3.5),
        VideoRecord(id="b", video=outside, captions=["a dog", "a puppy"], split="test"),
    ]
    manifest = tmp_path / "data" / "manifest.jsonl"
    assert write_manifest(manifest, records) == {"train": 1, "val": 0, "test": 1}
    stored = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert stored[0]["video"] == "clips/a.mp4" and stored[1]["video"] == str(outside)
    assert "dsg" not in stored[0]
    assert list(iter_manifest(manifest)) == records

    with pytest.raises(InputError, match="video id 'a' appears twice"):
        write_manifest(manifest, records + records[:1])
    assert list(iter_manifest(manifest)) == records  # the old manifest is untouched

    manifest.write_text(manifest.read_text() + '{"id": "c", "video": "c.mp4", "captions": [], "split": "train"}\n')
    with pytest.raises(InputError, match=r"manifest.jsonl:3 is not a valid video record: captions: List should have at least 1"):
        list(iter_manifest(manifest))
    with pytest.raises(InputError, match="manifest .* not found"):
        list(iter_manifest(tmp_path / "none.jsonl"))


# --- frames -------------------------------------------------------------------------------------------------------


def test_read_clip_takes_16_frames_evenly_over_two_seconds(videos):
    clip = read_clip(videos["long"], size=48)
    assert clip.shape == (16, 48, 48, 3) and clip.dtype == np.uint8
    assert indices(clip) == [int(1.25 * i) for i in range(16)]  # 20 frames in 2 s at 10 fps, one every 0.125 s
    assert indices(read_clip(videos["long"], frames=4, seconds=1.0, start=1.5, size=48)) == [15, 17, 20, 22]


def test_read_clip_spans_a_shorter_video_whole_and_repeats_frames(videos):
    assert indices(read_clip(videos["short"], frames=16, size=48)) == [int(10 * i / 16) for i in range(16)]
    assert indices(read_clip(videos["long"], frames=3, seconds=None, size=48)) == [0, 10, 20]


def test_read_clip_resizes_the_short_side_and_crops_the_centre(videos):
    exact = read_clip(videos["long"], frames=2, size=48)  # 64×48 → crop columns 8…55: both colour bands go
    assert exact.shape == (2, 48, 48, 3)
    band = exact[:, :, 2:-2].astype(int)
    assert np.abs(band[..., 0] - band[..., 2]).max() < 40  # grey: neither the red nor the blue band is left
    small = read_clip(videos["long"], frames=2, size=24)  # 64×48 → 32×24 → crop columns 4…27
    assert small.shape == (2, 24, 24, 3)
    assert np.abs(small[:, :, 3:-3, 0].astype(int) - small[:, :, 3:-3, 2]).max() < 40


def test_frames_of_mixed_sizes_are_each_resized_to_the_target(videos):
    clip = read_clip(videos["mixed"], frames=4, seconds=None, size=24)
    assert clip.shape == (4, 24, 24, 3)
    assert indices(clip) == [0, 5, 10, 15]  # frames 10+ are 40×32 in the file


@pytest.mark.parametrize(
    ("name", "message"),
    [("corrupt", "cannot read video file .*corrupt.mp4.*corrupt or not a video"),
     ("empty", "video file .*empty.mp4' is empty"),
     ("tone", "tone.m4a' has no video stream")],
)
def test_bad_video_files_are_input_errors_naming_the_file(videos, name, message):
    with pytest.raises(InputError, match=message):
        read_clip(videos[name])


def test_a_truncated_video_keeps_its_leading_frames_and_one_without_frames_is_an_error(tmp_path):
    import av

    whole = write_video(tmp_path / "whole.mkv").read_bytes()
    with av.open(str(tmp_path / "whole.mkv")) as container:
        starts = [packet.pos for packet in container.demux(video=0) if packet.size]  # byte offset of frame i
    (tmp_path / "cut.mkv").write_bytes(whole[:starts[12]])
    assert indices(read_clip(tmp_path / "cut.mkv", frames=4, seconds=None, size=16)) == [0, 3, 6, 9]  # frames 0–11 remain
    (tmp_path / "header.mkv").write_bytes(whole[:starts[0] + 8])
    with pytest.raises(InputError, match="header.mkv' has no decodable frame; the file is truncated or corrupt"):
        read_clip(tmp_path / "header.mkv")


def test_missing_file_and_start_past_the_end_are_input_errors(videos, tmp_path):
    with pytest.raises(InputError, match="video file .*nope.mp4' not found"):
        read_clip(tmp_path / "nope.mp4")
    with pytest.raises(InputError, match=r"no decodable frame at or after 9.0 s \(the video is 3.00 s long\)"):
        read_clip(videos["long"], start=9.0)


def test_one_bad_video_does_not_stop_the_others(videos, tmp_path):
    records = [VideoRecord(id=name, video=videos[name], captions=[f"clip {name}"], split="train") for name in ("long", "corrupt", "short")]
    records.append(VideoRecord(id="segment", video=videos["long"], captions=["later"], split="val", start=1.0, end=1.4))
    write_manifest(tmp_path / "m.jsonl", records)

    results = {record.id: clip for record, clip in iter_clips(tmp_path / "m.jsonl", frames=4, size=16)}
    assert isinstance(results["corrupt"], InputError) and "corrupt.mp4" in str(results["corrupt"])
    assert results["long"].shape == results["short"].shape == (4, 16, 16, 3)
    assert indices(results["segment"]) == [10, 11, 12, 13]  # 0.4 s from 1.0 s: never past the record's end

    dataset = ClipDataset(tmp_path / "m.jsonl", split="train", frames=4, size=16)
    assert len(dataset) == 3
    item = dataset[2]
    assert item["video"].shape == (4, 16, 16, 3) and item["caption"] == "clip short" and item["id"] == "short"
    assert item["captions"] == ["clip short"] and item["dsg"] is None
    with pytest.raises(InputError, match="corrupt.mp4"):
        dataset[1]


# --- CLI ----------------------------------------------------------------------------------------------------------


def test_cli_writes_a_manifest_and_lists_videos_left_out(videos, tmp_path, capsys):
    root = tmp_path / "UCF-101"
    for name, source in (("v_JumpingJack_g01_c01.mp4", "long"), ("v_JumpingJack_g09_c01.mp4", "short"),
                         ("v_JumpingJack_g10_c01.mp4", "corrupt")):
        touch(root / "JumpingJack" / name).write_bytes(videos[source].read_bytes())
    out = tmp_path / "ucf.jsonl"
    assert run(["data", "manifest", "ucf101", str(root), "-o", str(out), "--check"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote 2 records (train 1, val 0, test 1) to {out}; left out 1 (unreadable 1)" in printed
    failure = json.loads((tmp_path / "ucf.failures.jsonl").read_text())
    assert failure["id"] == "v_JumpingJack_g10_c01" and "corrupt" in failure["reason"]
    assert [r.captions for r in iter_manifest(out)] == [["jumping jack"], ["jumping jack"]]

    assert run(["data", "manifest", "ucf101", str(root), "-o", str(out)]) == 0  # unchecked: all 3, no failures list
    assert "wrote 3 records (train 2, val 0, test 1)" in capsys.readouterr().out
    assert not (tmp_path / "ucf.failures.jsonl").exists()


def test_cli_user_errors_exit_2_with_one_clear_line(tmp_path, capsys):
    (tmp_path / "pairs.csv").write_text("path,text\na.mp4,a cat\n")
    code = run(["data", "manifest", "csv", str(tmp_path / "pairs.csv"), "--video-col", "video", "--caption-col", "text",
                "-o", str(tmp_path / "m.jsonl")])
    assert code == 2
    assert capsys.readouterr().err.strip() == f"Error: {tmp_path / 'pairs.csv'} has no column 'video' (--video-col); columns found: path, text"
    assert run(["data", "manifest", "activitynet", str(tmp_path), str(tmp_path / "none.json"), "--split", "train",
                "-o", str(tmp_path / "m.jsonl")]) == 2
    assert "ActivityNet Captions annotation file" in capsys.readouterr().err
    assert not (tmp_path / "m.jsonl").exists()
