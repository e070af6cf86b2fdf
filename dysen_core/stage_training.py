"""One training stage of the backbone (§4.3: I autoencoder, II vdm on the data's DSGs, III dysen on Dysen's DSGs),
run from a run config and a dataset; ``dysen train`` and ``dysen ablate --train`` both call it."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import InputError


def train_stage(run_config, stage: str, data: Path, output: Path, *, split: str = "train", resume: bool = True,
                limit: int | None = None) -> Path:
    """Train ``stage`` of ``run_config``'s backbone on ``data`` (its first ``limit`` clips when given) into ``output``;
    returns ``output/final`` (weights + run config)."""
    from .io import write_json_atomic
    from .training_data import TRAINING_STAGES, load_examples
    from .video_model import build_backbone

    if stage not in TRAINING_STAGES:
        raise InputError(f"unknown --stage {stage!r}; stages: {', '.join(TRAINING_STAGES)}")
    examples = load_examples(data, split, run_config.video)
    if limit is not None:
        if limit < 1:
            raise InputError(f"--limit must be at least 1, got {limit}")
        from torch.utils.data import Subset

        examples = Subset(examples, range(min(limit, len(examples))))
    if stage == "dysen":
        examples = _with_dysen_dsgs(examples, run_config)
    backbone = build_backbone(run_config)
    if not hasattr(backbone, "fit"):
        raise InputError(f"backbone {run_config.backbone.name!r} cannot be trained by dysen (it has no `fit`)")
    result = backbone.fit(stage, examples, output, resume=resume, progress=sys.stderr.isatty())
    final = output / "final"
    frozen = run_config.model_dump(mode="json", exclude_none=True)
    frozen["backbone"]["options"] = {k: v for k, v in frozen["backbone"]["options"].items() if k != "checkpoint"}
    write_json_atomic(final / "run_config.json", frozen)  # `dysen generate --checkpoint` starts from it
    print(f"trained {stage}: {result.steps} steps, final loss {result.final_loss:.4f} -> {final}", file=sys.stderr)
    return final


def _with_dysen_dsgs(examples, run_config) -> Sequence[dict]:
    """Stage III: replace each clip's DSG by the one Dysen (Steps I–III) makes from its caption."""
    from .scene_manager import SceneManager

    captions = sorted(set(_captions(examples)))
    with SceneManager(run_config) as manager:
        results = dict(zip(captions, manager.run_many(captions)))
    failed = sum(r.dsg is None for r in results.values())
    if failed:
        print(f"warning: Dysen produced no DSG for {failed} of {len(captions)} captions; those clips train text-only", file=sys.stderr)
    return _Replanned(examples, {c: r.dsg for c, r in results.items()})


def _captions(examples) -> list[str]:
    """Each example's caption, read from its dataset's records so that no video is decoded for it."""
    indices = getattr(examples, "indices", range(len(examples)))  # a Subset (--limit) or the dataset itself
    records = getattr(examples, "dataset", examples).records
    return [records[i].captions[0] for i in indices]


class _Replanned(Sequence):
    """Examples read lazily, with the DSG swapped for Dysen's."""

    def __init__(self, examples, dsgs):
        self.examples, self.dsgs = examples, dsgs

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index):  # type: ignore[override]
        example = dict(self.examples[index])
        example["dsg"] = self.dsgs[example["caption"]]
        return example
