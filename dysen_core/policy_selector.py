"""The ``policy`` demonstration selector: a trainable head over frozen text embeddings (RL-based ICL, paper §5.5).

The paper's conclusion and Table 4 ("w/o RL-based ICL") optimise which in-context demonstrations the LLM
sees; its code follows PromptPG. Here, as there, a frozen sentence encoder embeds the query and every
candidate, a small linear head ``h(x) = W x + b`` maps both, and the policy over candidates is

    π(c | q) = softmax_c( h(q) · h(c) / τ )

over the ``pool_size`` candidates nearest the query by cosine. D demonstrations are drawn from it without
replacement (a Plackett–Luce draw, so the log-probability of the ordered draw is exact) and trained by
REINFORCE (``icl_training``). ``W`` starts as the identity and ``b`` as zero, so an untrained head ranks
exactly like ``knn``: training can only start from the nearest-neighbour policy and move away from it.

The head is a small safetensors file (never pickle) whose metadata records the encoder, the width, the
temperature and the training provenance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import ConfigError, InputError
from .selectors import TextEmbeddings, check_k, needs_text_encoder, query_digest

if TYPE_CHECKING:
    import torch

FORMAT = "dysen-icl-policy"
FORMAT_VERSION = "1"
HEAD_KEYS = ("head.weight", "head.bias")


class PolicySelector:
    """Scores candidates with a trained head over frozen text embeddings; greedy top-D unless ``sample``."""

    name = "policy"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

        weights: Path | None = Field(
            default=None,
            description="The trained head (safetensors, from `dysen icl train`); unset: an untrained identity head, "
            "which ranks exactly like knn.",
        )
        # the nearest candidates by cosine: the softmax stays over relevant demonstrations, an untrained head
        # equals knn, and a large pool costs one matrix product, not a head pass per demonstration
        pool_size: int = Field(default=80, ge=1, le=100_000, description="Candidates scored per query: the nearest by cosine.")
        # cosines of sentence embeddings differ by ~0.1 between near and far demos: τ = 0.1 makes that a factor
        # e, so a draw prefers neighbours without being greedy (PromptPG's τ = 1 is near uniform on cosines)
        temperature: float = Field(default=0.1, gt=0, le=100, description="Softmax temperature τ of the scores.")
        seed: int = Field(default=0, ge=0, description="Seed of the draws when sample is true (per query, order-free).")
        sample: bool = Field(default=False, description="Draw D demos from the policy; false: the D most probable.")

    def __init__(self, options: Options | None = None, text_encoder=None):
        needs_text_encoder(self.name, text_encoder)
        self.options = options or self.Options()
        self.text_encoder = text_encoder
        self.embeddings = TextEmbeddings(text_encoder)
        self.provenance: dict[str, Any] = {}
        self._head: torch.nn.Linear | None = None
        if self.options.weights is not None:
            self.load_weights(self.options.weights)

    def load_weights(self, path: str | Path) -> None:
        """Replace the head by the one stored at ``path`` (a head file or a training checkpoint)."""
        self._head = load_head(path, self)

    @property
    def head(self) -> torch.nn.Linear:
        """The trainable head (created as the identity at the encoder's width on first use)."""
        if self._head is None:
            self._head = identity_head(self.text_encoder.dim)
        return self._head

    def scores(self, query: str, candidates: Sequence[str]) -> tuple[list[int], torch.Tensor]:
        """The considered candidates (the ``pool_size`` nearest, by index) and their logits ``(N,)``, with grad."""
        import torch

        pool, vector = self.embeddings.pool(candidates), self.embeddings.query(query)
        nearest = torch.argsort(-(pool @ vector), stable=True)[: self.options.pool_size]
        considered = sorted(nearest.tolist())
        head = self.head
        logits = head(pool[considered]) @ head(vector) / self.options.temperature  # (N, d) @ (d,) -> (N,)
        return considered, logits

    def select(self, query: str, candidates: Sequence[str], k: int) -> list[int]:
        import torch

        k = check_k(candidates, k)
        if k == 0:
            return []
        with torch.no_grad():
            considered, logits = self.scores(query, candidates)
        if self.options.sample:
            generator = torch.Generator().manual_seed(int.from_bytes(query_digest(self.options.seed, query)[:8], "little"))
            order, _ = draw(logits, k, generator)
        else:
            order = torch.argsort(-logits, stable=True)[:k].tolist()
        return [considered[i] for i in order][::-1]  # most probable last, nearest the test input

    def prefetch(self, queries: Sequence[str]) -> None:
        """Embed ``queries`` in one batch ahead of their ``select`` calls."""
        self.embeddings.prefetch(queries)


def identity_head(dim: int) -> torch.nn.Linear:
    """``h(x) = x``: the untrained head, under which the policy ranks like knn."""
    import torch

    head = torch.nn.Linear(dim, dim)
    with torch.no_grad():
        head.weight.copy_(torch.eye(dim))
        head.bias.zero_()
    return head


def draw(logits: torch.Tensor, k: int, generator: torch.Generator) -> tuple[list[int], torch.Tensor]:
    """``k`` positions drawn without replacement from softmax(``logits``), first draw first, and the draw's
    log-probability (Plackett–Luce: Σ_t logits[i_t] − logsumexp over the positions not yet drawn)."""
    import torch

    order: list[int] = []
    log_prob = logits.new_zeros(())
    left = torch.ones_like(logits, dtype=torch.bool)
    for _ in range(min(k, logits.numel())):
        step = torch.log_softmax(logits.masked_fill(~left, float("-inf")), dim=0)
        i = int(torch.multinomial(step.detach().exp(), 1, generator=generator))
        order.append(i)
        log_prob = log_prob + step[i]
        left[i] = False
    return order, log_prob


def head_metadata(selector: PolicySelector, provenance: dict[str, Any]) -> dict[str, str]:
    """What a head file says about itself (safetensors metadata holds strings only)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "encoder": selector.text_encoder.name,
        "dim": str(selector.head.in_features),
        "temperature": repr(selector.options.temperature),
        "provenance": json.dumps(provenance, sort_keys=True),
    }


def head_tensors(head: torch.nn.Linear) -> dict[str, torch.Tensor]:
    return {"head.weight": head.weight.detach().contiguous(), "head.bias": head.bias.detach().contiguous()}


def save_head(path: str | Path, selector: PolicySelector, provenance: dict[str, Any]) -> Path:
    """Write the selector's head to ``path`` (safetensors, atomically) with its metadata."""
    from .io import write_safetensors_atomic

    return write_safetensors_atomic(path, head_tensors(selector.head), head_metadata(selector, provenance))


def load_head(path: str | Path, selector: PolicySelector) -> torch.nn.Linear:
    """The head stored at ``path`` (a head file or a training checkpoint); it must match the selector's encoder."""
    import torch
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise InputError(f"policy weights '{path}' not found; train them with `dysen icl train`")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta, tensors = f.metadata() or {}, {k: f.get_tensor(k) for k in HEAD_KEYS if k in f.keys()}
    except (SafetensorError, OSError) as exc:
        raise InputError(f"policy weights '{path}' are not a safetensors file: {exc}") from None
    if meta.get("format") != FORMAT or len(tensors) != len(HEAD_KEYS):
        raise InputError(f"'{path}' is not a dysen ICL policy head (made by `dysen icl train`)")
    if meta["encoder"] != selector.text_encoder.name:
        raise ConfigError(f"policy weights '{path}' were trained on text_encoder '{meta['encoder']}', "
                          f"the config has '{selector.text_encoder.name}'; set text_encoder.name={meta['encoder']}")
    dim = int(meta["dim"])
    if dim != selector.text_encoder.dim:
        raise ConfigError(f"policy weights '{path}' have width {dim}, text_encoder '{meta['encoder']}' gives {selector.text_encoder.dim}")
    head = torch.nn.Linear(dim, dim)
    with torch.no_grad():
        head.weight.copy_(tensors["head.weight"])
        head.bias.copy_(tensors["head.bias"])
    selector.provenance = json.loads(meta.get("provenance", "{}"))
    return head
