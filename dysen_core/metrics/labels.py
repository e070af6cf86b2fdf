"""Label normalisation for comparing events: one definition shared by the metrics and the planner's checks.

Kept apart from ``matching`` so code on the planning path can compare labels without importing scipy.
"""

from __future__ import annotations

import re

from ..datamodel import Event

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalise(label: str | None) -> str | None:
    """``label`` lower-cased, without articles, with single spaces (``None`` stays ``None``)."""
    if label is None:
        return None
    return " ".join(_ARTICLES.sub(" ", label.lower()).split())


def triplet(event: Event) -> tuple[str | None, str | None, str | None]:
    """The normalised ``(agent, predicate, target)`` of ``event``."""
    return normalise(event.agent), normalise(event.predicate), normalise(event.target)
