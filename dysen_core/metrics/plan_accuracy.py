"""Action-planning accuracy (paper §5.5, Fig. 9): triplet, predicate, argument and temporal-order accuracy.

Predicted and gold plans are matched one-to-one (``matching.match_events``, content first, timing as
tie-break). Over a dataset, with n = max(|gold|, |predicted|) per plan so both missed and spurious
events cost:

- ``triplet_accuracy``: matched pairs with the same (agent, predicate, target) / Σ n;
- ``predicate_accuracy``: matched pairs with the same predicate / Σ n;
- ``argument_accuracy``: same agent plus same target over matched pairs / 2 Σ n (Fig. 9's subject & object);
- ``temporal_order``: gold event pairs whose matched predicted pair keeps its before/after/overlap relation,
  over all gold pairs (independent of each plan's time scale).

A missing prediction (``None``: the planner gave no usable plan) counts as an empty plan.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ..datamodel import ActionPlan
from ..errors import InputError
from .labels import triplet
from .matching import match_events, order_agreement, ratio


class PlanAccuracy:
    """Agreement of predicted action plans with gold ones, streamed one plan pair at a time."""

    name = "plan-accuracy"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, options: Options | None = None):
        self.options = options or self.Options()
        self.reset()

    def reset(self) -> None:
        self._slots = self._triplets = self._predicates = self._arguments = 0
        self._order_agree = self._order_pairs = 0

    def update(self, prediction: ActionPlan | None, reference: ActionPlan) -> None:
        if not isinstance(reference, ActionPlan):
            raise InputError(f"plan-accuracy reference must be an ActionPlan, got {type(reference).__name__}")
        if prediction is not None and not isinstance(prediction, ActionPlan):
            raise InputError(f"plan-accuracy prediction must be an ActionPlan or None, got {type(prediction).__name__}")
        gold = reference.events
        predicted = prediction.events if prediction is not None else []
        match = match_events(gold, predicted, exact=False)
        self._slots += max(len(gold), len(predicted))
        for i, j in match.pairs:
            g, p = triplet(gold[i]), triplet(predicted[j])
            self._triplets += g == p
            self._predicates += g[1] == p[1]
            self._arguments += (g[0] == p[0]) + (g[2] == p[2])
        agree, pairs = order_agreement(gold, predicted, match)
        self._order_agree += agree
        self._order_pairs += pairs

    def compute(self) -> dict[str, float]:
        return {
            "triplet_accuracy": ratio(self._triplets, self._slots),
            "predicate_accuracy": ratio(self._predicates, self._slots),
            "argument_accuracy": ratio(self._arguments, 2 * self._slots),
            "temporal_order": ratio(self._order_agree, self._order_pairs),
        }
