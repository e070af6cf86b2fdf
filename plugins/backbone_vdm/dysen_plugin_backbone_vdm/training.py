"""A generic training loop for the video backbone: AdamW, warm-up, EMA, accelerate, exact resume from safetensors.

The loop knows nothing about diffusion: the caller's ``loss_fn(model, batch, generator)`` turns a batch into a scalar
loss. Resume is exact because nothing random carries from one micro-batch to the next:

- The data order is a permutation per epoch, seeded by (seed, epoch), cut into batches. A process takes every
  ``num_processes``-th batch, and the position (epoch, batch index) is saved.
- Before each micro-batch, torch's global RNG (dropout, ``collate``) and a fresh generator for ``loss_fn`` are seeded
  from (seed, step, micro-batch, process). ``train()`` therefore leaves the global RNG reseeded.
- The learning rate is a pure function of the step, and model, EMA and AdamW tensors are saved bit for bit.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import shutil
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from rich.progress import Progress, TextColumn
from safetensors.torch import load_file, save_file

from dysen_core.errors import InputError
from dysen_core.io import read_model, write_json_atomic, write_text_atomic

if TYPE_CHECKING:
    from accelerate import Accelerator

LOG_COLUMNS = ("step", "loss", "lr", "grad_norm", "seconds", "samples_per_s")
TENSOR_FILES = ("model.safetensors", "optimizer.safetensors", "ema.safetensors")


class TrainSettings(BaseModel):
    """How to train: optimizer, schedule, EMA, precision, checkpoints and logging."""

    model_config = ConfigDict(extra="forbid")

    steps: int = Field(ge=1, description="Optimizer steps in total, counting those before a resume.")
    batch_size: int = Field(1, ge=1, description="Examples per micro-batch, per process.")
    grad_accum: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    lr: float = Field(1e-4, gt=0, description="Peak learning rate of AdamW.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW decoupled weight decay.")
    warmup_steps: int = Field(0, ge=0, description="Steps of linear warm-up from lr/warmup_steps to lr.")
    decay_steps: int = Field(
        0, ge=0, description="Last steps of linear decay from lr towards 0 (a warm-up, stable, decay schedule); 0: none. "
        "Raising steps and decay_steps on resume anneals a constant-rate run.")
    max_grad_norm: float | None = Field(1.0, gt=0, description="Clip the global gradient norm to this; null: no clipping.")
    ema_decay: float | None = Field(0.9999, ge=0, lt=1, description="Decay of the EMA weights; null: no EMA.")
    mixed_precision: Literal["no", "bf16", "fp16"] = Field("no", description="Autocast precision for loss_fn.")
    checkpoint_every: int = Field(500, ge=1, description="Write a checkpoint every this many steps, and one at the end.")
    keep_checkpoints: int = Field(2, ge=1, description="How many of the newest checkpoints to keep; older ones are deleted.")
    log_every: int = Field(10, ge=1, description="Append a row to log.csv every this many steps, and one at the end.")
    seed: int = Field(0, ge=0, description="Seeds the data order and every micro-batch's randomness.")


@dataclass
class TrainResult:
    """What a call to ``train`` ended with."""

    steps: int  # optimizer steps done in total, resumed ones included
    final_loss: float  # loss of the last step (from the checkpoint when resumed at the end)
    window_loss: float  # mean loss over the last log_every steps
    checkpoint: Path  # the checkpoint folder of the final step
    seconds: float  # wall time of this call
    ema_state: dict[str, torch.Tensor] | None  # float32 EMA of the trainable parameters, by name; None without EMA


class _TrainerState(BaseModel):
    """The JSON half of a checkpoint (``trainer.json``); tensors live in the .safetensors files beside it."""

    step: int
    epoch: int = 0
    index: int = 0  # next batch of the epoch, counted over all processes
    seconds: float = 0.0  # training time so far, over all resumes
    num_processes: int = 1
    settings: dict[str, Any] = {}
    param_groups: list[dict[str, Any]] = []  # AdamW hyper-parameters, without the params lists
    torch_rng_state: list[int] = []
    scaler: dict[str, Any] | None = None  # fp16 loss-scaler state
    loss_tail: list[float] = []  # losses of the last log_every steps, so a resumed log window is whole
    extra_state: dict[str, Any] | None = None
    sha256: dict[str, str] = {}  # of each .safetensors file, to catch truncated copies


def learning_rate(settings: TrainSettings, step: int) -> float:
    """The learning rate of optimizer step ``step`` (1-based): linear warm-up, constant, then linear decay."""
    warmup = min(1.0, step / settings.warmup_steps) if settings.warmup_steps else 1.0
    decay = min(1.0, (settings.steps - step + 1) / settings.decay_steps) if settings.decay_steps else 1.0
    return settings.lr * warmup * decay


def ema_decay_at(settings: TrainSettings, done: int) -> float:
    """The EMA decay after ``done`` earlier optimizer steps: 0.1 at first, rising towards ``ema_decay``."""
    return min(settings.ema_decay, (1 + done) / (10 + done))


def derive_seed(*parts: object) -> int:
    """A 63-bit seed that depends only on ``parts``, the same in every process and Python run."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class _DataOrder:
    """Which examples each micro-batch of this process holds, from the saved position (epoch, batch index)."""

    def __init__(self, size: int, settings: TrainSettings, accelerator: Accelerator, epoch: int, index: int):
        self.batch_size, self.seed = settings.batch_size, settings.seed
        self.stride, self.offset = accelerator.num_processes, accelerator.process_index
        self.per_epoch = size // self.batch_size // self.stride * self.stride  # whole batches, evenly over processes
        if self.per_epoch == 0:
            raise InputError(
                f"the dataset has {size} examples, fewer than batch_size {self.batch_size} × {self.stride} processes; "
                "lower batch_size or add examples"
            )
        self.size, self.epoch, self.index = size, epoch, index
        self._perm_epoch, self._perm = -1, []

    def next(self) -> list[int]:
        """The dataset indices of this process's next micro-batch; moves the position on for all processes."""
        if self.index + self.stride > self.per_epoch:
            self.epoch, self.index = self.epoch + 1, 0
        if self._perm_epoch != self.epoch:
            generator = torch.Generator().manual_seed(derive_seed(self.seed, "epoch", self.epoch))
            self._perm, self._perm_epoch = torch.randperm(self.size, generator=generator).tolist(), self.epoch
        start = (self.index + self.offset) * self.batch_size
        self.index += self.stride
        return self._perm[start : start + self.batch_size]


def train(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.nn.Module, Any, torch.Generator], torch.Tensor],
    dataset: Sequence[Any],
    collate: Callable[[list[Any]], Any],
    settings: TrainSettings,
    out_dir: Path,
    *,
    resume: bool = True,
    progress: bool = True,
    extra_state: dict | None = None,
) -> TrainResult:
    """Train ``model`` for ``settings.steps`` optimizer steps, writing checkpoints and ``log.csv`` under ``out_dir``.

    ``loss_fn(model, batch, generator)`` gets the prepared model (call it, so DDP sees the forward pass), the collated
    batch on the model's device, and a generator to draw noise and timesteps from. With ``resume``, training goes on
    from ``out_dir/checkpoints/latest`` if there is one; ``resume=False`` deletes out_dir's old checkpoints and log.
    ``extra_state`` (JSON values) is stored in every checkpoint. Run under ``accelerate launch`` for several GPUs.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    root = out_dir / "checkpoints"
    from accelerate import Accelerator  # imported here: registering the plugin must stay light
    from accelerate.utils import send_to_device

    accelerator = Accelerator(mixed_precision=settings.mixed_precision, gradient_accumulation_steps=settings.grad_accum)
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not trainable:
        raise InputError("the model has no parameters with requires_grad=True; unfreeze the ones to train")
    params = [p for _, p in trainable]
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    model, optimizer = accelerator.prepare(model, optimizer)
    plain = accelerator.unwrap_model(model)

    if not resume and accelerator.is_main_process:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(out_dir / "tensorboard", ignore_errors=True)
        (out_dir / "log.csv").unlink(missing_ok=True)
    accelerator.wait_for_everyone()
    state, ema = _TrainerState(step=0), None
    if resume and (root / "latest").is_file():
        state, ema = _load_checkpoint(root, plain, trainable, optimizer, accelerator)
        if state.step > settings.steps:
            raise InputError(f"checkpoint at step {state.step} in '{root}' is past steps={settings.steps}; raise steps or pass resume=False")
    if settings.ema_decay is None:
        ema = None
    elif ema is None:
        ema = {name: p.detach().float().clone() for name, p in trainable}
    start = state.step
    order = _DataOrder(len(dataset), settings, accelerator, state.epoch, state.index)
    tail = deque(state.loss_tail, maxlen=settings.log_every)
    checkpoint = root / f"step-{start:07d}"
    samples_per_step = settings.batch_size * settings.grad_accum * accelerator.num_processes

    with ExitStack() as stack:
        log = stack.enter_context(_Log(out_dir, start, accelerator.is_main_process))
        bar = stack.enter_context(
            Progress(
                *Progress.get_default_columns(),
                TextColumn("loss {task.fields[loss]}"),
                disable=not (progress and accelerator.is_main_process and sys.stderr.isatty()),
            )
        )
        task = bar.add_task("training", total=settings.steps, completed=start, loss="-")
        window_started, window_steps = time.perf_counter(), 0
        for step in range(start + 1, settings.steps + 1):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(settings, step)
            step_loss = torch.zeros((), device=accelerator.device)
            for micro in range(settings.grad_accum):
                ids = order.next()
                where = (settings.seed, step, micro, accelerator.process_index)
                torch.manual_seed(derive_seed(*where, "global"))
                batch = send_to_device(collate([dataset[i] for i in ids]), accelerator.device)
                generator = torch.Generator(accelerator.device).manual_seed(derive_seed(*where, "loss_fn"))
                with accelerator.accumulate(model):
                    with accelerator.autocast():
                        loss = loss_fn(model, batch, generator)
                    accelerator.backward(loss)
                step_loss += loss.detach().float() / settings.grad_accum
            grad_norm = accelerator.clip_grad_norm_(params, settings.max_grad_norm or math.inf)  # inf: measure only
            optimizer.step()
            optimizer.zero_grad()
            if ema is not None:
                _update_ema(ema, trainable, ema_decay_at(settings, step - 1))
            tail.append(accelerator.reduce(step_loss, "mean"))
            window_steps += 1
            bar.advance(task)

            if step % settings.log_every == 0 or step == settings.steps:
                now = time.perf_counter()
                since_last_row = step - (step - 1) // settings.log_every * settings.log_every
                window = [float(x) for x in list(tail)[-since_last_row:]]
                loss_mean = sum(window) / len(window)
                log.row(
                    step,
                    loss_mean,
                    learning_rate(settings, step),
                    float(grad_norm),
                    state.seconds + now - started,
                    window_steps * samples_per_step / (now - window_started),
                )
                bar.update(task, loss=f"{loss_mean:.4g}")
                window_started, window_steps = now, 0
            if step % settings.checkpoint_every == 0 or step == settings.steps:
                position = _TrainerState(
                    step=step,
                    epoch=order.epoch,
                    index=order.index,
                    seconds=state.seconds + time.perf_counter() - started,
                    num_processes=accelerator.num_processes,
                    settings=settings.model_dump(mode="json"),
                    param_groups=[{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups],
                    torch_rng_state=torch.get_rng_state().tolist(),
                    scaler=accelerator.scaler.state_dict() if accelerator.scaler is not None else None,
                    loss_tail=[float(x) for x in tail],
                    extra_state=extra_state,
                )
                checkpoint = root / f"step-{step:07d}"
                if accelerator.is_main_process:
                    _save_checkpoint(root, position, plain.state_dict(), ema, optimizer.state_dict(), settings.keep_checkpoints)
                accelerator.wait_for_everyone()

    losses = [float(x) for x in tail]  # never empty: steps >= 1, and a checkpoint keeps its tail
    return TrainResult(
        steps=settings.steps,
        final_loss=losses[-1],
        window_loss=sum(losses) / len(losses),
        checkpoint=checkpoint,
        seconds=time.perf_counter() - started,
        ema_state=ema,
    )


@torch.no_grad()
def _update_ema(ema: dict[str, torch.Tensor], trainable: list[tuple[str, torch.nn.Parameter]], decay: float) -> None:
    """ema ← decay · ema + (1 − decay) · weights, in float32."""
    for name, p in trainable:
        ema[name].mul_(decay).add_(p.detach().float(), alpha=1 - decay)


class _Log:
    """``log.csv`` (and TensorBoard scalars when tensorboard is installed), cut back to the resumed step on open."""

    def __init__(self, out_dir: Path, start: int, is_main: bool):
        self.out_dir, self.start, self.is_main = out_dir, start, is_main
        self.handle = self.writer = self.tensorboard = None

    def __enter__(self) -> _Log:
        if not self.is_main:
            return self
        path = self.out_dir / "log.csv"
        if path.is_file():  # rows past the checkpoint will be written again; a row cut short by a kill goes too
            with path.open(newline="") as handle:
                rows = [row for row in csv.DictReader(handle) if all(row.get(c) for c in LOG_COLUMNS)]
            kept = [row for row in rows if int(row["step"]) <= self.start]
            lines = [",".join(LOG_COLUMNS)] + [",".join(row[c] for c in LOG_COLUMNS) for row in kept]
            write_text_atomic(path, "\n".join(lines) + "\n")
        else:
            write_text_atomic(path, ",".join(LOG_COLUMNS) + "\n")
        self.handle = path.open("a", newline="")
        self.writer = csv.writer(self.handle, lineterminator="\n")
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is optional
            return self
        self.tensorboard = SummaryWriter(str(self.out_dir / "tensorboard"), purge_step=self.start + 1)
        return self

    def row(self, step: int, loss: float, lr: float, grad_norm: float, seconds: float, samples_per_s: float) -> None:
        """Append one row and flush it, so a crash loses nothing that was logged."""
        if self.writer is None:
            return
        self.writer.writerow([step, repr(loss), repr(lr), repr(grad_norm), f"{seconds:.3f}", f"{samples_per_s:.2f}"])
        self.handle.flush()
        if self.tensorboard is not None:
            for name, value in (("loss", loss), ("lr", lr), ("grad_norm", grad_norm), ("samples_per_s", samples_per_s)):
                self.tensorboard.add_scalar(f"train/{name}", value, step)

    def __exit__(self, *exc: object) -> None:
        for closable in (self.handle, self.tensorboard):
            if closable is not None:
                closable.close()


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _save_checkpoint(
    root: Path,
    state: _TrainerState,
    model_state: dict[str, torch.Tensor],
    ema: dict[str, torch.Tensor] | None,
    optimizer_state: dict[str, Any],
    keep: int,
) -> None:
    """Write ``step-NNNNNNN/`` into a temporary folder, rename it into place, point ``latest`` at it, prune old ones."""
    name = f"step-{state.step:07d}"
    tmp, final = root / f".{name}.tmp", root / name
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tensors = {
        "model.safetensors": model_state,
        "optimizer.safetensors": {
            f"state.{index}.{key}": value if torch.is_tensor(value) else torch.tensor(value)
            for index, entries in optimizer_state["state"].items()
            for key, value in entries.items()
        },
    }
    if ema is not None:
        tensors["ema.safetensors"] = ema
    for file, values in tensors.items():
        # copies: tied weights share storage, which safetensors refuses
        save_file({k: v.detach().to("cpu", copy=True).contiguous() for k, v in values.items()}, str(tmp / file))
        state.sha256[file] = _sha256(tmp / file)
    write_json_atomic(tmp / "trainer.json", state.model_dump(mode="json"))
    shutil.rmtree(final, ignore_errors=True)  # left by a run that died before it moved `latest` here
    os.rename(tmp, final)
    write_text_atomic(root / "latest", name + "\n")
    for old in [*sorted(p for p in root.glob("step-*") if p.is_dir())[:-keep], *root.glob(".step-*.tmp")]:
        shutil.rmtree(old)  # old checkpoints, and half-written ones of a killed run


def _load_checkpoint(
    root: Path, plain: torch.nn.Module, trainable: list[tuple[str, torch.nn.Parameter]], optimizer: Any, accelerator: Accelerator
) -> tuple[_TrainerState, dict[str, torch.Tensor] | None]:
    """Load the checkpoint ``latest`` names into model and optimizer; return its state and its EMA (if saved)."""
    folder = root / (root / "latest").read_text().strip()
    if not folder.is_dir():
        raise InputError(f"checkpoint folder '{folder}' named in '{root / 'latest'}' is missing; fix `latest` or pass resume=False")
    state = read_model(folder / "trainer.json", _TrainerState, "training checkpoint state")
    for file in TENSOR_FILES:
        if file in state.sha256 and (not (folder / file).is_file() or _sha256(folder / file) != state.sha256[file]):
            raise InputError(
                f"checkpoint '{folder}': {file} is missing, truncated or changed (sha256 differs from trainer.json); "
                "delete the folder and point `latest` at an older one, or pass resume=False"
            )
        if file != "ema.safetensors" and file not in state.sha256:
            raise InputError(f"checkpoint '{folder}': trainer.json has no sha256 for {file}; it was not written by this trainer")

    saved = load_file(str(folder / "model.safetensors"))
    _check_match(folder, "model.safetensors", saved, {k: v.shape for k, v in plain.state_dict().items()})
    plain.load_state_dict(saved)
    ema = None
    if "ema.safetensors" in state.sha256:
        saved = load_file(str(folder / "ema.safetensors"))
        _check_match(folder, "ema.safetensors", saved, {name: p.shape for name, p in trainable})
        ema = {name: saved[name].to(p.device) for name, p in trainable}

    flat = load_file(str(folder / "optimizer.safetensors"))
    # AdamW keeps per-parameter tensors shaped like the parameter, plus a scalar step
    expected = {
        key: (trainable[int(key.split(".")[1])][1].shape if value.dim() else value.shape)
        for key, value in flat.items()
        if int(key.split(".")[1]) < len(trainable)
    }
    _check_match(folder, "optimizer.safetensors", flat, expected)
    entries: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in flat.items():
        _, index, name = key.split(".", 2)
        entries.setdefault(int(index), {})[name] = value
    current = optimizer.state_dict()["param_groups"]
    if len(state.param_groups) != len(current):
        raise InputError(
            f"checkpoint '{folder}' has {len(state.param_groups)} optimizer param groups, the trainer {len(current)}; pass resume=False"
        )
    groups = [
        {**{k: tuple(v) if isinstance(v, list) else v for k, v in saved_group.items()}, "params": group["params"]}
        for saved_group, group in zip(state.param_groups, current)
    ]
    optimizer.load_state_dict({"state": entries, "param_groups": groups})
    torch.set_rng_state(torch.tensor(state.torch_rng_state, dtype=torch.uint8))
    if state.scaler is not None and accelerator.scaler is not None:
        accelerator.scaler.load_state_dict(state.scaler)
    return state, ema


def _check_match(folder: Path, file: str, saved: dict[str, torch.Tensor], expected: dict[str, torch.Size]) -> None:
    """Raise an InputError naming up to three missing, unexpected or reshaped keys when ``saved`` does not fit."""
    missing = [k for k in expected if k not in saved]
    unexpected = [k for k in saved if k not in expected]
    reshaped = [f"{k} {tuple(saved[k].shape)} vs {tuple(expected[k])}" for k in expected if k in saved and saved[k].shape != expected[k]]
    problems = [
        f"{what} {', '.join(keys[:3])}"
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("shape (checkpoint vs model)", reshaped))
        if keys
    ]
    if problems:
        raise InputError(
            f"checkpoint '{folder}' does not match the model: {file} {'; '.join(problems)}; "
            "resume with the model it was trained with, or pass resume=False"
        )
