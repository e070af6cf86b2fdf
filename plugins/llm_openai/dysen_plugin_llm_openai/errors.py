"""litellm's exceptions → dysen's one-line ``LLMError`` (give up) or ``LLMRetryableError`` (try again).

Messages name the model, the endpoint and the fix, carry at most the first line of the server's own
words, and pass through ``redact`` so that no key ends up in them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dysen_core.errors import LLMError, LLMRetryableError
from dysen_core.redact import redact

_DETAIL_CHARS = 200
_NOISE = re.compile(r"^(litellm\.\w+: )?(\w+Error: )?(\w+Exception - )?(error - )?")  # litellm's class-name prefixes


def translate(
    exc: Exception, *, model: str, where: str, key_env: str, timeout_s: float, secrets: Iterable[str | None]
) -> LLMError | None:
    """The dysen error for a litellm/openai exception, or ``None`` when ``exc`` is not an API failure."""
    import litellm
    import openai

    if not isinstance(exc, openai.OpenAIError):
        return None
    status = getattr(exc, "status_code", None)
    detail = _detail(exc, [s for s in secrets if s])
    if isinstance(exc, (litellm.AuthenticationError, litellm.PermissionDeniedError)):
        return LLMError(
            f"{where} rejected the API key for model {model!r} (HTTP {status}); set {key_env} to a valid key"
        )
    if isinstance(exc, litellm.NotFoundError):
        return LLMError(f"model {model!r} not found at {where} (HTTP 404: {detail}); check llm.options.model")
    if isinstance(exc, litellm.RateLimitError):
        return LLMRetryableError(
            f"rate limited by {where} for model {model!r} (HTTP 429)", retry_after=_retry_after(exc)
        )
    if isinstance(exc, litellm.Timeout):
        return LLMRetryableError(
            f"no answer from {where} for model {model!r} within {timeout_s:g} s; raise llm.options.timeout_s"
        )
    if "Received response" in str(exc):  # litellm's words for a 200 answer whose body did not parse
        detail = detail.split(", Received response")[0]
        return LLMRetryableError(f"malformed answer from {where} for model {model!r} ({detail})")
    if isinstance(exc, litellm.APIConnectionError) or "Connection error" in detail:
        return LLMRetryableError(f"cannot reach {where} for model {model!r} ({detail}); check api_base and the server")
    if isinstance(exc, openai.APIResponseValidationError) or status is None or status >= 500:
        return LLMRetryableError(f"{where} failed for model {model!r} (HTTP {status or '?'}: {detail})")
    return LLMError(f"{where} rejected the request for model {model!r} (HTTP {status}: {detail})")


def _detail(exc: Exception, secrets: list[str]) -> str:
    """The first line of the server's message, redacted and shortened."""
    text = redact(str(getattr(exc, "message", None) or exc), secrets)
    line = _NOISE.sub("", text.strip().splitlines()[0]) if text.strip() else ""
    line = line or type(exc).__name__
    return line if len(line) <= _DETAIL_CHARS else line[: _DETAIL_CHARS - 1] + "…"


def _retry_after(exc: Exception) -> float | None:
    """The ``Retry-After`` seconds of a 429 answer, when the server sent one."""
    headers = getattr(exc, "litellm_response_headers", None) or getattr(getattr(exc, "response", None), "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
