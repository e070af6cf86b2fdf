"""``dysen icl``: train the RL-based demonstration policy (paper §5.5), score selectors, export shapes demos."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ConfigError, InputError

app = typer.Typer(help="RL-based in-context learning: train and score demonstration selectors (paper §5.5).",
                  no_args_is_help=True)

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="A run config YAML file.")]
PresetOpt = Annotated[Optional[str], typer.Option(
    "--preset", "-p", help="A preset (without --config: local-icl, the embedded model prompted the paper's way).")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key: key.path=value.")]
LLMOpt = Annotated[Optional[str], typer.Option("--llm", help="A registered LLM, e.g. llama-cpp (default: the config's).")]
PoolOpt = Annotated[Path, typer.Option("--pool", help="Candidate demonstrations: PlanningDemo JSONL (--reward plan) or "
                                      "ImaginationDemo JSONL (--reward imagination).")]
STEPS = ("plan", "imagination")
RewardOpt = Annotated[str, typer.Option("--reward", help="Which step's demonstrations: plan (Step I, scored by plan "
                                        "accuracy against gold plans) or imagination (Step III, by TriRec against gold DSGs).")]


@app.command("train")
def train(
    pool: PoolOpt,
    train_file: Annotated[Path, typer.Option("--train", help="Training examples: PlanningDemo JSONL (--reward plan) or "
                                             "DSGDemo JSONL (--reward imagination).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for checkpoint.safetensors and policy.safetensors.")],
    reward: RewardOpt = "plan",
    llm: LLMOpt = None,
    config: ConfigOpt = None,
    preset: PresetOpt = None,
    override: SetOpt = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Passes over the training prompts.")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Prompts per update.")] = 8,
    lr: Annotated[float, typer.Option("--lr", help="Adam learning rate of the head.")] = 1e-3,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the epoch order and the draws.")] = 0,
    samples: Annotated[int, typer.Option("--samples", help="Demonstration draws per prompt and update.")] = 1,
    baseline: Annotated[str, typer.Option(
        "--baseline", help="Reward baseline: batch, running, or prompt (the prompt's other draws; --samples >= 2).")] = "batch",
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every", help="Updates between checkpoints.")] = 1,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out where it stopped.")] = False,
) -> None:
    """Train the `policy` selector's head by REINFORCE on Step I's plan accuracy (or Step III's TriRec) against gold."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..icl_training import TrainSettings, train_policy
    from ..io import write_json_atomic

    settings = TrainSettings(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, samples=samples, baseline=baseline,
                             checkpoint_every=checkpoint_every)
    examples = load_examples(train_file, reward)
    run_config, registry = icl_config(config, preset, override, llm, reward)
    encoder = build_text_encoder(run_config, registry)
    options = run_config.demo_selector.options if run_config.demo_selector and run_config.demo_selector.name == "policy" else {}
    selector = registry.create("demo_selector", "policy", {**options, "weights": None}, text_encoder=encoder)
    with build_client(run_config, registry) as client:
        scorer, candidates, k = reward_task(reward, run_config, registry, pool, examples, client, encoder)
        provenance = {"pool": str(pool), "train": str(train_file), "llm": client.cache_identity(), "reward": reward}
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task("training", total=epochs * len(examples))

            def advance(n: int, state) -> None:
                progress.update(task, completed=state.epoch * len(examples) + state.position,
                                description=f"step {state.step}, reward {state.history[-1]['reward']:.3f}")

            state = train_policy(selector, [d.plan.prompt for d in examples], candidates, scorer, k,
                                 settings, out, resume=resume, provenance=provenance, progress=advance)
        stats = client.stats.model_dump()
    write_json_atomic(out / "summary.json", {"settings": settings.model_dump(), "reward": reward, "steps": state.step,
                                             "history": state.history, "llm": stats})
    first, last = state.history[0]["reward"] if state.history else float("nan"), _tail_mean(state.history)
    print(f"{state.step} updates; mean reward first batch {first:.3f}, last 5 {last:.3f}; " + _llm_line(stats)
          + f" -> {out / 'policy.safetensors'}", file=sys.stderr)


@app.command("eval")
def evaluate(
    gold: Annotated[Path, typer.Option("--gold", help="Gold examples: PlanningDemo JSONL (--reward plan) or DSGDemo "
                                       "JSONL (--reward imagination).")],
    pool: PoolOpt,
    reward: RewardOpt = "plan",
    selector: Annotated[Optional[str], typer.Option("--selector", help="fixed, random, knn or policy (default: the config's).")] = None,
    weights: Annotated[Optional[Path], typer.Option("--weights", help="The policy head (with --selector policy).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="The selector's seed (random, policy).")] = None,
    llm: LLMOpt = None,
    config: ConfigOpt = None,
    preset: PresetOpt = None,
    override: SetOpt = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Score only the first N gold prompts.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="JSON file for the scores.")] = None,
) -> None:
    """Score a demonstration selector by Step I's plan accuracy (or Step III's TriRec) on a gold file."""
    from rich.progress import Progress

    from ..icl_training import evaluate as score_plans
    from ..icl_training import evaluate_imagination
    from ..io import write_json_atomic

    examples = list(load_examples(gold, reward))[:limit]
    run_config, registry = icl_config(config, preset, override, llm, reward)
    ref = run_config.demo_selector
    name = selector or (ref.name if ref is not None else "fixed")
    options = dict(ref.options) if ref is not None and ref.name == name else {}
    if weights is not None:
        if name != "policy":
            raise InputError(f"--weights goes with --selector policy, not {name!r}")
        options["weights"] = weights
    if seed is not None:
        options["seed"] = seed
    needs = registry.requires("demo_selector", name)
    chooser = registry.create("demo_selector", name, options,
                              **({"text_encoder": build_text_encoder(run_config, registry)} if "text_encoder" in needs else {}))
    with build_client(run_config, registry) as client:
        if hasattr(chooser, "prefetch"):
            chooser.prefetch([d.plan.prompt for d in examples])
        with Progress(transient=True) as progress:
            task = progress.add_task(f"{'planning' if reward == 'plan' else 'imagining'} with {name}", total=len(examples))
            if reward == "plan":
                scores = score_plans(build_planner(run_config, registry, pool, chooser, client), examples,
                                     lambda: progress.advance(task))
            else:
                scores = evaluate_imagination(build_builder(run_config, registry), build_imaginer(run_config, registry, pool, chooser, client),
                                              examples, run_config.video.frames, lambda: progress.advance(task))
        stats = client.stats.model_dump()
    report = {"gold": str(gold), "pool": str(pool), "reward": reward, "selector": name,
              "options": {k: str(v) for k, v in options.items()}, "prompts": len(examples), "scores": scores, "llm": stats}
    if out is not None:
        write_json_atomic(out, report)
    for key, value in scores.items():
        typer.echo(f"{key:20} {value:.3f}" if isinstance(value, float) else f"{key:20} {value}")
    print(_llm_line(stats), file=sys.stderr)


@app.command("shapes-data")
def shapes_data(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demonstration files (see below).")],
    pool: Annotated[int, typer.Option("--pool", min=1, help="Pool clips (train split).")] = 48,
    train_count: Annotated[int, typer.Option("--train", min=1, help="Training examples (train split, other clips).")] = 120,
    dev: Annotated[int, typer.Option("--dev", min=1, help="Evaluation examples (val split).")] = 40,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the dynamic-shapes generator.")] = 0,
    wording: Annotated[str, typer.Option("--wording", help="varied (a random caption) or plain.")] = "varied",
    config: ConfigOpt = None,
    preset: PresetOpt = None,
    override: SetOpt = None,
) -> None:
    """Write dynamic-shapes captions with gold plans and DSGs as demonstrations.

    For Step I: pool.jsonl, train.jsonl and dev.jsonl (PlanningDemo). For Step III: imagination-pool.jsonl
    (ImaginationDemo, one per segment of each pool clip's skeleton DSG, built by the config's dsg_builder),
    imagination-train.jsonl and imagination-dev.jsonl (DSGDemo, clips whose gold DSG has a relation triplet).
    """
    from ..config import load_config
    from ..registry import get_registry
    from ..shapes.plans import imagination_sets, planning_sets, write_demos

    if wording not in ("varied", "plain"):
        raise InputError(f"--wording must be varied or plain, got {wording!r}")
    builder = build_builder(load_config(config, preset=icl_preset(config, preset), overrides=list(override or [])), get_registry())
    sets = {**planning_sets(seed, pool, train_count, dev, wording=wording),
            **{f"imagination-{name}": demos
               for name, demos in imagination_sets(seed, pool, train_count, dev, builder, wording=wording).items()}}
    for name, demos in sets.items():
        typer.echo(f"wrote {len(demos)} demonstrations to {write_demos(out / f'{name}.jsonl', demos)}")


def icl_config(config: Path | None, preset: str | None, override: list[str] | None, llm: str | None, step: str = "plan"):
    """The run config with ``--llm`` applied (a different LLM keeps none of the config's LLM options), and the
    registry; the config must show demonstrations in ``step`` (plan: Step I, imagination: Step III)."""
    from ..config import ComponentRef, load_config
    from ..registry import get_registry

    run_config = load_config(config, preset=icl_preset(config, preset), overrides=list(override or []))
    if llm is not None and (run_config.llm is None or run_config.llm.name != llm):
        run_config = run_config.model_copy(update={"llm": ComponentRef(name=llm)})
    if run_config.planner is None or run_config.llm is None:
        raise ConfigError("dysen icl needs a planner and an llm section in the config (Step I plans with the LLM)")
    if step == "imagination":
        if run_config.imaginer is None:
            raise ConfigError("--reward imagination needs an imaginer section in the config (Step III)")
        if run_config.imaginer.options.get("num_demos", 5) == 0:
            raise ConfigError("the imaginer in this config shows no demonstrations (imaginer.options.num_demos is 0)")
    elif run_config.planner.options.get("num_demos", 5) == 0:
        raise ConfigError("the planner in this config shows no demonstrations (planner.options.num_demos is 0, as for "
                          "the default preset's tuned planner); use --preset local-icl or set planner.options.num_demos")
    return run_config, get_registry()


def icl_preset(config: Path | None, preset: str | None) -> str | None:
    """The preset to load: without --config or --preset, local-icl (a planner that is shown demonstrations)."""
    return preset if config is not None or preset is not None else "local-icl"


def load_examples(path: Path, step: str) -> tuple:
    """The gold examples of ``path`` for ``step``: PlanningDemo (plan) or DSGDemo (imagination)."""
    from ..demos import DSGDemo, PlanningDemo, load_pool

    if step not in STEPS:
        raise InputError(f"--reward must be one of {', '.join(STEPS)}, got {step!r}")
    examples = load_pool(path, PlanningDemo if step == "plan" else DSGDemo)
    if not examples:
        raise InputError(f"{path} has no examples")
    return examples


def reward_task(step: str, run_config, registry, pool: Path, examples, client, encoder):
    """What training for ``step`` needs: the reward, the pool's candidate texts, and D (demonstrations per call)."""
    from ..demos import ImaginationDemo, PlanningDemo, load_pool
    from ..icl_rewards import ChosenDemos, ImaginationReward, PlanningReward

    if step == "plan":
        chosen = ChosenDemos()
        planner = build_planner(run_config, registry, pool, chosen, client)
        return PlanningReward(planner, chosen, examples), [d.plan.prompt for d in load_pool(pool, PlanningDemo)], planner.options.num_demos
    candidates = [d.prompt for d in load_pool(pool, ImaginationDemo)]
    ref = run_config.demo_selector  # chooses the demonstrations of the pools not trained (the polish round's)
    fallback = registry.create("demo_selector", ref.name if ref else "fixed", ref.options if ref else {}, text_encoder=encoder)
    chosen = ChosenDemos(candidates, fallback=fallback)
    imaginer = build_imaginer(run_config, registry, pool, chosen, client)
    scorer = ImaginationReward(build_builder(run_config, registry), imaginer, chosen, examples, run_config.video.frames)
    return scorer, candidates, imaginer.options.num_demos


def build_text_encoder(run_config, registry):
    ref = run_config.text_encoder
    if ref is None:
        raise ConfigError("the policy and knn selectors need a text_encoder section in the config (e.g. name: minilm)")
    return registry.create("text_encoder", ref.name, ref.options)


def build_client(run_config, registry):
    from ..llm_client import LLMClient

    return LLMClient(registry.create("llm", run_config.llm.name, run_config.llm.options), run_config.llm_client)


def build_planner(run_config, registry, pool: Path, selector, client):
    """Step I as configured, over the demonstrations of ``pool``, choosing them with ``selector``."""
    ref = run_config.planner
    return registry.create("planner", ref.name, {**ref.options, "pool": pool}, llm=client, demo_selector=selector)


def build_imaginer(run_config, registry, pool: Path, selector, client):
    """Step III as configured, over the imagination demonstrations of ``pool``, choosing them with ``selector``."""
    ref = run_config.imaginer
    return registry.create("imaginer", ref.name, {**ref.options, "imagination_pool": pool}, llm=client, demo_selector=selector)


def build_builder(run_config, registry):
    """Step II as configured."""
    return registry.create("dsg_builder", run_config.dsg_builder.name, run_config.dsg_builder.options)


def _tail_mean(history: list[dict[str, float]], n: int = 5) -> float:
    tail = [h["reward"] for h in history[-n:]]
    return sum(tail) / len(tail) if tail else float("nan")


def _llm_line(stats: dict) -> str:
    return (f"LLM: {stats['requests']} requests, {stats['cache_hits']} cache hits, {stats['llm_calls']} calls, "
            f"{stats['failures']} failures")
