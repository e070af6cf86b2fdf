"""One test per registration hook: the docs page's example plugin registers, resolves by name and works."""

from __future__ import annotations

import re
import types
from pathlib import Path

from dysen_core.datamodel import ActionPlan, Event
from dysen_core.plugins import PluginInfo, register_plugin
from dysen_core.protocols import PROTOCOLS
from dysen_core.registry import Registry
from dysen_core.skeleton import build_skeleton

DOCS = Path(__file__).parent.parent / "docs" / "hooks"


def example_component(core_manager, hook: str, kind: str, name: str, options=None, **deps):
    """Run the first Python block of docs/hooks/<hook>.md as a plugin module and build ``name`` from it."""
    code = re.search(r"```python\n(.*?)```", (DOCS / f"{hook}.md").read_text(), re.S).group(1)
    module = types.ModuleType(f"docs_example_{hook}")
    exec(compile(code, str(DOCS / f"{hook}.md"), "exec"), module.__dict__)
    register_plugin(core_manager, module, PluginInfo(module.__name__, "docs-example", "0"))
    component = Registry.from_manager(core_manager).create(kind, name, options, **deps)
    assert isinstance(component, PROTOCOLS[kind])
    return component


def test_hook_register_llms(core_manager):
    llm = example_component(core_manager, "register_llms", "llm", "ollama", {"model": "qwen2.5:0.5b"})
    assert llm.options.url == "http://127.0.0.1:11434"


def test_hook_register_demo_selectors(core_manager):
    selector = example_component(core_manager, "register_demo_selectors", "demo_selector", "word-overlap")
    pool = ["a dog runs in the park", "a cat jumps on the table", "the cat falls off the table"]
    assert selector.select("a cat jumps off the table", pool, 2) == [2, 1]


def test_hook_register_planners(core_manager, figure3_plan):
    planner = example_component(core_manager, "register_planners", "planner", "then-splitter", {"duration": 2})
    plan = planner.plan("lady sits on chair, then drinks coffee")
    assert [(e.agent, e.predicate, e.target, e.start, e.end) for e in plan.events] == [
        ("lady", "sits", "on chair", 0, 2),
        ("lady", "drinks", "coffee", 2, 4),
    ]


def test_hook_register_dsg_builders(core_manager, figure3_plan):
    builder = example_component(core_manager, "register_dsg_builders", "dsg_builder", "segments")
    dsg = builder.build(ActionPlan(prompt="p", events=[Event(agent="cat", predicate="sleeps", start=0, end=4)]))
    assert len(dsg.frames) == 1 and dsg.frames[0].attributes == [("cat", "sleeps")]


def test_hook_register_imaginers(core_manager, figure3_plan):
    imaginer = example_component(core_manager, "register_imaginers", "imaginer", "lookup")
    enriched = imaginer.enrich(build_skeleton(figure3_plan))
    assert ("coffee", "hot") in enriched.frames[1].attributes
    assert ("coffee", "hot") not in enriched.frames[0].attributes  # coffee enters at time unit 1


def test_hook_register_text_encoders(core_manager):
    encoder = example_component(core_manager, "register_text_encoders", "text_encoder", "hashed-words", {"dim": 16})
    vectors = encoder.embed(["a red circle", "a red circle", "a blue square"])
    assert vectors.shape == (3, 16)
    assert (vectors[0] == vectors[1]).all() and not (vectors[0] == vectors[2]).all()
    features, mask = encoder.tokens(["one", "two words here"])
    assert features.shape == (2, 3, 16) and mask.tolist() == [[True, False, False], [True, True, True]]


def test_hook_register_graph_encoders(core_manager, figure3_plan):
    text = Registry.from_manager(core_manager).create("text_encoder", "random", {"dim": 8})
    encoder = example_component(
        core_manager, "register_graph_encoders", "graph_encoder", "label-mean", {"width": 4}, text_encoder=text
    )
    dsg = build_skeleton(figure3_plan)
    features = encoder.encode([dsg])
    assert features.pooled.shape == (1, len(dsg.frames), 4) and features.sg_mask.all()
    assert features.nodes[~features.node_mask].abs().max() == 0


def test_hook_register_backbones(core_manager, figure3_plan):
    backbone = example_component(core_manager, "register_backbones", "backbone", "storyboard", {"frames": 10, "size": 64})
    dsg = build_skeleton(figure3_plan)
    with_dsg, text_only = backbone.generate([figure3_plan.prompt, "a cat"], [dsg, None], seed=0)
    assert with_dsg.shape == (10, 64, 64, 3) and with_dsg.dtype.name == "uint8"
    assert (with_dsg[0] == with_dsg[1]).all()  # frames 0 and 1 share scene graph 0
    assert not (with_dsg[1] == with_dsg[2]).all()  # frame 2 shows scene graph 1
    assert text_only.shape == (10, 64, 64, 3)


def test_hook_register_metrics(core_manager, figure3_plan):
    metric = example_component(core_manager, "register_metrics", "metric", "exact-triplets")
    shuffled = ActionPlan(prompt="p", events=list(reversed(figure3_plan.events)))
    metric.update(shuffled, figure3_plan)
    metric.update(ActionPlan(prompt="p", events=figure3_plan.events[:2]), figure3_plan)
    assert metric.compute() == {"exact_triplets": 0.5}
