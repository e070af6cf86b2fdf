"""A BERT sentence encoder (all-MiniLM-L6-v2 and its kin) run straight from a sentence-transformers folder.

Importing sentence-transformers pulls in transformers: 3–4 s on two cores, more than the first planning
call itself. The folder's ``config.json``, ``model.safetensors`` and ``tokenizer.json`` hold all a BERT
forward pass needs, so this reads them with torch, safetensors and tokenizers and loads in a fraction
of a second, giving the vectors sentence-transformers gives (``tests/test_text_encoders.py`` checks).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from .errors import ConfigError

MEAN_POOLING = "pooling_mode_mean_tokens"


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def check_folder(folder: Path) -> dict:
    """The BERT config of a sentence-transformers folder this encoder can run; a ConfigError otherwise."""
    config = _read_json(folder / "config.json")
    pooling = next((p for p in sorted(folder.glob("*_Pooling/config.json"))), None)
    problems = []
    if config.get("model_type") != "bert":
        problems.append("config.json is not a BERT model")
    if not (folder / "model.safetensors").is_file() or not (folder / "tokenizer.json").is_file():
        problems.append("model.safetensors or tokenizer.json is missing")
    if pooling is None or not _read_json(pooling).get(MEAN_POOLING):
        problems.append("its pooling is not mean pooling")
    if problems:
        raise ConfigError(f"text_encoder.options.model_path {str(folder)!r} is not a BERT sentence-embedding folder "
                          f"with mean pooling ({'; '.join(problems)}); give such a folder or null for the packaged MiniLM")
    return config


class SentenceBert:
    """Token features (last hidden states) and mean-pooled, L2-normalised sentence vectors of a BERT."""

    def __init__(self, folder: Path, *, max_tokens: int, device: str = "cpu"):
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        config = check_folder(folder)
        self.dim = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        modules = _read_json(folder / "modules.json")
        self.normalize = isinstance(modules, list) and any(str(m.get("type", "")).endswith(".Normalize") for m in modules)
        self.device = torch.device(device)
        self.weights = {k: v.to(self.device) for k, v in load_file(str(folder / "model.safetensors")).items()}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=min(max_tokens, int(config["max_position_embeddings"])))
        self.tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))

    def forward(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Last hidden states ``(B, S, dim)`` and the attention mask ``(B, S)`` (True = real token)."""
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = torch.tensor([e.ids for e in encodings], device=self.device)
        mask = torch.tensor([e.attention_mask for e in encodings], device=self.device).bool()
        with torch.no_grad():
            return self._encode(ids, mask), mask

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """One vector per text: the mean of its token features, L2-normalised when the folder says so."""
        hidden, mask = self.forward(texts)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1) if self.normalize else pooled

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.weights[f"{name}.weight"], self.weights[f"{name}.bias"])

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(x, (self.dim,), self.weights[f"{name}.weight"], self.weights[f"{name}.bias"], self.eps)

    def _encode(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        w = self.weights
        positions = torch.arange(ids.shape[1], device=self.device)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions]
        x = self._norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        batch, length, head_dim = ids.shape[0], ids.shape[1], self.dim // self.heads
        keep = mask[:, None, None, :]  # padding is never attended to

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, head_dim).transpose(1, 2)

        for n in range(self.layers):
            p = f"encoder.layer.{n}"
            q, k, v = (split(self._linear(x, f"{p}.attention.self.{part}")) for part in ("query", "key", "value"))
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, scale=1 / math.sqrt(head_dim))
            context = context.transpose(1, 2).reshape(batch, length, self.dim)
            x = self._norm(x + self._linear(context, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
            inner = F.gelu(self._linear(x, f"{p}.intermediate.dense"))
            x = self._norm(x + self._linear(inner, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        return x
