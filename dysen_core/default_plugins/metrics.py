"""Registers the core's metrics: TriRec (eq. 13), the dynamic-shapes dynamics scores and plan accuracy."""

from ..hookspecs import hookimpl


@hookimpl
def register_metrics(register):
    from ..metrics.dynamics import Dynamics
    from ..metrics.plan_accuracy import PlanAccuracy
    from ..metrics.trirec import TriRec

    for factory in (TriRec, Dynamics, PlanAccuracy):
        register(factory.name, factory)
