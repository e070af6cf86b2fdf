"""RL-based ICL for Step III (§5.5): the TriRec reward, the shapes imagination sets, a selector of Step III's own,
and `dysen icl train/eval --reward imagination` on recorded real LLM answers."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from dysen_core.cli import run
from dysen_core.config import load_config
from dysen_core.datamodel import DynamicSceneGraph, SceneGraph
from dysen_core.demos import DSGDemo, ImaginationDemo, load_pool
from dysen_core.errors import InputError, UnknownComponentError
from dysen_core.icl_rewards import ChosenDemos, ImaginationReward, dsg_reward, has_triplets
from dysen_core.registry import get_registry
from dysen_core.scene_manager import SceneManager
from dysen_core.selectors import FixedSelector
from dysen_core.shapes.plans import imagination_sets

RECORDED = Path(__file__).parent / "data" / "icl_imagination_answers.sqlite"


def builder():
    ref = load_config(preset="local-icl").dsg_builder
    return get_registry().create("dsg_builder", ref.name, ref.options)


def graph(*relations: tuple[str, str, str]) -> SceneGraph:
    names = sorted({r[0] for r in relations} | {r[2] for r in relations})
    return SceneGraph(objects=names, attributes=[], relations=list(relations))


def test_the_imagination_reward_is_trirec_against_the_gold_dsg():
    gold = DynamicSceneGraph(prompt="p", frames=[graph(("cat", "on", "table"), ("cat", "near", "cup")),
                                                 graph(("cat", "under", "table"))])
    assert dsg_reward(gold, gold) == 1.0
    half = DynamicSceneGraph(prompt="p", frames=[graph(("Cat", "on", "table")), graph(("dog", "under", "table"))])
    assert dsg_reward(half, gold) == pytest.approx(0.5 / 2)  # frame 1: 1 of 2 triplets, frame 2: 0 of 1
    one = DynamicSceneGraph(prompt="p", frames=[graph(("cat", "on", "table"), ("cat", "near", "cup"))])
    assert dsg_reward(one, gold) == pytest.approx(0.5)  # one graph meets both gold frames by relative time
    assert not has_triplets(DynamicSceneGraph(prompt="p", frames=[SceneGraph(objects=["cat"])]))


def test_chosen_demos_answer_for_their_pool_and_leave_others_to_the_fallback():
    chosen = ChosenDemos(["a", "b", "c"], fallback=FixedSelector())
    chosen.indices = [2, 0]
    assert chosen.select("q", ["a", "b", "c"], 2) == [2, 0]
    assert chosen.select("q", ["x", "y", "z"], 2) == FixedSelector().select("q", ["x", "y", "z"], 2)


def test_shapes_imagination_sets_hold_segment_demos_and_scorable_gold_dsgs(tmp_path):
    sets = imagination_sets(0, pool=3, train=4, dev=2, builder=builder())
    pool, train, dev = sets["pool"], sets["train"], sets["dev"]
    assert len(pool) >= 3 and len({d.id for d in pool}) == len(pool)
    first = [d for d in pool if d.id.startswith(pool[0].id.rsplit("-", 1)[0])]
    assert first[0].previous is None and all(b.previous == a.output for a, b in zip(first, first[1:]))
    assert first[-1].next is None
    assert len(train) == 4 and len(dev) == 2 and all(has_triplets(d.dsg) for d in train + dev)
    clips = {d.id.rsplit("-", 1)[0] for d in pool}
    assert not clips & {d.id for d in train} and all(int(d.id[-6:]) % 10 == 8 for d in dev)  # disjoint; dev is val
    assert train[0].dsg.prompt == train[0].plan.prompt
    run(["icl", "shapes-data", "--out", str(tmp_path), "--pool", "2", "--train", "2", "--dev", "1"])
    assert len(load_pool(tmp_path / "imagination-train.jsonl", DSGDemo)) == 2
    assert load_pool(tmp_path / "imagination-pool.jsonl", ImaginationDemo)


def test_an_example_without_triplets_is_refused():
    demo = imagination_sets(0, 1, 1, 1, builder())["train"][0]
    empty = demo.model_copy(update={"dsg": demo.dsg.model_copy(update={"frames": [SceneGraph(objects=["x"])]})})
    with pytest.raises(InputError, match="no relation triplets"):
        ImaginationReward(builder(), None, ChosenDemos(), [empty], 8)


def test_step_three_can_choose_its_demonstrations_with_a_selector_of_its_own():
    config = load_config(preset="local-icl", overrides=["imagination_selector.name=random", "imagination_selector.options.seed=3"])
    with SceneManager(config) as sm:
        assert sm.imaginer.selector is sm.imagination_selector and sm.imagination_selector.name == "random"
        assert sm.planner.selector is sm.selector and sm.selector.name == "knn"
    with SceneManager(load_config(preset="local-icl")) as sm:
        assert sm.imagination_selector is None and sm.imaginer.selector is sm.selector
    with pytest.raises(UnknownComponentError, match="demo_selector 'nearest'"):
        SceneManager(load_config(preset="local-icl", overrides=["imagination_selector.name=nearest"]))


def test_a_bad_imagination_selector_option_names_its_key_and_origin(capsys):
    bad = "imagination_selector.options.sed=2"
    assert run(["config", "show", "--preset", "local-icl", "--set", "imagination_selector.name=random", "--set", bad]) == 2
    err = capsys.readouterr().err
    assert "imagination_selector.options.sed: Extra inputs" in err and f"--set {bad}" in err


FAST = ["--set", "text_encoder.name=random", "--set", "imaginer.options.num_demos=1", "--set", "imaginer.options.polish=false",
        "--set", "imaginer.options.max_repairs=0", "--set", "llm.options.n_ctx=4096"]


def test_imagination_training_and_eval_on_recorded_answers(tmp_path, capsys):
    """`dysen icl train --reward imagination` twice, then `dysen icl eval --reward imagination`, on recorded answers.

    ``data/icl_imagination_answers.sqlite`` holds the answers of the real SmolLM2-135M-Instruct (Q4_1, llama-cpp,
    the local-icl preset with these overrides), recorded by running this test once against the model with
    ``DYSEN_RECORD=1`` (the cache in read-write mode, written to that file). A choice other than the recorded
    ones would call the model and fail the ``llm_calls == 0`` checks.
    """
    sets = imagination_sets(0, pool=2, train=2, dev=1, builder=builder())
    for name, demos in sets.items():
        (tmp_path / f"{name}.jsonl").write_text("".join(d.model_dump_json() + "\n" for d in demos))
    answers = RECORDED if os.environ.get("DYSEN_RECORD") else shutil.copy(RECORDED, tmp_path / "answers.sqlite")
    common = ["--pool", str(tmp_path / "pool.jsonl"), "--reward", "imagination", *FAST, "--set", f"llm_client.cache_path={answers}"]
    for out in ("first", "again"):
        assert run(["icl", "train", "--train", str(tmp_path / "train.jsonl"), "--out", str(tmp_path / out),
                    "--batch-size", "2", "--seed", "1", *common]) == 0
    first, again = (json.loads((tmp_path / out / "summary.json").read_text()) for out in ("first", "again"))
    assert first["reward"] == "imagination" and again["history"] == first["history"]
    assert 0.0 <= first["history"][0]["reward"] <= 1.0
    assert again["llm"]["llm_calls"] == 0 and again["llm"]["cache_hits"] > 0
    assert (tmp_path / "first" / "policy.safetensors").is_file()
    assert run(["icl", "eval", "--gold", str(tmp_path / "dev.jsonl"), "--selector", "policy",
                "--weights", str(tmp_path / "first" / "policy.safetensors"), "--out", str(tmp_path / "eval.json"), *common]) == 0
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["reward"] == "imagination" and report["prompts"] == 1 and 0.0 <= report["scores"]["trirec"] <= 1.0
    if answers != RECORDED:  # replaying: the model was never asked
        assert first["llm"]["llm_calls"] == 0 and report["llm"]["llm_calls"] == 0
    # gold DSGs given as the demonstration pool: a one-line error naming the file
    assert run(["icl", "train", "--train", str(tmp_path / "train.jsonl"), "--out", str(tmp_path / "bad"),
                "--pool", str(tmp_path / "train.jsonl"), *common[2:]]) == 2
    assert "is not a valid ImaginationDemo" in capsys.readouterr().err
