"""Triplet recall, TriRec (paper Fig. 7, App. B.1, eq. 13), per frame and over a whole video.

TriRec = |G^PT ∩ G^GT| / |G^GT| over the relation triplets (subject, predicate, object) of a predicted
and a gold scene graph. Two DSGs are compared frame by frame: gold frame f of F_g meets predicted frame
floor(f·F_p/F_g), so a DSG with one graph per time unit compares with one per video frame.
``trirec`` is pooled over every gold frame with at least one triplet; ``trirec_video`` compares the
union of each video's triplets and averages over videos. Labels are normalised as in ``matching``.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from ..datamodel import DynamicSceneGraph, SceneGraph
from ..errors import InputError
from .labels import normalise
from .matching import ratio

Triplet = tuple[str, str, str]


def triplet_recall(predicted: Iterable[Triplet], gold: Iterable[Triplet]) -> float | None:
    """Eq. 13 on two triplet sets; ``None`` when the gold set is empty (recall is undefined)."""
    gold_set, predicted_set = _normalised(gold), _normalised(predicted)
    if not gold_set:
        return None
    return len(predicted_set & gold_set) / len(gold_set)  # eq. 13


def _normalised(triplets: Iterable[Triplet]) -> set[tuple[str | None, ...]]:
    return {tuple(normalise(part) for part in t) for t in triplets}


def aligned_frames(predicted: DynamicSceneGraph, gold: DynamicSceneGraph) -> list[tuple[SceneGraph, SceneGraph]]:
    """(predicted, gold) scene-graph pairs, one per gold frame, by relative time."""
    f_p, f_g = len(predicted.frames), len(gold.frames)
    return [(predicted.frames[f * f_p // f_g], gold.frames[f]) for f in range(f_g)]


class TriRecCounts:
    """Running sums of per-frame and per-video TriRec; shared by the ``trirec`` and ``dynamics`` metrics."""

    def __init__(self) -> None:
        self.frame_sum = 0.0
        self.frames = 0
        self.video_sum = 0.0
        self.videos = 0

    def add(self, predicted: DynamicSceneGraph, gold: DynamicSceneGraph) -> None:
        for p, g in aligned_frames(predicted, gold):
            score = triplet_recall(p.relations, g.relations)
            if score is not None:
                self.frame_sum += score
                self.frames += 1
        video = triplet_recall(
            [t for f in predicted.frames for t in f.relations], [t for f in gold.frames for t in f.relations]
        )
        if video is not None:
            self.video_sum += video
            self.videos += 1

    def scores(self) -> dict[str, float]:
        return {"trirec": ratio(self.frame_sum, self.frames), "trirec_video": ratio(self.video_sum, self.videos)}


class TriRec:
    """TriRec between predicted DSGs (e.g. parsed from generated videos) and gold DSGs (eq. 13)."""

    name = "trirec"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, options: Options | None = None):
        self.options = options or self.Options()
        self.reset()

    def reset(self) -> None:
        self._counts = TriRecCounts()

    def update(self, prediction: DynamicSceneGraph, reference: DynamicSceneGraph) -> None:
        for role, value in (("prediction", prediction), ("reference", reference)):
            if not isinstance(value, DynamicSceneGraph):
                raise InputError(f"trirec {role} must be a DynamicSceneGraph, got {type(value).__name__}")
        self._counts.add(prediction, reference)

    def compute(self) -> dict[str, float]:
        return self._counts.scores()
