"""The contract of each component kind: one ``typing.Protocol`` per kind, named for the paper step it serves.

A plugin's factory is called as ``factory(options, **deps)``: ``options`` is its validated ``Options``
model, and ``deps`` holds only the already-built components its signature names among ``llm``,
``demo_selector``, ``text_encoder`` and ``graph_encoder`` (opt-in, like pluggy's hook arguments).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .chat import ChatMessage, Completion
from .datamodel import ActionPlan, DynamicSceneGraph

if TYPE_CHECKING:
    import torch

    from .graph_features import GraphFeatures


@runtime_checkable
class LLM(Protocol):
    """A chat model consulted by Steps I and III (paper §4.1: ChatGPT; here any hosted or local LLM).

    A backend raises ``errors.LLMRetryableError`` for failures worth retrying (rate limit, timeout, 5xx,
    cut connection, malformed answer) and ``errors.LLMError`` for the rest; ``llm_client.LLMClient``
    adds the cache, retries, bounded concurrency and accounting around any backend.
    """

    name: str

    def complete(self, messages: Sequence[ChatMessage], *, json_schema: Mapping[str, Any] | None = None) -> Completion:
        """Answer ``messages``; with ``json_schema`` the answer text is JSON meant to match it."""
        ...

    def cache_identity(self) -> dict[str, Any]:
        """What decides the answer besides the messages: model and decoding parameters, never keys.

        JSON-serialisable and stable across machines; it is part of every cache key.
        """
        ...

    def close(self) -> None:
        """Free the model's memory (a local model gives the GPU back to the video model); idempotent."""
        ...


@runtime_checkable
class DemoSelector(Protocol):
    """Chooses the D in-context demonstrations for a test input (paper §5.5, RL-based ICL)."""

    name: str

    def select(self, query: str, candidates: Sequence[str], k: int) -> list[int]:
        """Indices of ``k`` candidates to show for ``query``, most relevant last."""
        ...


@runtime_checkable
class Planner(Protocol):
    """Step I, action planning: prompt → events with time intervals (paper §4.1, Fig. 3)."""

    name: str

    def plan(self, prompt: str) -> ActionPlan:
        """The action plan of ``prompt``."""
        ...


@runtime_checkable
class DSGBuilder(Protocol):
    """Step II, event-to-DSG conversion: an action plan → skeleton DSG (paper §4.1)."""

    name: str

    def build(self, plan: ActionPlan) -> DynamicSceneGraph:
        """The skeleton DSG of ``plan``, one scene graph per time unit."""
        ...


@runtime_checkable
class Imaginer(Protocol):
    """Step III, scene imagination: skeleton DSG → enriched DSG (paper §4.1, App. A.3)."""

    name: str

    def enrich(self, dsg: DynamicSceneGraph, notes: list[str] | None = None) -> DynamicSceneGraph:
        """``dsg`` with each scene graph enriched and the whole polished; fallbacks taken (a segment kept
        as it was, say) are appended to ``notes`` with their reasons."""
        ...


@runtime_checkable
class TextEncoder(Protocol):
    """Embeds text: DSG labels for the graph encoder and prompt tokens for text cross-attention (§4.2, eq. 6).

    Both methods take a list of strings and return float tensors on the encoder's device, with no
    autograd history (text encoders are frozen). ``dim`` is the width of both.
    """

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """One vector per text: ``(N, dim)``."""
        ...

    def tokens(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token features ``(B, S, dim)``, zero on padding, and their mask ``(B, S)`` (True = real token)."""
        ...


@runtime_checkable
class GraphEncoder(Protocol):
    """Encodes a batch of DSGs into per-SG features H^G and node tokens (paper §4.2, eqs. 2–5).

    The features do not depend on the diffusion step: compute them once per sample and reuse them.
    """

    name: str
    width: int

    def encode(self, dsgs: Sequence[DynamicSceneGraph]) -> GraphFeatures:
        """``GraphFeatures``: pooled (B, M, width), nodes (B, M, N, width), node_mask (B, M, N), sg_mask (B, M)."""
        ...


@runtime_checkable
class Backbone(Protocol):
    """The video diffusion model that generates frames conditioned on text and DSG (paper §3.1, §4.2)."""

    name: str

    def generate(self, prompts: Sequence[str], dsgs: Sequence[DynamicSceneGraph | None], *, seed: int) -> Any:
        """One uint8 video (F, H, W, 3) per prompt; a ``None`` DSG means text-only conditioning."""
        ...


@runtime_checkable
class Metric(Protocol):
    """An evaluation measure, fed one (prediction, reference) pair at a time so datasets stream (App. B.1)."""

    name: str

    def reset(self) -> None:
        """Forget everything seen so far."""
        ...

    def update(self, prediction: Any, reference: Any) -> None:
        """Add one example."""
        ...

    def compute(self) -> dict[str, float]:
        """The scores over every example since the last reset."""
        ...


PROTOCOLS: dict[str, type] = {
    "llm": LLM,
    "demo_selector": DemoSelector,
    "planner": Planner,
    "dsg_builder": DSGBuilder,
    "imaginer": Imaginer,
    "text_encoder": TextEncoder,
    "graph_encoder": GraphEncoder,
    "backbone": Backbone,
    "metric": Metric,
}
"""Component kinds and their contracts, in pipeline order."""
