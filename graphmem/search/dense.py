"""Optional dense channel: message embeddings, searched with one matrix product.

Embeddings stay optional: nothing in the default path needs them. With `embeddings =
"wordllama"` (package `wordllama`, numpy only, its weights inside the wheel) messages are
embedded at index time, incrementally as they arrive, and a question's nearest messages feed the
graph channels as extra seeds. The model is loaded from the installed package, never downloaded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from graphmem.errors import ConfigError
from graphmem.models import MessageNode
from graphmem.search.lexical import message_document
from graphmem.search.scores import top_k


@cache
def load_wordllama():
    """The WordLlama model shipped inside the `wordllama` package (loaded once per process).

    wordllama calls `logging.basicConfig` when imported; the application's root logger is put
    back as it was.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError as exc:
        raise ConfigError(
            "embeddings = 'wordllama' needs the wordllama package: pip install 'graphmem[embeddings]'"
        ) from exc
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-length embeddings of `texts`, one row each."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    vectors = np.asarray(load_wordllama().embed(list(texts)), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


class DenseIndex:
    """Message embeddings in `messages` order; `search` ranks them by cosine to a question."""

    def __init__(self, vectors: np.ndarray):
        self.vectors = vectors

    @classmethod
    def build(cls, messages: Sequence[MessageNode]) -> DenseIndex:
        return cls(embed([message_document(m) for m in messages]))

    def appended(self, messages: Sequence[MessageNode]) -> DenseIndex:
        """The index with `messages` embedded as the next rows (only they are embedded)."""
        if not messages:
            return self
        fresh = embed([message_document(m) for m in messages])
        return DenseIndex(np.concatenate([self.vectors, fresh]) if len(self.vectors) else fresh)

    def search(self, question: str, k: int) -> list[tuple[int, float]]:
        if len(self.vectors) == 0 or k <= 0:
            return []
        return top_k(self.vectors @ embed([question])[0], k)
