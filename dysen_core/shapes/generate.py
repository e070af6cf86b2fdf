"""One clip of the dynamic-shapes benchmark from (config, seed, index): frames plus gold record (issue 6, part 1).

A clip depends only on ``(seed, index)`` (its own ``numpy`` generator), so datasets are reproducible and
any number of workers produce the same bytes.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..datamodel import ActionPlan, DynamicSceneGraph
from .captions import captions
from .gold import gold_frames, gold_plan
from .motion import fits, place, simulate
from .render import BACKGROUNDS, background, render
from .scene import sample_cast, sample_events
from .splits import Split, is_novel, split_of
from .timegrid import TimeGrid

MAX_DRAWS = 2000  # scene draws per clip before giving up (a few dozen suffice at the default settings)
PLACEMENTS = 8  # random placements tried per drawn scene


class ShapesConfig(BaseModel):
    """Generator settings; saved next to the data so a dataset says how it was made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    frames: int = Field(default=16, ge=4, le=1024, description="Frames per clip.")
    units: int = Field(default=4, ge=1, le=256, description="Time units per clip; frames/units is even and >= 4.")
    size: int = Field(default=64, ge=48, le=512, description="Frame width and height in pixels.")
    max_shapes: int = Field(default=3, ge=1, le=3, description="Most shapes in one clip (at least one).")
    max_events: int = Field(default=4, ge=1, le=4, description="Most events in one clip (at least one).")
    captions: int = Field(default=4, ge=1, le=16, description="Captions per clip (the first is the plain one).")
    textured: float = Field(default=0.5, ge=0.0, le=1.0, description="Share of clips on a textured background.")

    @model_validator(mode="after")
    def _grid(self) -> ShapesConfig:
        TimeGrid(frames=self.frames, units=self.units)
        return self

    @property
    def grid(self) -> TimeGrid:
        return TimeGrid(frames=self.frames, units=self.units)

    @property
    def scale(self) -> float:
        return self.size / 64.0


class ClipRecord(BaseModel):
    """One manifest line: everything about a clip except its pixels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Clip id, e.g. 'shapes-000042'.")
    split: Split = Field(description="train, val or test.")
    novel: bool = Field(description="Whether the clip contains a shape–action pair held out of train.")
    file: str = Field(description="The clip's .npz file, relative to the dataset root.")
    frames: int = Field(description="Frames in the video.")
    units: int = Field(description="Time units the plan's events are measured in.")
    size: int = Field(description="Frame width and height in pixels.")
    background: str = Field(description="Background kind.")
    captions: list[str] = Field(min_length=1, description="Captions; the first is the plan's prompt.")
    plan: ActionPlan = Field(description="Gold action plan on the unit grid.")
    dsg: DynamicSceneGraph = Field(description="Gold dynamic scene graph, one scene graph per video frame.")

    @property
    def grid(self) -> TimeGrid:
        return TimeGrid(frames=self.frames, units=self.units)


def clip_id(index: int) -> str:
    return f"shapes-{index:06d}"


def generate_clip(config: ShapesConfig, seed: int, index: int) -> tuple[ClipRecord, np.ndarray]:
    """Clip ``index`` of the dataset with ``seed``: its record and its ``(F, H, W, 3)`` uint8 frames."""
    rng = np.random.default_rng([seed, index])
    split, novel = split_of(index), is_novel(index)
    grid, scale = config.grid, config.scale
    num_shapes = int(rng.integers(1, config.max_shapes + 1))  # drawn once, so rejection does not favour
    num_events = int(rng.integers(1, config.max_events + 1))  # small clips
    for _ in range(MAX_DRAWS):
        cast = sample_cast(rng, num_shapes)
        events = sample_events(rng, cast, config.units, num_events, split, novel)
        if events is None:
            continue
        for _ in range(PLACEMENTS):
            placed = place(rng, cast, events, grid, config.size, scale)
            states = simulate(placed, events, grid, scale)
            if fits(states, events, grid, config.size, scale):
                break
        else:
            continue
        break
    else:
        raise RuntimeError(f"no valid scene for clip {index} after {MAX_DRAWS} draws; settings too tight?")
    kind = "plain" if rng.random() >= config.textured else BACKGROUNDS[1 + int(rng.integers(len(BACKGROUNDS) - 1))]
    frames = render({s.name: s.shape for s in placed}, states, background(rng, config.size, kind))
    texts = captions(rng, placed, events, kind, config.captions)
    plan = gold_plan(events, texts[0])
    dsg = DynamicSceneGraph(prompt=texts[0], frames=gold_frames(placed, states, events, grid, scale))
    record = ClipRecord(
        id=clip_id(index), split=split, novel=novel, file=f"{split}/clips/{clip_id(index)}.npz",
        frames=config.frames, units=config.units, size=config.size, background=kind,
        captions=texts, plan=plan, dsg=dsg,
    )
    return record, frames
