"""The planning corpus: (sentence → gold action plan) pairs plus imagination and polishment gold (issue 10).

``dysen data planning`` writes it; ``docs/planning-corpus.md`` describes the conventions and the split.
"""

from .generate import CorpusConfig, HeldOut, generate, write_corpus

__all__ = ["CorpusConfig", "HeldOut", "generate", "write_corpus"]
