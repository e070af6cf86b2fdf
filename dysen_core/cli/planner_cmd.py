"""``dysen planner``: specialise the embedded local LLM for Dysen's planning tasks (issue 10)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(help="Tune the local planner model (LoRA on the embedded SmolLM2).", no_args_is_help=True)


@app.command("train")
def train(
    config: Annotated[Path, typer.Option("--config", "-c", help="Tuning config YAML (see configs/planner-lora.yaml).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for checkpoint.safetensors, adapter.gguf, provenance.json.")],
    override: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key: key=value.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out where it stopped.")] = False,
) -> None:
    """LoRA-tune the base GGUF on a `dysen data planning` corpus and export a GGUF adapter llama.cpp loads."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..config import read_settings
    from ..errors import InputError
    from ..tuning.trainer import CHECKPOINT, TuningConfig, TuningRun

    settings = TuningConfig.model_validate(read_settings(config, override or []))
    if not resume and (out / CHECKPOINT).exists():
        raise InputError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    run = TuningRun(settings, out)
    try:
        if resume:
            run.resume()
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            bar = progress.add_task("loss -", total=settings.steps, completed=run.step)
            run.train(lambda step, loss: progress.update(bar, completed=step, description=f"loss {loss:.3f}"))
        adapter = run.export()
    finally:
        run.close()
    seen = settings.steps * settings.batch_size
    typer.echo(f"trained {run.step} steps ({seen} examples); adapter: {adapter}; provenance: {adapter.parent / 'provenance.json'}")
