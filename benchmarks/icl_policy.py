"""RL-based ICL on dynamic shapes (paper §5.5, issue 7): the trained policy vs random and knn demonstrations.

Usage:
    .venv/bin/python benchmarks/icl_policy.py [--preset local-icl] [--pool 48] [--train 48] [--dev 40]
        [--seeds 0 1 2] [--epochs 1] [--batch-size 6] [--lr 0.003] [--samples 1] [--baseline batch]
        [--out benchmarks/results/icl_policy.json]

Step I only (the planner), with the preset's LLM (local-icl: SmolLM2-135M through llama.cpp, no adapter, the paper's prompts) and D as the
config's planner says. Pool and training prompts come from the shapes train split (disjoint clips), the
evaluation prompts from the val split, all with varied captions (``dysen icl shapes-data``). Every selector
plans the same dev prompts: knn once, random with each seed, the policy trained with each seed (its
selection is greedy, so its spread is the spread over training seeds). One LLM cache serves the whole run,
so a rerun, or a policy that picks what knn picked, costs no calls. Results are written after each step.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from dysen_core.cli.icl_cmd import build_client, build_planner, build_text_encoder, icl_config
from dysen_core.icl_rewards import ChosenDemos, PlanningReward
from dysen_core.icl_training import TrainSettings, evaluate, train_policy
from dysen_core.io import write_json_atomic
from dysen_core.policy_selector import PolicySelector
from dysen_core.shapes.plans import planning_sets, write_demos

ROOT = Path(__file__).parent
MEASURES = ("triplet_accuracy", "predicate_accuracy", "argument_accuracy", "temporal_order", "reward")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="local-icl")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--pool", type=int, default=48)
    parser.add_argument("--train", type=int, default=48)
    parser.add_argument("--dev", type=int, default=40)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=6)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--samples", type=int, default=1, help="demonstration draws per training prompt and update")
    parser.add_argument("--baseline", default="batch", choices=["batch", "running", "prompt"])
    parser.add_argument("--work", type=Path, default=ROOT / "results" / "icl_policy")
    parser.add_argument("--cache", type=Path, default=ROOT / "results" / "icl_policy-cache.sqlite")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "icl_policy.json")
    args = parser.parse_args()

    files = {name: write_demos(args.work / f"{name}.jsonl", demos)
             for name, demos in planning_sets(0, args.pool, args.train, args.dev).items()}
    from dysen_core.demos import PlanningDemo, load_pool

    dev, train = list(load_pool(files["dev"], PlanningDemo)), list(load_pool(files["train"], PlanningDemo))
    candidates = [d.plan.prompt for d in load_pool(files["pool"], PlanningDemo)]
    config, registry = icl_config(None, args.preset, [*args.overrides, f"llm_client.cache_path={args.cache}"], None)
    encoder = build_text_encoder(config, registry)
    report = {"preset": args.preset, "overrides": args.overrides, "sizes": {"pool": args.pool, "train": args.train, "dev": args.dev},
              "settings": {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seeds": args.seeds,
                           "samples": args.samples, "baseline": args.baseline},
              "runs": [], "training": []}

    def score(label: str, seed: int | None, selector, client) -> None:
        start, before = time.perf_counter(), client.stats
        scores = evaluate(build_planner(config, registry, files["pool"], selector, client), dev)
        after = client.stats
        report["runs"].append({"selector": label, "seed": seed, "scores": scores, "seconds": time.perf_counter() - start,
                               "llm_calls": after.llm_calls - before.llm_calls, "cache_hits": after.cache_hits - before.cache_hits})
        print(f"{label:8} seed {seed}: " + "  ".join(f"{m} {scores[m]:.3f}" for m in MEASURES)
              + f"  ({after.llm_calls - before.llm_calls} calls)", flush=True)
        report["table"] = table(report["runs"])
        write_json_atomic(args.out, report)

    with build_client(config, registry) as client:
        d = build_planner(config, registry, files["pool"], ChosenDemos(), client).options.num_demos
        report["num_demos"] = d
        score("knn", None, registry.create("demo_selector", "knn", text_encoder=encoder), client)
        for seed in args.seeds:
            score("random", seed, registry.create("demo_selector", "random", {"seed": seed}), client)
        for seed in args.seeds:
            out = args.work / f"seed{seed}"
            policy = PolicySelector(PolicySelector.Options(), text_encoder=encoder)
            if not (out / "policy.safetensors").is_file():
                chosen = ChosenDemos()
                reward = PlanningReward(build_planner(config, registry, files["pool"], chosen, client), chosen, train)
                settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=seed,
                                         samples=args.samples, baseline=args.baseline)
                start, before = time.perf_counter(), client.stats
                state = train_policy(policy, [t.plan.prompt for t in train], candidates, reward, d, settings, out,
                                     resume=(out / "checkpoint.safetensors").is_file(),
                                     provenance={"benchmark": "icl_policy", "llm": client.cache_identity()},
                                     progress=lambda n, s: print(f"  seed {seed} step {s.step}: reward {s.history[-1]['reward']:.3f}",
                                                                 flush=True))
                report["training"].append({"seed": seed, "history": state.history, "seconds": time.perf_counter() - start,
                                           "llm_calls": client.stats.llm_calls - before.llm_calls})
            trained = PolicySelector(PolicySelector.Options(weights=out / "policy.safetensors"), text_encoder=encoder)
            score("policy", seed, trained, client)
        report["llm_stats"] = client.stats.model_dump()
    write_json_atomic(args.out, report)
    print_table(report["table"])
    print(f"wrote {args.out}")


def table(runs: list[dict]) -> dict[str, dict[str, list[float]]]:
    """Per selector and measure: [mean, std over seeds] (std 0 for a single run)."""
    out: dict[str, dict[str, list[float]]] = {}
    for label in dict.fromkeys(r["selector"] for r in runs):
        rows = [r["scores"] for r in runs if r["selector"] == label]
        out[label] = {m: [statistics.mean(r[m] for r in rows), statistics.stdev(r[m] for r in rows) if len(rows) > 1 else 0.0]
                      for m in MEASURES}
        out[label]["runs"] = [len(rows), 0.0]
    return out


def print_table(rows: dict[str, dict[str, list[float]]]) -> None:
    print(f"\n{'selector':10}" + "".join(f"{m:>22}" for m in MEASURES))
    for label, measures in rows.items():
        print(f"{label:10}" + "".join(f"{measures[m][0]:>14.3f} ± {measures[m][1]:.3f}" for m in MEASURES))


if __name__ == "__main__":
    main()
