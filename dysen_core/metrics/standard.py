"""The standard automatic metrics (paper App. B.1) as streaming components: FVD, KVD, FID, IS, CLIPSIM, shapes-FVD.

App. B.1 numbers the automatic metrics; each is a component here:

1. IS (``inception-score``): exp E_x KL(p(y|x) ‖ p(y)) over generated frames, Inception-v3 logits, ``splits``
   groups. The paper's UCF-101 IS uses a C3D video classifier (TGANv2's code), which we do not provide: this
   is the frame IS of its footnote 3 (torchmetrics).
2. FVD (``fvd``): Fréchet distance of I3D features of 16-frame videos (``kvd``: the polynomial-kernel MMD of
   the same features, KID's estimator for video).
3. FID (``fid``): Fréchet distance of Inception-v3 2048-d pool features of every frame (pytorch-fid's).
4. CLIPSIM (``clipsim``): mean CLIP cosine similarity between each frame and its prompt, × 100 as video papers
   report it (not clipscore's 2.5 · max(cos, 0)); the reference is the prompt string.

``shapes-fvd`` is the offline stand-in for FVD on the dynamic-shapes benchmark, with the project's own
network (``shapes_features``); its numbers are not comparable to published FVD.

Each ``update(prediction, reference)`` takes uint8 ``(F, H, W, 3)`` videos. Frames wait in a queue of at most
``batch_size`` items, then go through the network; only running statistics stay (``frechet.GaussianStats``;
KVD keeps its N × 400 features), so a dataset streams. Weights come from the ``weights`` option
(``feature_nets`` says which files and how to convert them); torch loads only when a metric is built.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import xlogy

from ..devices import torch_device
from ..errors import ConfigError, InputError
from .frechet import FeatureBank, GaussianStats, polynomial_mmd, stats_distance

I3D_NEEDS = ("I3D weights: pass metric option `weights: /path/to/i3d_torchscript.pt` (the common FVD detector) or an I3D "
             ".safetensors (converting pytorch-i3d's rgb_imagenet.pt: see dysen_core.metrics.feature_nets)")
INCEPTION_NEEDS = ("Inception-v3 weights: pass metric option `weights: /path/to/inception.safetensors` (pytorch-fid's "
                   "pt_inception-2015-12-05 converted to safetensors: see dysen_core.metrics.feature_nets)")
CLIP_NEEDS = ("CLIP weights: pass metric option `weights: /path/to/clip-vit-base-patch32` (a local folder written by "
              "transformers' CLIPModel.save_pretrained plus the tokenizer's save_pretrained)")


def _weights(metric: str, weights: Path | None, needs: str) -> Path:
    if weights is None:
        raise ConfigError(f"{metric} needs {needs}")
    return weights


def _video(value: object, metric: str, role: str) -> np.ndarray:
    if not (isinstance(value, np.ndarray) and value.dtype == np.uint8 and value.ndim == 4 and value.shape[-1] == 3):
        got = f"{value.dtype} array of shape {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__
        raise InputError(f"{metric} {role} must be a uint8 video array (F, H, W, 3), got {got}")
    return value


def _first_frames(video: np.ndarray, frames: int, metric: str, fix: str = "lower metric option `frames`") -> list[np.ndarray]:
    if len(video) < frames:
        raise InputError(f"{metric} needs videos of at least {frames} frames, got {len(video)}; {fix}")
    return [video[:frames]]


class _Queue:
    """Feeds items to ``run`` ``batch_size`` at a time (sooner when the item shape changes); ``sink`` takes the rows."""

    def __init__(self, run: Callable[[np.ndarray], np.ndarray], sink: Callable[[np.ndarray, list], None], batch_size: int):
        self.run, self.sink, self.batch_size = run, sink, batch_size
        self._items: list[np.ndarray] = []
        self._tags: list = []

    def add(self, items: list[np.ndarray], tag: object = None) -> None:
        for item in items:
            if self._items and item.shape != self._items[0].shape:
                self.flush()
            self._items.append(item)
            self._tags.append(tag)
            if len(self._items) >= self.batch_size:
                self.flush()

    def flush(self) -> None:
        if self._items:
            batch, tags = np.stack(self._items), self._tags
            self._items, self._tags = [], []
            self.sink(self.run(batch), tags)


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weights: Path | None = Field(default=None, description="The feature network's weights file (see dysen_core.metrics.feature_nets).")
    device: str = Field(default="cpu", description="Torch device the network runs on, e.g. 'cpu' or 'cuda'.")
    batch_size: int = Field(default=8, ge=1, description="Items (videos, or frames for frame metrics) per forward pass.")


class _FeatureMetric:
    """Shared streaming: per role a queue into the network and a statistics object fed by it."""

    name: str
    roles: tuple[str, ...] = ("prediction", "reference")

    def __init__(self, options: _Options | None = None):
        self.options = options or self.Options()
        self._run = self._runner()
        self.reset()

    def reset(self) -> None:
        self._stats = {role: self._new_stats() for role in self.roles}
        self._queues = {role: _Queue(self._run, self._sink(self._stats[role]), self.options.batch_size) for role in self.roles}

    def update(self, prediction: np.ndarray, reference: np.ndarray) -> None:
        given = {"prediction": prediction, "reference": reference}
        items = {role: self._items(_video(given[role], self.name, role)) for role in self.roles}  # all checked first
        for role, role_items in items.items():
            self._queues[role].add(role_items)

    def compute(self) -> dict[str, float]:
        for queue in self._queues.values():
            queue.flush()
        return self._scores(*(self._stats[role] for role in self.roles))

    def _sink(self, stats) -> Callable[[np.ndarray, list], None]:
        return lambda rows, _tags: stats.add(rows)

    def _new_stats(self):
        return GaussianStats()

    def _scores(self, prediction: GaussianStats, reference: GaussianStats) -> dict[str, float]:
        for role, stats in (("prediction", prediction), ("reference", reference)):
            if stats.count < 2:
                raise InputError(f"{self.name} needs at least 2 samples per side, got {stats.count} {role} samples; update it with more videos")
        return {self.name.replace("-", "_"): stats_distance(prediction, reference)}


class FVD(_FeatureMetric):
    """Fréchet Video Distance (App. B.1 metric 2) between generated and reference videos, I3D features."""

    name = "fvd"

    class Options(_Options):
        frames: int = Field(default=16, ge=1, description="Frames per video fed to I3D: the first ones (FVD uses 16).")
        resolution: int = Field(default=224, ge=32, description="Frame side I3D sees; 224 is standard, other values are not comparable.")
        feature: Literal["logits", "pool"] = Field(
            default="logits", description="FVD features: the 400-d logits (as the common detector) or the 1024-d pool.")

    def _runner(self):
        from .feature_nets import TorchScriptI3D, load_i3d, make_runner, video_input

        device = torch_device(self.options.device, f"{self.name} option device")
        network = load_i3d(_weights(self.name, self.options.weights, I3D_NEEDS))
        pool, size = self.options.feature == "pool", self.options.resolution
        if pool and isinstance(network, TorchScriptI3D):
            raise ConfigError(f"{self.name} option feature=pool needs I3D .safetensors weights; the TorchScript detector has logits only")
        return make_runner(network, lambda x: video_input(x, size), lambda out: out.pool if pool else out.logits, device)

    def _items(self, video: np.ndarray) -> list[np.ndarray]:
        return _first_frames(video, self.options.frames, self.name)


class KVD(FVD):
    """Kernel Video Distance (App. B.1 metric 2's kernel form): polynomial MMD² of I3D features, mean and std."""

    name = "kvd"

    class Options(FVD.Options):
        subsets: int = Field(default=100, ge=1, description="Random subsets the MMD is averaged over (KID's default).")
        subset_size: int = Field(default=1000, ge=2, description="Videos per subset; capped at the smaller set's size.")
        seed: int = Field(default=0, description="Seed of the subset draws.")

    def _new_stats(self):
        return FeatureBank()

    def _scores(self, prediction: FeatureBank, reference: FeatureBank) -> dict[str, float]:
        o = self.options
        mean, std = polynomial_mmd(prediction.array(), reference.array(), o.subsets, o.subset_size, o.seed)
        return {"kvd": mean, "kvd_std": std}


class FID(_FeatureMetric):
    """Fréchet Inception Distance (App. B.1 metric 3) over all frames, Inception-v3 2048-d pool features."""

    name = "fid"

    class Options(_Options):
        batch_size: int = Field(default=32, ge=1, description="Frames per forward pass.")
        resolution: int = Field(default=299, ge=75, description="Frame side Inception sees; 299 is standard, other values are not comparable.")
        fid_blocks: bool = Field(default=True, description="TF-port pooling of the FID weights; false for torchvision ImageNet weights.")

    def _network(self):
        from .feature_nets import load_inception

        return load_inception(_weights(self.name, self.options.weights, INCEPTION_NEEDS), self.options.fid_blocks)

    def _runner(self):
        from .feature_nets import make_runner, to_unit_range

        device, size = torch_device(self.options.device, f"{self.name} option device"), self.options.resolution
        return make_runner(self._network(), lambda x: to_unit_range(x, size), lambda out: out.pool, device)

    def _items(self, video: np.ndarray) -> list[np.ndarray]:
        return list(video)


class InceptionScoreStats:
    """Streaming IS: per split the count, Σ p(y|x) and Σ_x Σ_y p log p; sample i goes to split i mod ``splits``.

    KL(p(y|x) ‖ p(y)) averaged over a split is mean_x Σ_y p log p − Σ_y p̄ log p̄ with p̄ the split's mean p(y|x),
    so these sums suffice and no prediction is kept.
    """

    def __init__(self, splits: int):
        self.splits = splits
        self._seen = 0
        self._count = np.zeros(splits)
        self._p_sum: np.ndarray | None = None
        self._plogp = np.zeros(splits)

    def add(self, probabilities: np.ndarray) -> None:
        """Add rows of class probabilities ``(N, K)``."""
        p = np.asarray(probabilities, dtype=np.float64)
        if self._p_sum is None:
            self._p_sum = np.zeros((self.splits, p.shape[1]))
        split = (self._seen + np.arange(len(p))) % self.splits
        self._seen += len(p)
        np.add.at(self._count, split, 1)
        np.add.at(self._p_sum, split, p)
        np.add.at(self._plogp, split, xlogy(p, p).sum(axis=1))

    def scores(self) -> tuple[float, float]:
        """Mean and std of IS over the splits."""
        if self._seen < self.splits:
            raise InputError(f"inception-score needs at least {self.splits} frames (one per split), got {self._seen}")
        marginal = self._p_sum / self._count[:, None]
        kl = self._plogp / self._count - xlogy(marginal, marginal).sum(axis=1)
        values = np.exp(kl)
        return float(values.mean()), float(values.std())


class InceptionScore(FID):
    """Inception Score (App. B.1 metric 1) of the generated frames; the reference is ignored (may be None)."""

    name = "inception-score"
    roles = ("prediction",)

    class Options(FID.Options):
        splits: int = Field(default=10, ge=1, description="Groups the frames are split into; IS is their mean (std reported).")

    def _runner(self):
        import torch

        from .feature_nets import make_runner, to_unit_range

        device, size = torch_device(self.options.device, f"{self.name} option device"), self.options.resolution
        return make_runner(self._network(), lambda x: to_unit_range(x, size), lambda out: torch.softmax(out.logits.double(), -1), device)

    def update(self, prediction: np.ndarray, reference: object = None) -> None:
        super().update(prediction, reference)

    def _new_stats(self):
        return InceptionScoreStats(self.options.splits)

    def _scores(self, prediction: InceptionScoreStats) -> dict[str, float]:
        mean, std = prediction.scores()
        return {"inception_score": mean, "inception_score_std": std}


class ShapesFVD(_FeatureMetric):
    """FVD-like distance on the dynamic-shapes benchmark with the project's own 3D CNN (not comparable to FVD)."""

    name = "shapes-fvd"

    class Options(_Options):
        weights: Path | None = Field(default=None, description="Shapes feature network file; null: the one shipped with dysen.")
        batch_size: int = Field(default=16, ge=1, description="Videos per forward pass.")

    def _runner(self):
        from .feature_nets import make_runner, video_input
        from .shapes_features import load_shapes_features

        device = torch_device(self.options.device, f"{self.name} option device")
        network = load_shapes_features(self.options.weights)
        self._frames = network.frames
        return make_runner(network, lambda x: video_input(x, network.size), lambda out: out.pool, device)

    def _items(self, video: np.ndarray) -> list[np.ndarray]:
        """The first clip of the network's length; a shorter video is stretched to it by repeating frames (8 frames:
        each twice), so 8-frame clips, the shipped model's, are scored too (comparable only at equal lengths)."""
        if 0 < len(video) < self._frames:
            video = video[np.arange(self._frames) * len(video) // self._frames]
        return _first_frames(video, self._frames, self.name, fix=f"its feature network reads {self._frames}-frame clips")


class _MeanCosine:
    """Running sum and count of cosines between unit image embeddings and their prompts' unit text embeddings."""

    def __init__(self) -> None:
        self.total, self.count = 0.0, 0

    def add(self, embeddings: np.ndarray, texts: list[np.ndarray]) -> None:
        self.total += float((embeddings * np.stack(texts)).sum())
        self.count += len(embeddings)


class CLIPSim(_FeatureMetric):
    """CLIPSIM (App. B.1 metric 4): mean over all frames of 100 · cos(CLIP image, CLIP prompt)."""

    name = "clipsim"
    roles = ("prediction",)

    class Options(_Options):
        weights: Path | None = Field(default=None, description="A local transformers CLIP folder (the paper uses ViT-B/32).")
        batch_size: int = Field(default=32, ge=1, description="Frames per forward pass.")

    def _runner(self):
        from .feature_nets import ClipEncoder, make_runner

        device = torch_device(self.options.device, f"{self.name} option device")
        self._encoder = ClipEncoder(_weights(self.name, self.options.weights, CLIP_NEEDS))
        return make_runner(self._encoder, lambda x: x, lambda embeddings: embeddings, device)

    def update(self, prediction: np.ndarray, reference: str) -> None:
        if not isinstance(reference, str) or not reference.strip():
            raise InputError(f"clipsim reference must be the prompt string, got {type(reference).__name__}")
        import torch

        frames = list(_video(prediction, self.name, "prediction"))
        with torch.inference_mode():
            text = self._encoder.text(reference).double().cpu().numpy()
        self._queues["prediction"].add(frames, tag=text)

    def _new_stats(self):
        return _MeanCosine()

    def _sink(self, stats: _MeanCosine) -> Callable[[np.ndarray, list], None]:
        return stats.add

    def _scores(self, prediction: _MeanCosine) -> dict[str, float]:
        if not prediction.count:
            raise InputError("clipsim has seen no frames; call update() before compute()")
        return {"clipsim": 100.0 * prediction.total / prediction.count}
