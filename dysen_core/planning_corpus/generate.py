"""Seeded generation of the planning corpus, its generalisation split, and writing it to disk (issue 10).

The split holds out a share of the constructions (per family) and of the lexicon entries (nouns, verbs,
post-modifiers). ``train`` is drawn from the lexicon and constructions without them; every ``heldout``
example uses at least one of them. No prompt repeats within or across splits, or repeats a prompt of the
shipped demonstration pools or the planning dev set (compared case- and final-period-blind).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..demos import POOLS_DIR, ImaginationDemo, PlanningDemo, PolishDemo
from ..errors import InputError
from ..io import write_bytes_atomic, write_json_atomic
from .constructions import CONSTRUCTIONS, FAMILIES, by_name
from .lexicon import Lexicon
from .nouns import DESCRIPTORS, NOUNS
from .polish import polish_demo
from .realise import Sentence, realise
from .sampling import Sampler
from .states import imagination_demo, imagine
from .verbs import VERBS

GENERATOR_VERSION = "1"
TASKS = ("planning", "imagination", "polish")
RESERVED = (POOLS_DIR / "planning.jsonl", POOLS_DIR / "imagination.jsonl", POOLS_DIR / "polish.jsonl",
            Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "planning_dev.jsonl")
"""Files whose prompts the corpus must not repeat (the dev set only exists in a source checkout)."""
ENRICHED_SHARE = 0.8  # imagination windows picked among segments the states enrich (the rest: any segment)
ALWAYS_IN_TRAIN = frozenset({"seq.and", "seq.then", "rev.before", "rev.after", "con.while", "ovl.still"})
"""The plainest construction of each kind, never held out: train must teach "A, B, and C" and "Y after X"."""
MAX_DRAWS_PER_EXAMPLE = 200  # a draw fails a rule or repeats a prompt; far fewer are needed in practice

LEXICON = Lexicon(NOUNS, VERBS, DESCRIPTORS)


class CorpusConfig(BaseModel):
    """What ``dysen data planning`` makes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n: int = Field(default=20_000, ge=1, le=1_000_000, description="Planning examples in all (train + heldout).")
    seed: int = Field(default=0, description="Random seed; the same seed gives the same files.")
    heldout: float = Field(default=0.1, gt=0, le=0.5,
                           description="Share of lexicon entries held out of train, and share of examples in heldout.")
    heldout_constructions: float = Field(default=0.15, gt=0, le=0.5,
                                         description="Share of each family's constructions held out of train.")


@dataclass(frozen=True)
class HeldOut:
    """The constructions and lexicon entries ``train`` never uses."""

    constructions: tuple[str, ...]
    entries: tuple[str, ...]  # lexicon keys: "noun:old man", "verb:pick up X", "descriptor:in a suit"

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self.entries) | {f"construction:{name}" for name in self.constructions}


@dataclass
class SplitData:
    """One split's examples, by task."""

    planning: list[PlanningDemo] = field(default_factory=list)
    imagination: list[ImaginationDemo] = field(default_factory=list)
    polish: list[PolishDemo] = field(default_factory=list)
    uses: list[frozenset[str]] = field(default_factory=list)  # per plan: its construction and lexicon keys


def choose_heldout(config: CorpusConfig, lexicon: Lexicon = LEXICON) -> HeldOut:
    """Pick the held-out entries for ``config.seed``: a share of every family of constructions (the plainest
    ones, ``ALWAYS_IN_TRAIN``, excepted) and of every group of entries (everyday nouns, shapes, everyday verbs,
    shapes verbs, post-modifiers)."""
    rng = random.Random(f"dysen-planning-heldout-{config.seed}")
    constructions: list[str] = []
    for family in FAMILIES:
        names = sorted(c.name for c in CONSTRUCTIONS if c.family == family and c.name not in ALWAYS_IN_TRAIN)
        constructions += rng.sample(names, max(1, round(config.heldout_constructions * len(names))))
    shapes = {n.key for n in lexicon.nouns if "shape" in n.kinds}
    shape_verbs = {v.key for v in lexicon.verbs if all(k.startswith("shape") for k in v.agents)}
    groups = [{n.key for n in lexicon.nouns} - shapes, shapes, {v.key for v in lexicon.verbs} - shape_verbs, shape_verbs,
              {d.key for d in lexicon.descriptors}]
    entries: list[str] = []
    for group in groups:
        keys = sorted(group)
        entries += rng.sample(keys, round(config.heldout * len(keys)))
    return HeldOut(constructions=tuple(sorted(constructions)), entries=tuple(sorted(entries)))


def normalise(prompt: str) -> str:
    """The form prompts are compared in: lower case, single spaces, no final period."""
    return " ".join(prompt.lower().split()).rstrip(".")


def reserved_prompts() -> set[str]:
    """Prompts of the shipped demonstration pools and the dev set, normalised."""
    prompts = set()
    for path in RESERVED:
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    prompts.add(normalise(record["plan"]["prompt"] if "plan" in record else record["prompt"]))
    return prompts


def generate(config: CorpusConfig) -> tuple[dict[str, SplitData], HeldOut]:
    """Every split's examples and the held-out entries; deterministic for ``config``."""
    held = choose_heldout(config)
    seen = reserved_prompts()
    n_heldout = max(1, round(config.n * config.heldout)) if config.n > 1 else 0
    train_sampler = Sampler(LEXICON.without(held.entries), [c for c in CONSTRUCTIONS if c.name not in held.constructions])
    full_sampler = Sampler(LEXICON, CONSTRUCTIONS)
    held_constructions = [by_name()[name] for name in held.constructions]
    splits = {}
    for split, count in (("train", config.n - n_heldout), ("heldout", n_heldout)):
        rng = random.Random(f"{config.seed}-{split}")
        states_rng = random.Random(f"{config.seed}-{split}-states")
        data = SplitData()
        draws = 0
        while len(data.planning) < count:
            draws += 1
            if draws > MAX_DRAWS_PER_EXAMPLE * count:
                raise RuntimeError(f"could not draw {count} distinct {split} prompts in {draws} draws")
            if split == "train":
                draft = train_sampler.draft(rng)
            else:  # often a held-out construction; otherwise any draft that uses a held-out entry
                forced = rng.choice(held_constructions) if rng.random() < 0.3 else None
                draft = full_sampler.draft(rng, forced)
                if draft is not None and not draft.uses() & held.keys:
                    draft = None
            if draft is None:
                continue
            sentence = realise(draft, rng)
            key = normalise(sentence.plan.prompt)
            if key in seen:
                continue
            seen.add(key)
            _add(data, split, sentence, count, states_rng)
        splits[split] = data
    return splits, held


def _add(data: SplitData, split: str, sentence: Sentence, count: int, rng: random.Random) -> None:
    """One plan's examples: the planning pair, one imagination window, and a polishment if one is left to make."""
    k = len(data.planning)
    prompt = sentence.plan.prompt
    data.planning.append(PlanningDemo(id=f"{split}-plan-{k:06d}", tags=list(sentence.tags), plan=sentence.plan))
    data.uses.append(frozenset(sentence.draft.uses()))
    imagined = imagine(sentence)
    enriched = [i for i, item in enumerate(imagined) if item.output != item.segment.graph]
    segment = rng.choice(enriched) if enriched and rng.random() < ENRICHED_SHARE else rng.randrange(len(imagined))
    data.imagination.append(imagination_demo(f"{split}-imagination-{k:06d}", prompt, imagined, segment))
    if len(data.polish) < count // 2:
        demo = polish_demo(f"{split}-polish-{len(data.polish):06d}", prompt, imagined, rng)
        if demo is not None:
            data.polish.append(demo)


def write_corpus(out: Path, config: CorpusConfig) -> dict[str, dict[str, int]]:
    """Generate the corpus into the new or empty folder ``out``; returns the example counts per split and task."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} is not an empty folder; choose another --out or delete it first")
    splits, held = generate(config)
    counts = {}
    for split, data in splits.items():
        counts[split] = {}
        for task in TASKS:
            demos = getattr(data, task)
            write_bytes_atomic(out / split / f"{task}.jsonl", "".join(d.model_dump_json() + "\n" for d in demos).encode())
            counts[split][task] = len(demos)
    write_json_atomic(out / "manifest.json", {
        "generator": "dysen_core.planning_corpus",
        "version": GENERATOR_VERSION,
        "config": config.model_dump(),
        "counts": counts,
        "heldout": {"constructions": list(held.constructions), "lexicon": list(held.entries)},
        "lexicon": {"nouns": len(LEXICON.nouns), "agent nouns": len(LEXICON.agents), "target nouns": len(LEXICON.objects),
                    "verbs": len(LEXICON.verbs), "descriptors": len(LEXICON.descriptors), "constructions": len(CONSTRUCTIONS)},
    })
    return counts
