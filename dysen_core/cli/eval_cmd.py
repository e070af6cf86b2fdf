"""``dysen eval``: score generated videos against references (the logic lives in ``dysen_core.evaluation``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def evaluate(
    generated: Annotated[Path, typer.Option("--generated", help="Folder of generated .mp4 files (or sub-folders of PNG frames).")],
    reference: Annotated[Path, typer.Option(
        "--reference", help="Folder of reference .mp4 files or PNG-frame folders, or a dynamic-shapes dataset root (gold clips).")],
    metrics: Annotated[str, typer.Option(
        "--metrics", help="Comma list of metrics: fvd, kvd, fid, inception-score, clipsim, shapes-fvd, dynamics (needs a dataset).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON results file; a Markdown table goes next to it (.md).")] = Path(
        "eval.json"),
    prompts: Annotated[Optional[Path], typer.Option(
        "--prompts", help="Prompts file, one per line in sorted video order (clipsim); default: each video's .json manifest.")] = None,
    split: Annotated[str, typer.Option("--split", help="Split of a dynamic-shapes dataset --reference.")] = "test",
    metric_option: Annotated[Optional[list[str]], typer.Option(
        "--metric-option", help="A metric option NAME.key=value, repeatable, e.g. fvd.weights=/path/i3d_torchscript.pt.")] = None,
) -> None:
    """Score generated videos against references; write JSON + Markdown. A re-run reuses unchanged metrics' results."""
    from contextlib import ExitStack

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..evaluation import evaluate as run_evaluation
    from ..evaluation import summary

    names = [name.strip() for name in metrics.split(",") if name.strip()]
    columns = (TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    progress = Progress(*columns, console=Console(stderr=True), transient=True)
    with ExitStack() as stack:

        def start(total: int) -> None:  # the bar appears once the inputs and metrics are known to be usable
            stack.enter_context(progress)
            progress.add_task("videos", total=total)

        report = run_evaluation(
            generated, reference, names, output, split=split, prompts=prompts, metric_options=metric_option or [],
            on_start=start, on_video=lambda: progress.advance(progress.task_ids[0]))
    typer.echo(f"{summary(report)}; wrote {output} and {output.with_suffix('.md')}")
