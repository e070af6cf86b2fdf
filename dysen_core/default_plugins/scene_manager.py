"""Registers the scene manager's ICL planner (Step I), ICL imaginer (Step III) and demonstration selectors
(fixed, random, knn, and the REINFORCE-trained policy of §5.5)."""

from ..hookspecs import hookimpl


@hookimpl
def register_planners(register):
    from ..planner import ICLPlanner

    register(ICLPlanner.name, ICLPlanner)


@hookimpl
def register_imaginers(register):
    from ..imaginer import ICLImaginer

    register(ICLImaginer.name, ICLImaginer)


@hookimpl
def register_demo_selectors(register):
    from ..policy_selector import PolicySelector
    from ..selectors import FixedSelector, NearestSelector, RandomSelector

    for selector in (FixedSelector, RandomSelector, NearestSelector, PolicySelector):
        register(selector.name, selector)
