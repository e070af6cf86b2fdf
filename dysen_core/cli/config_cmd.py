"""``dysen config``: show and check run configurations and presets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(help="Show run configurations and presets.", no_args_is_help=True)


@app.command("show")
def show(
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="A run config YAML file.")] = None,
    preset: Annotated[Optional[str], typer.Option("--preset", "-p", help="A preset name (see `dysen config presets`).")] = None,
    override: Annotated[
        Optional[list[str]], typer.Option("--set", help="Override one key, e.g. graph_encoder.options.layers=2.")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail if a named component is not installed.")] = False,
) -> None:
    """Print a fully resolved run configuration: base chain merged, options validated, defaults filled in."""
    from ..config import load_config, resolve, to_yaml
    from ..registry import get_registry

    resolved, notes = resolve(load_config(config, preset=preset, overrides=override or ()), get_registry(), strict=strict)
    typer.echo(to_yaml(resolved), nl=False)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


@app.command("presets")
def presets() -> None:
    """List the presets shipped with dysen, with their descriptions."""
    from ..config import load_config, preset_names

    for name in preset_names():
        typer.echo(f"{name:16} {load_config(preset=name).description}")
