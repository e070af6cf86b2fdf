"""Rewards for training the ``policy`` demonstration selector (RL-based ICL, paper §5.5), each bounded in [0, 1].

Step I: the plan made with the chosen demonstrations, scored against the gold plan (triplets, temporal order,
timing). Step III: the gold plan's skeleton DSG enriched with the chosen imagination demonstrations, scored
by TriRec (eq. 13) against the gold DSG. The trainer hands its choice to a ``ChosenDemos`` selector that the
planner or imaginer asks as usual, so every answer goes through the LLM client and its cache.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from .datamodel import ActionPlan, DynamicSceneGraph
from .demos import DSGDemo, PlanningDemo
from .errors import ConfigError, InputError, PlanParseError
from .metrics.matching import match_events, time_iou
from .metrics.plan_accuracy import PlanAccuracy
from .metrics.trirec import TriRecCounts
from .protocols import DemoSelector

Reward = Callable[[int, list[int], int], float]
"""``reward(example, chosen, step)``: how good showing candidates ``chosen`` (most relevant last) was for training
example ``example`` at update ``step``, in [0, 1]."""

VideoReward = Callable[[str, ActionPlan], float]
"""``video_reward(prompt, plan)`` in [0, 1]: e.g. render the plan with a trained backbone and score the video."""


def plan_reward(predicted: ActionPlan | None, gold: ActionPlan) -> float:
    """One plan's reward in [0, 1]: the mean of its triplet accuracy, temporal-order accuracy (when gold has
    two events or more) and timing IoU of matched events, each over max(|gold|, |predicted|) slots."""
    metric = PlanAccuracy()
    metric.update(predicted, gold)
    scores = metric.compute()
    events = predicted.events if predicted is not None else []
    slots = max(len(gold.events), len(events))
    match = match_events(gold.events, events, exact=False)
    g_span = max(e.end for e in gold.events)
    p_span = max((e.end for e in events), default=1)
    iou = sum(time_iou(gold.events[i], g_span, events[j], p_span) for i, j in match.pairs) / slots
    terms = [scores["triplet_accuracy"], scores["temporal_order"], iou]
    return sum(t for t in terms if not math.isnan(t)) / sum(not math.isnan(t) for t in terms)


def dsg_reward(predicted: DynamicSceneGraph, gold: DynamicSceneGraph) -> float:
    """One DSG's reward in [0, 1]: TriRec (eq. 13) pooled over the gold frames, each met by the predicted scene
    graph at the same relative time. Gold must hold at least one relation triplet."""
    counts = TriRecCounts()
    counts.add(predicted, gold)
    return counts.scores()["trirec"]


def has_triplets(dsg: DynamicSceneGraph) -> bool:
    """Whether TriRec against ``dsg`` is defined: some frame holds a relation triplet."""
    return any(frame.relations for frame in dsg.frames)


class ChosenDemos:
    """A selector that returns the indices it was handed: the trainer chooses, the planner or imaginer asks it.

    With ``candidates`` set it answers only for that pool (the one being trained) and leaves any other pool it
    is asked about, such as Step III's polish demonstrations, to ``fallback``.
    """

    name = "chosen"

    def __init__(self, candidates: Sequence[str] | None = None, fallback: DemoSelector | None = None) -> None:
        if candidates is not None and fallback is None:
            raise ConfigError("ChosenDemos with candidates needs a fallback selector for the other pools")
        self.candidates = list(candidates) if candidates is not None else None
        self.fallback = fallback
        self.indices: list[int] = []

    def select(self, query: str, candidates: Sequence[str], k: int) -> list[int]:
        if self.candidates is not None and list(candidates) != self.candidates:
            return self.fallback.select(query, candidates, k)
        return self.indices[-k:] if k else []


def plan_or_none(planner, prompt: str) -> ActionPlan | None:
    """Step I's plan, or ``None`` when the LLM gave no valid plan (scored as an empty plan)."""
    try:
        return planner.plan(prompt)
    except PlanParseError:
        return None


def bounded(value: float, what: str) -> float:
    """``value`` if it is a number in [0, 1]; anything else is a ConfigError (rewards must be bounded)."""
    if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{what} must be a number in [0, 1], got {value!r}")
    return float(value)


class PlanningReward:
    """The reward of a demonstration choice: Step I with those demonstrations, scored by ``plan_reward``.

    With ``video`` set, every ``video_every``-th update mixes in a video-level reward:
    r = (1 − w) · r_plan + w · video(prompt, plan), for users with a trained backbone.
    """

    def __init__(self, planner, chosen: ChosenDemos, train: Sequence[PlanningDemo], *, video: VideoReward | None = None,
                 video_every: int = 10, video_weight: float = 0.5):
        if not 0 <= video_weight <= 1 or video_every < 1:
            raise ConfigError(f"video_weight must be in [0, 1] and video_every >= 1, got {video_weight} and {video_every}")
        self.planner, self.chosen, self.train = planner, chosen, train
        self.video, self.video_every, self.video_weight = video, video_every, video_weight

    def __call__(self, example: int, chosen: list[int], step: int) -> float:
        gold = self.train[example].plan
        self.chosen.indices = chosen
        plan = plan_or_none(self.planner, gold.prompt)
        reward = plan_reward(plan, gold)
        if self.video is not None and plan is not None and step % self.video_every == 0:
            reward = (1 - self.video_weight) * reward + self.video_weight * bounded(self.video(gold.prompt, plan), "video reward")
        return reward


def imagine(builder, imaginer, plan: ActionPlan, frames: int) -> DynamicSceneGraph:
    """Steps II–III on a given plan: its skeleton DSG for ``frames`` video frames, enriched by ``imaginer``."""
    return imaginer.enrich(builder.build(plan).with_frames(frames))


class ImaginationReward:
    """The reward of a choice of imagination demonstrations: the gold plan's skeleton enriched with them (Step I
    is given, so the reward measures Step III alone), scored by ``dsg_reward`` against the gold DSG."""

    def __init__(self, builder, imaginer, chosen: ChosenDemos, train: Sequence[DSGDemo], frames: int):
        for demo in train:
            if not has_triplets(demo.dsg):
                raise InputError(f"training example {demo.id!r}: its gold DSG has no relation triplets, so TriRec "
                                 "against it is undefined; leave it out")
        self.builder, self.imaginer, self.chosen, self.train, self.frames = builder, imaginer, chosen, train, frames

    def __call__(self, example: int, chosen: list[int], step: int) -> float:
        demo = self.train[example]
        self.chosen.indices = chosen
        return dsg_reward(imagine(self.builder, self.imaginer, demo.plan, self.frames), demo.dsg)
