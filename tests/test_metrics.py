"""Metrics: TriRec (eq. 13), event matching and order, plan accuracy (Fig. 9), video dynamics, registration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dysen_core.datamodel import ActionPlan, DynamicSceneGraph, Event, SceneGraph
from dysen_core.errors import ConfigError, InputError
from dysen_core.metrics.dynamics import Dynamics
from dysen_core.metrics.labels import normalise
from dysen_core.metrics.matching import match_events, order, order_agreement
from dysen_core.metrics.plan_accuracy import PlanAccuracy
from dysen_core.metrics.trirec import TriRec, aligned_frames, triplet_recall
from dysen_core.registry import Registry
from dysen_core.shapes import ShapesConfig, generate_clip, parse_video


def _plan(*events: tuple) -> ActionPlan:
    return ActionPlan(prompt="p", events=[Event(agent=a, predicate=p, target=t, start=s, end=e) for a, p, t, s, e in events])


def _graph(*relations: tuple[str, str, str]) -> SceneGraph:
    return SceneGraph(objects=sorted({n for s, _, o in relations for n in (s, o)}), relations=list(relations))


GOLD = _plan(("lady", "sitting on", "chair", 0, 5), ("lady", "drinking", "coffee", 1, 2),
             ("lady", "meeting", "friend", 3, 4))


def test_trirec_is_eq_13():
    gold = [("a", "on", "b"), ("b", "near", "c"), ("c", "left of", "d"), ("d", "above", "a")]
    assert triplet_recall([("a", "on", "b"), ("b", "near", "c"), ("x", "y", "z")], gold) == 0.5
    assert triplet_recall([], gold) == 0.0
    assert triplet_recall([("a", "b", "c")], []) is None
    assert triplet_recall([("The Lady", "sitting  on", "a chair")], [("lady", "sitting on", "chair")]) == 1.0


def test_dsgs_of_different_lengths_align_by_relative_time():
    per_unit = DynamicSceneGraph(prompt="", frames=[_graph(("a", "r", str(m))) for m in range(4)])
    per_frame = DynamicSceneGraph(prompt="", frames=[_graph(("a", "r", str(f // 4))) for f in range(16)])
    pairs = aligned_frames(per_unit, per_frame)
    assert len(pairs) == 16 and all(p == g for p, g in pairs)


def test_trirec_metric_pools_frames_and_averages_videos():
    metric = TriRec()
    gold = DynamicSceneGraph(prompt="", frames=[_graph(("a", "r", "b"), ("b", "r", "c")), _graph(("a", "r", "b"))])
    half = DynamicSceneGraph(prompt="", frames=[_graph(("a", "r", "b")), SceneGraph()])
    metric.update(half, gold)  # frames: 1/2 and 0/1; video: 1/2
    metric.update(gold, gold)  # frames: 1 and 1; video: 1
    scores = metric.compute()
    assert scores["trirec"] == pytest.approx((0.5 + 0 + 1 + 1) / 4)
    assert scores["trirec_video"] == pytest.approx(0.75)
    metric.reset()
    assert math.isnan(metric.compute()["trirec"])
    with pytest.raises(InputError, match="trirec prediction must be a DynamicSceneGraph"):
        metric.update(GOLD, gold)


def test_normalisation_is_light():
    assert normalise("  The  Red Circle ") == "red circle"
    assert normalise("an apple on a table") == "apple on table"
    assert normalise("theatre") == "theatre"
    assert normalise(None) is None


def test_order_relations():
    a, b, c = GOLD.events
    assert order(b, c) == "before" and order(c, b) == "after" and order(a, b) == "overlap"


def test_matching_is_one_to_one_and_prefers_content_then_timing():
    gold = [Event(agent="x", predicate="jumps", start=0, end=1), Event(agent="x", predicate="jumps", start=2, end=3)]
    predicted = [Event(agent="x", predicate="jumps", start=2, end=3)]
    assert match_events(gold, predicted, exact=True).pairs == [(1, 0)]
    wrong = [Event(agent="y", predicate="spins", start=0, end=1)]
    assert match_events(gold, wrong, exact=True).pairs == []
    assert match_events(gold, wrong, exact=False).pairs == []
    assert match_events(gold, [], exact=False).pairs == []


def test_plan_accuracy_of_identical_plans_is_one():
    metric = PlanAccuracy()
    metric.update(GOLD.model_copy(), GOLD)
    assert metric.compute() == {"triplet_accuracy": 1.0, "predicate_accuracy": 1.0,
                                "argument_accuracy": 1.0, "temporal_order": 1.0}


def test_plan_accuracy_counts_triplets_predicates_arguments_and_order():
    predicted = _plan(("The lady", "sitting on", "chair", 0, 9),  # same triplet, longer grid
                      ("lady", "sipping", "coffee", 2, 4),  # wrong predicate
                      ("lady", "meeting", "a stranger", 6, 8),  # wrong target
                      ("dog", "barking", None, 0, 1))  # spurious
    metric = PlanAccuracy()
    metric.update(predicted, GOLD)
    scores = metric.compute()
    assert scores["triplet_accuracy"] == pytest.approx(1 / 4)
    assert scores["predicate_accuracy"] == pytest.approx(2 / 4)
    assert scores["argument_accuracy"] == pytest.approx((2 + 2 + 1) / 8)  # agent+target, agent+target, agent
    assert scores["temporal_order"] == 1.0  # overlap, overlap, before all kept although the grid differs
    metric.update(None, GOLD)
    assert metric.compute()["triplet_accuracy"] == pytest.approx(1 / 7)
    with pytest.raises(InputError, match="plan-accuracy prediction must be an ActionPlan or None"):
        metric.update("lady sits", GOLD)


_events = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["moves", "jumps", "spins"]),
              st.integers(0, 6), st.integers(1, 4)),
    min_size=1, max_size=6, unique_by=lambda t: (t[0], t[1]),
).map(lambda ts: [Event(agent=a, predicate=p, start=s, end=s + d) for a, p, s, d in ts])


@settings(max_examples=80, deadline=None, derandomize=True)
@given(gold=_events, factor=st.integers(1, 5), seed=st.integers(0, 1000))
def test_plan_scores_ignore_time_scale_and_event_order(gold, factor, seed):
    scaled = [e.model_copy(update={"start": e.start * factor, "end": e.end * factor}) for e in gold]
    shuffled = [scaled[i] for i in np.random.default_rng(seed).permutation(len(scaled))]
    metric = PlanAccuracy()
    metric.update(ActionPlan(prompt="", events=shuffled), ActionPlan(prompt="", events=gold))
    scores = metric.compute()
    assert scores["triplet_accuracy"] == 1.0
    assert math.isnan(scores["temporal_order"]) if len(gold) == 1 else scores["temporal_order"] == 1.0


@settings(max_examples=80, deadline=None, derandomize=True)
@given(gold=_events, predicted=_events)
def test_matching_pairs_are_distinct_and_order_counts_are_bounded(gold, predicted):
    match = match_events(gold, predicted, exact=False)
    assert len({i for i, _ in match.pairs}) == len({j for _, j in match.pairs}) == len(match.pairs)
    agree, total = order_agreement(gold, predicted, match)
    assert 0 <= agree <= total == len(gold) * (len(gold) - 1) // 2


def test_dynamics_of_gold_videos_is_perfect_and_streams():
    metric = Dynamics()
    for index in range(20):
        record, frames = generate_clip(ShapesConfig(), 31, index)
        metric.update(frames, record)
    assert metric.compute() == {"trirec": 1.0, "trirec_video": 1.0, "event_recall": 1.0,
                                "temporal_order": 1.0, "timing_iou": 1.0}


def test_dynamics_sees_wrong_motion_and_wrong_timing():
    record, frames = next((r, f) for r, f in (generate_clip(ShapesConfig(), 0, i) for i in range(200))
                          if [e.predicate for e in r.plan.events] == ["moves left"] and r.plan.events[0].end < 4)
    metric = Dynamics()
    metric.update(frames[::-1].copy(), record)  # played backwards: it moves right, at another time
    scores = metric.compute()
    assert scores["event_recall"] == 0.0 and math.isnan(scores["timing_iou"])
    metric.reset()
    late = np.concatenate([np.repeat(frames[:1], 4, axis=0), frames[:12]])  # everything one unit later
    metric.update(late, record)
    scores = metric.compute()
    assert scores["event_recall"] == 1.0 and scores["timing_iou"] < 1.0


def test_dynamics_takes_parsed_videos_and_checks_inputs():
    record, frames = generate_clip(ShapesConfig(), 0, 0)
    metric = Dynamics()
    metric.update(parse_video(frames), record)
    assert metric.compute()["event_recall"] == 1.0
    with pytest.raises(InputError, match="gold clip record"):
        metric.update(frames, record.plan)
    with pytest.raises(InputError, match="video frames or a ParsedVideo"):
        metric.update("video.mp4", record)
    with pytest.raises(InputError, match="video is empty"):
        metric.update([], record)


def test_metrics_are_registered_components(core_manager):
    registry = Registry.from_manager(core_manager)
    assert {"trirec", "dynamics", "plan-accuracy"} <= set(registry.names("metric"))
    metric = registry.create("metric", "plan-accuracy")
    metric.update(GOLD, GOLD)
    assert metric.compute()["triplet_accuracy"] == 1.0
    dynamics = registry.create("metric", "dynamics", {"segment": {"min_area": 20}})
    assert dynamics.options.segment.min_area == 20
    with pytest.raises(ConfigError, match="metric.options.colour"):
        registry.create("metric", "dynamics", {"colour": 3})
