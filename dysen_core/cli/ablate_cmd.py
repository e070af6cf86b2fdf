"""``dysen ablate``: run Table 4's variants through the same data and scores (the logic lives in ``dysen_core.ablation``)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer

TABLE4 = "paper,no-dysen,no-imagination,no-swc,no-rl-icl,rgnn"


def ablate(
    ctx: typer.Context,
    reference: Annotated[Path, typer.Option(
        "--reference", help="A dynamic-shapes dataset root (`dysen data shapes`): its captions are the prompts, its clips the references.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder: one sub-folder per variant, ablation.json and ablation.md.")],
    variants: Annotated[str, typer.Option(
        "--variants", help="Comma list: full (the base config), presets (see `dysen config presets`) or .yaml files.")] = TABLE4,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="The base run config YAML file.")] = None,
    preset: Annotated[Optional[str], typer.Option("--preset", "-p", help="The base preset (default: the offline default).")] = None,
    override: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key in every variant: key.path=value.")] = None,
    metrics: Annotated[str, typer.Option("--metrics", help="Comma list of metrics, as for `dysen eval`.")] = "dynamics,shapes-fvd",
    metric_option: Annotated[Optional[list[str]], typer.Option("--metric-option", help="A metric option NAME.key=value, repeatable.")] = None,
    split: Annotated[str, typer.Option("--split", help="The reference split.")] = "test",
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Use only the first N clips of the split.")] = None,
    train: Annotated[Optional[Path], typer.Option("--train", help="Train each variant on this dataset first (`dysen train --data`).")] = None,
    stage: Annotated[str, typer.Option("--stage", help="The training stage with --train: autoencoder, vdm or dysen.")] = "vdm",
    checkpoint: Annotated[Optional[Path], typer.Option(
        "--checkpoint", help="Trained backbone folder every variant starts from; its run config is the base if none is given.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Prompt n starts from noise seeded seed + n, in every variant.")] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=256, help="Videos sampled at once.")] = 1,
) -> None:
    """Run each variant (train, plan + render, score) and write one table like the paper's Table 4, in JSON and Markdown."""
    from ..ablation import AblationSettings, markdown, run_ablation
    from ..errors import InputError

    if checkpoint is not None and config is None and preset is None and (checkpoint / "run_config.json").is_file():
        config = checkpoint / "run_config.json"
    settings = AblationSettings(
        config=config, preset=preset, overrides=list(override or []), reference=reference, split=split, limit=limit,
        metrics=_names(metrics), metric_options=list(metric_option or []), train=train, stage=stage, checkpoint=checkpoint,
        seed=seed, batch_size=batch_size)
    table = run_ablation(settings, _names(variants), output, command=_command_line(ctx))
    typer.echo(markdown(table))
    failed = [row.variant for row in table.rows if row.error]
    if failed:
        raise InputError(f"{len(failed)} of {len(table.rows)} variants failed ({', '.join(failed)}); "
                         f"their rows in {output / 'ablation.md'} say why")


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _command_line(ctx: typer.Context) -> str:
    """The command as ``dysen ablate`` with every option not left at its default, for the table's record."""
    args = ["dysen", ctx.info_name or "ablate"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value is None or value == param.default or value in ([], ()):
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            args += [param.opts[0], str(item)]
    return shlex.join(args)
