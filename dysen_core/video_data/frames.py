"""Reading training clips from real videos (issue 6, part 6; paper §5.1: 16 frames evenly over 2 s, 256×256).

``read_clip`` decodes with PyAV, seeks to ``start``, picks ``frames`` frames evenly spaced in time over the
next ``seconds`` (over what is left when the video is shorter), resizes each frame's short side to ``size``
with Pillow's bicubic filter (antialiased when shrinking) and centre-crops it to size×size. Frames are
resized one by one, so a file whose resolution changes midway (rare; spliced streams do it) still gives one
consistent (F, size, size, 3) array. Picking goes by timestamps, so variable frame rates are sampled evenly
in time rather than in frame count.

``ClipDataset`` is a map-style dataset over a manifest (``len`` and indexing, which is all a torch DataLoader
needs); ``iter_clips`` streams (record, frames or error) so one bad video never stops a run. PyAV is imported
when the first video is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..errors import InputError
from .manifest import VideoRecord, iter_manifest

if TYPE_CHECKING:
    import av

EPS = 1e-6  # seconds; absorbs float rounding when comparing frame times with sample times
FALLBACK_FPS = 25.0  # frame rate assumed for the rare frames without a timestamp when the stream states none


def _open(path: Path) -> av.container.InputContainer:
    """The opened container of ``path``; every way the file can be unusable is an InputError naming it."""
    try:
        import av
    except ImportError:
        raise InputError("reading videos needs PyAV; install it with `pip install av`") from None
    if not path.is_file():
        raise InputError(f"video file '{path}' not found; check the manifest's video path")
    if path.stat().st_size == 0:
        raise InputError(f"video file '{path}' is empty (0 bytes); download it again or drop it from the manifest")
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise InputError(f"cannot read video file '{path}' ({exc.strerror or exc}); it is corrupt or not a video") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"'{path}' has no video stream; give a video file")
    return container


def _decode(container: av.container.InputContainer, path: Path, start: float, seconds: float | None) -> list[tuple[float, Any]]:
    """(time, frame) for the frames from ``start`` until ``start + seconds`` (always at least the first one).

    A decoding error after some frames ends the window there (a truncated download keeps its leading frames).
    """
    import av

    stream = container.streams.video[0]
    rate = float(stream.average_rate or FALLBACK_FPS)
    decoded: list[tuple[float, Any]] = []
    try:
        if start > 0 and stream.time_base is not None:
            container.seek(int(start / stream.time_base), stream=stream)  # to the keyframe at or before start
        for frame in container.decode(stream):
            time = frame.time if frame.time is not None else start + len(decoded) / rate
            if time < start - EPS:
                continue
            if decoded and seconds is not None and time >= start + seconds - EPS:
                break
            decoded.append((time, frame))
    except av.FFmpegError as exc:
        if not decoded:
            raise InputError(f"cannot decode video file '{path}' ({exc.strerror or exc}); it is corrupt") from None
    if not decoded and start > 0:
        length = f" (the video is {container.duration / 1e6:.2f} s long)" if container.duration else ""
        raise InputError(f"'{path}' has no decodable frame at or after {start} s{length}; check the clip's start")
    if not decoded:
        raise InputError(f"'{path}' has no decodable frame; the file is truncated or corrupt")
    return decoded


def _pick(times: np.ndarray, frames: int, start: float, seconds: float | None) -> np.ndarray:
    """Indices of the frames shown at ``frames`` evenly spaced times over the window (or all that is left)."""
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    span = times[-1] + step - start  # the decoded window, to the end of its last frame
    if seconds is not None:
        span = min(span, seconds)
    targets = start + np.arange(frames) * span / frames
    return np.clip(np.searchsorted(times, targets + EPS, side="right") - 1, 0, len(times) - 1)


def _resize_crop(image: Image.Image, size: int) -> np.ndarray:
    """``image`` with its short side resized to ``size`` and centre-cropped to size×size, as (size, size, 3) uint8."""
    width, height = image.size
    scale = size / min(width, height)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    if (new_w, new_h) != (width, height):
        image = image.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return np.asarray(image.convert("RGB").crop((left, top, left + size, top + size)))


def read_clip(path: str | Path, frames: int = 16, seconds: float | None = 2.0, size: int = 256, start: float = 0.0) -> np.ndarray:
    """``frames`` frames of the video ``path``, evenly spaced over ``seconds`` from ``start``, as uint8
    (frames, size, size, 3).

    ``seconds=None`` spans the rest of the video. Frames repeat when the window holds fewer than ``frames``.
    A missing, empty, corrupt or frameless file, or one without a video stream, is an InputError naming it.
    """
    if frames < 1 or size < 1 or start < 0 or (seconds is not None and seconds <= 0):
        raise ValueError(f"need frames >= 1, size >= 1, start >= 0 and seconds > 0 or None; got frames={frames}, "
                         f"size={size}, start={start}, seconds={seconds}")
    path = Path(path)
    with _open(path) as container:
        decoded = _decode(container, path, start, seconds)
        picks = _pick(np.array([time for time, _ in decoded]), frames, start, seconds)
        converted = {int(i): _resize_crop(decoded[i][1].to_image(), size) for i in set(picks.tolist())}
    return np.stack([converted[int(i)] for i in picks])


def read_record(record: VideoRecord, frames: int = 16, seconds: float | None = 2.0, size: int = 256) -> np.ndarray:
    """The clip of ``record``: from its ``start`` (or 0), over ``seconds`` but never past its ``end``."""
    start = record.start or 0.0
    if record.end is not None:
        seconds = record.end - start if seconds is None else min(seconds, record.end - start)
    return read_clip(record.video, frames=frames, seconds=seconds, size=size, start=start)


class ClipDataset:
    """Indexable clips of a manifest: records are read at construction, videos decoded on access.

    ``dataset[i]`` is a dict with ``id``, ``video`` (uint8 (F, size, size, 3)), ``caption`` (the first),
    ``captions`` and ``dsg`` (or None). A bad video raises an InputError naming it; run
    ``dysen data manifest … --check`` first to leave such videos out, or stream with ``iter_clips``.
    """

    def __init__(self, manifest: str | Path, *, split: str | None = None, frames: int = 16, seconds: float | None = 2.0,
                 size: int = 256):
        self.records = [record for record in iter_manifest(manifest) if split is None or record.split == split]
        self.frames, self.seconds, self.size = frames, seconds, size

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        record = self.records[index]
        return {
            "id": record.id,
            "video": read_record(record, self.frames, self.seconds, self.size),
            "caption": record.captions[0],
            "captions": list(record.captions),
            "dsg": record.dsg,
        }


def iter_clips(manifest: str | Path, *, split: str | None = None, frames: int = 16, seconds: float | None = 2.0,
               size: int = 256) -> Iterator[tuple[VideoRecord, np.ndarray | InputError]]:
    """(record, clip) for each record of ``manifest`` (of ``split``, if given); a video that cannot be read
    comes as (record, InputError) instead, and the rest still load."""
    for record in iter_manifest(manifest):
        if split is not None and record.split != split:
            continue
        try:
            yield record, read_record(record, frames, seconds, size)
        except InputError as exc:
            yield record, exc
