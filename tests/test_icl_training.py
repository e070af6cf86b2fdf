"""REINFORCE training of the `policy` selector (§5.5): bounded plan reward, learning on a synthetic problem,
exact kill/resume, the shapes export, the video reward hook, and `dysen icl` on recorded real LLM answers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from dysen_core.cli import run
from dysen_core.cli.icl_cmd import build_client, build_planner, icl_config
from dysen_core.datamodel import ActionPlan, Event
from dysen_core.demos import PlanningDemo, load_pool
from dysen_core.errors import ConfigError, InputError
from dysen_core.icl_rewards import ChosenDemos, PlanningReward, plan_reward
from dysen_core.icl_training import CHECKPOINT, POLICY, TrainSettings, train_policy
from dysen_core.policy_selector import PolicySelector
from dysen_core.registry import Registry
from dysen_core.shapes.plans import planning_sets, write_demos

POOL = [f"candidate number {i} with words {w}" for i, w in enumerate("red blue green cat dog sun moon tree".split())]
QUERIES = [f"query {i} about {w}" for i, w in enumerate("red blue green cat dog sun moon tree star sea rain fog".split())]
RECORDED = Path(__file__).parent / "data" / "icl_policy_answers.sqlite"
GOOD = 5  # the one demonstration the synthetic reward pays for


@pytest.fixture
def encoder(core_manager):
    return Registry.from_manager(core_manager).create("text_encoder", "random", {"dim": 16})


def policy(encoder) -> PolicySelector:
    return PolicySelector(PolicySelector.Options(temperature=1.0), text_encoder=encoder)


def pays_for_good(example: int, chosen: list[int], step: int) -> float:
    return float(GOOD in chosen)


def mean_probability(selector: PolicySelector, index: int) -> float:
    with torch.no_grad():
        probs = [torch.softmax(selector.scores(q, POOL)[1], 0)[index] for q in QUERIES]
    return float(torch.stack(probs).mean())


def test_plan_reward_is_bounded():
    gold = ActionPlan(prompt="p", events=[Event(agent="cat", predicate="jumps", start=0, end=1),
                                          Event(agent="cat", predicate="sleeps", start=1, end=3)])
    assert plan_reward(gold, gold) == 1.0
    assert plan_reward(None, gold) == 0.0
    swapped = ActionPlan(prompt="p", events=[Event(agent="cat", predicate="jumps", start=2, end=3),
                                             Event(agent="cat", predicate="sleeps", start=0, end=2)])
    assert 0.0 < plan_reward(swapped, gold) < 1.0  # right triplets, wrong order and timing
    one = ActionPlan(prompt="p", events=gold.events[:1])
    assert plan_reward(one, one) == 1.0  # no event pairs: the order term is left out, not counted as 0


@pytest.mark.parametrize(("baseline", "samples"), [("batch", 1), ("running", 1), ("prompt", 2)])
def test_reinforce_moves_probability_toward_the_rewarded_demo(tmp_path, encoder, baseline, samples):
    selector = policy(encoder)
    before = mean_probability(selector, GOOD)
    settings = TrainSettings(epochs=6, batch_size=4, lr=0.02, seed=0, baseline=baseline, samples=samples, checkpoint_every=100)
    state = train_policy(selector, QUERIES, POOL, pays_for_good, 2, settings, tmp_path)
    assert state.step == 18 and len(state.history) == 18
    assert mean_probability(selector, GOOD) > before + 0.2
    assert (tmp_path / POLICY).is_file() and (tmp_path / CHECKPOINT).is_file()


def test_the_prompt_baseline_ignores_how_hard_a_prompt_is(tmp_path, encoder):
    """A reward that depends on the prompt only says nothing about the demonstrations: compared with the
    prompt's other draws it gives no gradient at all, while against the batch mean it moves the head."""

    def prompt_difficulty(example: int, chosen: list[int], step: int) -> float:
        return example / len(QUERIES)

    moved = {}
    for baseline in ("prompt", "batch"):
        selector = policy(encoder)
        settings = TrainSettings(epochs=2, batch_size=4, lr=0.02, seed=0, baseline=baseline, samples=3)
        state = train_policy(selector, QUERIES, POOL, prompt_difficulty, 2, settings, tmp_path / baseline)
        assert state.step == 6
        moved[baseline] = float((selector.head.weight.detach() - torch.eye(16)).abs().max())
    assert moved["prompt"] == 0.0 and moved["batch"] > 0.01


def test_training_is_deterministic_and_resumes_exactly(tmp_path, encoder):
    settings = TrainSettings(epochs=2, batch_size=3, lr=0.01, seed=3)
    whole = policy(encoder)
    train_policy(whole, QUERIES, POOL, pays_for_good, 2, settings, tmp_path / "whole")
    again = policy(encoder)
    train_policy(again, QUERIES, POOL, pays_for_good, 2, settings, tmp_path / "again")
    assert torch.equal(whole.head.weight, again.head.weight)

    calls = []

    def killed_at_call_14(example: int, chosen: list[int], step: int) -> float:
        calls.append(example)
        if len(calls) == 14:  # mid-batch of the second epoch: that batch is redone on resume
            raise KeyboardInterrupt
        return pays_for_good(example, chosen, step)

    with pytest.raises(KeyboardInterrupt):
        train_policy(policy(encoder), QUERIES, POOL, killed_at_call_14, 2, settings, tmp_path / "killed")
    with pytest.raises(InputError, match="pass --resume"):
        train_policy(policy(encoder), QUERIES, POOL, pays_for_good, 2, settings, tmp_path / "killed")
    with pytest.raises(ConfigError, match="resume with the same settings"):
        train_policy(policy(encoder), QUERIES, POOL, pays_for_good, 2, settings.model_copy(update={"lr": 0.1}),
                     tmp_path / "killed", resume=True)
    resumed = policy(encoder)
    state = train_policy(resumed, QUERIES, POOL, pays_for_good, 2, settings, tmp_path / "killed", resume=True)
    assert state.step == 8 and state.epoch == 2
    assert torch.equal(resumed.head.weight, whole.head.weight) and torch.equal(resumed.head.bias, whole.head.bias)


def test_rewards_outside_zero_one_are_refused(tmp_path, encoder):
    with pytest.raises(ConfigError, match=r"reward must be a number in \[0, 1\], got 2.0"):
        train_policy(policy(encoder), QUERIES, POOL, lambda n, c, s: 2.0, 2, TrainSettings(), tmp_path)


def test_shapes_export_gives_disjoint_sets_with_gold_plans(tmp_path):
    sets = planning_sets(0, pool=4, train=3, dev=2)
    ids = [d.id for demos in sets.values() for d in demos]
    assert len(set(ids)) == 9 and all(int(d.id[-6:]) % 10 == 8 for d in sets["dev"])  # dev: the val split
    demo = sets["pool"][0]
    assert demo.plan.prompt != planning_sets(0, 1, 1, 1, wording="plain")["pool"][0].plan.prompt  # a varied caption
    assert "shapes" in demo.tags and demo.plan.events
    assert list(load_pool(write_demos(tmp_path / "pool.jsonl", sets["pool"]), PlanningDemo)) == sets["pool"]


def test_cli_bad_input_exits_2(tmp_path, capsys):
    write_demos(tmp_path / "pool.jsonl", planning_sets(0, 2, 1, 1)["pool"])
    assert run(["icl", "train", "--pool", str(tmp_path / "pool.jsonl"), "--train", str(tmp_path / "none.jsonl"),
                "--out", str(tmp_path / "out")]) == 2
    assert "none.jsonl' not found" in capsys.readouterr().err
    assert run(["icl", "train", "--pool", str(tmp_path / "pool.jsonl"), "--train", str(tmp_path / "pool.jsonl"),
                "--out", str(tmp_path / "out"), "--baseline", "median"]) == 2
    assert "baseline" in capsys.readouterr().err
    assert run(["icl", "eval", "--gold", str(tmp_path / "pool.jsonl"), "--pool", str(tmp_path / "pool.jsonl"),
                "--selector", "knn", "--weights", "w.safetensors"]) == 2
    assert "--weights goes with --selector policy" in capsys.readouterr().err
    assert run(["icl", "shapes-data", "--out", str(tmp_path / "d"), "--wording", "odd"]) == 2
    assert run(["icl", "train", "--pool", str(tmp_path / "pool.jsonl"), "--train", str(tmp_path / "pool.jsonl"),
                "--out", str(tmp_path / "out"), "--preset", "default"]) == 2  # the tuned planner takes no demos
    assert "shows no demonstrations" in capsys.readouterr().err


def test_rerunning_an_epoch_with_the_same_choices_makes_no_llm_calls(tmp_path):
    """`dysen icl train` twice on recorded real answers: every request is a cache hit, so no model is loaded.

    ``data/icl_policy_answers.sqlite`` holds three answers of the real SmolLM2-135M-Instruct (Q4_1, llama-cpp,
    this preset's decoding, no adapter, ungrounded, the paper's in-context prompts), recorded in cache_mode read-write by
    running this test's two-prompt epoch once against the model, plus the planner call of the video-hook check
    below. The cache mode here is read-write: a choice that differed from the recorded one would call the model
    and fail the ``llm_calls == 0`` checks.
    """
    sets = planning_sets(0, pool=3, train=2, dev=1)
    pool, train = write_demos(tmp_path / "pool.jsonl", sets["pool"]), write_demos(tmp_path / "train.jsonl", sets["train"])
    answers = shutil.copy(RECORDED, tmp_path / "answers.sqlite")
    fast = ["--set", "text_encoder.name=random", "--set", "planner.options.templates=icl", "--set", "llm.options.adapter=null",
            "--set", "planner.options.grounded=false", "--set", "planner.options.num_demos=1", "--set", "planner.options.max_repairs=0",
            "--set", f"llm_client.cache_path={answers}"]
    for out in ("first", "again"):
        assert run(["icl", "train", "--pool", str(pool), "--train", str(train), "--llm", "llama-cpp", "--out", str(tmp_path / out),
                    "--batch-size", "2", "--seed", "4", *fast]) == 0
    first, again = (json.loads((tmp_path / out / "summary.json").read_text()) for out in ("first", "again"))
    for summary in (first, again):
        assert summary["llm"]["llm_calls"] == 0 and summary["llm"]["cache_hits"] == 2
    assert again["history"] == first["history"]

    # the video-level reward hook, on a recorded answer (replay: no model is loaded)
    config, registry = icl_config(None, None, [*fast[1::2], "llm_client.cache_mode=replay"], None)
    chosen = ChosenDemos()

    def named_agents(prompt: str, plan: ActionPlan) -> float:  # a stand-in video score: planned agents named in the text
        return sum(e.agent.split()[-1] in prompt for e in plan.events) / len(plan.events)

    with build_client(config, registry) as client:
        planner = build_planner(config, registry, pool, chosen, client)
        plain = PlanningReward(planner, chosen, sets["train"])
        mixed = PlanningReward(planner, chosen, sets["train"], video=named_agents, video_every=2, video_weight=0.5)
        chosen_demo = [0]
        r_plan = plain(0, chosen_demo, 0)
        plan = planner.plan(sets["train"][0].plan.prompt)
        assert mixed(0, chosen_demo, 1) == r_plan  # not a video step
        assert mixed(0, chosen_demo, 2) == pytest.approx(0.5 * r_plan + 0.5 * named_agents(plan.prompt, plan))
        assert client.stats.llm_calls == 0

    # `dysen icl eval` scores a selector on a gold file (the fixed selector shows pool[0], as recorded above)
    assert run(["icl", "eval", "--gold", str(train), "--pool", str(pool), "--selector", "fixed", "--limit", "1",
                "--out", str(tmp_path / "eval.json"), *fast]) == 0
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["prompts"] == 1 and report["llm"]["llm_calls"] == 0 and report["llm"]["cache_hits"] == 1
    assert report["scores"]["reward"] == pytest.approx(r_plan)


def test_a_batch_baseline_needs_a_batch():
    with pytest.raises(ValueError, match="baseline 'batch' needs batch_size >= 2"):
        TrainSettings(batch_size=1)
    assert TrainSettings(batch_size=1, baseline="running").batch_size == 1
    assert TrainSettings(batch_size=1, samples=2).samples == 2
    with pytest.raises(ValueError, match="baseline 'prompt' needs samples >= 2"):
        TrainSettings(baseline="prompt")
