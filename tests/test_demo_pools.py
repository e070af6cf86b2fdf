"""The shipped demonstration pools, the planning dev set (issue 3) and the hand-written natural-language gold set:
schema, sizes, coverage, gold conventions."""

from __future__ import annotations

import itertools
import json
import re
import string
from pathlib import Path

import pytest

from dysen_core.datamodel import ActionPlan, Event
from dysen_core.demos import (
    PLAN_TAGS,
    POOLS_DIR,
    ImaginationDemo,
    PlanningDemo,
    PolishDemo,
    load_pool,
)
from dysen_core.shapes.vocabulary import (
    CHANNEL,
    COLOURS,
    SHAPES,
    TURN_PREFIX,
    Action,
    action_of,
    can_do,
)
from dysen_core.skeleton import build_skeleton

REPO = Path(__file__).parent.parent
PLANNING = POOLS_DIR / "planning.jsonl"
IMAGINATION = POOLS_DIR / "imagination.jsonl"
POLISH = POOLS_DIR / "polish.jsonl"
DEV_SET = REPO / "benchmarks" / "data" / "planning_dev.jsonl"
# Natural-language gold (captions written by hand, never used for training or template design).
NATURAL = REPO / "benchmarks" / "data" / "planning_natural.jsonl"
FIGURE3_PLAN = REPO / "examples" / "figure3_plan.json"

MIN_COUNTS = {PLANNING: 70, DEV_SET: 45, NATURAL: 60, IMAGINATION: 24, POLISH: 12}
MODELS = {PLANNING: PlanningDemo, DEV_SET: PlanningDemo, NATURAL: PlanningDemo, IMAGINATION: ImaginationDemo, POLISH: PolishDemo}

LEADING_WORDS = ("a", "an", "the", "his", "her", "its", "their", "my", "our", "your")
PRONOUNS = {"he", "she", "it", "they", "them", "him", "her", "his", "its", "their", "we", "us", "you", "i"}
# Figure 3's demonstration (PAPER-NOTES.md), which must be plan-001 of the pool.
FIGURE3_DEMO = "woman putting bottle of water in bag, taking fitness mat and get out office."
FIGURE3_GOLD = [
    ("woman", "putting", "bottle of water", 0, 1),
    ("woman", "taking", "fitness mat", 1, 2),
    ("woman", "get out", "office", 2, 3),
]
# Figure 3's imagined triplets for the drinking-coffee scene graph (Ḡ2).
FIGURE3_IMAGINED = {("lady", "in", "dress"), ("lady", "holding", "cup"), ("table", "in front of", "lady")}


@pytest.fixture(scope="module")
def pool() -> list[PlanningDemo]:
    return load_pool(PLANNING, PlanningDemo)


@pytest.fixture(scope="module")
def dev() -> list[PlanningDemo]:
    return load_pool(DEV_SET, PlanningDemo)


@pytest.fixture(scope="module")
def natural() -> list[PlanningDemo]:
    return load_pool(NATURAL, PlanningDemo)


@pytest.fixture(scope="module")
def imagination() -> list[ImaginationDemo]:
    return load_pool(IMAGINATION, ImaginationDemo)


@pytest.fixture(scope="module")
def polish() -> list[PolishDemo]:
    return load_pool(POLISH, PolishDemo)


def all_plans() -> list[PlanningDemo]:
    return load_pool(PLANNING, PlanningDemo) + load_pool(DEV_SET, PlanningDemo) + load_pool(NATURAL, PlanningDemo)


def normalise(text: str) -> str:
    text = text.lower().translate(str.maketrans(string.punctuation, " " * len(string.punctuation)))
    return " ".join(text.split())


def mention(prompt: str, event: Event) -> int | None:
    """Where the event is mentioned: the first whole-word occurrence of its predicate's first word."""
    word = event.predicate.lower().split()[0]
    found = re.search(rf"(?<![\w'-]){re.escape(word)}(?![\w'-])", prompt.lower())
    return found.start() if found else None


def first_mentioned(plan: ActionPlan) -> list[Event]:
    """The event(s) mentioned first (several when their predicates share the first word)."""
    positions = [mention(plan.prompt, event) for event in plan.events]
    first = min(positions)
    return [event for event, position in zip(plan.events, positions) if position == first]


def overlapping(a: Event, b: Event) -> bool:
    return max(a.start, b.start) < min(a.end, b.end)


# --- schema and sizes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", list(MIN_COUNTS), ids=lambda p: p.name)
def test_pool_loads_with_unique_ids_and_enough_demos(path):
    demos = load_pool(path, MODELS[path])  # validates every line against the schema
    ids = [demo.id for demo in demos]
    assert len(ids) == len(set(ids))
    assert len(demos) >= MIN_COUNTS[path]


def test_planning_ids_are_numbered(pool, dev):
    assert [d.id for d in pool] == [f"plan-{i:03d}" for i in range(1, len(pool) + 1)]
    assert [d.id for d in dev] == [f"dev-{i:03d}" for i in range(1, len(dev) + 1)]


def test_figure3_demonstration_is_plan_001(pool):
    demo = pool[0]
    assert demo.id == "plan-001"
    assert demo.plan.prompt == FIGURE3_DEMO
    assert [(e.agent, e.predicate, e.target, e.start, e.end) for e in demo.plan.events] == FIGURE3_GOLD


# --- tags -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("demo", all_plans(), ids=lambda d: d.id)
def test_tags_are_known_and_match_the_gold(demo):
    tags, events = set(demo.tags), demo.plan.events
    assert tags <= set(PLAN_TAGS), tags - set(PLAN_TAGS)
    assert len(demo.tags) == len(tags)
    assert ("shapes" in tags) != ("everyday" in tags), "exactly one of shapes / everyday"
    # These three are facts of the gold plan: tagged if and only if true.
    assert ("multi-agent" in tags) == (len({e.agent for e in events}) >= 2)
    assert ("intransitive" in tags) == any(e.target is None for e in events)
    pairs = list(itertools.combinations(events, 2))
    if "sequential" in tags:
        assert any(a.end <= b.start or b.end <= a.start for a, b in pairs)
    if "concurrent" in tags:
        assert any(overlapping(a, b) for a, b in pairs)
    if "overlap" in tags:  # one event begins while an earlier one continues
        assert any(a.start < b.start < a.end or b.start < a.start < b.end for a, b in pairs)
    if "shapes" in tags:
        check_shapes_plan(events)


def check_shapes_plan(events: list[Event]) -> None:
    """A shapes gold is renderable by the dynamic-shapes benchmark (dysen_core.shapes.vocabulary)."""
    names = {f"{c} {s}" for c in COLOURS for s in SHAPES}
    for e in events:
        assert e.agent in names and (e.target is None or e.target in names), e
        action = action_of(e.predicate)  # raises on a predicate outside the vocabulary
        assert (e.target is not None) == (action in (Action.TOWARD, Action.FOLLOW)), e
        assert e.target != e.agent, e
        assert can_do(e.agent.split()[1], action), f"{e.agent} cannot {e.predicate}"
        own = [x for x in events if x.agent == e.agent]
        if action is Action.APPEAR:
            assert e.start == min(x.start for x in own), f"{e.agent} acts before it appears"
        if action is Action.DISAPPEAR:
            assert e.end == max(x.end for x in own), f"{e.agent} acts after it disappears"
    for a, b in itertools.combinations(events, 2):  # one action per channel and agent at a time
        if a.agent == b.agent and overlapping(a, b):
            assert CHANNEL[action_of(a.predicate)] != CHANNEL[action_of(b.predicate)], (a, b)
    first_turns = {}
    for e in events:
        if e.predicate.startswith(TURN_PREFIX):
            first_turns.setdefault(e.agent, e.predicate.removeprefix(TURN_PREFIX))
    for agent, colour in first_turns.items():  # entities keep the colour they were first seen with as name
        assert colour != agent.split()[0], f"{agent} turns into its own colour"


@pytest.mark.parametrize("tag", PLAN_TAGS)
def test_every_tag_is_well_covered(pool, dev, tag):
    assert sum(tag in d.tags for d in pool) >= 4
    assert sum(tag in d.tags for d in dev) >= 3


# --- gold conventions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("demo", all_plans(), ids=lambda d: d.id)
def test_gold_follows_the_conventions(demo):
    plan = demo.plan
    events = plan.events
    assert min(e.start for e in events) == 0, "time starts at 0"
    assert [e.start for e in events] == sorted(e.start for e in events), "events are listed in time order"
    idle = [m for m in range(plan.horizon) if not any(e.start <= m < e.end for e in events)]
    assert not idle, f"no event active at time units {idle}"
    for e in events:
        assert mention(plan.prompt, e) is not None, f"predicate {e.predicate!r} is not in the prompt's wording"
        for name in (e.agent, e.target):
            if name is None:
                continue
            assert name.split()[0].lower() not in LEADING_WORDS, f"{name!r} has a leading article"
            assert name.lower() not in PRONOUNS, f"pronoun {name!r} not resolved to its entity"


@pytest.mark.parametrize("demo", all_plans(), ids=lambda d: d.id)
def test_reversed_tag_means_first_mention_does_not_start_first(demo):
    """'Y after X', 'before X, Y', 'Y once X': the gold is in time order, not mention order.

    The check is both ways: a demo is tagged reversed exactly when its first-mentioned event starts
    later than the plan's earliest event, so a gold that follows mention order fails it.
    """
    earliest = min(e.start for e in demo.plan.events)
    first = first_mentioned(demo.plan)
    starts_late = all(e.start > earliest for e in first)
    assert starts_late == ("reversed" in demo.tags), [(e.predicate, e.start) for e in first]


def test_dev_set_has_many_out_of_order_plans_with_3_or_4_events(dev):
    hard = [d for d in dev if "reversed" in d.tags and 3 <= len(d.plan.events) <= 4]
    assert len(hard) >= len(dev) // 3  # about a third


# --- held-out dev set -----------------------------------------------------------------------------------


def test_prompts_are_unique_and_dev_is_held_out(pool, dev):
    pool_prompts = [normalise(d.plan.prompt) for d in pool]
    dev_prompts = [normalise(d.plan.prompt) for d in dev]
    assert len(set(pool_prompts)) == len(pool_prompts)
    assert len(set(dev_prompts)) == len(dev_prompts)
    assert not set(pool_prompts) & set(dev_prompts)
    # No near-paraphrase either: word-set overlap (Jaccard) stays well below that of a reworded copy.
    for p, d in itertools.product(pool_prompts, dev_prompts):
        a, b = set(p.split()), set(d.split())
        assert len(a & b) / len(a | b) < 0.6, (p, d)


# --- natural-language gold set -------------------------------------------------------------------------


def test_natural_set_is_large_covers_every_tag_and_is_held_out(natural, pool, dev):
    assert len(natural) >= 60
    assert [d.id for d in natural] == [f"nat-{i:03d}" for i in range(1, len(natural) + 1)]
    for tag in PLAN_TAGS:
        assert sum(tag in d.tags for d in natural) >= 3, tag
    prompts = [normalise(d.plan.prompt) for d in natural]
    assert len(set(prompts)) == len(prompts)
    shared = set(prompts) & {normalise(d.plan.prompt) for d in (*pool, *dev)}
    assert not shared, shared


# --- imagination ----------------------------------------------------------------------------------------


def skeleton_segments(prompt: str, plans: dict[str, ActionPlan]):
    return [segment.graph for segment in build_skeleton(plans[prompt]).unique_segments()]


def test_imagination_demos_are_windows_over_real_skeletons(pool, imagination):
    plans = {d.plan.prompt: d.plan for d in pool}
    figure3 = ActionPlan.model_validate_json(FIGURE3_PLAN.read_text())
    plans[figure3.prompt] = figure3
    outputs = {(d.prompt, d.current): d.output for d in imagination}
    for demo in imagination:
        assert demo.prompt in plans, f"{demo.id}: prompt is not a pool plan (or Figure 3's)"
        segments = skeleton_segments(demo.prompt, plans)
        assert demo.current in segments, f"{demo.id}: current is not a skeleton SG of the plan"
        m = segments.index(demo.current)
        assert demo.next == (segments[m + 1] if m + 1 < len(segments) else None), demo.id
        assert (demo.previous is None) == (m == 0), demo.id
        if m and (demo.prompt, segments[m - 1]) in outputs:  # previous is the enriched previous SG
            assert demo.previous == outputs[(demo.prompt, segments[m - 1])], demo.id


def test_imagination_outputs_enrich_current(imagination):
    for demo in imagination:
        out, cur = demo.output, demo.current
        assert set(cur.objects) <= set(out.objects), f"{demo.id} drops {set(cur.objects) - set(out.objects)}"
        size = len(out.attributes) + len(out.relations)
        assert size > len(cur.attributes) + len(cur.relations), f"{demo.id} adds nothing"
        assert 3 <= size <= 10, f"{demo.id}: {size} triplets"
        if demo.previous is not None:  # entities carried over stay in the scene
            kept = set(demo.previous.objects) & set(cur.objects)
            assert kept <= set(out.objects), demo.id


def test_figure3_imagination_is_imagination_001(imagination):
    demo = imagination[0]
    assert demo.id == "imagination-001"
    assert demo.prompt == ActionPlan.model_validate_json(FIGURE3_PLAN.read_text()).prompt
    assert ("lady", "drinking", "coffee") in demo.current.relations
    assert FIGURE3_IMAGINED <= set(demo.output.relations)


# --- polish ---------------------------------------------------------------------------------------------


def test_polish_outputs_fix_and_keep_the_number_of_sgs(polish):
    for demo in polish:
        assert 2 <= len(demo.frames) <= 5, demo.id
        assert len(demo.output) == len(demo.frames), demo.id
        assert demo.output != demo.frames, f"{demo.id} fixes nothing"
        for before, after in zip(demo.frames, demo.output):  # a fix edits; it does not rewrite a scene
            assert len(set(before.objects) & set(after.objects)) >= len(after.objects) // 2, demo.id


def test_polish_demos_as_answers_fit_the_schema_and_parse_back(polish):
    """Each gold polishment, shown to the LLM as its changed SGs only, matches the answer schema the LLM is
    held to (default slack) and parses back to the gold DSG."""
    import jsonschema

    from dysen_core.answers import parse_polish
    from dysen_core.imaginer import ICLImaginer
    from dysen_core.prompts import polish_answer, polish_schema

    slack = ICLImaginer.Options().polish_slack
    for demo in polish:
        answer = polish_answer(demo.frames, demo.output)
        jsonschema.validate(json.loads(answer), polish_schema(demo.frames, slack))
        assert parse_polish(answer, demo.frames) == demo.output, demo.id
