"""Commands over the plan data model and the plugin registry: ``plugins``, ``schema``, ``dsg``."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError


class SchemaName(str, Enum):
    plan = "plan"
    dsg = "dsg"
    scene_graph = "scene-graph"
    event = "event"


def root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)] = False,
) -> None:
    """Dynamics-aware text-to-video diffusion (Dysen-VDM)."""
    if version:
        from ..plugins import core_version

        typer.echo(f"dysen {core_version()}")
        raise typer.Exit()


def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every registered component: its kind, name, providing distribution and version."""
    from ..plugins import new_plugin_manager
    from ..registry import Registry

    pm = new_plugin_manager()
    entries = Registry.from_manager(pm).entries()
    rows = [
        {"kind": r.kind, "name": r.name, "distribution": r.plugin.distribution, "version": r.plugin.version,
         "plugin": r.plugin.name}
        for r in entries
    ]
    providing = {r.plugin.name for r in entries}
    idle = [info for name, info in pm.plugin_info.items() if name not in providing]
    if as_json:
        idle_rows = [{"plugin": i.name, "distribution": i.distribution, "version": i.version} for i in idle]
        typer.echo(json.dumps({"components": rows, "plugins_without_components": idle_rows}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="dysen components")
    for column in ("kind", "name", "distribution", "version"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["kind"], row["name"], row["distribution"], row["version"])
    console = Console()
    console.print(table)
    for info in idle:
        console.print(f"plugin {info.name} ({info.distribution} {info.version}) registers no components yet")


def schema(
    which: Annotated[SchemaName, typer.Argument(help="Which model's JSON Schema to print.")] = SchemaName.plan,
) -> None:
    """Print the JSON Schema of the plan data model (an action plan by default)."""
    from ..datamodel import ActionPlan, DynamicSceneGraph, Event, SceneGraph

    model = {"plan": ActionPlan, "dsg": DynamicSceneGraph, "scene-graph": SceneGraph, "event": Event}[which.value]
    typer.echo(json.dumps(model.model_json_schema(), indent=2))


def dsg(
    plan_file: Annotated[Path, typer.Argument(help="An action plan as JSON (see `dysen schema plan`).")],
    frames: Annotated[
        Optional[int], typer.Option("--frames", "-f", min=1, max=1024, help="Map this many video frames onto the SGs.")
    ] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the DSG here instead of stdout.")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="Run config YAML (its dsg_builder).")] = None,
    preset: Annotated[Optional[str], typer.Option("--preset", help="Use a preset instead of a config file.")] = None,
) -> None:
    """Step II: turn an action plan into a dynamic scene graph (one scene graph per time unit)."""
    from ..config import load_config
    from ..datamodel import ActionPlan
    from ..io import read_model, write_json_atomic
    from ..registry import get_registry

    if output is not None and output.is_dir():
        raise InputError(f"--output '{output}' is a folder; give a file path such as {output / 'dsg.json'}")
    run_config = load_config(config, preset=preset)
    plan = read_model(plan_file, ActionPlan, "action plan")
    ref = run_config.dsg_builder
    builder = get_registry().create("dsg_builder", ref.name, ref.options)
    graph = builder.build(plan)
    if frames is not None:
        graph = graph.with_frames(frames)
    if output is None:
        typer.echo(graph.model_dump_json(indent=2, exclude_none=True))
        return
    write_json_atomic(output, graph)
    mapped = f", {frames} frames" if frames is not None else ""
    print(
        f"wrote {output}: {len(graph.frames)} scene graphs, {len(graph.unique_segments())} segments{mapped}",
        file=sys.stderr,
    )
