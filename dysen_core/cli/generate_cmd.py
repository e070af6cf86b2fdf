"""``dysen generate``: prompt → Steps I–III → graph encoder (once) → sampler → mp4, plus the plan and a manifest."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError


def generate(
    prompt: Annotated[Optional[str], typer.Argument(help="The text to render (omit with --batch).")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The .mp4 to write (a folder with --batch).")] = Path("out.mp4"),
    batch: Annotated[Optional[Path], typer.Option("--batch", help="A file of prompts, one per line.")] = None,
    checkpoint: Annotated[
        Optional[Path], typer.Option("--checkpoint", help="Trained backbone folder (from `dysen train`); its run config is the base.")
    ] = None,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="A run config YAML file.")] = None,
    preset: Annotated[Optional[str], typer.Option("--preset", "-p", help="A preset (default: the offline default).")] = None,
    override: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key: key.path=value.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Prompt n of the batch starts from noise seeded seed + n.")] = 0,
    steps: Annotated[Optional[int], typer.Option("--steps", min=1, max=1000, help="Sampling steps.")] = None,
    guidance: Annotated[Optional[float], typer.Option("--guidance", min=0.0, help="Classifier-free guidance scale.")] = None,
    gif: Annotated[bool, typer.Option("--gif", help="Also write a .gif next to each .mp4.")] = False,
    frames: Annotated[bool, typer.Option("--frames", help="Also write each frame as PNG in a <name>_frames folder.")] = False,
    sheet: Annotated[
        bool, typer.Option("--sheet", help="Also write <name>_sheet.png: the frames above the plan and its DSG, on one time axis.")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=256, help="Videos sampled at once.")] = 1,
    backbone_name: Annotated[
        Optional[str], typer.Option("--backbone", help="The backbone component to use (sets backbone.name; see `dysen plugins`).")
    ] = None,
    model: Annotated[
        Optional[str], typer.Option("--model", help="A model folder or hub id for the backbone (sets backbone.options.model).")
    ] = None,
) -> None:
    """Generate videos: plan each prompt's dynamics, then render each prompt with its DSG through the backbone."""
    from ..config import load_config
    from ..icl import check_prompt
    from ..rendering import render
    from .plan_cmd import _file_name, _read_prompts

    if (prompt is None) == (batch is None):
        raise InputError("give one prompt, or --batch FILE, but not both")
    if batch is None and output.suffix != ".mp4":
        raise InputError(f"--output '{output}' must end in .mp4")
    overrides = list(override or [])
    if model is not None:  # JSON quoting keeps a path a string in YAML
        overrides.insert(0, f"backbone.options.model={json.dumps(model)}")
    if backbone_name is not None:  # first, so --set and the options below apply to the named backbone
        overrides.insert(0, f"backbone={json.dumps({'name': backbone_name})}")
    if checkpoint is not None:
        if config is None and preset is None and (checkpoint / "run_config.json").is_file():
            config = checkpoint / "run_config.json"
        overrides.append(f"backbone.options.checkpoint={checkpoint}")
    if steps is not None:
        overrides.append(f"backbone.options.diffusion.sampling_steps={steps}")
    if guidance is not None:
        overrides.append(f"backbone.options.diffusion.guidance_scale={guidance}")
    run_config = load_config(config, preset=preset, overrides=overrides)
    prompts = _read_prompts(batch) if batch is not None else [check_prompt(prompt)]
    if batch is None:
        targets = [output]
    else:
        output.mkdir(parents=True, exist_ok=True)
        targets = [output / _file_name(n, p).replace(".json", ".mp4") for n, p in enumerate(prompts, start=1)]
    tried, failed = render(run_config, prompts, targets, resume=batch is not None, seed=seed, batch_size=batch_size, gif=gif,
                           frames=frames, sheet=sheet)
    if not tried:
        print(f"all {len(targets)} videos already exist in {output}", file=sys.stderr)
    if failed:
        raise InputError(f"{failed} of {tried} videos failed; their manifests (.json next to each .mp4) say why")
