"""The ``litellm`` LLM: any hosted model litellm knows, or any OpenAI-compatible server at ``api_base``.

API keys come from the environment only (``api_key_env`` names the variable), so a config, a cache file
or a manifest never holds one. litellm is imported on the first call (it takes seconds), so a replayed
run never imports it. litellm's own retries are off: ``LLMClient`` retries what
``errors.LLMRetryableError`` marks as worth it.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from dysen_core.chat import ChatMessage, Completion, DecodingOptions, Usage, as_dicts, with_system_message
from dysen_core.errors import LLMError, LLMRetryableError

from .errors import translate

NO_KEY = "no-key"  # sent to an api_base when no key is configured: OpenAI-compatible servers without auth ignore it
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class LiteLLM:
    """A chat model reached through litellm."""

    name = "litellm"

    class Options(DecodingOptions):
        model_config = ConfigDict(
            extra="forbid", hide_input_in_errors=True
        )  # a key pasted in a field stays out of errors

        model: str = Field(
            description="A litellm model string: 'gpt-4o-mini', 'anthropic/claude-3-5-haiku-latest', or "
            "'openai/<name>' for an OpenAI-compatible server at api_base.",
            min_length=1,
        )
        api_base: str | None = Field(
            default=None, description="Base URL of the API, e.g. 'http://127.0.0.1:8080/v1'; unset: the provider's."
        )
        api_key_env: str | None = Field(
            default=None,
            description="Name of the environment variable holding the API key (never the key itself); unset: "
            "litellm's variable for the provider, e.g. OPENAI_API_KEY.",
        )
        timeout_s: float = Field(default=60.0, gt=0, le=3600, description="Longest wait for one answer, in seconds.")
        response_format: Literal["json_schema", "json_object", "none"] = Field(
            default="json_schema",
            description="How a JSON schema is sent: 'json_schema' (OpenAI structured outputs), 'json_object' "
            "({type: json_object, schema}, as llama.cpp's server takes), 'none' (not sent).",
        )

        @field_validator("api_base")
        @classmethod
        def _http_url(cls, value: str | None) -> str | None:
            if value is not None and not value.startswith(("http://", "https://")):
                raise ValueError("api_base must start with http:// or https://")
            return value

        @field_validator("api_key_env")
        @classmethod
        def _env_name(cls, value: str | None) -> str | None:
            if value is not None and not _ENV_NAME.fullmatch(value):
                # the value is not echoed: a user may have pasted the key itself here
                raise ValueError("api_key_env must be the NAME of an environment variable (letters, digits, _)")
            return value

    def __init__(self, options: Options):
        self.options = options
        self._litellm: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LiteLLM(model={self.options.model!r}, api_base={self.options.api_base!r})"

    def cache_identity(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            **self.options.model_dump(
                include={"model", "api_base", "temperature", "max_tokens", "seed", "system_message", "response_format"}
            ),
        }

    def complete(self, messages: Sequence[ChatMessage], *, json_schema: Mapping[str, Any] | None = None) -> Completion:
        opts = self.options
        litellm = self._import()
        key = self._api_key(litellm)
        kwargs: dict[str, Any] = {
            "model": opts.model,
            "messages": as_dicts(with_system_message(messages, opts.system_message)),
            "temperature": opts.temperature,
            "max_tokens": opts.max_tokens,
            "seed": opts.seed,
            "timeout": opts.timeout_s,
            "num_retries": 0,
            "max_retries": 0,
            "drop_params": True,  # a provider without `seed` or `response_format` ignores them instead of failing
        }
        if opts.api_base is not None:
            kwargs["api_base"] = opts.api_base
        if key is not None:
            kwargs["api_key"] = key
        if json_schema is not None and opts.response_format != "none":
            kwargs["response_format"] = _response_format(opts.response_format, json_schema)
        start = time.perf_counter()
        try:
            response = litellm.completion(**kwargs)
        except Exception as exc:
            error = translate(
                exc,
                model=opts.model,
                where=self._where(),
                key_env=self._key_env(litellm),
                timeout_s=opts.timeout_s,
                secrets=[key],
            )
            if error is None:
                raise  # not an API failure: a bug, keep its traceback
            raise error from None  # from None: the chained litellm exception may quote the request
        latency = time.perf_counter() - start
        return _completion(response, latency, where=self._where())

    def close(self) -> None:
        """Nothing to free: the model runs elsewhere."""

    def _import(self) -> Any:
        """litellm, imported once, configured to stay quiet and offline, with the model string checked."""
        with self._lock:
            if self._litellm is None:
                os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
                import litellm

                litellm.suppress_debug_info = True
                try:
                    litellm.get_llm_provider(self.options.model, api_base=self.options.api_base)
                except Exception:
                    raise LLMError(
                        f"litellm does not know model {self.options.model!r}; use a litellm model string such as "
                        "'gpt-4o-mini', 'anthropic/claude-3-5-haiku-latest' or 'openai/<name>' with api_base "
                        "(see https://docs.litellm.ai/docs/providers)"
                    ) from None
                self._litellm = litellm
            return self._litellm

    def _api_key(self, litellm: Any) -> str | None:
        """The key to send: from ``api_key_env``; else litellm's default variable, or ``NO_KEY`` for an api_base."""
        opts = self.options
        if opts.api_key_env is not None:
            key = os.environ.get(opts.api_key_env, "")
            if not key:
                name = opts.api_key_env
                raise LLMError(f"llm.options.api_key_env names {name}, which is not set; export {name}=<key>")
            return key
        missing = litellm.validate_environment(opts.model, api_base=opts.api_base).get("missing_keys") or []
        if not missing:
            return None
        if opts.api_base is not None:
            return NO_KEY
        raise LLMError(
            f"model {opts.model!r} needs {', '.join(missing)} in the environment; export it, "
            "or name the variable that holds the key in llm.options.api_key_env"
        )

    def _key_env(self, litellm: Any) -> str:
        if self.options.api_key_env:
            return self.options.api_key_env
        found = litellm.validate_environment(self.options.model).get("missing_keys") or []
        return found[0] if found else "the provider's API key variable"

    def _where(self) -> str:
        return self.options.api_base or "the provider's API"


def _response_format(kind: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    if kind == "json_object":
        return {"type": "json_object", "schema": dict(schema)}
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": dict(schema)}}


def _completion(response: Any, latency: float, *, where: str) -> Completion:
    """A ``Completion`` from litellm's response; an answer with no text is malformed (worth a retry)."""
    try:
        text = response.choices[0].message.content
        usage = response.usage
        prompt_tokens, completion_tokens = int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0)
    except (AttributeError, IndexError, TypeError, ValueError):
        text = None
    if not isinstance(text, str):
        raise LLMRetryableError(f"malformed answer from {where}: no message text")
    return Completion(
        text=text,
        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, latency_s=latency),
        model=str(response.model or ""),
    )
