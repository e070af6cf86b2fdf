"""Rendering planned prompts to files: Steps I–III for every prompt (the LLM then released), then the backbone,
writing each video with a manifest beside it. ``dysen generate`` and ``dysen ablate`` both render through it."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from .errors import DysenError


def render(run_config, prompts: list[str], targets: list[Path], *, resume: bool = False, seed: int = 0, batch_size: int = 1,
           gif: bool = False, frames: bool = False, sheet: bool = False) -> tuple[int, int]:
    """Plan every prompt, then render prompt n into ``targets[n]`` from noise seeded seed + n, with its manifest beside it.

    With ``resume``, a target whose manifest records no error is kept. One failing chunk never loses the others:
    its manifests say why. Returns how many videos were tried and how many of them failed.
    """
    todo = [n for n, target in enumerate(targets) if not (resume and _done(target))]
    if not todo:
        return 0, 0
    plans = _plan([prompts[n] for n in todo], run_config)  # the LLM is released before the backbone loads

    from .video_model import build_backbone

    backbone = build_backbone(run_config)
    if "checkpoint" in (described := backbone.describe()) and described["checkpoint"] is None:
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
            _write_outputs(targets[n], video, run_config.video.fps, gif, frames, plan if sheet else None)
            _write_manifest(targets[n], plan, backbone, seed + n, run_config, seconds=seconds)
            print(f"wrote {targets[n]} ({video.shape[0]} frames, {seconds:.1f} s)", file=sys.stderr)
    return len(todo), failed


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
    from .scene_manager import PlanResult, SceneManager

    if run_config.planner is None:
        return [PlanResult(prompt=p, notes=["this config has no planner (w/o Dysen): text-only conditioning"]) for p in prompts]
    with SceneManager(run_config) as manager:
        results = manager.run_many(prompts)
        for result in results:
            if result.error is not None:
                print(f"warning: planning failed for {result.prompt[:60]!r}: {result.error}; text-only conditioning", file=sys.stderr)
        return results


def _write_outputs(target: Path, video, fps: int, gif: bool, frames: bool, sheet_plan=None) -> None:
    """The video, and optionally a gif, the frames as PNGs, and a contact sheet (frames over the DSG timeline)."""
    from .video import write_frames_png, write_video

    write_video(target, video, fps=fps)
    if gif:
        write_video(target.with_suffix(".gif"), video, fps=fps)
    if frames:
        write_frames_png(target.with_name(f"{target.stem}_frames"), video)
    if sheet_plan is not None and sheet_plan.dsg is not None:  # a text-only video has no timeline to draw
        from .timeline import draw_timeline

        draw_timeline(sheet_plan.dsg, target.with_name(f"{target.stem}_sheet.png"), skeleton=sheet_plan.skeleton, video=video)


def _write_manifest(target: Path, plan, backbone, seed: int, run_config, *, seconds: float | None = None,
                    error: str | None = None) -> None:
    """``<name>.json``: prompt, plan and DSGs, seed, sampler settings, components, checkpoint hashes, LLM use."""
    from .io import write_json_atomic

    described = backbone.describe()
    warnings = list(described.get("warnings", []))
    if plan.dsg is None:
        reason = plan.error or "no planner in this config"
        warnings.append(f"no DSG ({reason}): conditioned on the text only")
    manifest: dict[str, Any] = {
        "prompt": plan.prompt, "video": target.name if error is None else None, "seed": seed,
        "video_settings": run_config.video.model_dump(), "backbone": described,
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
