"""Event matching and pairwise time order, shared by plan accuracy and the video dynamics metrics (App. B.1).

One implementation serves both: gold and predicted events are matched one-to-one by the Hungarian
algorithm on a content score (ties broken by timing), and the time order of every gold event pair
(before / after / overlap) is compared with that of the matched predicted pair. Order relations are
invariant to the time grid's scale, so a plan on 4 units compares with one on 10. Labels are compared
after light normalisation: lower case, articles dropped, whitespace collapsed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..datamodel import Event
from .labels import triplet

Order = Literal["before", "after", "overlap"]


def order(a: Event, b: Event) -> Order:
    """The time relation of ``a`` to ``b`` on their shared grid."""
    if a.end <= b.start:
        return "before"
    if b.end <= a.start:
        return "after"
    return "overlap"


def time_iou(a: Event, a_span: float, b: Event, b_span: float) -> float:
    """IoU of two events' intervals, each as a fraction of its own plan's span (so grids may differ)."""
    a0, a1, b0, b1 = a.start / a_span, a.end / a_span, b.start / b_span, b.end / b_span
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    union = max(a1, b1) - min(a0, b0)
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Match:
    """A one-to-one matching: ``pairs`` of (gold index, predicted index)."""

    pairs: list[tuple[int, int]]

    def of_gold(self) -> dict[int, int]:
        return dict(self.pairs)


def match_events(gold: Sequence[Event], predicted: Sequence[Event], *, exact: bool,
                 gold_span: float | None = None, predicted_span: float | None = None) -> Match:
    """Match events one-to-one, maximising content agreement first and timing IoU second.

    ``exact=True`` allows only pairs with the same normalised triplet (video dynamics: did the planned
    event happen?). ``exact=False`` allows any pair sharing the agent, the predicate or a (non-null) target, scored by
    2·[same triplet] + [same agent] + [same predicate] + [same target] (plan accuracy, Fig. 9).
    Spans default to each side's horizon ``max(end)``.
    """
    if not gold or not predicted:
        return Match([])
    g_span = gold_span or max(e.end for e in gold)
    p_span = predicted_span or max(e.end for e in predicted)
    g_trip, p_trip = [triplet(e) for e in gold], [triplet(e) for e in predicted]
    score = np.zeros((len(gold), len(predicted)))
    for i, (g, gt) in enumerate(zip(gold, g_trip)):
        for j, (p, pt) in enumerate(zip(predicted, p_trip)):
            same = [x == y for x, y in zip(gt, pt)]
            content = 3.0 * all(same) if exact else 2.0 * all(same) + sum(same)
            shares = same[0] or same[1] or (same[2] and gt[2] is not None)  # two missing targets share nothing
            if content > 0 and shares:
                score[i, j] = content + 0.5 * time_iou(g, g_span, p, p_span)  # timing only breaks ties
    rows, cols = linear_sum_assignment(score, maximize=True)
    return Match([(int(i), int(j)) for i, j in zip(rows, cols) if score[i, j] > 0])


def order_agreement(gold: Sequence[Event], predicted: Sequence[Event], match: Match) -> tuple[int, int]:
    """``(agreeing, total)`` over gold event pairs: a pair agrees when both are matched and the matched
    predicted pair stands in the same before/after/overlap relation. Unmatched pairs count as wrong."""
    to_pred = match.of_gold()
    agreeing = total = 0
    for i, j in combinations(range(len(gold)), 2):
        total += 1
        if i in to_pred and j in to_pred:
            agreeing += order(gold[i], gold[j]) == order(predicted[to_pred[i]], predicted[to_pred[j]])
    return agreeing, total


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, or NaN when nothing was counted (a score with no evidence)."""
    return numerator / denominator if denominator else float("nan")
