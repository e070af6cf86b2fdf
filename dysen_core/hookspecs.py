"""Hook specifications: one registration hook per component kind (see docs/plugins.md).

At start-up the core calls each hook once with a ``register(name, factory)`` callback. ``factory`` is a
class (or callable) with an inner pydantic ``Options`` model; the core builds a component as
``factory(factory.Options(**options))``. Specs only ever grow: new arguments go at the end.
"""

import pluggy

hookspec = pluggy.HookspecMarker("dysen")
hookimpl = pluggy.HookimplMarker("dysen")


@hookspec
def register_llms(register):
    """Register LLM backends (chat messages in, text or JSON out) that the planner and imaginer call.

    :param register: ``register(name, factory)``; the factory builds an object satisfying ``protocols.LLM``.
    """


@hookspec
def register_demo_selectors(register):
    """Register in-context demonstration selectors (fixed, random, nearest-neighbour, RL policy).

    :param register: ``register(name, factory)``; the factory builds a ``protocols.DemoSelector``.
    """


@hookspec
def register_planners(register):
    """Register Step I action planners (prompt → ActionPlan).

    :param register: ``register(name, factory)``; the factory builds a ``protocols.Planner``.
    """


@hookspec
def register_dsg_builders(register):
    """Register Step II event-to-DSG builders (ActionPlan → skeleton DynamicSceneGraph).

    :param register: ``register(name, factory)``; the factory builds a ``protocols.DSGBuilder``.
    """


@hookspec
def register_imaginers(register):
    """Register Step III scene imaginers (skeleton DSG → enriched DSG).

    :param register: ``register(name, factory)``; the factory builds a ``protocols.Imaginer``.
    """


@hookspec
def register_text_encoders(register):
    """Register text encoders that embed DSG labels and give token features for text cross-attention.

    :param register: ``register(name, factory)``; the factory builds a ``protocols.TextEncoder``.
    """


@hookspec
def register_graph_encoders(register):
    """Register DSG encoders (RGTrm, RGNN) that turn a batch of DSGs into features H^G.

    :param register: ``register(name, factory)``; the factory builds a ``protocols.GraphEncoder``.
    """


@hookspec
def register_backbones(register):
    """Register video generation backbones conditioned on text and DSG features.

    :param register: ``register(name, factory)``; the factory builds a ``protocols.Backbone``.
    """


@hookspec
def register_metrics(register):
    """Register evaluation metrics (streaming: reset, update, compute).

    :param register: ``register(name, factory)``; the factory builds a ``protocols.Metric``.
    """
