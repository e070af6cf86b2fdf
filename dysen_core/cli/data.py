"""``dysen data``: make benchmark datasets (``dysen data shapes``: the dynamic-shapes benchmark, issue 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import data_manifest

app = typer.Typer(help="Make benchmark datasets.", no_args_is_help=True)
app.add_typer(data_manifest.app, name="manifest")


@app.command("shapes")
def shapes(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the dataset into (new or empty).")],
    n: Annotated[int, typer.Option("--n", help="Number of clips (80% train, 10% val, 10% test).")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same dataset.")] = 0,
    frames: Annotated[int, typer.Option("--frames", help="Frames per clip.")] = 16,
    units: Annotated[int, typer.Option("--units", help="Time units per clip (frames/units even, >= 4).")] = 4,
    size: Annotated[int, typer.Option("--size", help="Frame width and height in pixels.")] = 64,
    max_shapes: Annotated[int, typer.Option("--max-shapes", help="Most shapes per clip (1-3).")] = 3,
    max_events: Annotated[int, typer.Option("--max-events", help="Most events per clip (1-4).")] = 4,
    captions: Annotated[int, typer.Option("--captions", help="Captions per clip.")] = 4,
    textured: Annotated[float, typer.Option("--textured", help="Share of clips on a textured background.")] = 0.5,
    workers: Annotated[int, typer.Option("--workers", "-j", help="Worker processes.")] = 1,
) -> None:
    """Generate captioned clips of coloured shapes with gold action plans and per-frame scene graphs."""
    import time

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from ..shapes import ShapesConfig, write_dataset

    config = ShapesConfig(frames=frames, units=units, size=size, max_shapes=max_shapes, max_events=max_events,
                          captions=captions, textured=textured)
    console = Console(stderr=True)
    started = time.perf_counter()
    columns = (TextColumn("shapes"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("clips", total=n)
        counts = write_dataset(out, n, seed, config, workers=workers, progress=lambda k: progress.advance(task, k))
    seconds = time.perf_counter() - started
    split_text = ", ".join(f"{split} {count}" for split, count in counts.items())
    typer.echo(f"wrote {n} clips ({split_text}) to {out} in {seconds:.1f} s ({n / seconds:.0f} clips/s)")


@app.command("planning")
def planning(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the corpus into (new or empty).")],
    n: Annotated[int, typer.Option("--n", help="Planning examples in all (train + heldout).")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same files.")] = 0,
    heldout: Annotated[float, typer.Option("--heldout", help="Share of lexicon entries held out of train, "
                                                              "and share of examples in heldout.")] = 0.1,
    heldout_constructions: Annotated[float, typer.Option("--heldout-constructions",
                                                         help="Share of each family of constructions held out.")] = 0.15,
) -> None:
    """Generate (sentence -> gold action plan) pairs, with imagination and polishment gold, for Steps I and III."""
    import time

    from ..planning_corpus import CorpusConfig, write_corpus

    config = CorpusConfig(n=n, seed=seed, heldout=heldout, heldout_constructions=heldout_constructions)
    started = time.perf_counter()
    counts = write_corpus(out, config)
    seconds = time.perf_counter() - started
    split_text = "; ".join(f"{split}: " + ", ".join(f"{k} {v}" for k, v in tasks.items()) for split, tasks in counts.items())
    typer.echo(f"wrote the planning corpus ({split_text}) to {out} in {seconds:.1f} s")
