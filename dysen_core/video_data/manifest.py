"""One manifest format for real text–video data (issue 6, part 6): a JSONL file, one ``VideoRecord`` a line.

Every source (UCF-101, MSR-VTT, ActivityNet Captions, any CSV of video–caption pairs) converts to these
records, so loaders and training read one format. A record's ``video`` is stored relative to the manifest's
folder when the video lies inside that folder (the dataset can then move as a whole), else absolute;
``iter_manifest`` gives it back absolute. Manifests are streamed, never loaded whole, and written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from ..datamodel import ActionPlan, DynamicSceneGraph
from ..errors import InputError
from ..io import atomic_file

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")

Caption = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class DenseCaption(BaseModel):
    """One timed sentence of a dense-captioned video (ActivityNet Captions)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: float = Field(ge=0, description="Where the event starts, in seconds from the start of the video.")
    end: float = Field(ge=0, description="Where it ends, in seconds (not before start).")
    text: Caption = Field(description="The sentence describing the event.")

    @model_validator(mode="after")
    def _ordered(self) -> DenseCaption:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class VideoRecord(BaseModel):
    """One manifest line: a video (or a segment of one), its captions and split, and optional gold plan/DSG."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="Unique id within the manifest, e.g. 'v_ApplyEyeMakeup_g08_c01' or 'video42'."
    )
    video: Path = Field(description="The video file: relative to the manifest's folder, or absolute.")
    captions: list[Caption] = Field(min_length=1, description="Captions of the clip; the first is the main one.")
    split: Split = Field(description="train, val or test.")
    start: float | None = Field(default=None, ge=0, description="Clip start in seconds inside the video; null: 0.")
    end: float | None = Field(default=None, gt=0, description="Clip end in seconds; null: the end of the video.")
    dense_captions: list[DenseCaption] | None = Field(
        default=None, description="Timed event sentences in time order (ActivityNet Captions), if the source has them."
    )
    plan: ActionPlan | None = Field(default=None, description="A gold or precomputed action plan, if any.")
    dsg: DynamicSceneGraph | None = Field(default=None, description="A gold or precomputed dynamic scene graph, if any.")

    @model_validator(mode="after")
    def _ordered(self) -> VideoRecord:
        if self.end is not None and self.end <= (self.start or 0.0):
            raise ValueError(f"end ({self.end}) must be after start ({self.start or 0.0})")
        return self


def write_manifest(path: str | Path, records: Iterable[VideoRecord]) -> dict[str, int]:
    """Stream ``records`` into the JSONL manifest ``path`` atomically; returns the record count per split.

    Videos inside the manifest's folder are stored relative to it. A repeated id is an InputError and leaves
    any old manifest in place.
    """
    path = Path(path)
    folder = Path(os.path.abspath(path.parent))
    folder.mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(SPLITS, 0)
    seen: set[str] = set()
    with atomic_file(path, "w") as handle:
        for record in records:
            if record.id in seen:
                raise InputError(f"video id {record.id!r} appears twice; ids in a manifest must be unique")
            seen.add(record.id)
            video = Path(os.path.abspath(record.video)) if record.video.is_absolute() else record.video
            if video.is_absolute() and video.is_relative_to(folder):
                video = video.relative_to(folder)
            handle.write(record.model_copy(update={"video": video}).model_dump_json(exclude_none=True) + "\n")
            counts[record.split] += 1
    return counts


def iter_manifest(path: str | Path) -> Iterator[VideoRecord]:
    """The records of the manifest ``path`` one at a time, with absolute video paths; a bad line is an
    InputError naming the file, the line number and the field."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"manifest '{path}' not found; write one with `dysen data manifest`")
    folder = Path(os.path.abspath(path.parent))
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = VideoRecord.model_validate_json(line)
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(part) for part in error["loc"]) or "(line)"
                raise InputError(f"{path}:{number} is not a valid video record: {where}: {error['msg']}; fix or remove the line") from None
            if not record.video.is_absolute():
                record = record.model_copy(update={"video": folder / record.video})
            yield record
