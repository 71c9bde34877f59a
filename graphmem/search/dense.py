"""Optional dense channel: message embeddings, searched with one matrix product.

Embeddings stay optional: nothing in the default path needs them. With `embeddings =
"wordllama"` (package `wordllama`, numpy only, its weights inside the wheel) messages are
embedded at index time, incrementally as they arrive. A question's nearest messages feed the
graph channels as extra seeds, and each message's cosine to the question lifts its graph score
(`boosted`). The model is loaded from the installed package, never downloaded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from graphmem.errors import ConfigError
from graphmem.models import MessageNode
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


def embedded_text(message: MessageNode) -> str:
    """What a message is embedded as: its text and any shared image's caption, without the speaker.

    With the speaker's name in every turn, a question naming a participant came out near all of
    their turns (the speaker focus prior already favours those); without it, dense seeds and the
    boost raised recall on both dev sets (README, "Measuring").
    """
    return f"{message.text} [image: {message.caption}]" if message.caption else message.text


def boosted(scores: np.ndarray, similarity: np.ndarray, weight: float) -> np.ndarray:
    """Graph scores times 1 + weight x each message's cosine to the question, relative to the best.

    Multiplying keeps the graph's order where the question's meaning says nothing new (cosines
    alike), and lets a turn that shares no word with the question but means the same pass turns
    the graph scored only a little higher. Negative cosines count as none.
    """
    closeness = np.clip(similarity, 0.0, None)
    best = closeness.max() if len(closeness) else 0.0
    if weight <= 0 or best <= 0:
        return scores
    return scores * (1.0 + weight * closeness / best)


class DenseIndex:
    """Message embeddings in `messages` order; `search` ranks them by cosine to a question."""

    def __init__(self, vectors: np.ndarray):
        self.vectors = vectors

    @classmethod
    def build(cls, messages: Sequence[MessageNode]) -> DenseIndex:
        return cls(embed([embedded_text(m) for m in messages]))

    def appended(self, messages: Sequence[MessageNode]) -> DenseIndex:
        """The index with `messages` embedded as the next rows (only they are embedded)."""
        if not messages:
            return self
        fresh = embed([embedded_text(m) for m in messages])
        return DenseIndex(np.concatenate([self.vectors, fresh]) if len(self.vectors) else fresh)

    def similarities(self, question: str) -> np.ndarray:
        """Cosine of every message to `question`, in `messages` order."""
        if len(self.vectors) == 0:
            return np.zeros(0, dtype=np.float32)
        return self.vectors @ embed([question])[0]

    def search(self, question: str, k: int) -> list[tuple[int, float]]:
        return top_k(self.similarities(question), k)
