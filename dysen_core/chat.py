"""Chat messages and completions: the values that cross the LLM protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_SYSTEM_MESSAGE = "You are a helpful assistant."
"""The system message of the paper's LLM calls (PAPER-NOTES.md, settings from the authors' code)."""


class ChatMessage(BaseModel):
    """One message of a chat request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class Usage(BaseModel):
    """Token counts and latency of one LLM call."""

    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0


class Completion(BaseModel):
    """An LLM answer: its text (JSON text when a schema was asked for) and usage."""

    model_config = ConfigDict(extra="forbid")

    text: str
    usage: Usage = Field(default_factory=Usage)
    model: str = Field(default="", description="The model that answered, as the backend names it.")


class ChatRequest(BaseModel):
    """One request of a batch: the messages and, optionally, the JSON schema the answer must match."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: list[ChatMessage]
    json_schema: dict[str, Any] | None = None


def with_system_message(messages: Sequence[ChatMessage], system: str | None) -> list[ChatMessage]:
    """``messages`` with ``system`` put first, unless it is ``None`` or the request already has a system message."""
    if system is None or any(m.role == "system" for m in messages):
        return list(messages)
    return [ChatMessage(role="system", content=system), *messages]


def as_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """The OpenAI-style ``[{"role": …, "content": …}]`` form that every backend takes."""
    return [m.model_dump() for m in messages]


class DecodingOptions(BaseModel):
    """Decoding settings every LLM backend takes; a backend's ``Options`` extends this model."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="Sampling temperature; 0 is greedy (paper).")
    max_tokens: int = Field(default=512, ge=1, le=65536, description="Longest answer in tokens (paper: 512).")
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Sampling seed, for backends that take one.")
    system_message: str | None = Field(
        default=DEFAULT_SYSTEM_MESSAGE,
        description="Put first when a request has no system message (paper: 'You are a helpful assistant.'); "
        "null: none.",
    )
