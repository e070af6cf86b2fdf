"""Train/val/test splits of the dynamic-shapes benchmark, with held-out shape–action pairs (issue 6, part 1).

Clip ``i`` goes to train when ``i % 10 < 8``, else to val (8) or test (9), so any prefix of a dataset is
balanced and a clip's split never depends on the worker that made it. No training clip ever shows a
held-out pair; every other val/test clip is *novel*: it contains at least one held-out pair, so
generalisation to unseen combinations is measured on the ``novel`` subset apart from the rest.
"""

from __future__ import annotations

from typing import Literal

from .vocabulary import Action

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")

HELD_OUT: frozenset[tuple[str, Action]] = frozenset(
    {
        ("triangle", Action.JUMP),
        ("square", Action.GROW),
        ("circle", Action.TOWARD),
        ("rectangle", Action.TURN),
    }
)
"""Shape–action pairs never seen together in train."""


def split_of(index: int) -> Split:
    """The split of clip ``index``."""
    slot = index % 10
    return "train" if slot < 8 else ("val" if slot == 8 else "test")


def is_novel(index: int) -> bool:
    """Whether clip ``index`` must contain a held-out pair (every other val/test clip)."""
    return split_of(index) != "train" and (index // 10) % 2 == 0


def allowed(shape: str, action: Action, split: Split) -> bool:
    """Whether ``shape`` may do ``action`` in a clip of ``split``."""
    return split != "train" or (shape, action) not in HELD_OUT
