"""The ``rgtrm`` and ``rgnn`` graph encoder components (Dysen-VDM §4.2 and Table 4), torch-free at import.

A component owns its torch module (``.module``, built on first construction from ``Options``), a cache
of label embeddings from the ``text_encoder`` it was given, and ``encode(dsgs) -> GraphFeatures``. The
two share one ``Options`` model, so switching the ablation is one line in a config (``name: rgnn``).
The module is returned in eval mode; training code calls ``component.module.train()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dysen_core.datamodel import DynamicSceneGraph
from dysen_core.errors import ConfigError, InputError
from dysen_core.io import write_safetensors_atomic
from dysen_core.protocols import TextEncoder

if TYPE_CHECKING:
    import torch

    from dysen_core.graph_features import GraphFeatures


class GraphEncoderOptions(BaseModel):
    """Size and run settings of a DSG encoder; defaults are the paper's (§5.1: L=12, k=8, d=768, dropout 0.3)."""

    model_config = ConfigDict(extra="forbid")

    layers: int = Field(default=12, ge=1, le=64, description="L, the number of stacked layers (paper: 12).")
    heads: int = Field(default=8, ge=1, le=64, description="k, attention heads per layer (paper: 8).")
    width: int = Field(default=768, ge=4, le=8192, description="d, the model width, a multiple of heads (paper: 768).")
    dropout: float = Field(default=0.3, ge=0.0, lt=1.0, description="Dropout while training (paper: 0.3).")
    recurrent: bool = Field(
        default=True,
        description="Carry state from SG m-1 to SG m (RGTrm: the gate of eqs. 4-5; RGNN: the GRU); "
        "false encodes each SG alone.",
    )
    seed: int = Field(default=0, description="Seed of the initial weights (same seed, same weights on any device).")
    device: str = Field(default="cpu", description="torch device, e.g. 'cpu', 'cuda', 'cuda:1'.")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(default="float32", description="Weights and outputs.")
    max_nodes: int = Field(
        default=1024, ge=1, description="Most nodes (entities + attributes) in one DSG; attention is O(N²) per SG."
    )
    checkpoint: str | None = Field(
        default=None, description="A .safetensors file of trained weights (written by `save`) to load."
    )

    @model_validator(mode="after")
    def _heads_divide_width(self) -> GraphEncoderOptions:
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be a multiple of heads ({self.heads})")
        return self


class TorchGraphEncoder:
    """A graph encoder backed by a torch module; subclasses name the module class."""

    name: str
    Options = GraphEncoderOptions

    def __init__(self, options: GraphEncoderOptions | None = None, text_encoder: TextEncoder | None = None):
        if text_encoder is None:
            raise ConfigError(
                f"graph_encoder {self.name!r} needs a text_encoder to embed DSG labels; "
                "add `text_encoder: {name: minilm}` (or `random` for tests) to the config"
            )
        from dysen_core.tensorize import LabelEmbedder

        self.options = options or self.Options()
        self.labels = LabelEmbedder(text_encoder)
        self.module = self._build(text_encoder.dim)

    @staticmethod
    def _module_class() -> type:
        raise NotImplementedError

    @property
    def width(self) -> int:
        """d, the width of every output vector."""
        return self.options.width

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    def _build(self, text_dim: int) -> torch.nn.Module:
        import torch

        opts = self.options
        try:
            device = torch.device(opts.device)
        except RuntimeError:
            raise ConfigError(
                f"graph_encoder.options.device {opts.device!r} is not a torch device; use 'cpu' or 'cuda'"
            ) from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError("graph_encoder.options.device is 'cuda' but torch sees no CUDA GPU; use device: cpu")
        with torch.random.fork_rng(devices=[]):  # seeded weights without touching the caller's RNG
            torch.manual_seed(opts.seed)
            module = self._module_class()(text_dim, opts.width, opts.layers, opts.heads, opts.dropout, opts.recurrent)
        if opts.checkpoint is not None:
            _load_weights(module, opts.checkpoint)
        return module.to(device=device, dtype=getattr(torch, opts.dtype)).eval()

    def encode(self, dsgs: Sequence[DynamicSceneGraph | Mapping]) -> GraphFeatures:
        """H^G and node tokens of a batch of DSGs (see ``GraphFeatures``); keeps autograd if the caller does."""
        from dysen_core.tensorize import tensorize

        batch = tensorize(dsgs, self.labels, device=self.device, max_nodes=self.options.max_nodes)
        return self.module(batch)

    def save(self, path: str) -> None:
        """Write the weights as safetensors, with this component's name and options in the metadata."""
        write_safetensors_atomic(path, self.module.state_dict(),
                                 {"component": self.name, "options": self.options.model_dump_json()})


def _load_weights(module: Any, path: str) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(path)
    except (OSError, SafetensorError) as exc:
        raise InputError(
            f"graph_encoder.options.checkpoint {path!r} is not a readable safetensors file: {exc}"
        ) from None
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1].strip()
        raise InputError(
            f"graph_encoder.options.checkpoint {path!r} does not fit these options ({first}); "
            "use the options it was saved with (its metadata holds them)"
        ) from None


class RGTrmEncoder(TorchGraphEncoder):
    """The recurrent graph Transformer of §4.2, eqs. 2–5."""

    name = "rgtrm"

    @staticmethod
    def _module_class() -> type:
        from .rgtrm import RGTrm

        return RGTrm


class RGNNEncoder(TorchGraphEncoder):
    """The recurrent space-time graph network baseline (ref. 44; Table 4, "RGTrm → RGNN")."""

    name = "rgnn"

    @staticmethod
    def _module_class() -> type:
        from .rgnn import RGNN

        return RGNN
