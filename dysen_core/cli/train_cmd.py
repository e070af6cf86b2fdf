"""``dysen train --stage {autoencoder,vdm,dysen}``: the paper's three training stages (§4.3) from a run config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def train(
    stage: Annotated[str, typer.Option("--stage", help="autoencoder (Stage I), vdm (II: data DSGs) or dysen (III: Dysen DSGs).")],
    data: Annotated[Path, typer.Option("--data", help="A dataset folder (e.g. from `dysen data shapes`).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Run folder: checkpoints, log.csv, final/.")],
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="A run config YAML file.")] = None,
    preset: Annotated[Optional[str], typer.Option("--preset", "-p", help="A preset (default: the offline default).")] = None,
    override: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key: key.path=value.")] = None,
    split: Annotated[str, typer.Option("--split", help="Which split to train on.")] = "train",
    resume: Annotated[bool, typer.Option("--resume/--restart", help="Continue from the run folder's last checkpoint.")] = True,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Train on the split's first N clips only.")] = None,
) -> None:
    """Train one stage of Dysen-VDM; runs on CPU, one GPU, or many through `accelerate launch`."""
    from ..config import load_config
    from ..stage_training import train_stage

    run_config = load_config(config, preset=preset, overrides=list(override or []))
    train_stage(run_config, stage, data, output, split=split, resume=resume, limit=limit)
