"""Secret scrubbing, so that API keys never reach logs, cache files, manifests or error messages.

A secret is the value of an environment variable whose name says it holds one (``OPENAI_API_KEY``,
``HF_TOKEN``, ``…_SECRET``), or anything shaped like a bearer token or an ``sk-…`` key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)
_SECRET_SHAPE = re.compile(r"(?i)\bbearer\s+\S+|\bsk-[A-Za-z0-9_\-]{6,}")
MIN_SECRET_CHARS = 8  # shorter values ("1", "true") are flags, and replacing them would garble text
MASK = "***"


def env_secrets() -> list[str]:
    """Values of the environment variables whose names mark them as secrets, longest first."""
    values = {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= MIN_SECRET_CHARS}
    return sorted(values, key=len, reverse=True)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every secret (environment, ``extra``, token-shaped) replaced by ``***``."""
    for secret in [*env_secrets(), *(s for s in extra if s and len(s) >= MIN_SECRET_CHARS)]:
        text = text.replace(secret, MASK)
    return _SECRET_SHAPE.sub(MASK, text)


def has_secret(text: str) -> bool:
    """Whether ``text`` holds something :func:`redact` would hide."""
    return redact(text) != text
