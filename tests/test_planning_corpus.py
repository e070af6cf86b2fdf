"""The planning corpus (issue 10): valid files, determinism, the generalisation split, gold conventions, CLI."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from dysen_core.cli import run
from dysen_core.demos import POOLS_DIR, ImaginationDemo, PlanningDemo, PolishDemo, load_pool
from dysen_core.planning_corpus import CorpusConfig, generate
from dysen_core.planning_corpus.constructions import CONSTRUCTIONS, by_name, lengths, schedule
from dysen_core.planning_corpus.generate import LEXICON, TASKS, normalise
from dysen_core.planning_corpus.polish import CONTRARY
from dysen_core.planning_corpus.realise import realise
from dysen_core.planning_corpus.sampling import Clause, Draft, Referent, Sampler
from dysen_core.planning_corpus.states import imagine
from dysen_core.shapes.vocabulary import COLOURS

DEV_SET = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "planning_dev.jsonl"
MODELS = {"planning": PlanningDemo, "imagination": ImaginationDemo, "polish": PolishDemo}
PRONOUNS = {"he", "she", "it", "they", "them", "him", "her", "his", "its", "their"}
NOUNS = {n.name: n for n in LEXICON.nouns}
VERBS = {v.key: v for v in LEXICON.verbs}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "planning"
    assert run(["data", "planning", "-o", str(out), "--n", "5000", "--seed", "0"]) == 0
    return out


@pytest.fixture(scope="module")
def generated():
    return generate(CorpusConfig(n=1500, seed=3))


def _pool(root: Path, split: str, task: str):
    return load_pool(root / split / f"{task}.jsonl", MODELS[task])


def _draft(name: str, parts: list[list[tuple[str, str, str | None]]], style: str = "present") -> Draft:
    """A hand-made draft: per part, (agent noun, verb key, target noun) clauses; one referent per noun."""
    refs: dict[str, Referent] = {}

    def ref(noun: str) -> Referent:
        return refs.setdefault(noun, Referent(noun=NOUNS[noun], gender=NOUNS[noun].genders[0]))

    construction = by_name()[name]
    clauses = [[Clause(agent=ref(a), verb=VERBS[v], target=ref(t) if t else None) for a, v, t in part] for part in parts]
    natural = [lengths(p, [c.verb.durative for c in cs], [False] * len(cs)) for p, cs in zip(construction.parts, clauses)]
    times = schedule(construction, natural)
    return Draft(construction=construction, parts=tuple(map(tuple, clauses)), times=tuple(map(tuple, times)),
                 style=style, domain="everyday")


def test_every_written_line_is_a_valid_demonstration(corpus):
    manifest = json.loads((corpus / "manifest.json").read_text())
    for split in ("train", "heldout"):
        for task in TASKS:
            demos = _pool(corpus, split, task)
            assert len(demos) == manifest["counts"][split][task] > 0
    counts = manifest["counts"]
    assert counts["train"]["planning"] + counts["heldout"]["planning"] == 5000
    assert counts["heldout"]["planning"] == 500
    for split in counts:
        assert counts[split]["imagination"] <= counts[split]["planning"]
        assert counts[split]["polish"] <= counts[split]["planning"] // 2


def test_the_same_seed_gives_the_same_files_and_another_seed_other_files(tmp_path):
    def files(seed: int, folder: str) -> dict[str, bytes]:
        out = tmp_path / folder
        assert run(["data", "planning", "-o", str(out), "--n", "300", "--seed", str(seed)]) == 0
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.jsonl"))}

    first, again, other = files(1, "a"), files(1, "b"), files(2, "c")
    assert first == again
    assert len(first) == 6
    assert all(first[name] != other[name] for name in first)


def test_train_never_uses_a_held_out_entry_and_heldout_always_does(generated):
    splits, held = generated
    assert 0 < len(held.constructions) < len(CONSTRUCTIONS) * 0.25
    assert {c.family for c in CONSTRUCTIONS if c.name in held.constructions} == {
        "sequential", "reversed", "concurrent", "overlap"}
    assert any(k.startswith("noun:") for k in held.entries) and any(k.startswith("verb:") for k in held.entries)
    assert not any(uses & held.keys for uses in splits["train"].uses)
    assert all(uses & held.keys for uses in splits["heldout"].uses)
    held_names = {f"{adjective} {noun.name}".strip() for k in held.entries if k.startswith("noun:")
                  for noun in [NOUNS[k.removeprefix("noun:")]] for adjective in ("", *noun.adjectives)}
    train_names = {n for demo in splits["train"].planning for e in demo.plan.events for n in (e.agent, e.target) if n}
    assert not train_names & held_names
    seen_in_heldout = {k for uses in splits["heldout"].uses for k in uses} & held.keys
    assert len(seen_in_heldout) > len(held.keys) / 2


def test_no_prompt_repeats_or_copies_the_demo_pool_or_the_dev_set(corpus):
    prompts = [normalise(d.plan.prompt) for split in ("train", "heldout") for d in _pool(corpus, split, "planning")]
    assert len(prompts) == len(set(prompts))
    reserved = {normalise(d.plan.prompt) for d in load_pool(POOLS_DIR / "planning.jsonl", PlanningDemo)}
    if DEV_SET.is_file():
        reserved |= {normalise(d.plan.prompt) for d in load_pool(DEV_SET, PlanningDemo)}
    assert not reserved & set(prompts)


def test_pronouns_resolve_to_their_antecedents():
    ball = _draft("seq.then", [[("man", "verb:pick up X", "ball"), ("man", "verb:throw X", "ball")]])
    laugh = _draft("seq.and_then", [[("woman", "verb:open X", "door"), ("woman", "verb:laugh", None)]])
    for draft, word in ((ball, "it"), (laugh, "she")):
        texts = []
        for seed in range(40):
            sentence = realise(draft, random.Random(seed))
            texts.append(sentence.plan.prompt)
            names = {n for e in sentence.plan.events for n in (e.agent, e.target) if n}
            assert names == ({"man", "ball"} if word == "it" else {"woman", "door"})
        assert any(re.search(rf"\b{word}\b", t, re.I) for t in texts)  # the pronoun was used, and resolved


def test_gold_names_are_never_pronouns(corpus):
    for demo in _pool(corpus, "train", "planning"):
        for event in demo.plan.events:
            assert event.agent.lower() not in PRONOUNS and (event.target or "").lower() not in PRONOUNS


@pytest.mark.parametrize("name", [c.name for c in CONSTRUCTIONS if c.reversed])
def test_reversed_constructions_put_time_order_against_mention_order(name):
    sampler, rng, checked = Sampler(LEXICON, CONSTRUCTIONS), random.Random(7), 0
    while checked < 5:
        draft = sampler.draft(rng, by_name()[name])
        if draft is None:
            continue
        plan = realise(draft, rng).plan
        first, last = plan.events[0], plan.events[-1]
        words = [e.predicate.split()[0] for e in (first, last)]
        if words[0] == words[1] or first.agent == last.agent:
            continue
        text = plan.prompt.lower()
        assert text.index(last.agent) < text.index(first.agent) or text.find(f" {words[1]}") < text.find(f" {words[0]}")
        assert first.end <= last.start
        checked += 1


def test_concurrency_gives_equal_intervals_and_overlap_containment():
    sampler, rng = Sampler(LEXICON, CONSTRUCTIONS), random.Random(11)
    for construction in CONSTRUCTIONS:
        for _ in range(20):
            draft = sampler.draft(rng, construction)
            if draft is None:
                continue
            events = realise(draft, rng).plan.events
            for part, previous, spans, before in zip(construction.parts[1:], construction.parts, draft.times[1:], draft.times):
                if part.link == "same":
                    assert set(spans) == set(before) and len(set(spans)) == 1
                if part.link == "within":
                    (host,) = before
                    assert all(host[0] < s and e <= host[1] for s, e in spans)
            if construction.name in ("con.while", "con.as", "con.same_time"):
                assert len({(e.start, e.end) for e in events}) == 1
            if construction.family == "overlap":
                host = events[0]
                assert all(host.start < e.start and e.end <= host.end for e in events[1:])
            assert [(e.start) for e in events] == sorted(e.start for e in events)


def test_lexical_variety(corpus):
    events = [e for split in ("train", "heldout") for d in _pool(corpus, split, "planning") for e in d.plan.events]
    assert len({e.predicate for e in events}) >= 150
    assert len({e.agent for e in events}) >= 80
    assert len({e.target for e in events if e.target}) >= 150
    demos = _pool(corpus, "train", "planning")
    tags = Counter(t for d in demos for t in d.tags)
    assert all(tags[t] > 200 for t in ("sequential", "reversed", "concurrent", "overlap", "multi-agent", "shapes"))
    sizes = Counter(len(d.plan.events) for d in demos)
    assert set(sizes) == {2, 3, 4, 5}
    assert Counter(len({e.agent for e in d.plan.events}) for d in demos).keys() == {1, 2, 3}
    styles = Counter(("ing" if " is " in d.plan.prompt else "") for d in demos)
    assert styles["ing"] > 100


def test_imagination_keeps_the_skeleton_and_adds_the_states_events_leave(corpus):
    for demo in _pool(corpus, "train", "imagination"):
        current, output = demo.current, demo.output
        assert set(current.objects) <= set(output.objects)
        assert set(current.attributes) <= set(output.attributes)
        assert set(current.relations) <= set(output.relations)
    draft = _draft("seq.then", [[("woman", "verb:open X", "door"), ("woman", "verb:pick up X", "book"),
                                 ("woman", "verb:read X", "book"), ("woman", "verb:put down X", "book"),
                                 ("woman", "verb:laugh", None)]])
    outputs = [item.output for item in imagine(realise(draft, random.Random(0)))]
    assert len(outputs) == 5
    assert [("door", "open") in g.attributes for g in outputs] == [False, True, True, True, True]
    assert [("woman", "holding", "book") in g.relations for g in outputs] == [False, False, True, True, False]


def test_polish_frames_differ_from_the_output_in_at_most_one_graph(corpus):
    demos = _pool(corpus, "train", "polish")
    changed = [sum(f != o for f, o in zip(d.frames, d.output)) for d in demos]
    assert set(changed) == {0, 1}
    assert 0.45 < sum(changed) / len(changed) < 0.75


def test_gold_states_never_flip_or_vanish_for_one_segment_without_an_event():
    sampler, rng = Sampler(LEXICON, CONSTRUCTIONS), random.Random(5)
    checked = 0
    while checked < 1500:
        draft = sampler.draft(rng)
        if draft is None:
            continue
        checked += 1
        imagined = imagine(realise(draft, rng))
        for before, now, after in zip(imagined, imagined[1:], imagined[2:]):
            assert set(before.output.objects) & set(after.output.objects) <= set(now.output.objects)
            acting = {n for item in (before, now) for g in [item.segment.graph]
                      for n in [*(a[0] for a in g.attributes), *(x for r in g.relations for x in (r[0], r[2]))]}
            for subject, value in set(before.output.attributes) & set(after.output.attributes):
                contrary = CONTRARY.get(value, COLOURS if value in COLOURS else ())
                flipped = any(s == subject and v != value and v in contrary for s, v in now.output.attributes)
                assert not flipped or subject in acting
            for relation in set(before.output.relations) & set(after.output.relations):
                missing = relation not in now.output.relations and {relation[0], relation[2]} <= set(now.output.objects)
                assert not missing or relation[0] in acting


def test_cli_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("keep me")
    assert run(["data", "planning", "-o", str(tmp_path), "--n", "10"]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert run(["data", "planning", "-o", str(tmp_path / "new"), "--n", "10", "--heldout", "0.9"]) == 2


def test_cli_writes_the_layout_and_a_manifest(corpus):
    assert sorted(str(p.relative_to(corpus)) for p in corpus.rglob("*") if p.is_file()) == [
        "heldout/imagination.jsonl", "heldout/planning.jsonl", "heldout/polish.jsonl", "manifest.json",
        "train/imagination.jsonl", "train/planning.jsonl", "train/polish.jsonl"]
    manifest = json.loads((corpus / "manifest.json").read_text())
    assert manifest["config"]["seed"] == 0 and manifest["version"]
    assert manifest["heldout"]["constructions"] and manifest["heldout"]["lexicon"]
