"""What the ICL planner and imaginer share: checking a prompt, picking demonstrations, asking until valid."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .chat import ChatMessage
from .datamodel import MAX_PROMPT_CHARS
from .errors import ConfigError, InputError, PlanParseError
from .protocols import LLM, DemoSelector

T = TypeVar("T")
D = TypeVar("D")


def check_prompt(prompt: str) -> str:
    """The prompt, stripped; an empty or over-long prompt is an InputError."""
    text = prompt.strip() if isinstance(prompt, str) else ""
    if not text:
        raise InputError("the prompt is empty")
    if len(text) > MAX_PROMPT_CHARS:
        raise InputError(f"the prompt has {len(text)} characters; the limit is {MAX_PROMPT_CHARS}")
    return text


def require_llm(llm: LLM | None, kind: str) -> LLM:
    if llm is None:
        raise ConfigError(f"{kind} 'icl' needs an llm section in the config (e.g. name: llama-cpp)")
    return llm


def pick_demos(selector: DemoSelector, query: str, pool: Sequence[D], keys: Sequence[str], k: int) -> list[D]:
    """``k`` demonstrations of ``pool`` for ``query``, most relevant last, chosen by ``selector`` over ``keys``."""
    indices = selector.select(query, keys, k)
    return [pool[i] for i in indices]


def ask(llm: LLM, messages: list[ChatMessage], schema: dict[str, Any], parse: Callable[[str], T], max_repairs: int) -> T:
    """Ask ``llm`` for JSON matching ``schema``; on an invalid answer, ask again with the reason, at most
    ``max_repairs`` times, then raise the last PlanParseError."""
    for attempt in range(max_repairs + 1):
        answer = llm.complete(messages, json_schema=schema).text
        try:
            return parse(answer)
        except PlanParseError as exc:
            if attempt == max_repairs:
                raise PlanParseError(f"{exc} (after {attempt + 1} answer{'s' if attempt else ''})") from None
            messages = [
                *messages,
                ChatMessage(role="assistant", content=answer),
                ChatMessage(role="user", content=f"That answer is not valid: {exc}. Answer again with JSON only."),
            ]
    raise AssertionError("unreachable")
