"""Errors meant for the user: each message is one line that names the field or value and the fix.

The CLI prints these as ``Error: …`` and exits 2; anything else that escapes is a bug and keeps its traceback.
"""


class DysenError(Exception):
    """Base class for every error a user can fix."""


class ConfigError(DysenError):
    """A run configuration or preset is invalid."""


class UnknownComponentError(DysenError):
    """A configuration names a component that no installed plugin provides."""


class PluginError(DysenError):
    """A plugin failed to load or registered something invalid."""


class InputError(DysenError):
    """An input file or value given on the command line is unusable."""


class PlanParseError(DysenError):
    """An LLM answer could not be turned into a valid plan or scene graph."""


class LLMError(DysenError):
    """An LLM call failed in a way that retrying will not fix (wrong key, unknown model, rejected request)."""


class LLMRetryableError(LLMError):
    """An LLM call failed in a way that may pass on a later try (rate limit, timeout, 5xx, cut connection).

    ``retry_after`` is the wait in seconds the server asked for, if it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class ReplayMissError(LLMError):
    """Replay mode was asked for a request that the cache has no recorded answer for."""
