"""The time grid of a clip: F frames in U units of F/U frames, as the plan's time unit v (paper §4.1).

An event on units ``[start, end)`` is active on frames ``[start·F/U, end·F/U)``. A frame's state is shown
before that frame's change is applied, so the change made during unit u is seen between the first frame
of u and the first frame of u+1: a unit's *window* spans those frames (clipped to the last frame).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TimeGrid(BaseModel):
    """Frames per clip and time units per clip."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    frames: int = Field(default=16, ge=4, le=1024, description="Video frames per clip.")
    units: int = Field(default=4, ge=1, le=256, description="Time units v per clip (plan events use units).")

    @model_validator(mode="after")
    def _divides(self) -> TimeGrid:
        per_unit, rest = divmod(self.frames, self.units)
        if rest or per_unit < 4 or per_unit % 2:
            raise ValueError(
                f"frames ({self.frames}) must be an even multiple of units ({self.units}) with at least 4 "
                "frames per unit (motion needs a few frames; blinking needs an even count), e.g. 16 and 4"
            )
        return self

    @property
    def per_unit(self) -> int:
        return self.frames // self.units

    def frames_of(self, start: int, end: int) -> range:
        """Frames on which an event over units ``[start, end)`` is active."""
        return range(start * self.per_unit, min(end * self.per_unit, self.frames))

    def window(self, unit: int) -> range:
        """Frames whose states show unit ``unit``'s changes: its frames plus the next unit's first."""
        return range(unit * self.per_unit, min((unit + 1) * self.per_unit, self.frames - 1) + 1)
