"""``dysen generate``: prompt → Steps I–III → graph encoder (once) → sampler → mp4, plus the plan and a manifest."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import DysenError, InputError


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
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=256, help="Videos sampled at once.")] = 1,
) -> None:
    """Generate videos: plan each prompt's dynamics, encode its DSG once, and sample the latent video diffusion."""
    from ..config import load_config
    from ..icl import check_prompt
    from .plan_cmd import _file_name, _read_prompts

    if (prompt is None) == (batch is None):
        raise InputError("give one prompt, or --batch FILE, but not both")
    if batch is None and output.suffix != ".mp4":
        raise InputError(f"--output '{output}' must end in .mp4")
    overrides = list(override or [])
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
    todo = [n for n, target in enumerate(targets) if batch is None or not _done(target)]
    if not todo:
        print(f"all {len(targets)} videos already exist in {output}", file=sys.stderr)
        return
    plans = _plan([prompts[n] for n in todo], run_config)  # the LLM is released before the backbone loads

    from ..video_model import build_backbone

    backbone = build_backbone(run_config)
    if run_config.backbone.options.get("checkpoint") is None:
        print("warning: the backbone has no trained weights (no --checkpoint): the video will be noise", file=sys.stderr)
    failed = 0
    plan_of = dict(zip(todo, plans))
    for chunk in _chunks(todo, batch_size):
        chunk_plans = [plan_of[n] for n in chunk]
        start = time.perf_counter()
        try:
            videos = backbone.generate([prompts[n] for n in chunk], [p.dsg for p in chunk_plans], seed=seed + chunk[0])
        except DysenError as exc:  # one failing chunk never loses the others
            for n, plan in zip(chunk, chunk_plans):
                _write_manifest(targets[n], plan, backbone, seed + n, run_config, error=str(exc))
            failed += len(chunk)
            continue
        seconds = (time.perf_counter() - start) / len(chunk)
        for n, plan, video in zip(chunk, chunk_plans, videos):
            _write_outputs(targets[n], video, run_config.video.fps, gif, frames)
            _write_manifest(targets[n], plan, backbone, seed + n, run_config, seconds=seconds)
            print(f"wrote {targets[n]} ({video.shape[0]} frames, {seconds:.1f} s)", file=sys.stderr)
    if failed:
        raise InputError(f"{failed} of {len(todo)} videos failed; their manifests (.json next to each .mp4) say why")


def _chunks(numbers: list[int], size: int) -> list[list[int]]:
    """Runs of consecutive prompt numbers, at most ``size`` long: prompt n keeps seed + n however a batch resumes."""
    chunks: list[list[int]] = []
    for n in numbers:
        if chunks and len(chunks[-1]) < size and chunks[-1][-1] == n - 1:
            chunks[-1].append(n)
        else:
            chunks.append([n])
    return chunks


def _plan(prompts: list[str], run_config) -> list:
    """Steps I–III for every prompt, or text-only results when the config has no planner (w/o Dysen)."""
    from ..scene_manager import PlanResult, SceneManager

    if run_config.planner is None:
        return [PlanResult(prompt=p, notes=["this config has no planner (w/o Dysen): text-only conditioning"]) for p in prompts]
    with SceneManager(run_config) as manager:
        results = manager.run_many(prompts)
        for result in results:
            if result.error is not None:
                print(f"warning: planning failed for {result.prompt[:60]!r}: {result.error}; text-only conditioning", file=sys.stderr)
        return results


def _write_outputs(target: Path, video, fps: int, gif: bool, frames: bool) -> None:
    from ..video import write_frames_png, write_video

    write_video(target, video, fps=fps)
    if gif:
        write_video(target.with_suffix(".gif"), video, fps=fps)
    if frames:
        write_frames_png(target.with_name(f"{target.stem}_frames"), video)


def _write_manifest(target: Path, plan, backbone, seed: int, run_config, *, seconds: float | None = None,
                    error: str | None = None) -> None:
    """``<name>.json``: prompt, plan and DSGs, seed, sampler settings, components, checkpoint hashes, LLM use."""
    from ..io import write_json_atomic

    warnings = []
    if plan.dsg is None:
        reason = plan.error or "no planner in this config"
        warnings.append(f"no DSG ({reason}): conditioned on text only, through the null DSG token")
    manifest: dict[str, Any] = {
        "prompt": plan.prompt, "video": target.name if error is None else None, "seed": seed,
        "video_settings": run_config.video.model_dump(), "backbone": backbone.describe(),
        "components": {stage: ref.name for stage in ("llm", "planner", "imaginer", "text_encoder", "graph_encoder", "backbone")
                       if (ref := getattr(run_config, stage)) is not None},
        "plan": plan.model_dump(mode="json", exclude_none=True), "warnings": warnings, "error": error,
        "seconds": None if seconds is None else round(seconds, 3),
    }
    write_json_atomic(target.with_suffix(".json"), manifest)


def _done(target: Path) -> bool:
    """A video whose manifest records no error: a resumed batch skips it."""
    import json

    manifest = target.with_suffix(".json")
    if not (target.is_file() and manifest.is_file()):
        return False
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("error") is None
    except (OSError, ValueError):
        return False
