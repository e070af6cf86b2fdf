"""Writing generated videos (mp4, gif, PNG frames) atomically, and reading mp4s back for tests and evaluation.

Frames are numpy ``uint8`` arrays shaped (F, H, W, 3); ``to_uint8`` turns a model's (F, 3, H, W) output in
[-1, 1] into that. imageio-ffmpeg (which ships its own ffmpeg binary) and torch are imported inside the
functions that need them, so importing this module is cheap.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .errors import InputError
from .io import atomic_path, write_bytes_atomic

if TYPE_CHECKING:
    import torch

SUFFIXES = (".mp4", ".gif")
MP4_QUALITY = 8  # imageio-ffmpeg's 0-10 scale; 8 is libx264 crf 10, visually lossless at our sizes


def write_video(path: str | Path, frames: np.ndarray, fps: float = 8) -> Path:
    """Write ``frames`` (F, H, W, 3) uint8 to ``path``; the suffix picks H.264 ``.mp4`` or looping ``.gif``.

    mp4 uses yuv420p (what every player reads), which needs even H and W: odd sizes are an InputError
    rather than a silent resize. A gif shows identical consecutive frames as one longer frame (Pillow merges
    them). Readers see the old file or the new one, never half of it.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"cannot write video '{path}': unknown suffix {path.suffix!r}; use one of {', '.join(SUFFIXES)}")
    _check_frames(frames)
    if fps <= 0:
        raise InputError(f"fps is {fps}; give a positive frame rate, e.g. 8")
    if suffix == ".gif":
        return write_bytes_atomic(path, _gif_bytes(frames, fps))
    return _write_mp4(path, frames, fps)


def write_frames_png(folder: str | Path, frames: np.ndarray) -> list[Path]:
    """Write each frame as ``folder/frame_000.png``, ``frame_001.png``, … (zero-padded so names sort), atomically."""
    _check_frames(frames)
    folder = Path(folder)
    width = max(3, len(str(len(frames) - 1)))
    paths = []
    for index, frame in enumerate(frames):
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="PNG")
        paths.append(write_bytes_atomic(folder / f"frame_{index:0{width}d}.png", buffer.getvalue()))
    return paths


def read_video(path: str | Path) -> np.ndarray:
    """The frames of a video file as a (F, H, W, 3) uint8 array, decoded by ffmpeg."""
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise InputError(f"video file '{path}' not found")
    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        width, height = next(reader)["size"]  # the first item is metadata
        frames = [np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3) for raw in reader]
    except (OSError, RuntimeError) as exc:
        raise InputError(f"cannot read video file '{path}': {str(exc).splitlines()[0]}") from None
    finally:
        reader.close()
    if not frames:
        raise InputError(f"video file '{path}' has no frames")
    return np.stack(frames)


def from_uint8(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 frames (..., H, W, 3) (numpy or torch) → float (..., 3, H, W) in [-1, 1]; the inverse of ``to_uint8``."""
    import torch

    return torch.as_tensor(frames).movedim(-1, -3).float() / 127.5 - 1.0


def to_uint8(video: np.ndarray | torch.Tensor) -> np.ndarray:
    """A (F, 3, H, W) float video in [-1, 1] (numpy or torch) → (F, H, W, 3) uint8; out-of-range values are clamped."""
    if not isinstance(video, np.ndarray):
        video = video.detach().float().cpu().numpy()
    if video.ndim != 4 or video.shape[1] != 3:
        raise InputError(f"video has shape {video.shape}; expected (F, 3, H, W) with values in [-1, 1]")
    scaled = np.rint(np.clip((video.astype(np.float32) + 1.0) * 127.5, 0.0, 255.0))
    return np.ascontiguousarray(scaled.astype(np.uint8).transpose(0, 2, 3, 1))


def _check_frames(frames: np.ndarray) -> None:
    """An InputError unless ``frames`` is a non-empty (F, H, W, 3) uint8 array."""
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        shape = getattr(frames, "shape", None)
        dtype = getattr(frames, "dtype", type(frames).__name__)
        raise InputError(f"frames have shape {shape} and dtype {dtype}; expected a (F, H, W, 3) uint8 array (see to_uint8)")
    if 0 in frames.shape:
        raise InputError(f"frames have shape {frames.shape}; need at least one frame of at least 1×1 pixels")


def _gif_bytes(frames: np.ndarray, fps: float) -> bytes:
    """A looping gif of ``frames`` at ``fps`` (gif stores delays in 10 ms steps, so the rate is rounded)."""
    images = [Image.fromarray(frame) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], loop=0, duration=round(1000 / fps))
    return buffer.getvalue()


def _write_mp4(path: Path, frames: np.ndarray, fps: float) -> Path:
    """Encode H.264 into a temporary file beside ``path``, then move it into place (ffmpeg writes files itself)."""
    import imageio_ffmpeg

    F, H, W, _ = frames.shape
    if H % 2 or W % 2:
        raise InputError(f"frame size {H}×{W} has an odd side; mp4 (yuv420p) needs even sizes: crop or pad a pixel")
    with atomic_path(path, suffix=".tmp.mp4") as tmp:
        writer = imageio_ffmpeg.write_frames(
            str(tmp), (W, H), fps=fps, codec="libx264", pix_fmt_out="yuv420p", quality=MP4_QUALITY, macro_block_size=1
        )
        writer.send(None)  # start ffmpeg
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
        writer.close()  # waits for ffmpeg to finish the file
    return path
