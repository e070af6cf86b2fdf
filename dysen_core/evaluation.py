"""Scores a folder of generated videos against references with registered metrics (`dysen eval`, issue 6 part 5).

Inputs. ``generated`` and ``reference`` are folders of ``.mp4`` files or, when a folder has no ``.mp4``, of
sub-folders of ``*.png`` frames (read in name order, as ``video.write_frames_png`` writes them). Where an
mp4 has the lossless ``<name>_frames`` folder that ``dysen generate --frames`` writes beside it, the frames are
read instead: mp4's 4:2:0 colour subsampling blurs small objects, which the parser reads. ``reference`` may instead be a
dynamic-shapes dataset root: its ``split`` clips are the references, and their gold records feed ``dynamics``.

Pairing. A video's name is its file stem (or folder name; a dataset clip's id). When every generated name is
also a reference name, videos pair by name; otherwise they pair by position in sorted order (dataset clips in
manifest order). References left without a generated video are ``missing``; generated videos left without a
reference are failures.

Prompts (``clipsim``): the lines of ``prompts`` in sorted generated order, else the ``prompt`` of each video's
``<name>.json`` manifest (``dysen generate --batch`` writes one), else the gold clip's first caption.

Streaming. One pair is read, given to every metric, then dropped; only the metrics' running statistics and the
dataset's clip records (JSON, no frames) stay in memory. A video that cannot be read (corrupt or empty mp4,
frames of mixed sizes) is a failure of every metric; a video a metric rejects (too few frames, wrong units) is
a failure of that metric only. Either way the rest is still scored.

Resuming. Metric states are not serialisable in general, so a run cannot restart mid-way: an interrupted
run leaves no output (writes are atomic) and starts again. A finished run's JSON is reused instead: a
re-run on unchanged inputs (names, sizes, modification times, prompts) keeps each metric whose options did
not change and computes only the new or changed ones; when nothing changed, no video is read. Outputs carry
no timings, so a re-run writes the same JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DysenError, InputError
from .shapes.generate import ClipRecord

PLAN_METRICS = ("trirec", "plan-accuracy")  # score plans and scene graphs, not videos
PREDICTION_ONLY = ("inception-score", "clipsim")  # never look at the reference video
GOLD_METRICS = ("dynamics",)  # the reference is a gold clip record
MAX_MARKDOWN_FAILURES = 50


@dataclass
class Item:
    """One video on disk: an ``.mp4`` file, a folder of PNG frames, or a dataset clip (``record`` set)."""

    name: str
    path: Path
    record: ClipRecord | None = None


@dataclass
class Sources:
    """The listed inputs: generated and reference videos, the dataset root (if any) and prompts per name."""

    generated: list[Item]
    reference: list[Item]
    dataset: Path | None
    prompts: dict[str, str] = field(default_factory=dict)


def parse_metric_options(items: list[str], metrics: list[str]) -> dict[str, dict[str, str]]:
    """``NAME.key=value`` strings (``--metric-option``) as ``{NAME: {key: value}}``; pydantic converts the values."""
    options: dict[str, dict[str, str]] = {name: {} for name in metrics}
    for item in items:
        target, sep, value = item.partition("=")
        name, dot, key = target.rpartition(".")
        if not (sep and dot and name and key):
            raise InputError(f"--metric-option {item!r} is not NAME.key=value, e.g. fvd.weights=/path/i3d_torchscript.pt")
        if name not in options:
            raise InputError(f"--metric-option {item!r} is for metric {name!r}, which is not in --metrics ({', '.join(metrics)})")
        options[name][key] = value
    return options


def list_videos(folder: Path, what: str) -> list[Item]:
    """The ``.mp4`` files of ``folder`` (each as its ``<stem>_frames`` PNGs where there are some) or, if it has
    none, its sub-folders holding ``*.png`` frames, sorted by name."""
    if not folder.is_dir():
        raise InputError(f"{what} folder '{folder}' not found")
    mp4s = sorted(p for p in folder.glob("*.mp4") if p.is_file())
    if mp4s:
        return [Item(p.stem, _lossless(p)) for p in mp4s]
    frames = sorted(p for p in folder.iterdir() if p.is_dir() and any(p.glob("*.png")))
    if not frames:
        raise InputError(f"{what} folder '{folder}' has no .mp4 files and no sub-folders of .png frames")
    return [Item(p.name, p) for p in frames]


def _lossless(mp4: Path) -> Path:
    """The PNG frames written beside ``mp4`` (``<stem>_frames``) if there are any, else the mp4 itself."""
    frames = mp4.with_name(f"{mp4.stem}_frames")
    return frames if frames.is_dir() and any(frames.glob("*.png")) else mp4


def read_frames(folder: Path) -> np.ndarray:
    """The ``*.png`` frames of ``folder`` in name order as ``(F, H, W, 3)`` uint8; mixed sizes are an InputError."""
    from PIL import Image, UnidentifiedImageError

    frames: list[np.ndarray] = []
    for path in sorted(folder.glob("*.png")):
        try:
            with Image.open(path) as image:
                frame = np.asarray(image.convert("RGB"))
        except (OSError, UnidentifiedImageError) as exc:
            raise InputError(f"cannot read frame '{path}': {exc}") from None
        if frames and frame.shape != frames[0].shape:
            raise InputError(f"frame folder '{folder}' mixes frame sizes: {path.name} is {frame.shape[1]}x{frame.shape[0]}, "
                             f"the first frame {frames[0].shape[1]}x{frames[0].shape[0]}")
        frames.append(frame)
    if not frames:
        raise InputError(f"frame folder '{folder}' has no .png frames")
    return np.stack(frames)


def load_video(item: Item, dataset: Path | None) -> np.ndarray:
    """The frames of ``item``, whatever its kind."""
    from .shapes.dataset import load_frames
    from .video import read_video

    if item.record is not None:
        return load_frames(dataset, item.record)
    return read_frames(item.path) if item.path.is_dir() else read_video(item.path)


def find_sources(generated: Path, reference: Path, split: str, prompts: Path | None) -> Sources:
    """List both sides (a dataset root is recognised by ``<split>/manifest.jsonl``) and collect the prompts."""
    from .io import read_text
    from .shapes.dataset import iter_clips

    gen = list_videos(generated, "--generated")
    if (reference / split / "manifest.jsonl").is_file():
        ref = [Item(r.id, reference / r.file, r) for r in iter_clips(reference, split)]
        dataset: Path | None = reference
    else:
        ref, dataset = list_videos(reference, "--reference"), None
    if prompts is not None:
        lines = [line.strip() for line in read_text(prompts, "prompts").splitlines() if line.strip()]
        if len(lines) != len(gen):
            raise InputError(f"--prompts '{prompts}' has {len(lines)} prompts but --generated has {len(gen)} videos; "
                             "give one prompt per line, in the sorted order of the videos")
        return Sources(gen, ref, dataset, {item.name: line for item, line in zip(gen, lines)})
    found = {item.name: prompt for item in gen if (prompt := _manifest_prompt(item))}
    return Sources(gen, ref, dataset, found)


def _manifest_prompt(item: Item) -> str | None:
    manifest = item.path.with_name(f"{item.name}.json")
    try:
        prompt = json.loads(manifest.read_text(encoding="utf-8")).get("prompt") if manifest.is_file() else None
    except (OSError, ValueError, AttributeError):
        return None
    return prompt if isinstance(prompt, str) and prompt.strip() else None


def pair(sources: Sources) -> tuple[list[tuple[Item, Item | None]], list[str]]:
    """Generated videos with their reference (None: none left) and the names of unmatched references."""
    by_name = {item.name: item for item in sources.reference}
    if all(item.name in by_name for item in sources.generated):
        pairs: list[tuple[Item, Item | None]] = [(item, by_name[item.name]) for item in sources.generated]
        used = {item.name for item in sources.generated}
        return pairs, [item.name for item in sources.reference if item.name not in used]
    refs: list[Item | None] = [*sources.reference]
    pairs = [(item, refs[n] if n < len(refs) else None) for n, item in enumerate(sources.generated)]
    return pairs, [item.name for item in sources.reference[len(sources.generated):]]


def fingerprint(sources: Sources) -> str:
    """A hash of every input's name, size and modification time, and of the prompts: unchanged inputs, same hash."""
    def stat(item: Item) -> list:
        files = sorted(item.path.glob("*.png")) if item.path.is_dir() else [item.path]
        stats = [f.stat() for f in files if f.exists()]
        return [item.name, str(item.path), sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)]

    data = [[stat(i) for i in sources.generated], [stat(i) for i in sources.reference], sorted(sources.prompts.items())]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]


def check_metrics(names: list[str], sources: Sources) -> None:
    """Refuse metrics that cannot score these inputs, before any work starts."""
    from .registry import get_registry

    registry = get_registry()
    for name in names:
        registry.get("metric", name)  # unknown names list the installed metrics
        if name in PLAN_METRICS:
            video = [n for n in registry.names("metric") if n not in PLAN_METRICS]
            raise InputError(f"metric {name!r} scores plans, not videos; `dysen eval` takes {', '.join(video)}")
        if name in GOLD_METRICS and sources.dataset is None:
            raise InputError(f"metric {name!r} needs gold clips: pass a dynamic-shapes dataset root as --reference (with --split)")
    if "clipsim" in names:
        unprompted = [item.name for item in sources.generated if item.name not in sources.prompts]
        if sources.dataset is not None:
            unprompted = []  # the gold clip's caption is the fallback
        if unprompted:
            raise InputError(f"clipsim needs a prompt per video; '{unprompted[0]}' has none (no <name>.json manifest): pass --prompts FILE")


def _previous(output: Path, settings: dict, inputs: str) -> dict[str, Any] | None:
    try:
        old = json.loads(output.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = isinstance(old, dict) and old.get("inputs") == inputs and all(
        old.get("settings", {}).get(key) == settings[key] for key in ("generated", "reference", "split", "prompts"))
    return old if same else None


def evaluate(generated: Path, reference: Path, metrics: list[str], output: Path, *, split: str = "test",
             prompts: Path | None = None, metric_options: list[str] | None = None,
             on_start: Callable[[int], None] | None = None, on_video: Callable[[], None] | None = None) -> dict[str, Any]:
    """Score, write ``output`` (JSON) and ``output.with_suffix('.md')``, and return the JSON's content.

    ``on_start(n)`` is told how many videos will be read (0: every metric reused), ``on_video()`` each one done.
    """
    from .io import write_json_atomic, write_text_atomic
    from .registry import get_registry

    if not metrics:
        raise InputError("--metrics is empty; name at least one, e.g. --metrics fvd,kvd")
    options = parse_metric_options(metric_options or [], metrics)
    sources = find_sources(generated, reference, split, prompts)
    check_metrics(metrics, sources)
    registry = get_registry()
    validated = {name: registry.options("metric", name, options[name]).model_dump(mode="json") for name in metrics}
    settings = {"generated": str(generated), "reference": str(reference), "split": split if sources.dataset else None,
                "prompts": None if prompts is None else str(prompts), "metrics": metrics, "metric_options": validated}
    inputs = fingerprint(sources)
    old = _previous(output, settings, inputs)
    reused = {name: old["metrics"][name] for name in metrics
              if old and name in old.get("metrics", {}) and old["metrics"][name].get("options") == validated[name]}
    todo = {name: registry.create("metric", name, options[name]) for name in metrics if name not in reused}  # weights fail here
    pairs, missing = pair(sources)
    if on_start:
        on_start(len(pairs) if todo else 0)
    if todo:
        read_failures, results = _score(pairs, sources, todo, validated, on_video)
    else:
        read_failures, results = old["failures"], {}
    report = _report(settings, inputs, sources, pairs, missing, read_failures, {**reused, **results})
    write_json_atomic(output, report)
    write_text_atomic(output.with_suffix(".md"), markdown(report))
    return report


def _read_pair(gen: Item, ref: Item | None, dataset: Path | None, need_reference: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """The generated frames and, if a metric needs them, the reference frames; InputError when unusable."""
    if ref is None:
        raise InputError("no reference video left to pair it with")
    return load_video(gen, None), load_video(ref, dataset) if need_reference else None


def _score(pairs: list[tuple[Item, Item | None]], sources: Sources, todo: dict[str, Any], validated: dict[str, dict],
           on_video: Callable[[], None] | None) -> tuple[list[dict], dict[str, dict]]:
    """Stream the pairs through every metric in ``todo``: the read failures and each metric's result."""
    failures: list[dict] = []
    per_metric: dict[str, list[dict]] = {name: [] for name in todo}
    scored = dict.fromkeys(todo, 0)
    need_reference = any(name not in PREDICTION_ONLY + GOLD_METRICS for name in todo)
    for gen, ref in pairs:
        try:
            video, ref_video = _read_pair(gen, ref, sources.dataset, need_reference)
        except InputError as exc:
            failures.append({"video": gen.name, "error": str(exc)})
        else:
            for name, metric in todo.items():
                try:
                    metric.update(video, _reference(name, ref, ref_video, sources.prompts.get(gen.name)))
                except DysenError as exc:
                    per_metric[name].append({"video": gen.name, "error": str(exc)})
                else:
                    scored[name] += 1
        if on_video:
            on_video()
    results = {}
    for name, metric in todo.items():
        entry: dict[str, Any] = {"options": validated[name], "scored": scored[name], "failures": per_metric[name]}
        try:
            entry["scores"] = {key: float(value) for key, value in metric.compute().items()}
        except DysenError as exc:
            entry["error"] = str(exc)
        results[name] = entry
    return failures, results


def _reference(name: str, ref: Item, ref_video: np.ndarray | None, prompt: str | None) -> Any:
    if name in GOLD_METRICS:
        return ref.record
    if name == "clipsim":
        return prompt or ref.record.captions[0]
    return None if name in PREDICTION_ONLY else ref_video


def _report(settings: dict, inputs: str, sources: Sources, pairs: list, missing: list[str], read_failures: list[dict],
            results: dict[str, dict]) -> dict[str, Any]:
    failed = {f["video"] for f in read_failures} | {f["video"] for r in results.values() for f in r["failures"]}
    counts = {"generated": len(sources.generated), "reference": len(sources.reference), "scored": len(pairs) - len(failed),
              "failed": len(failed), "missing": len(missing)}
    ordered = {name: results[name] for name in settings["metrics"]}
    return {"settings": settings, "inputs": inputs, "counts": counts, "metrics": ordered, "failures": read_failures,
            "missing": missing}


def summary(report: dict[str, Any]) -> str:
    """One line: how many videos were scored, failed and missing."""
    c = report["counts"]
    line = f"scored {c['scored']} of {c['generated']} generated videos against {c['reference']} references"
    if c["failed"]:
        line += f"; {c['failed']} failed (see 'failures' in the JSON)"
    if c["missing"]:
        line += f"; {c['missing']} reference videos have no generated video (fewer generated than reference)"
    errors = [name for name, r in report["metrics"].items() if "error" in r]
    if errors:
        line += f"; no score for {', '.join(errors)}"
    return line


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table of scores, then the failures."""
    lines = ["# dysen eval", "", summary(report) + ".", "", "| metric | score | value | videos scored |", "|---|---|---|---|"]
    for name, result in report["metrics"].items():
        if "error" in result:
            lines.append(f"| {name} | — | error: {_cell(result['error'])} | {result['scored']} |")
        for key, value in result.get("scores", {}).items():
            lines.append(f"| {name} | {key} | {value:.4f} | {result['scored']} |")
    failures = [(None, f) for f in report["failures"]] + [(n, f) for n, r in report["metrics"].items() for f in r["failures"]]
    if failures:
        lines += ["", "## Failures", "", "| video | metric | error |", "|---|---|---|"]
        lines += [f"| {f['video']} | {name or 'all'} | {_cell(f['error'])} |" for name, f in failures[:MAX_MARKDOWN_FAILURES]]
        if len(failures) > MAX_MARKDOWN_FAILURES:
            lines.append(f"\n… and {len(failures) - MAX_MARKDOWN_FAILURES} more in the JSON.")
    if report["missing"]:
        lines += ["", f"Missing (no generated video): {', '.join(report['missing'])}"]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
