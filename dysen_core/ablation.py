"""The ablation runner (`dysen ablate`, issue 7 part 4): every variant through the same data and scores, one Table 4.

A variant is ``full``, a preset or a .yaml file whose changes (``config.Variant``) are applied to the user's
base config, so a tiny CPU config gets the same switches as the paper-sized presets. Each variant runs in
``OUT/<variant>/``: optionally train one stage (``dysen train``'s ``train_stage``), then plan and render the
reference clips' captions (``dysen generate``'s ``render``), then score them against the clips
(``dysen eval``'s ``evaluation.evaluate``). The table (paper Table 4: each value with its delta to the full
model) goes to ``OUT/ablation.json`` and ``OUT/ablation.md``.

One failing variant never loses the others: its row carries the error. A variant whose ``result.json``
matches the current settings and config is skipped on a re-run; one whose settings changed starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .config import RunConfig, Variant, load_config, read_variant, to_yaml
from .datamodel import SCHEMA_VERSION
from .errors import DysenError, InputError


class AblationSettings(BaseModel):
    """What every variant of one table shares: the base config, the data, the training and the scoring."""

    model_config = ConfigDict(extra="forbid")

    config: Path | None = Field(default=None, description="The base run config file (else `preset`).")
    preset: str | None = Field(default=None, description="The base preset when no file is given (default: the offline default).")
    overrides: list[str] = Field(default_factory=list, description="`--set` overrides, applied after each variant's changes.")
    reference: Path = Field(description="A dynamic-shapes dataset root: its clips' captions are the prompts, the clips the references.")
    split: str = Field(default="test", description="The reference split.")
    limit: int | None = Field(default=None, ge=1, description="Use only the first `limit` clips of the split.")
    metrics: list[str] = Field(min_length=1, description="Registered metric names (see `dysen plugins`).")
    metric_options: list[str] = Field(default_factory=list, description="`NAME.key=value` metric options.")
    train: Path | None = Field(default=None, description="Train each variant on this dataset first.")
    stage: str = Field(default="vdm", description="The training stage (`dysen train --stage`).")
    checkpoint: Path | None = Field(default=None, description="Trained weights every variant starts from.")
    seed: int = Field(default=0, ge=0, description="Prompt n is rendered from noise seeded seed + n, in every variant.")
    batch_size: int = Field(default=1, ge=1, description="Videos sampled at once.")


class AblationRow(BaseModel):
    """One variant's line of the table; ``None`` marks a score without evidence (NaN) or one not computed."""

    model_config = ConfigDict(extra="forbid")

    variant: str = Field(description="The variant as given: `full`, a preset or a .yaml path.")
    description: str = Field(default="", description="The variant's description.")
    full: bool = Field(default=False, description="The variant is the base config itself.")
    scores: dict[str, float | None] = Field(default_factory=dict, description="Column -> value.")
    deltas: dict[str, float | None] = Field(default_factory=dict, description="Column -> value minus the reference row's.")
    notes: list[str] = Field(default_factory=list, description="Caveats: switches that do not apply, fallbacks, failures.")
    error: str | None = Field(default=None, description="Why this variant has no scores, if it has none.")


class AblationTable(BaseModel):
    """The paper's Table 4 for one base config: a row per variant, deltas to the full model."""

    model_config = ConfigDict(extra="forbid")

    schema_version: str = SCHEMA_VERSION
    command: str = Field(description="The command that made the table.")
    base: str = Field(description="The base config's description.")
    reference_row: str = Field(description="The variant the deltas are taken against.")
    columns: list[str] = Field(description="Score columns, `metric` or `metric.score`.")
    rows: list[AblationRow]


def run_ablation(settings: AblationSettings, variants: list[str], out: Path, *, command: str,
                 log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> AblationTable:
    """Run every variant into ``out/<variant>/``, then write ``out/ablation.json`` and ``out/ablation.md``."""
    from .io import write_json_atomic, write_text_atomic

    chosen = _check(settings, variants)
    base = load_config(settings.config, preset=settings.preset, overrides=settings.overrides)
    prompts = _prompts(settings)
    rows = []
    for number, (variant, folder) in enumerate(chosen, start=1):
        log(f"ablate [{number}/{len(chosen)}] {variant.name}")
        rows.append(_run_variant(variant, base, settings, prompts, out / folder, log))
    table = build_table(rows, base=base.description, command=command, metrics=settings.metrics)
    write_json_atomic(out / "ablation.json", table)
    write_text_atomic(out / "ablation.md", markdown(table))
    return table


def _check(settings: AblationSettings, names: list[str]) -> list[tuple[Variant, str]]:
    """The variants with their folder names; every user mistake is raised here, before any work starts."""
    from .evaluation import Item, Sources, check_metrics, parse_metric_options
    from .shapes.dataset import iter_clips
    from .training_data import TRAINING_STAGES

    if not names:
        raise InputError("--variants is empty; name at least one, e.g. --variants full,no-dysen")
    chosen = [(read_variant(name), Path(name).stem) for name in names]
    folders = [folder for _, folder in chosen]
    if len(set(folders)) < len(folders):
        raise InputError(f"--variants names one folder twice ({', '.join(folders)}); give each variant once, with distinct file names")
    for variant, _ in chosen:  # a variant that does not even load is a user mistake, not a failed row
        load_config(settings.config, preset=settings.preset, variant=variant, overrides=settings.overrides)
    if not (settings.reference / settings.split / "manifest.jsonl").is_file():
        raise InputError(f"--reference '{settings.reference}' is not a dynamic-shapes dataset with a {settings.split!r} split; "
                         "make one with `dysen data shapes --out DIR`")
    references = [Item(r.id, settings.reference / r.file, r) for r in iter_clips(settings.reference, settings.split)]
    parse_metric_options(settings.metric_options, settings.metrics)
    check_metrics(settings.metrics, Sources([], references, settings.reference))
    if settings.train is not None and settings.stage not in TRAINING_STAGES:
        raise InputError(f"unknown --stage {settings.stage!r}; stages: {', '.join(TRAINING_STAGES)}")
    if settings.train is not None and not settings.train.exists():
        raise InputError(f"--train '{settings.train}' not found; make a dataset with `dysen data shapes --out DIR`")
    return chosen


def _prompts(settings: AblationSettings) -> list[tuple[str, str]]:
    """(clip id, first caption) of the reference clips used: each variant renders the same prompts."""
    from itertools import islice

    from .shapes.dataset import iter_clips

    return [(r.id, r.captions[0]) for r in islice(iter_clips(settings.reference, settings.split), settings.limit)]


def _run_variant(variant: Variant, base: RunConfig, settings: AblationSettings, prompts: list[tuple[str, str]], folder: Path,
                 log: Callable[[str], None]) -> AblationRow:
    """Train (optionally), render and score one variant; a failure becomes the row's error."""
    from .io import write_json_atomic, write_text_atomic

    row = AblationRow(variant=variant.name, description=variant.description, full=variant.full)
    planned = load_config(settings.config, preset=settings.preset, variant=variant, overrides=settings.overrides)
    config = _with_checkpoint(planned, settings.checkpoint)
    key = hashlib.sha256(json.dumps([settings.model_dump(mode="json"), config.model_dump(mode="json"), prompts]).encode()).hexdigest()
    previous = _previous(folder / "result.json", key)
    if previous is not None and previous.error is None:
        log(f"  {variant.name}: done before, skipped")
        return previous
    if previous is None and folder.exists():  # made with other settings: start afresh
        shutil.rmtree(folder)
    write_text_atomic(folder / "config.yaml", to_yaml(config))
    row.notes = _applicability(variant, base, planned)
    try:
        row.scores, notes = _train_render_score(config, settings, prompts, folder)
        row.notes += notes
    except (DysenError, ValidationError) as exc:
        row.error = " ".join(str(exc).split())  # one line, for the table
    except Exception as exc:  # a bug in one variant must not lose the others; its traceback still shows
        traceback.print_exc()
        row.error = f"{type(exc).__name__}: {exc}"
    log(f"  {variant.name}: " + (f"failed: {row.error}" if row.error else "done"))
    write_json_atomic(folder / "result.json", {"key": key, "row": row.model_dump(mode="json")})
    return row


def _with_checkpoint(config: RunConfig, checkpoint: Path | None) -> RunConfig:
    """``config`` with its backbone starting from ``checkpoint`` (unchanged without one, or without a backbone)."""
    if checkpoint is None or config.backbone is None:
        return config
    backbone = config.backbone.model_copy(update={"options": {**config.backbone.options, "checkpoint": str(checkpoint)}})
    return config.model_copy(update={"backbone": backbone})


def _previous(path: Path, key: str) -> AblationRow | None:
    """The row recorded at ``path`` if it was made with the same settings and config."""
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
        return AblationRow.model_validate(recorded["row"]) if recorded.get("key") == key else None
    except (OSError, ValueError, KeyError, TypeError, ValidationError):
        return None


def _applicability(variant: Variant, base: RunConfig, config: RunConfig) -> list[str]:
    """Notes on switches that do not mean here what they mean in the variant's own base (e.g. no policy selector)."""
    if variant.full:
        return []
    if config.model_dump() == base.model_dump():
        return [f"{variant.name} changes nothing in this base config: the row repeats the full model"]
    notes = []
    for stage, change in variant.changes.items():
        meant, here = variant.reference.get(stage), getattr(base, stage, None)
        if isinstance(change, dict) and "name" in change and isinstance(meant, dict) and (here is None or here.name != meant.get("name")):
            notes.append(f"{variant.name} replaces {stage} {meant.get('name')!r} by {change['name']!r}, "
                         f"but this base config uses {here.name if here else 'none'!r}")
    return notes


def _train_render_score(config: RunConfig, settings: AblationSettings, prompts: list[tuple[str, str]],
                        folder: Path) -> tuple[dict[str, float | None], list[str]]:
    """The variant's scores and notes; raises when it has none."""
    from .evaluation import evaluate
    from .rendering import render
    from .stage_training import train_stage

    if settings.train is not None:
        config = _with_checkpoint(config, train_stage(config, settings.stage, settings.train, folder / "train"))
    videos = folder / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    targets = [videos / f"{clip}.mp4" for clip, _ in prompts]
    tried, failed = render(config, [caption for _, caption in prompts], targets, resume=True, seed=settings.seed,
                           batch_size=settings.batch_size, frames=True)  # scored from the lossless PNGs
    notes = _plan_notes(targets)
    if failed:
        notes.append(f"{failed} of {tried} videos failed to render; see their .json manifests")
    report = evaluate(videos, settings.reference, settings.metrics, folder / "eval.json", split=settings.split,
                      metric_options=settings.metric_options)
    scores: dict[str, float | None] = {}
    for name, result in report["metrics"].items():
        if "error" in result:
            notes.append(f"{name}: {result['error']}")
        for score, value in result.get("scores", {}).items():
            scores[_column(name, score)] = value if math.isfinite(value) else None
    if not scores:
        raise InputError(f"no metric could score this variant's videos (see {folder / 'eval.md'})")
    return scores, notes


def _plan_notes(targets: list[Path]) -> list[str]:
    """A note when some prompts got no plan (a replay miss, an LLM failure) and were rendered from the text only."""
    errors = []
    for target in targets:
        try:
            errors.append(json.loads(target.with_suffix(".json").read_text(encoding="utf-8"))["plan"].get("error"))
        except (OSError, ValueError, KeyError):
            continue
    failed = [e for e in errors if e]
    return [f"{len(failed)} of {len(errors)} prompts got no plan and were rendered from the text only (first: {failed[0]})"] if failed else []


def _column(metric: str, score: str) -> str:
    """``shapes-fvd`` for a metric's only score named after it, else ``dynamics.trirec``."""
    return metric if score == metric.replace("-", "_") else f"{metric}.{score}"


def build_table(rows: list[AblationRow], *, base: str, command: str, metrics: list[str]) -> AblationTable:
    """The rows with their deltas to the reference row: the first full-model row, else the first row."""
    reference = next((row for row in rows if row.full), rows[0])
    found = [column for row in rows for column in row.scores]
    columns = list(dict.fromkeys(c for metric in metrics for c in found if c == metric or c.startswith(f"{metric}.")))
    with_deltas = []
    for row in rows:
        deltas = {c: _minus(row.scores.get(c), reference.scores.get(c)) for c in columns if c in row.scores}
        with_deltas.append(row.model_copy(update={"deltas": deltas}))
    return AblationTable(command=command, base=base, reference_row=reference.variant, columns=columns, rows=with_deltas)


def _minus(value: float | None, reference: float | None) -> float | None:
    return None if value is None or reference is None else value - reference


def markdown(table: AblationTable) -> str:
    """The table as Markdown, cells ``value (+delta)`` as in the paper's Table 4."""
    lines = ["# Ablation (paper Table 4)", "", f"Base config: {table.base or '(no description)'}. "
             f"Deltas are to `{table.reference_row}`; n/a: no evidence (NaN) or not computed.", "",
             f"Command: `{table.command}`", "",
             "| variant | description | " + " | ".join(table.columns) + " | notes |",
             "|---|---|" + "---|" * len(table.columns) + "---|"]
    for row in table.rows:
        cells = [_cell(row, column, row.variant == table.reference_row) for column in table.columns]
        notes = [f"error: {row.error}"] if row.error else []
        lines.append(f"| {row.variant} | {_escape(row.description)} | " + " | ".join(cells) + f" | {_escape('; '.join(notes + row.notes))} |")
    return "\n".join(lines) + "\n"


def _cell(row: AblationRow, column: str, is_reference: bool) -> str:
    value, delta = row.scores.get(column), row.deltas.get(column)
    if value is None:
        return "—" if row.error else "n/a"
    return f"{value:.4f}" if is_reference or delta is None else f"{value:.4f} ({delta:+.4f})"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
