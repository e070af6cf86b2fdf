"""The dynamic-shapes headline numbers: TriRec, event recall, temporal order, event timing (issue 6, part 3).

Each generated video is parsed once (``dysen_core.shapes.parser``) on the gold clip's time grid, then
scored against the gold clip:

- ``trirec`` / ``trirec_video``: eq. 13 per frame (pooled) and over the video (``metrics.trirec``);
- ``event_recall``: share of gold events whose exact triplet happens in the video (one-to-one matching);
- ``temporal_order``: share of gold event pairs whose matched parsed pair has the same
  before/after/overlap relation (unmatched pairs count as wrong);
- ``timing_iou``: mean time IoU of matched events (how well a recalled event keeps its slot).

One metric returns all of them because they share the parse and the matching: scoring them as four
components would parse every video four times. Only running sums are kept, so datasets stream.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..datamodel import ActionPlan, DynamicSceneGraph
from ..errors import InputError
from ..shapes.parser import ParsedVideo, ParserOptions, parse_video
from ..shapes.segment import SegmentOptions
from .matching import match_events, order_agreement, ratio, time_iou
from .trirec import TriRecCounts


class GoldClip(Protocol):
    """What the metric needs of a gold clip (``dysen_core.shapes.generate.ClipRecord`` has it)."""

    plan: ActionPlan
    dsg: DynamicSceneGraph
    units: int


class Dynamics:
    """Parses generated videos and scores their dynamics against gold clips."""

    name = "dynamics"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

        segment: SegmentOptions = Field(
            default_factory=SegmentOptions, description="The parser's colour segmentation tolerances."
        )

    def __init__(self, options: Options | None = None):
        self.options = options or self.Options()
        self.reset()

    def reset(self) -> None:
        self._trirec = TriRecCounts()
        self._gold_events = self._matched = self._order_agree = self._order_pairs = 0
        self._iou_sum = 0.0

    def update(self, prediction: object, reference: GoldClip) -> None:
        """Score one video: ``prediction`` is its frames ``(F, H, W, 3)`` uint8 (or an already ``ParsedVideo``)."""
        if not all(hasattr(reference, field) for field in ("plan", "dsg", "units")):
            raise InputError(f"dynamics reference must be a gold clip record (plan, dsg, units), got {type(reference).__name__}")
        if isinstance(prediction, ParsedVideo):
            parsed = prediction
        elif isinstance(prediction, np.ndarray | list | tuple):
            parsed = parse_video(prediction, ParserOptions(units=reference.units, segment=self.options.segment))
        else:
            raise InputError(f"dynamics prediction must be video frames or a ParsedVideo, got {type(prediction).__name__}")
        if parsed.units != reference.units:
            raise InputError(f"parsed video has {parsed.units} units but the gold clip {reference.units}; parse with units={reference.units}")
        self._trirec.add(parsed.dsg, reference.dsg)
        gold, found = reference.plan.events, parsed.events
        match = match_events(gold, found, exact=True, gold_span=reference.units, predicted_span=parsed.units)
        self._gold_events += len(gold)
        self._matched += len(match.pairs)
        self._iou_sum += sum(time_iou(gold[i], reference.units, found[j], parsed.units) for i, j in match.pairs)
        agree, pairs = order_agreement(gold, found, match)
        self._order_agree += agree
        self._order_pairs += pairs

    def compute(self) -> dict[str, float]:
        return {
            **self._trirec.scores(),
            "event_recall": ratio(self._matched, self._gold_events),
            "temporal_order": ratio(self._order_agree, self._order_pairs),
            "timing_iou": ratio(self._iou_sum, self._matched),
        }
