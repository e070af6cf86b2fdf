"""Video files: mp4/gif/PNG round trips, atomic writes, clear errors, and the float → uint8 conversion."""

from __future__ import annotations

import stat

import numpy as np
import pytest
import torch
from PIL import Image

from dysen_core.errors import InputError
from dysen_core.video import from_uint8, read_video, to_uint8, write_frames_png, write_video


def gradient_clip(frames: int = 16, size: int = 64) -> np.ndarray:
    """A smooth colour gradient that slides one pixel a frame: easy for a codec, and every frame differs."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    clip = np.empty((frames, size, size, 3), dtype=np.uint8)
    for f in range(frames):
        clip[f, ..., 0] = (x + f) * 255 / (size + frames)
        clip[f, ..., 1] = y * 255 / size
        clip[f, ..., 2] = 128 + 64 * np.sin((x + y + 2 * f) / size * np.pi)
    return clip


def test_mp4_round_trip(tmp_path):
    clip = gradient_clip()
    path = write_video(tmp_path / "clip.mp4", clip, fps=8)
    back = read_video(path)
    assert back.shape == clip.shape and back.dtype == np.uint8
    # Measured mean abs error: 1.8 (of 255; max 9) with libx264 crf 10 and yuv420p chroma subsampling.
    assert np.abs(back.astype(np.float32) - clip).mean() < 4
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_gif_round_trip(tmp_path):
    clip = gradient_clip(frames=5, size=32)
    path = write_video(tmp_path / "clip.gif", clip, fps=10)
    with Image.open(path) as gif:
        assert gif.n_frames == 5
        assert gif.size == (32, 32)
        assert gif.info["duration"] == 100 and gif.info["loop"] == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_png_frames(tmp_path):
    clip = gradient_clip(frames=3, size=16)
    paths = write_frames_png(tmp_path / "frames", clip)
    assert [p.name for p in paths] == ["frame_000.png", "frame_001.png", "frame_002.png"]
    for path, frame in zip(paths, clip):
        with Image.open(path) as image:
            assert np.array_equal(np.asarray(image.convert("RGB")), frame)  # PNG is lossless


def test_unknown_suffix_names_the_allowed_ones(tmp_path):
    with pytest.raises(InputError, match=r"unknown suffix '\.avi'; use one of \.mp4, \.gif"):
        write_video(tmp_path / "clip.avi", gradient_clip(frames=2, size=16))


@pytest.mark.parametrize(
    "frames",
    [np.zeros((2, 16, 16), np.uint8), np.zeros((2, 16, 16, 4), np.uint8), np.zeros((2, 16, 16, 3), np.float32)],
    ids=["no-channels", "rgba", "float"],
)
def test_bad_frames_name_the_shape(tmp_path, frames):
    with pytest.raises(InputError, match=r"frames have shape \(2, 16, 16.*expected a \(F, H, W, 3\) uint8"):
        write_video(tmp_path / "clip.mp4", frames)
    assert list(tmp_path.iterdir()) == []


def test_odd_size_mp4_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"15×16 has an odd side"):
        write_video(tmp_path / "clip.mp4", np.zeros((2, 15, 16, 3), np.uint8))


def test_writes_leave_no_temporary_files(tmp_path):
    write_video(tmp_path / "a.mp4", gradient_clip(frames=4, size=32))
    write_video(tmp_path / "a.gif", gradient_clip(frames=4, size=32))
    write_frames_png(tmp_path, gradient_clip(frames=2, size=16))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif", "a.mp4", "frame_000.png", "frame_001.png"]


def test_failed_mp4_write_keeps_the_old_file_and_no_partial_one(tmp_path, monkeypatch):
    import imageio_ffmpeg

    target = tmp_path / "clip.mp4"
    target.write_bytes(b"old")

    def broken_writer(path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"partial")  # ffmpeg got halfway, then died
        raise OSError("ffmpeg died")
        yield  # a generator, like the real write_frames

    monkeypatch.setattr(imageio_ffmpeg, "write_frames", broken_writer)
    with pytest.raises(OSError, match="ffmpeg died"):
        write_video(target, gradient_clip(frames=2, size=16))
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]
    assert target.read_bytes() == b"old"


def test_read_missing_video(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_video(tmp_path / "none.mp4")


def test_to_uint8_clamps_and_rounds():
    video = torch.tensor([-2.0, -1.0, 0.0, 0.999, 1.0, 3.0]).reshape(1, 1, 1, 6).expand(2, 3, 1, 6)
    out = to_uint8(video)
    assert out.shape == (2, 1, 6, 3) and out.dtype == np.uint8
    assert out[0, 0, :, 0].tolist() == [0, 0, 128, 255, 255, 255]  # 0 → 127.5 rounds half to even: 128
    assert np.array_equal(to_uint8(video.numpy()), out)
    with pytest.raises(InputError, match=r"video has shape \(3, 4, 4\)"):
        to_uint8(np.zeros((3, 4, 4), np.float32))


def test_from_uint8_is_the_inverse_of_to_uint8():
    frames = np.random.default_rng(0).integers(0, 256, (3, 5, 7, 3), dtype=np.uint8)
    unit = from_uint8(frames)
    assert unit.shape == (3, 3, 5, 7) and unit.min() >= -1 and unit.max() <= 1
    assert np.array_equal(to_uint8(unit), frames)
