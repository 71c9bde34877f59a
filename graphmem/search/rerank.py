"""Learned reranking of the graph's best candidates.

Personalized PageRank with the question's priors ranks every turn; the reranker reorders its best
`SearchSettings.rerank_candidates` by a small ensemble of regression trees over features that mean
the same in any conversation: the channel scores, how much of the question a turn holds, the turns
just before and after it (a short reply's meaning is in the turn it answers), its session's share
of the lexical match, and the marks the question's priors read (the named participant's turns,
category members, asked-for types, turns that only ask).

With embeddings configured, the model trained on that embeddings model's cosines (one per model:
their cosines are distributed differently) also reads the turn's cosine to the question and its
neighbours' (`DENSE_FEATURES`) and is the one used then; the cosines enter the ranking through it
alone (the graph it reorders is the one without embeddings).

The trees are trained offline with LightGBM's LambdaRank on the dev sets (`bench/train_ranker.py`,
which also prints the leave-one-conversation-out table) and evaluated here with numpy alone, so
queries need no extra package. The model file records its feature names; a model whose features are
not the ones its engine computes, in order, is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from graphmem.errors import ConfigError
from graphmem.models import MessageNode

_FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|my|me|we|our)\b", re.IGNORECASE)

MODEL_PATHS = {
    "none": Path(__file__).with_name("ranker.json"),
    "wordllama": Path(__file__).with_name("ranker-wordllama.json"),
    "minilm": Path(__file__).with_name("ranker-minilm.json"),
}
"""The shipped models, by the embeddings configured (`Config.embeddings`)."""

FEATURES: tuple[str, ...] = (
    "graph_score",  # log of the candidate's graph score (PPR x priors) over the best candidate's
    "graph_rank",  # log(1 + its place in the graph ranking)
    "ppr",  # log of its PPR score before the priors over the best turn's
    "bm25",  # BM25 score over the best turn's
    "bm25_before",  # ... of the turn before it in its session (0 without one)
    "bm25_after",  # ... of the turn after it
    "coverage",  # idf-weighted share of the question's terms it holds
    "coverage_before",
    "coverage_after",
    "session_bm25",  # its session's summed BM25 over the best session's
    "said_by_named",  # said by the one participant the question names
    "said_by_other",  # said by another participant than the one named
    "names_member",  # names a member of a category the question asks about
    "mentions_asked_type",  # mentions an entity of the type the question asks for
    "only_asks",  # every sentence of it a question
    "follows_asking",  # the turn before it only asks (it may be the answer)
    "mentions_named_entity",  # mentions an entity (not a participant) the question names
    "words",  # log(1 + its words)
    "has_photo",  # it shares a photo (a caption is indexed with it)
    "first_person",  # how many first-person words it has (I, my, me, we, our): a speaker telling of themselves
)
DENSE_FEATURES: tuple[str, ...] = (
    "cosine",  # the turn's cosine to the question over the best turn's (embeddings configured)
    "cosine_before",
    "cosine_after",
)


def features(dense: bool) -> tuple[str, ...]:
    """The feature columns of the engine without embeddings (`dense` false) or with them."""
    return FEATURES + DENSE_FEATURES if dense else FEATURES


@dataclass
class TurnContext:
    """Where each turn of a tenant sits: the turn before and after it in its session (-1: none), its
    session; and what kind of turn it is: its length, whether it shares a photo, its first-person
    words. Grown with the tenant (`extend`), in time proportional to the new turns."""

    previous: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    following: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    session: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    words: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    has_photo: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    first_person: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    last_turn: dict[tuple[str, int | None], int] = field(default_factory=dict)  # (conversation, session) -> position
    sessions: dict[tuple[str, int | None], int] = field(default_factory=dict)  # (conversation, session) -> number

    ARRAYS: ClassVar[tuple[str, ...]] = ("previous", "following", "session", "words", "has_photo", "first_person")
    """Its per-turn arrays (what a snapshot stores; the per-session maps are worked out from them)."""

    def __len__(self) -> int:
        return len(self.session)

    @property
    def nbytes(self) -> int:
        """Memory its per-turn arrays hold (the per-session maps are small beside them)."""
        return sum(getattr(self, name).nbytes for name in self.ARRAYS)

    def extend(self, messages: Sequence[MessageNode]) -> None:
        """Add the next turns of the tenant (positions `len(self)`, `len(self) + 1`, ...), in
        write order: a turn follows the last one written to its conversation's session."""
        start = len(self)
        previous = np.full(len(messages), -1, dtype=np.int64)
        session = np.zeros(len(messages), dtype=np.int64)
        for offset, message in enumerate(messages):
            key = (message.conversation_id, message.session)
            previous[offset] = self.last_turn.get(key, -1)
            self.last_turn[key] = start + offset
            session[offset] = self.sessions.setdefault(key, len(self.sessions))
        following = np.concatenate([self.following, np.full(len(messages), -1, dtype=np.int64)])
        linked = previous >= 0
        following[previous[linked]] = np.arange(start, start + len(messages))[linked]
        self.previous = np.concatenate([self.previous, previous])
        self.following = following
        self.session = np.concatenate([self.session, session])
        self.words = np.concatenate([self.words, np.array([len(m.text.split()) for m in messages], dtype=np.int64)])
        self.has_photo = np.concatenate([self.has_photo, np.array([bool(m.caption) for m in messages], dtype=bool)])
        first_person = np.array([len(_FIRST_PERSON.findall(m.text)) for m in messages], dtype=np.int64)
        self.first_person = np.concatenate([self.first_person, first_person])


@dataclass(frozen=True)
class QuestionSignals:
    """Per-turn arrays over the tenant for one question: what the features are read from.
    A mark the question does not make (it names no participant, asks for no type) is None."""

    graph: np.ndarray  # PPR x priors: the ranking being reordered
    ppr: np.ndarray  # PPR before the priors
    bm25: np.ndarray  # zeros when no question term is indexed
    coverage: np.ndarray
    asking: np.ndarray
    said_by_named: np.ndarray | None = None
    names_member: np.ndarray | None = None
    mentions_asked_type: np.ndarray | None = None
    mentions_named_entity: np.ndarray | None = None
    similarity: np.ndarray | None = None  # cosine to the question, with embeddings configured


def candidate_features(candidates: np.ndarray, signals: QuestionSignals, turns: TurnContext) -> np.ndarray:
    """The feature matrix (one row per candidate, columns `features(dense)`) of turns in graph-rank
    order; the dense columns when the signals carry a similarity."""
    best = lambda values: values / values.max() if len(values) and values.max() > 0 else values
    bm25 = best(signals.bm25)
    session_bm25 = best(np.bincount(turns.session, weights=bm25))
    before, after = turns.previous[candidates], turns.following[candidates]
    around = lambda values, at: np.where(at >= 0, values[np.maximum(at, 0)], 0.0)
    mark = lambda values: np.zeros(len(candidates)) if values is None else values[candidates].astype(float)
    graph = signals.graph[candidates]
    named = signals.said_by_named
    columns = [
        np.log(graph / graph[0] + 1e-12),
        np.log1p(np.arange(len(candidates))),
        np.log(signals.ppr[candidates] / max(signals.ppr.max(), 1e-300) + 1e-12),
        bm25[candidates], around(bm25, before), around(bm25, after),
        signals.coverage[candidates], around(signals.coverage, before), around(signals.coverage, after),
        session_bm25[turns.session[candidates]],
        mark(named), np.zeros(len(candidates)) if named is None else (~named[candidates]).astype(float),
        mark(signals.names_member), mark(signals.mentions_asked_type),
        signals.asking[candidates].astype(float), around(signals.asking.astype(float), before),
        mark(signals.mentions_named_entity),
        np.log1p(turns.words[candidates]), turns.has_photo[candidates].astype(float),
        turns.first_person[candidates].astype(float),
    ]
    if signals.similarity is not None:
        cosine = best(np.maximum(signals.similarity, 0.0))
        columns += [cosine[candidates], around(cosine, before), around(cosine, after)]
    return np.column_stack(columns).reshape(len(candidates), len(columns))


UNRECORDED_CANDIDATES = 100
"""What a model file that records no count was trained to reorder (every model before the count was recorded)."""


@dataclass(frozen=True)
class TreeEnsemble:
    """Regression trees whose summed leaf values score a candidate (higher ranks first).

    Each tree's internal nodes are numbered from 0; a child index `c < 0` is leaf `~c`; a row goes
    left when its feature is <= the node's threshold (LightGBM's numerical split).
    """

    features: tuple[str, ...]
    split_feature: np.ndarray  # (trees, nodes) feature column per internal node
    threshold: np.ndarray  # (trees, nodes)
    left: np.ndarray  # (trees, nodes)
    right: np.ndarray  # (trees, nodes)
    leaf_value: np.ndarray  # (trees, leaves)
    # How many of the graph's best turns it was trained to reorder: the engine reorders as many
    # (`SearchSettings.rerank_candidates` unset), since its features (rank, scores relative to
    # the best) mean what they meant in training only over the same span.
    candidates: int = UNRECORDED_CANDIDATES

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """The score of each row of `rows` (columns `features`), every row in every tree at once.

        QuickScorer's exit-leaf rule (Lucchese et al., SIGIR 2015) instead of walking the trees:
        number a tree's leaves left to right; a row ends in the leftmost leaf that is in the left
        subtree of no node where the row goes right. So each leaf is a bit, each node a mask that
        clears its left subtree's bits, and a row's leaf is the lowest bit left once the masks of
        the nodes it goes right at are and-ed: one comparison per node and a reduction, where the
        walk took a round of gathers per level (a quarter of a query's time).
        """
        layout = self._layout
        trees, nodes = self.split_feature.shape
        goes_right = rows[:, layout.feature] > layout.threshold  # (rows, trees x nodes)
        masks = np.where(goes_right, layout.mask, _ALL_LEAVES).reshape(len(rows), trees, nodes)
        kept = np.bitwise_and.reduce(masks, axis=2)
        exit_leaf = np.log2(kept & (~kept + np.uint64(1))).astype(np.int64)  # the lowest bit's position
        return layout.value[np.arange(trees), exit_leaf].sum(axis=1)

    @cached_property
    def _layout(self) -> _ExitLeafLayout:
        return _ExitLeafLayout.of(self)

    def to_json(self, **about: Any) -> str:
        """The model as a JSON document (plus any `about` entries: how it was trained, its scores)."""
        return json.dumps({
            **about,
            "candidates": self.candidates,
            "features": list(self.features),
            "trees": [
                {"split_feature": f.tolist(), "threshold": t.tolist(), "left": lo.tolist(), "right": r.tolist(),
                 "leaf_value": v.tolist()}
                for f, t, lo, r, v in zip(self.split_feature, self.threshold, self.left, self.right, self.leaf_value)
            ],
        }, indent=1)

    @classmethod
    def from_trees(cls, features: Sequence[str], trees: Sequence[dict[str, list]],
                   candidates: int = UNRECORDED_CANDIDATES) -> TreeEnsemble:
        """An ensemble from per-tree node lists, padded to one array per field."""
        nodes = max([len(t["split_feature"]) for t in trees] + [1])
        leaves = max([len(t["leaf_value"]) for t in trees] + [1])
        if leaves > MAX_LEAVES:
            raise ValueError(f"a tree has {leaves} leaves; at most {MAX_LEAVES} can be scored")
        pad = lambda key, width, dtype: np.array(
            [list(t[key]) + [0] * (width - len(t[key])) for t in trees], dtype=dtype
        ).reshape(len(trees), width)
        return cls(
            tuple(features), pad("split_feature", nodes, np.int64), pad("threshold", nodes, np.float64),
            pad("left", nodes, np.int64), pad("right", nodes, np.int64), pad("leaf_value", leaves, np.float64),
            candidates,
        )

    @classmethod
    def from_json(cls, text: str, source: str = "<ranker>", expected: tuple[str, ...] = FEATURES) -> TreeEnsemble:
        """Read a model written by `to_json`; a malformed one, or one over other features than
        `expected`, is a ConfigError."""
        try:
            document = json.loads(text)
            features, trees = document["features"], document["trees"]
            candidates = document.get("candidates", UNRECORDED_CANDIDATES)
            model = cls.from_trees(features, trees, candidates)
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigError(f"{source}: not a reranking model ({error})") from error
        if not isinstance(candidates, int) or isinstance(candidates, bool) or candidates < 1:
            raise ConfigError(f"{source}: candidates is {candidates!r}; it must be a whole number of turns, at least 1")
        if model.features != expected:
            raise ConfigError(f"{source}: the model's features {list(model.features)} are not graphmem's {list(expected)}")
        if len(trees) and (model.split_feature.min() < 0 or model.split_feature.max() >= len(expected)):
            raise ConfigError(f"{source}: a split names a feature column outside 0..{len(expected) - 1}")
        return model


_ALL_LEAVES = np.uint64(2**64 - 1)
MAX_LEAVES = 64
"""A tree's leaves are the bits of one unsigned 64-bit word when it is scored (`TreeEnsemble.predict`)."""


@dataclass(frozen=True)
class _ExitLeafLayout:
    """A `TreeEnsemble` as `predict` reads it: per node (tree x nodes, flat) its feature column,
    threshold (padding: +inf, never right) and the mask clearing its left subtree's leaves; per
    tree its leaf values in left-to-right order."""

    feature: np.ndarray
    threshold: np.ndarray
    mask: np.ndarray
    value: np.ndarray

    @staticmethod
    def of(model: TreeEnsemble) -> _ExitLeafLayout:
        trees, nodes = model.split_feature.shape
        mask = np.full((trees, nodes), _ALL_LEAVES, dtype=np.uint64)
        threshold = np.where(model.left != 0, model.threshold, np.inf)  # a padded slot's children are 0
        value = np.zeros(model.leaf_value.shape)
        for tree in range(trees):
            order: list[int] = []  # the tree's leaves, left to right

            def visit(child: int) -> None:
                if child < 0:
                    order.append(~child)
                    return
                first = len(order)
                visit(int(model.left[tree, child]))
                cleared = sum(1 << bit for bit in range(first, len(order)))
                mask[tree, child] = np.uint64(2**64 - 1 - cleared)
                visit(int(model.right[tree, child]))

            visit(0 if model.left[tree, 0] != 0 else ~0)  # a tree of one leaf has no node
            value[tree, : len(order)] = model.leaf_value[tree, order]
        return _ExitLeafLayout(model.split_feature.ravel(), threshold.ravel(), mask.ravel(), value)


@cache
def bundled_model(embeddings: str = "none") -> TreeEnsemble:
    """The reranking model shipped with graphmem for the engine with these embeddings ("none",
    or a model's name: each model's cosines are distributed differently), read once per process."""
    path = MODEL_PATHS[embeddings]
    return TreeEnsemble.from_json(path.read_text(), str(path), features(embeddings != "none"))
