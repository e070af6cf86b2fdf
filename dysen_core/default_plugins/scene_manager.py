"""Registers the scene manager's ICL planner (Step I), ICL imaginer (Step III) and demonstration selectors."""

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
    from ..selectors import FixedSelector, NearestSelector, RandomSelector

    for selector in (FixedSelector, RandomSelector, NearestSelector):
        register(selector.name, selector)
