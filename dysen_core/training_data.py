"""Training examples for ``dysen train``: clips with a caption and (optionally) a gold DSG, loaded lazily.

An example is a dict: ``video`` uint8 (F, H, W, 3), ``caption`` str, ``dsg`` DynamicSceneGraph or None,
``id`` str. Sources: a dynamic-shapes dataset folder (``dysen data shapes``), whose clips carry gold DSGs,
and a video manifest (``dysen data manifest``: UCF-101, MSR-VTT, ActivityNet, CSV), decoded per clip.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import VideoSettings
from .errors import InputError

TRAINING_STAGES = ("autoencoder", "vdm", "dysen")
"""Paper §4.3: Stage I the autoencoder, Stage II the VDM on the data's DSGs, Stage III with Dysen's DSGs."""


class ShapesExamples(Sequence):
    """One split of a dynamic-shapes dataset; frames are read from disk per example."""

    def __init__(self, root: Path, split: str, video: VideoSettings):
        from .shapes.dataset import iter_clips

        self.root = Path(root)
        self.records = list(iter_clips(self.root, split))  # manifests hold no pixels: small
        if not self.records:
            raise InputError(f"{self.root / split} has no clips")
        first = self.records[0]
        if (first.frames, first.size, first.size) != (video.frames, video.height, video.width):
            raise InputError(
                f"{self.root} has {first.frames}-frame {first.size}x{first.size} clips but the config asks for "
                f"{video.frames} x {video.height}x{video.width}; pass --set video.frames={first.frames} "
                f"--set video.height={first.size} --set video.width={first.size}"
            )

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        from .shapes.dataset import load_frames

        record = self.records[index]
        return {"id": record.id, "video": load_frames(self.root, record), "caption": record.captions[0], "dsg": record.dsg}


def load_examples(data: Path, split: str, video: VideoSettings) -> Sequence[dict[str, Any]]:
    """The examples of ``split`` under ``data``."""
    data = Path(data)
    if (data / "config.json").is_file() and (data / split / "manifest.jsonl").is_file():
        return ShapesExamples(data, split, video)
    if data.suffix == ".jsonl" and data.is_file():
        from .video_data import ClipDataset

        if video.height != video.width:
            raise InputError(f"video manifests are centre-cropped to squares; set video.height = video.width (got {video.height}x{video.width})")
        clips = ClipDataset(data, split=split, frames=video.frames, size=video.height)
        if not len(clips):
            raise InputError(f"{data} has no {split} records")
        return clips
    raise InputError(
        f"{data} is not a dataset dysen can train on; make one with `dysen data shapes --out DIR` "
        "or `dysen data manifest ... -o manifest.jsonl`"
    )
