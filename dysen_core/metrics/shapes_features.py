"""The project's own video feature network for the dynamic-shapes benchmark: an offline FVD-like distance (issue 6, part 4).

FVD (paper App. B.1) needs an I3D trained on Kinetics, which cannot be had offline. For shapes videos this
module trains a small 3D CNN instead: four Conv3d layers on the frames and their differences, then global
mean and max pools → a 128-d feature, and a multi-label head that says which actions happen (13 action
classes), which shapes (4) and which colours (8) appear. ``shapes-fvd`` is the Fréchet distance of the 128-d features of two video sets.

Shapes-FVD numbers are NOT comparable to published FVD: another network, another feature space, another
scale. They compare models on the shapes benchmark only, and only with the same weights file (its config
and training record are in the file's safetensors metadata).

``train_shapes_features`` trains on the ``train`` split of a dataset written by
``dysen_core.shapes.dataset.write_dataset`` (clips stream from disk, one batch at a time) and reports
held-out accuracy on ``val`` + ``test``; ``benchmarks/train_shapes_features.py`` makes the shipped file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from torch import nn

from ..errors import ConfigError
from ..io import write_safetensors_atomic
from ..shapes.dataset import iter_clips, load_frames
from ..shapes.generate import ClipRecord
from ..shapes.vocabulary import COLOURS, SHAPES, Action, action_of
from .feature_nets import FeatureOutput, load_into, read_safetensors, video_input

DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "shapes_features.safetensors"
LABELS: tuple[str, ...] = tuple(a.value for a in Action) + SHAPES + COLOURS
"""Multi-label targets: action classes (``turns`` for any colour change), then shapes, then colours."""


def clip_labels(record: ClipRecord) -> np.ndarray:
    """The clip's multi-hot target over ``LABELS``: its events' actions, its shapes and their first colours."""
    present = {action_of(e.predicate).value for e in record.plan.events}
    for name in {n for frame in record.dsg.frames for n in frame.objects}:
        colour, shape = name.split(" ", 1)
        present |= {colour, shape}
    return np.array([label in present for label in LABELS], dtype=np.float32)


class ShapesFeatureNet(nn.Module):
    """3D CNN: ``(B, 3, T, H, W)`` in [−1, 1] → ``2 · channels[-1]``-d pool features and ``len(LABELS)`` logits.

    Frame differences join the frames as input channels; the features are the last map's mean and max over
    (time, space): the max keeps a small shape's evidence that the mean would dilute over the background.

    Args:
        channels (tuple[int, ...], default (16, 32, 64, 64)): output channels of the 3×3×3 convolutions (each
            with BatchNorm and ReLU); the first and last halve space only, the middle ones time and space.
        size (int, default 64): frame side the network sees (videos are resized to it).
        frames (int, default 16): frames per clip it was trained on (metrics take the first ``frames``).
    """

    def __init__(self, channels: tuple[int, ...] = (16, 32, 64, 64), size: int = 64, frames: int = 16):
        super().__init__()
        self.config = {"channels": list(channels), "size": size, "frames": frames, "labels": list(LABELS)}
        self.size, self.frames = size, frames
        layers, cin = [], 6  # the frames and their differences to the previous frame (motion, made explicit)
        for i, cout in enumerate(channels):
            time_stride = 1 if i in (0, len(channels) - 1) else 2
            layers += [nn.Conv3d(cin, cout, 3, stride=(time_stride, 2, 2), padding=1), nn.BatchNorm3d(cout), nn.ReLU()]
            cin = cout
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(2 * cin, len(LABELS))

    def forward(self, x: torch.Tensor) -> FeatureOutput:
        motion = torch.cat([torch.zeros_like(x[:, :, :1]), x.diff(dim=2)], dim=2)  # (B, 3, T, H, W)
        h = self.body(torch.cat([x, motion], dim=1))  # (B, C, T', H', W')
        pool = torch.cat([h.mean(dim=(2, 3, 4)), h.amax(dim=(2, 3, 4))], dim=1)  # (B, 2C)
        return FeatureOutput(pool=pool, logits=self.head(pool))


def load_shapes_features(path: str | Path | None = None) -> ShapesFeatureNet:
    """The network saved at ``path`` (default: the weights shipped with dysen), in eval mode."""
    path = Path(path).expanduser() if path is not None else DEFAULT_WEIGHTS
    tensors = read_safetensors(path, "shapes feature network")
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    if "config" not in metadata:
        raise ConfigError(f"{path} has no `config` metadata; write it with dysen_core.metrics.shapes_features.train_shapes_features")
    config = json.loads(metadata["config"])
    if config["labels"] != list(LABELS):
        raise ConfigError(f"{path} was trained on other labels; retrain with benchmarks/train_shapes_features.py")
    net = ShapesFeatureNet(tuple(config["channels"]), config["size"], config["frames"])
    return load_into(net, tensors, path, "shapes feature network")


def _batch(root: Path, records: list[ClipRecord], net: ShapesFeatureNet) -> tuple[torch.Tensor, torch.Tensor]:
    videos = torch.from_numpy(np.stack([load_frames(root, r)[: net.frames] for r in records]))
    return video_input(videos, net.size), torch.from_numpy(np.stack([clip_labels(r) for r in records]))


def evaluate(net: ShapesFeatureNet, root: Path, records: list[ClipRecord], batch_size: int = 64) -> dict[str, float]:
    """Held-out accuracy (threshold: logit 0): over all labels, per label group, and of the exact label set."""
    correct = []
    with torch.inference_mode():
        for start in range(0, len(records), batch_size):
            x, y = _batch(root, records[start:start + batch_size], net)
            correct.append(((net(x).logits > 0).float() == y).numpy())
    hits = np.concatenate(correct)
    groups = {"action": slice(0, len(Action)), "shape": slice(len(Action), len(Action) + len(SHAPES)),
              "colour": slice(len(Action) + len(SHAPES), len(LABELS))}
    return {"label_accuracy": round(float(hits.mean()), 4), "exact_match": round(float(hits.all(axis=1).mean()), 4),
            **{f"{group}_label_accuracy": round(float(hits[:, cut].mean()), 4) for group, cut in groups.items()},
            "clips": len(hits)}


def train_shapes_features(root: str | Path, steps: int, seed: int, out_path: str | Path, batch_size: int = 32,
                          lr: float = 3e-3) -> dict:
    """Train a ``ShapesFeatureNet`` on ``root``'s train split and save it to ``out_path`` (safetensors + metadata).

    Args:
        root (path): a shapes dataset root (``write_dataset``); val + test are the held-out set.
        steps (int): optimiser steps (AdamW, cosine learning-rate decay).
        seed (int): seeds the initialisation and the batch order.
        out_path (path): the weights file written.
        batch_size (int, default 32): clips per step. lr (float, default 3e-3): initial learning rate.

    Returns the training record (also stored in the file's ``training`` metadata): seconds, final loss and
    held-out accuracy.
    """
    root = Path(root)
    train = list(iter_clips(root, "train"))
    held_out = list(iter_clips(root, "val")) + list(iter_clips(root, "test"))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = ShapesFeatureNet()
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
    start, losses = time.perf_counter(), []
    net.train()
    for _ in range(steps):
        x, y = _batch(root, [train[i] for i in rng.choice(len(train), batch_size, replace=False)], net)
        loss = F.binary_cross_entropy_with_logits(net(x).logits, y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
    net.eval()
    record = {"steps": steps, "seed": seed, "batch_size": batch_size, "lr": lr, "train_clips": len(train),
              "seconds": round(time.perf_counter() - start, 1), "final_loss": round(float(np.mean(losses[-20:])), 4),
              "held_out": evaluate(net, root, held_out)}
    write_safetensors_atomic(out_path, net.state_dict(), {"config": json.dumps(net.config), "training": json.dumps(record)})
    return record
