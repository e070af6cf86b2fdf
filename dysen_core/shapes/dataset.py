"""Writing and streaming a dynamic-shapes dataset on disk (issue 6, part 1).

Layout under the dataset root::

    config.json                  generator settings, seed, clip count, dysen version
    <split>/manifest.jsonl       one ClipRecord per line (captions, gold plan, gold per-frame DSG)
    <split>/clips/<id>.npz       the clip's frames, uint8 (F, H, W, 3), key "frames"

Frames are stored as compressed ``.npz``: lossless, so the exact parser meets exactly the pixels the gold
was computed from (mp4 would blur edges and shift colours), and small (a 16-frame 64-pixel clip is a few
kB). Every file is written atomically (temporary file in the same folder, then ``os.replace``); the
manifests are written last, so a dataset with manifests is complete. Readers stream one clip at a time.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from ..errors import InputError
from ..io import atomic_file, write_bytes_atomic, write_json_atomic
from .generate import ClipRecord, ShapesConfig, generate_clip
from .splits import SPLITS, Split

CHUNK = 64  # clips per worker task: large enough to amortise inter-process traffic, small for smooth progress


def _make_chunk(args: tuple[str, dict, int, int, int]) -> list[tuple[Split, str]]:
    """Worker: generate clips ``[start, stop)``, write their frames, return their manifest lines."""
    root, config_dict, seed, start, stop = args
    config = ShapesConfig(**config_dict)
    lines = []
    for index in range(start, stop):
        record, frames = generate_clip(config, seed, index)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, frames=frames)
        write_bytes_atomic(Path(root) / record.file, buffer.getvalue(), fsync=False)  # the manifest, written last, marks completion
        lines.append((record.split, record.model_dump_json()))
    return lines


def write_dataset(root: Path, n: int, seed: int, config: ShapesConfig, workers: int = 1,
                  progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Generate ``n`` clips under ``root``; returns the clip count per split. ``progress(k)`` after k more clips."""
    root = Path(root)
    if n < 1:
        raise InputError(f"--n must be at least 1, got {n}")
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    if any((root / split / "manifest.jsonl").exists() for split in SPLITS):
        raise InputError(f"{root} already holds a shapes dataset; choose another --out or delete it first")
    root.mkdir(parents=True, exist_ok=True)
    tasks = [(str(root), config.model_dump(), seed, start, min(start + CHUNK, n)) for start in range(0, n, CHUNK)]
    counts = dict.fromkeys(SPLITS, 0)
    with ExitStack() as stack:
        handles = {split: stack.enter_context(atomic_file(root / split / "manifest.jsonl", "w")) for split in SPLITS}
        imap = stack.enter_context(get_context("fork").Pool(workers)).imap if workers > 1 else map
        for lines in imap(_make_chunk, tasks):  # in index order, so manifests list clips by index
            for split, line in lines:
                handles[split].write(line + "\n")
                counts[split] += 1
            if progress:
                progress(len(lines))
    write_json_atomic(root / "config.json", {"seed": seed, "n": n, "config": config.model_dump(), "counts": counts})
    return counts


def iter_clips(root: Path, split: Split) -> Iterator[ClipRecord]:
    """The clip records of ``split``, one at a time (the manifest is never loaded whole)."""
    path = Path(root) / split / "manifest.jsonl"
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; splits: {', '.join(SPLITS)}")
    if not path.exists():
        raise InputError(f"{path} does not exist; generate a dataset with `dysen data shapes --out {root}`")
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            try:
                yield ClipRecord.model_validate_json(line)
            except ValidationError as exc:
                raise InputError(f"{path}:{number} is not a valid clip record: {exc.errors()[0]['msg']}") from None


def load_frames(root: Path, record: ClipRecord) -> np.ndarray:
    """The ``(F, H, W, 3)`` uint8 frames of ``record``."""
    path = Path(root) / record.file
    if not path.exists():
        raise InputError(f"clip file {path} is missing; the dataset at {root} is incomplete")
    with np.load(path) as data:
        return data["frames"]

