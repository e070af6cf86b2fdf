"""Plugin discovery and the registry: outside distributions, name clashes, options, opt-in dependencies."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest
from pydantic import BaseModel, ConfigDict

from dysen_core import hookimpl
from dysen_core.errors import ConfigError, PluginError, UnknownComponentError
from dysen_core.plugins import PluginInfo, new_plugin_manager, register_plugin
from dysen_core.registry import Registry
from dysen_core.skeleton import SkeletonBuilder

OUTSIDE_PLUGIN = '''
from pydantic import BaseModel, ConfigDict, Field
from dysen_core import hookimpl


class Reverse:
    """Shows the first k candidates in reverse, so the first is seen last."""

    name = "reverse"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        offset: int = Field(default=0, description="Skip this many candidates.")

    def __init__(self, options):
        self.options = options

    def select(self, query, candidates, k):
        return list(range(self.options.offset, self.options.offset + k))[::-1]


@hookimpl
def register_demo_selectors(register):
    register("reverse", Reverse)
'''


@pytest.fixture
def outside_distribution(tmp_path, monkeypatch):
    """An installed-looking distribution 'dysen-plugin-reverse' on sys.path, found through its metadata."""
    site = tmp_path / "site"
    (site / "dysen_plugin_reverse").mkdir(parents=True)
    (site / "dysen_plugin_reverse" / "__init__.py").write_text(OUTSIDE_PLUGIN)
    info = site / "dysen_plugin_reverse-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dysen-plugin-reverse\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text("[dysen]\nreverse = dysen_plugin_reverse\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield
    sys.modules.pop("dysen_plugin_reverse", None)


def test_outside_distribution_is_discovered_and_usable(outside_distribution, monkeypatch):
    monkeypatch.setenv("DYSEN_LOAD_PLUGINS", "reverse")
    registry = Registry.from_manager(new_plugin_manager())
    reg = registry.get("demo_selector", "reverse")
    assert (reg.plugin.distribution, reg.plugin.version) == ("dysen-plugin-reverse", "1.2.3")
    selector = registry.create("demo_selector", "reverse", {"offset": 2})
    assert selector.select("a cat jumps", ["d0", "d1", "d2", "d3", "d4"], 3) == [4, 3, 2]


def test_load_plugins_env_limits_loading(outside_distribution, monkeypatch):
    monkeypatch.setenv("DYSEN_LOAD_PLUGINS", "")
    registry = Registry.from_manager(new_plugin_manager())
    assert "reverse" not in registry.names("demo_selector")
    assert registry.names("dsg_builder") == ["skeleton"]  # the core's own components always load
    assert registry.names("llm") == []  # no installed plugin loaded
    monkeypatch.setenv("DYSEN_LOAD_PLUGINS", "dysen-plugin-reverse")  # distribution names work too
    assert "reverse" in Registry.from_manager(new_plugin_manager()).names("demo_selector")


def test_trace_plugins(outside_distribution, monkeypatch, capsys):
    monkeypatch.setenv("DYSEN_LOAD_PLUGINS", "reverse")
    monkeypatch.setenv("DYSEN_TRACE_PLUGINS", "1")
    Registry.from_manager(new_plugin_manager())
    assert "dysen: reverse registered demo_selector 'reverse'" in capsys.readouterr().err


def test_broken_outside_plugin_names_itself(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "dysen_plugin_broken").mkdir(parents=True)
    (site / "dysen_plugin_broken" / "__init__.py").write_text("raise RuntimeError('needs a GPU driver')\n")
    info = site / "dysen_plugin_broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dysen-plugin-broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[dysen]\nbroken = dysen_plugin_broken\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("DYSEN_LOAD_PLUGINS", "broken")
    with pytest.raises(PluginError, match="plugin 'broken' \\(dysen_plugin_broken\\) failed to import: needs a GPU"):
        new_plugin_manager()


class Twin:
    """A second Step II builder under the core's name, to provoke a clash."""

    name = "skeleton"
    Options = SkeletonBuilder.Options


class TwinPlugin:
    @hookimpl
    def register_dsg_builders(self, register):
        register("skeleton", Twin)


def test_name_clash_names_both_distributions(core_manager):
    register_plugin(core_manager, TwinPlugin(), PluginInfo("twin", "dysen-plugin-twin", "0.2"))
    with pytest.raises(PluginError, match="registered twice: by dysen .* and by dysen-plugin-twin \\(twin\\)"):
        Registry.from_manager(core_manager)


def test_misspelt_hook_is_an_error():
    class Misspelt:
        @hookimpl
        def register_graph_encoder(self, register):  # missing the final "s"
            pass

    pm = new_plugin_manager(load_entry_points=False)
    register_plugin(pm, Misspelt(), PluginInfo("misspelt", "dysen-plugin-misspelt", "0.1"))
    with pytest.raises(Exception, match="register_graph_encoder"):
        pm.check_pending()


def test_factory_without_options_is_rejected(core_manager):
    class NoOptions:
        @hookimpl
        def register_metrics(self, register):
            register("bare", lambda options: None)

    register_plugin(core_manager, NoOptions(), PluginInfo("bare", "dysen-plugin-bare", "0.1"))
    with pytest.raises(PluginError, match="metric 'bare' whose factory has no pydantic `Options` model"):
        Registry.from_manager(core_manager)


def test_unknown_component_lists_installed(core_manager):
    registry = Registry.from_manager(core_manager)
    with pytest.raises(UnknownComponentError, match="unknown dsg_builder 'skeletn'; installed: skeleton \\(see `dysen plugins`\\)"):
        registry.create("dsg_builder", "skeletn")
    with pytest.raises(UnknownComponentError, match="unknown graph_encoder 'rgtrn'; installed: none"):
        registry.get("graph_encoder", "rgtrn")
    with pytest.raises(UnknownComponentError, match="unknown component kind 'encoder'"):
        registry.names("encoder")


def test_options_are_validated_with_field_names(core_manager):
    registry = Registry.from_manager(core_manager)
    with pytest.raises(ConfigError, match="dsg_builder.options.persist: Extra inputs are not permitted"):
        registry.create("dsg_builder", "skeleton", {"persist": False})
    with pytest.raises(ConfigError, match="dsg_builder.options.persist_entities: Input should be a valid boolean"):
        registry.create("dsg_builder", "skeleton", {"persist_entities": "sometimes"})


def test_dependencies_are_opt_in(core_manager):
    seen = {}

    class Planner:
        name = "needs-llm"

        class Options(BaseModel):
            model_config = ConfigDict(extra="forbid")

        def __init__(self, options, llm=None):
            seen["llm"] = llm

    class Plugin:
        @hookimpl
        def register_planners(self, register):
            register("needs-llm", Planner)

    register_plugin(core_manager, Plugin(), PluginInfo("p", "dysen-plugin-p", "0.1"))
    registry = Registry.from_manager(core_manager)
    registry.create("planner", "needs-llm", llm="the llm", graph_encoder="not asked for")
    assert seen == {"llm": "the llm"}
    # a factory that asks for nothing is not handed anything
    assert isinstance(registry.create("dsg_builder", "skeleton", graph_encoder="x"), SkeletonBuilder)


def test_installed_first_party_plugins_load():
    pm = new_plugin_manager()
    distributions = {info.distribution for info in pm.plugin_info.values()}
    assert {"dysen", "dysen-plugin-llm-openai", "dysen-plugin-llm-local",
            "dysen-plugin-encoder-rgtrm", "dysen-plugin-backbone-vdm", "dysen-plugin-backbone-diffusers"} <= distributions


def test_registering_every_installed_plugin_imports_no_model_library():
    """Building the registry happens before every command: diffusers, accelerate, transformers and the
    LLM runtimes (seconds to import on two cores) load only when a component that needs them runs."""
    code = textwrap.dedent("""
        import sys
        from dysen_core.registry import get_registry
        get_registry()
        print(sorted({m.split('.')[0] for m in sys.modules} & {'diffusers', 'accelerate', 'transformers',
                     'sentence_transformers', 'llama_cpp', 'litellm'}))
    """)
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_core_does_not_import_plugins_or_torch():
    code = textwrap.dedent("""
        import sys, dysen_core, dysen_core.cli, dysen_core.registry, dysen_core.config
        heavy = [m for m in sys.modules if m.split('.')[0] in ('torch', 'litellm', 'llama_cpp', 'diffusers')
                 or m.startswith('dysen_plugin')]
        print(heavy)
    """)
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
