"""``dysen plan``: Steps I–III for one prompt or a file of prompts, with a timeline picture."""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError


def plan(
    prompt: Annotated[Optional[str], typer.Argument(help="The text to plan (omit with --batch).")] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="JSON file to write (a folder with --batch).")
    ] = None,
    png: Annotated[Optional[Path], typer.Option("--png", help="Also draw the DSG as a timeline PNG here.")] = None,
    batch: Annotated[Optional[Path], typer.Option("--batch", help="A file of prompts, one per line.")] = None,
    llm: Annotated[
        Optional[str], typer.Option("--llm", help="A litellm model string, e.g. gpt-4o-mini (default: the config's LLM).")
    ] = None,
    api_base: Annotated[
        Optional[str], typer.Option("--api-base", help="An OpenAI-compatible server for --llm, e.g. http://127.0.0.1:8080/v1.")
    ] = None,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="A run config YAML file.")] = None,
    preset: Annotated[Optional[str], typer.Option("--preset", "-p", help="A preset (default: the offline default).")] = None,
    override: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key: key.path=value.")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-j", min=1, max=64, help="Prompts planned at once.")] = 1,
) -> None:
    """Plan a prompt's actions (Step I), build its DSG (Step II) and enrich it (Step III)."""
    from ..config import load_config
    from ..icl import check_prompt
    from ..scene_manager import SceneManager

    if (prompt is None) == (batch is None):
        raise InputError("give one prompt, or --batch FILE, but not both")
    if batch is not None and png is not None:
        raise InputError("--png draws one prompt's DSG; it does not go with --batch")
    if batch is not None and output is None:
        raise InputError("--batch needs --output FOLDER for the results")
    if output is not None and batch is None and output.is_dir():
        raise InputError(f"--output '{output}' is a folder; give a file path such as {output / 'plan.json'}")
    overrides = list(override or [])
    if api_base is not None and llm is None:
        raise InputError("--api-base needs --llm, the model name the server serves")
    if llm is not None:
        model = f"openai/{llm}" if api_base is not None and "/" not in llm else llm
        overrides += ["llm.name=litellm", f"llm.options.model={model}"]
        if api_base is not None:
            overrides.append(f"llm.options.api_base={api_base}")
    prompts = _read_prompts(batch) if batch is not None else [check_prompt(prompt)]
    run_config = load_config(config, preset=preset, overrides=overrides)

    with SceneManager(run_config) as manager:
        if batch is None:
            _plan_one(manager, prompts[0], output, png)
        else:
            _plan_batch(manager, prompts, output, concurrency)


def _plan_one(manager, prompt: str, output: Path | None, png: Path | None) -> None:
    from ..io import write_json_atomic
    from ..timeline import draw_timeline

    result = manager.run(prompt)
    result.manifest["llm_stats"] = manager.llm.stats.model_dump() if manager.llm is not None else None
    if output is not None:
        write_json_atomic(output, result)  # a failed prompt's result is kept too: it records why
    if result.error is not None:
        raise InputError(f"planning failed: {result.error}")
    if output is None:
        typer.echo(result.model_dump_json(indent=2, exclude_none=True))
    if png is not None:
        draw_timeline(result.dsg, png, skeleton=result.skeleton)
    _summary_line(result, output, png)


def _summary_line(result, output: Path | None, png: Path | None) -> None:
    parts = [f"{len(result.plan.events)} events", f"{len(result.dsg.frames)} scene graphs",
             f"{result.manifest['segments']} segments", f"{result.manifest['llm_requests']} LLM requests",
             f"{result.manifest['timings']['total_s']:.1f} s"]
    where = " and ".join(str(p) for p in (output, png) if p is not None)
    print(f"{'wrote ' + where + ': ' if where else ''}{', '.join(parts)}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)


def _plan_batch(manager, prompts: list[str], folder: Path, concurrency: int) -> None:
    from rich.progress import Progress

    from ..io import write_json_atomic
    from ..scene_manager import PlanResult

    folder.mkdir(parents=True, exist_ok=True)
    targets = [folder / _file_name(n, p) for n, p in enumerate(prompts, start=1)]
    todo = [(p, t) for p, t in zip(prompts, targets) if not _done(t, PlanResult)]
    failed: list[str] = []

    with Progress(transient=True) as progress:
        task = progress.add_task("planning", total=len(todo))

        def done(n: int, result: PlanResult) -> None:
            target = todo[n][1]
            write_json_atomic(target, result)
            if result.error is not None:
                failed.append(f"{target.name}: {result.error}")
            progress.advance(task)

        manager.run_many([prompt for prompt, _ in todo], concurrency=concurrency, on_result=done)
    stats = manager.llm.stats.model_dump() if manager.llm is not None else {}
    summary = {"prompts": len(prompts), "skipped_done": len(prompts) - len(todo), "planned": len(todo) - len(failed),
               "failed": len(failed), "failures": failed, "llm": stats}
    write_json_atomic(folder / "summary.json", summary)
    print(
        f"{summary['planned']} planned, {summary['skipped_done']} already done, {summary['failed']} failed; "
        f"LLM: {stats.get('requests', 0)} requests, {stats.get('cache_hits', 0)} cache hits, "
        f"{stats.get('llm_calls', 0)} calls, {stats.get('prompt_tokens', 0)}+{stats.get('completion_tokens', 0)} "
        f"tokens, {stats.get('failures', 0)} failures -> {folder}",
        file=sys.stderr,
    )
    for line in failed:
        print(f"failed: {line}", file=sys.stderr)


def _read_prompts(path: Path) -> list[str]:
    from ..io import read_text

    prompts = [line.strip() for line in read_text(path, "prompts").splitlines()]
    prompts = [p for p in prompts if p and not p.startswith("#")]
    if not prompts:
        raise InputError(f"{path} has no prompts (one per line; # starts a comment)")
    return prompts


def _file_name(number: int, prompt: str) -> str:
    """Stable per prompt: its line number, a readable slug and a hash of its text."""
    slug = re.sub(r"[^a-z0-9]+", "-", prompt.lower())[:40].strip("-") or "prompt"
    return f"{number:05d}-{slug}-{hashlib.sha256(prompt.encode()).hexdigest()[:8]}.json"


def _done(target: Path, model) -> bool:
    """A result file that parses and has no error: resuming skips it; a failed one is tried again."""
    if not target.is_file():
        return False
    try:
        return model.model_validate_json(target.read_text(encoding="utf-8")).error is None
    except ValueError:
        return False
