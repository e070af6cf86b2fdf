"""Registers the core's metrics: TriRec (eq. 13), dynamic-shapes dynamics, plan accuracy and App. B.1's standard metrics."""

from ..hookspecs import hookimpl


@hookimpl
def register_metrics(register):
    from ..metrics.dynamics import Dynamics
    from ..metrics.plan_accuracy import PlanAccuracy
    from ..metrics.standard import FID, FVD, KVD, CLIPSim, InceptionScore, ShapesFVD
    from ..metrics.trirec import TriRec

    for factory in (TriRec, Dynamics, PlanAccuracy, FVD, KVD, FID, InceptionScore, CLIPSim, ShapesFVD):
        register(factory.name, factory)
