"""REINFORCE training of the ``policy`` demonstration selector (RL-based ICL, paper §5.5; PromptPG-style).

For each training example the policy draws D demonstrations without replacement, Step I (or Step III) runs
with them through the ordinary planner (or imaginer) and LLM client, so a repeated choice is a cache hit,
never a new call, and the result is scored against gold by a bounded reward r ∈ [0, 1] (``icl_rewards``).
The head is updated with

    loss = −mean_b (r_b − baseline) · log π(demos_b | prompt_b)

(Adam, one update per batch); the baseline is the batch mean, a running mean, or (with several draws per
prompt) the mean reward of the prompt's other draws (leave-one-out, "RLOO"). PromptPG has none; the last one
also removes how hard each prompt is, which otherwise dominates the reward of a small planner. Checkpoints
(head, Adam state, sampling RNG, position) are one safetensors file written atomically, so a killed run
resumes to exactly the head it would have reached.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .checkpoints import optimizer_state, optimizer_tensors
from .demos import DSGDemo, PlanningDemo
from .errors import ConfigError, InputError
from .icl_rewards import Reward, bounded, dsg_reward, imagine, plan_or_none, plan_reward
from .metrics.plan_accuracy import PlanAccuracy
from .metrics.trirec import TriRecCounts
from .policy_selector import PolicySelector, draw, head_metadata, head_tensors, save_head

CHECKPOINT = "checkpoint.safetensors"
POLICY = "policy.safetensors"


class TrainSettings(BaseModel):
    """How the policy is trained; saved in every checkpoint, and a resumed run must match it."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(default=1, ge=1, le=1000, description="Passes over the training prompts.")
    batch_size: int = Field(default=8, ge=1, le=4096, description="Prompts per update (PromptPG: 20).")
    lr: float = Field(default=1e-3, gt=0, le=1, description="Adam learning rate of the head (PromptPG: 1e-3).")
    seed: int = Field(default=0, ge=0, description="Seed of the epoch order and of the demonstration draws.")
    samples: int = Field(default=1, ge=1, le=64, description="Demonstration draws per prompt and update.")
    baseline: Literal["batch", "running", "prompt"] = Field(
        default="batch", description="Baseline subtracted from each reward: the batch mean, a running mean, or the mean "
        "of the same prompt's other draws (needs samples >= 2).")
    momentum: float = Field(default=0.9, ge=0, lt=1, description="Decay of the running baseline.")
    checkpoint_every: int = Field(default=1, ge=1, description="Updates between checkpoints.")

    @model_validator(mode="after")
    def _baseline_has_draws_to_compare(self) -> TrainSettings:
        if self.baseline == "batch" and self.batch_size * self.samples < 2:
            raise ValueError("baseline 'batch' needs batch_size >= 2 (one draw is its own mean: no gradient); use 'running' "
                             "or samples >= 2")
        if self.baseline == "prompt" and self.samples < 2:
            raise ValueError("baseline 'prompt' needs samples >= 2 (it compares each draw with the prompt's other draws)")
        return self


class TrainState(BaseModel):
    """Where a run stands: enough, with the RNG and Adam state, to resume exactly."""

    model_config = ConfigDict(extra="forbid")

    step: int = 0
    epoch: int = 0
    position: int = Field(default=0, description="Prompts of the current epoch already trained on.")
    baseline: float | None = Field(default=None, description="The running baseline (baseline: running).")
    history: list[dict[str, float]] = Field(default_factory=list, description="Per update: step, mean reward, baseline.")


def train_policy(selector: PolicySelector, queries: Sequence[str], candidates: Sequence[str], reward: Reward, k: int,
                 settings: TrainSettings, out: str | Path, *, resume: bool = False, provenance: dict[str, Any] | None = None,
                 progress: Callable[[int, TrainState], None] | None = None) -> TrainState:
    """Train ``selector``'s head by REINFORCE on ``queries``; writes ``out/checkpoint.safetensors`` every
    ``checkpoint_every`` updates and ``out/policy.safetensors`` (the head alone) at the end."""
    import torch

    out = Path(out)
    data = _fingerprint(queries, candidates, k)
    generator = torch.Generator().manual_seed(settings.seed)
    state, adam = TrainState(), None
    if resume:
        state, adam, rng = load_checkpoint(out / CHECKPOINT, selector, settings, data)
        generator.set_state(rng)
    elif (out / CHECKPOINT).exists():
        raise InputError(f"{out} already holds a training run; pass --resume to continue it, or choose another --out")
    optimizer = torch.optim.Adam(selector.head.parameters(), lr=settings.lr)
    if adam is not None:
        optimizer.load_state_dict(adam)
    provenance = {**(provenance or {}), "data": data, "settings": settings.model_dump()}
    selector.prefetch(queries)
    while state.epoch < settings.epochs:
        order = torch.randperm(len(queries), generator=torch.Generator().manual_seed(settings.seed * 100_003 + state.epoch)).tolist()
        while state.position < len(order):
            batch = order[state.position : state.position + settings.batch_size]
            _update(selector, queries, candidates, reward, k, settings, batch, generator, optimizer, state)
            if state.step % settings.checkpoint_every == 0:
                save_checkpoint(out / CHECKPOINT, selector, optimizer, generator, settings, state, provenance)
            if progress is not None:
                progress(len(batch), state)
        state.epoch, state.position = state.epoch + 1, 0
    save_checkpoint(out / CHECKPOINT, selector, optimizer, generator, settings, state, provenance)
    save_head(out / POLICY, selector, {**provenance, "steps": state.step, "epochs": state.epoch})
    return state


def _update(selector: PolicySelector, queries: Sequence[str], candidates: Sequence[str], reward: Reward, k: int,
            settings: TrainSettings, batch: list[int], generator, optimizer, state: TrainState) -> None:
    """One REINFORCE update on the prompts ``batch``."""
    import torch

    log_probs, groups = [], []
    for n in batch:
        considered, logits = selector.scores(queries[n], candidates)
        group = []
        for _ in range(settings.samples):
            positions, log_prob = draw(logits, k, generator)
            chosen = [considered[i] for i in positions][::-1]  # most probable last, as ``select`` shows them
            group.append(bounded(reward(n, chosen, state.step), "reward"))
            log_probs.append(log_prob)
        groups.append(group)
    r = torch.tensor([x for group in groups for x in group])
    mean = float(r.mean())
    baselines = _baselines(groups, mean, settings, state)
    loss = -((r - torch.tensor(baselines)) * torch.stack(log_probs)).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if settings.baseline == "running":
        state.baseline = mean if state.baseline is None else settings.momentum * state.baseline + (1 - settings.momentum) * mean
    state.step += 1
    state.position += len(batch)
    state.history.append({"step": state.step, "reward": mean, "baseline": sum(baselines) / len(baselines)})


def _baselines(groups: list[list[float]], mean: float, settings: TrainSettings, state: TrainState) -> list[float]:
    """The baseline of every draw (``groups``: the rewards of each prompt's draws): the batch mean, the running
    mean, or leave-one-out, each draw against the mean of its prompt's other draws."""
    if settings.baseline == "prompt":
        return [(sum(group) - x) / (len(group) - 1) for group in groups for x in group]
    value = mean if settings.baseline == "batch" or state.baseline is None else state.baseline
    return [value] * sum(len(group) for group in groups)


def _fingerprint(queries: Sequence[str], candidates: Sequence[str], k: int) -> dict[str, Any]:
    """What the run trains on, compared on resume: counts plus a hash of the texts."""
    digest = hashlib.sha256(json.dumps([list(queries), list(candidates), k]).encode()).hexdigest()[:16]
    return {"examples": len(queries), "candidates": len(candidates), "num_demos": k, "sha256": digest}


def save_checkpoint(path: Path, selector: PolicySelector, optimizer, generator, settings: TrainSettings,
                    state: TrainState, provenance: dict[str, Any]) -> None:
    """Head, Adam state and RNG in one safetensors file (atomic), the rest as JSON in its metadata."""
    from .io import write_safetensors_atomic

    adam, groups = optimizer_tensors(optimizer)
    tensors = {**head_tensors(selector.head), "rng": generator.get_state(), **adam}
    metadata = {**head_metadata(selector, provenance), "settings": settings.model_dump_json(),
                "state": state.model_dump_json(), "adam_groups": groups}
    write_safetensors_atomic(path, tensors, metadata)


def load_checkpoint(path: Path, selector: PolicySelector, settings: TrainSettings,
                    data: dict[str, Any]) -> tuple[TrainState, dict[str, Any], Any]:
    """Load a run's head from ``path`` into ``selector``; return its state, Adam state dict and RNG state. Its
    settings and data must match this run's (only ``epochs`` may grow, to train longer)."""
    from safetensors import safe_open

    if not path.is_file():
        raise InputError(f"nothing to resume: {path} not found (drop --resume to start a new run)")
    selector.load_weights(path)
    with safe_open(str(path), framework="pt") as f:
        meta, tensors = f.metadata(), {key: f.get_tensor(key) for key in f.keys()}
    saved = TrainSettings.model_validate_json(meta["settings"])
    if saved.model_dump(exclude={"epochs"}) != settings.model_dump(exclude={"epochs"}):
        raise ConfigError(f"{path} was trained with {saved.model_dump(exclude={'epochs'})}; resume with the same settings")
    if selector.provenance.get("data") != data:
        raise ConfigError(f"{path} was trained on other data ({selector.provenance.get('data')}); resume with the same files")
    return TrainState.model_validate_json(meta["state"]), optimizer_state(tensors, meta["adam_groups"]), tensors["rng"]


def evaluate(planner, gold: Sequence[PlanningDemo], progress: Callable[[], None] | None = None) -> dict[str, float]:
    """Plan accuracy of ``planner`` on ``gold`` (paper Fig. 9 measures), the mean reward and the failures."""
    metric = PlanAccuracy()
    rewards, failed = [], 0
    for demo in gold:
        plan = plan_or_none(planner, demo.plan.prompt)
        failed += plan is None
        metric.update(plan, demo.plan)
        rewards.append(plan_reward(plan, demo.plan))
        if progress is not None:
            progress()
    return {**metric.compute(), "reward": sum(rewards) / len(rewards) if rewards else float("nan"), "failed": failed}


def evaluate_imagination(builder, imaginer, gold: Sequence[DSGDemo], frames: int,
                         progress: Callable[[], None] | None = None) -> dict[str, float]:
    """TriRec (eq. 13) of Step III's DSGs, each imagined on a gold plan's skeleton, against the gold DSGs: pooled
    over frames (``trirec``, the imagination reward's mean over frames), per video, and the mean reward."""
    counts, rewards = TriRecCounts(), []
    for demo in gold:
        dsg = imagine(builder, imaginer, demo.plan, frames)
        counts.add(dsg, demo.dsg)
        rewards.append(dsg_reward(dsg, demo.dsg))
        if progress is not None:
            progress()
    return {**counts.scores(), "reward": sum(rewards) / len(rewards) if rewards else float("nan")}
