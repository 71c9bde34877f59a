"""The query engine: lexical and entity seeds, personalized PageRank, fused by reciprocal rank.

`GroupIndex` is the in-memory projection of one tenant that queries run against. It is built
once from the store at a known write version and then kept current: appended turns extend it in
time proportional to the delta; any other write (a rewrite, a deletion, consolidation) rebuilds
it. Never per query.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Literal, get_args

import numpy as np

from graphmem.errors import ConfigError
from graphmem.models import EntityNode, EventNode, Evidence, Fact, MessageNode, RelationEdge, TimeRange
from graphmem.search.dense import DenseIndex, boosted
from graphmem.search.lexical import LexicalIndex
from graphmem.search.linking import EntityLinker
from graphmem.search.question import (
    absolute_time_constraint, asked_category_members, asked_entity_type, only_asks, without_names,
)
from graphmem.search.rerank import (
    QuestionSignals, TreeEnsemble, TurnContext, bundled_model, candidate_features, features,
)
from graphmem.search.scores import top_k
from graphmem.search.projection import (
    PPR_TOLERANCE,
    EdgeWeights,
    GraphProjection,
    build_projection,
    extend_projection,
    entity_specificity,
    personalized_pagerank,
    spread_activation,
    strongest_path,
)
from graphmem.store.base import Store, TenantDelta

Channel = Literal["bm25", "dense", "ppr", "activation"]
"""A ranking channel: BM25, embeddings, personalized PageRank or spreading activation."""
CHANNELS: tuple[Channel, ...] = get_args(Channel)

# Memory an index holds per record (GroupIndex.estimated_bytes): tracemalloc on the LoCoMo dev split
# as one tenant (2,760 turns) measured 10.7 MB of Python objects; these give 10.9 MB plus igraph's own.
BYTES_PER_MESSAGE = 1500
BYTES_PER_VERTEX = 500
BYTES_PER_EDGE = 70  # links and weights as arrays, and their walk matrix once queried
BYTES_PER_POSTING = 16


@dataclass(frozen=True)
class SearchSettings:
    """Ranking parameters; they make sense for any conversation and are tuned on the dev split."""

    # BM25 feeds PPR its seeds; fusing BM25's own ranking back in lowered recall on the dev split.
    # The full engine is the default: activation evoking scenes and persona facets for PPR beats
    # PPR alone on both dev sets once consolidated, and is PPR alone before (README, ablation).
    channels: tuple[Channel, ...] = ("ppr", "activation")
    channel_weights: dict[str, float] = field(default_factory=lambda: {"bm25": 1.0, "ppr": 1.0})
    rrf_k: int = 60
    damping: float = 0.9  # probability of walking on rather than restarting at a seed
    # PPR's push threshold per unit of degree: smaller is closer to exact PPR and slower.
    ppr_tolerance: float = PPR_TOLERANCE
    lexical_seeds: int = 80
    entity_seed_weight: float = 1.0
    candidates: int = 200
    activation_decay: float = 0.8
    activation_hops: int = 4
    activation_keep: int = 300
    activation_threshold: float = 1e-5
    # A question about one participant ("What does Melanie paint?") is mostly answered in that
    # participant's own turns: their messages' scores are multiplied by 1 + speaker_focus.
    speaker_focus: float = 0.5
    # An absolute time in the question ("in May 2023") favours turns said or dated then.
    time_focus: float = 3.0
    # A question about a category ("What pets ...", "What are her hobbies?") favours turns naming a
    # member of it (x 1 + category_focus); a turn that only asks answers nothing itself (x asking_turn).
    category_focus: float = 1.0
    asking_turn: float = 0.6
    # ... and, asking for a kind of entity ("What books ..."), turns mentioning one (x 1 + type_focus).
    type_focus: float = 0.3
    # With embeddings configured and the reranker on, the cosines enter through the reranker's
    # features only: its held-out recall was higher on both dev sets so than over a graph that also
    # used them (README); only a question that seeds the graph with nothing else (no BM25 term, no
    # entity in the tenant) is seeded by its nearest turns. Without the reranker (rerank=False, or
    # no PPR channel), the nearest messages by cosine also seed the graph channels, and each
    # message's graph score is multiplied by 1 + dense_boost x its cosine to the question (relative
    # to the best). Tuned on both dev sets: 10 seeds at 0.5 and no boost (as first wired) lowered
    # LoCoMo R@10; more seeds weighing less, plus the boost, raise R@5 and R@10 on both.
    dense_seeds: int = 20
    dense_seed_weight: float = 0.2
    dense_boost: float = 0.3
    # With both graph channels, activation enters PPR rather than being fused with it: the
    # scenes and persona facets it reaches most join the restart distribution (their activation
    # scaled so the strongest weighs activation_seed_weight x the strongest seed). Fusing the
    # two rankings (RRF) lowered recall on both dev sets.
    activation_seeds: int = 50
    activation_seed_weight: float = 0.2
    # A question asking for a kind of thing ("Which cities ...", "What books ...") also seeds the
    # entities of that type, each by specificity x type_seed_weight / sqrt(how many there are).
    type_seed_weight: float = 0.3
    # The graph's best `rerank_candidates` are reordered by the learned reranker (`rerank.py`):
    # trained on both dev sets, it raised R@10 on each conversation held out of its training (README).
    # None: as many as the model was trained to reorder (100; all 200 of `candidates` with MiniLM,
    # whose cosines lift evidence the graph ranks lower).
    rerank: bool = True
    rerank_candidates: int | None = None

    def __post_init__(self) -> None:
        unknown = [c for c in self.channels if c not in CHANNELS]
        if unknown or not self.channels:
            raise ConfigError(f"unknown ranking channel(s) {unknown}; choose from {', '.join(CHANNELS)}")
        if self.rerank_candidates is not None and self.rerank_candidates < 1:
            raise ConfigError(f"rerank_candidates is {self.rerank_candidates}; rerank at least 1 turn, or leave it unset")


@dataclass
class GroupIndex:
    """Everything queries on one tenant read: derived from the store at a known write version
    (`version`), then kept current by applying the store's deltas (`apply`)."""

    group_id: str
    weights: EdgeWeights
    messages: list[MessageNode]  # in write order (the order the store's deltas come in)
    lexical: LexicalIndex
    dense: DenseIndex | None  # only with embeddings configured
    linker: EntityLinker
    entities: dict[str, EntityNode]
    projection: GraphProjection
    relations: list[RelationEdge]
    relations_by_message: dict[str, list[RelationEdge]]
    source_ids: dict[str, str]  # message id -> the id its input gave it
    positions: dict[str, int]  # message id -> its place in `messages`
    message_speakers: np.ndarray  # speaker entity id of messages[i]
    speaker_ids: set[str]
    message_days: np.ndarray  # day ordinal each message was said
    stated_days: dict[str, list[tuple[int, int]]]  # message id -> day spans its events/facts are dated to
    captions: dict[str, str]  # projection vertex key -> how an explanation names it (messages: `caption`)
    version: int = 0  # the tenant's write version this index reflects
    relation_positions: dict[str, int] = field(default_factory=dict)  # relation id -> its place in `relations`
    text_bytes: int = 0  # characters of message text held, for the size estimate
    asking: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # see `asking_turns`
    turns: TurnContext = field(default_factory=TurnContext)  # see `turn_context`

    @classmethod
    def build(
        cls, store: Store, group_id: str, weights: EdgeWeights = EdgeWeights(), embeddings: str = "none",
        embedded: tuple[Sequence[MessageNode], DenseIndex] | None = None,
    ) -> GroupIndex:
        """Read the tenant from the store and build every structure from scratch, except the
        embeddings of texts `embedded` (messages and their vectors, from an outdated index of the
        tenant or its snapshot) already holds: see `DenseIndex.build`."""
        with collector_paused():
            return cls._built(store, group_id, weights, embeddings, embedded)

    @classmethod
    def _built(
        cls, store: Store, group_id: str, weights: EdgeWeights, embeddings: str,
        embedded: tuple[Sequence[MessageNode], DenseIndex] | None,
    ) -> GroupIndex:
        delta = store.changes(group_id)
        scenes, personas = store.scenes(group_id), store.personas(group_id)
        messages, entities, events, relations = delta.messages, delta.entities, delta.events, delta.relations
        projection = build_projection(messages, entities, delta.mentions, events, relations, weights, scenes, personas)
        captions = _captions(entities, events, relations)
        captions.update({f"scene:{s.id}": f"scene «{s.label}»" for s in scenes})
        captions.update({f"facet:{f.id}": f"{p.name}'s side «{f.label}»" for p in personas for f in p.facets})
        return cls.from_parts(
            group_id, weights, list(messages), LexicalIndex(messages),
            DenseIndex.build(messages, embeddings, embedded) if embeddings != "none" else None,
            entities, projection, list(relations), _stated_days(events, relations), captions, delta.version.version,
        )

    @classmethod
    def from_parts(
        cls, group_id: str, weights: EdgeWeights, messages: list[MessageNode], lexical: LexicalIndex,
        dense: DenseIndex | None, entities: Sequence[EntityNode], projection: GraphProjection,
        relations: list[RelationEdge], stated_days: dict[str, list[tuple[int, int]]], captions: dict[str, str],
        version: int,
    ) -> GroupIndex:
        """An index of these parts (built, or restored from a snapshot), with the maps derived from them."""
        by_message: dict[str, list[RelationEdge]] = {}
        for relation in relations:
            by_message.setdefault(relation.message_id, []).append(relation)
        return cls(
            group_id=group_id,
            weights=weights,
            messages=messages,
            lexical=lexical,
            dense=dense,
            linker=EntityLinker(entities),
            entities={e.id: e for e in entities},
            projection=projection,
            relations=relations,
            relations_by_message=by_message,
            source_ids={m.id: m.source_id for m in messages},
            positions={m.id: i for i, m in enumerate(messages)},
            message_speakers=np.array([m.speaker_id for m in messages], dtype=object),
            speaker_ids={m.speaker_id for m in messages},
            message_days=np.array([m.ts.toordinal() for m in messages], dtype=np.int64),
            stated_days=stated_days,
            captions=captions,
            version=version,
            relation_positions={r.id: i for i, r in enumerate(relations)},
            text_bytes=sum(len(m.text) for m in messages),
        )

    def apply(self, delta: TenantDelta) -> None:
        """Bring this index to the delta's version in place, in time proportional to the delta.

        The delta must be an append since this index's version (`TenantVersion.needs_rebuild`
        false): new turns after the stored ones, their mentions, events and facts, and entities
        and relations that changed (merged aliases, a superseded fact). Applying a record already
        held is harmless, and so is a record of a later write whose message is not in the delta
        yet: it is left for the next delta, which reads from this index's version on.
        """
        new = [m for m in delta.messages if m.id not in self.positions]
        new_ids = {m.id for m in new}
        mentions = [x for x in delta.mentions if x.message_id in new_ids]
        events = [e for e in delta.events if e.message_id in new_ids]
        added: list[RelationEdge] = []
        for relation in delta.relations:
            if relation.id in self.relation_positions:
                self._replace_relation(relation)
            elif relation.message_id in new_ids or relation.message_id in self.positions:
                added.append(relation)
        self.entities.update({e.id: e for e in delta.entities})
        self.linker.add(delta.entities)
        extend_projection(self.projection, new, [e.id for e in delta.entities], mentions, events, added, self.weights)
        start = len(self.messages)
        self.messages.extend(new)
        self.lexical.add(new)
        if self.dense is not None:
            self.dense = self.dense.appended(new)
        for offset, message in enumerate(new):
            self.positions[message.id] = start + offset
            self.source_ids[message.id] = message.source_id
        self.message_speakers = np.concatenate([self.message_speakers, np.array([m.speaker_id for m in new], dtype=object)])
        self.speaker_ids.update(m.speaker_id for m in new)
        self.message_days = np.concatenate([self.message_days, np.array([m.ts.toordinal() for m in new], dtype=np.int64)])
        for relation in added:
            self.relation_positions[relation.id] = len(self.relations)
            self.relations.append(relation)
            self.relations_by_message.setdefault(relation.message_id, []).append(relation)
        for message_id, spans in _stated_days(events, added).items():
            self.stated_days.setdefault(message_id, []).extend(spans)
        self.captions.update(_captions(delta.entities, events, added))
        self.text_bytes += sum(len(m.text) for m in new)
        self.version = max(self.version, delta.version.version)

    def _replace_relation(self, relation: RelationEdge) -> None:
        """A held relation as a later write left it (superseded, or observed earlier)."""
        position = self.relation_positions[relation.id]
        old = self.relations[position]
        self.relations[position] = relation
        siblings = self.relations_by_message.get(old.message_id, [])
        self.relations_by_message[old.message_id] = [r for r in siblings if r.id != relation.id]
        self.relations_by_message.setdefault(relation.message_id, []).append(relation)

    def message(self, message_id: str) -> MessageNode | None:
        """The held message with this id, or None (not stored, or written after this index's version)."""
        position = self.positions.get(message_id)
        return self.messages[position] if position is not None else None

    def caption(self, key: str) -> str:
        """How an explanation names the projection vertex `key` (a message by its turn)."""
        message = self.message(key)
        if message is not None:
            return f"{message.source_id} {message.speaker}: {_clip(message.text)}"
        return self.captions.get(key, key)

    def estimated_bytes(self) -> int:
        """About how much memory this index holds, for the cache budget (`Config.index_cache_mb`).

        Per-record costs measured with tracemalloc on LoCoMo tenants (message objects and maps,
        vertices with their keys and captions, edges, postings), plus the text itself and the arrays
        whose size is known exactly: the embeddings (1 KB a message with wordllama, 1.5 KB with
        MiniLM) and what the first query adds for the reranker.
        """
        return (
            BYTES_PER_MESSAGE * len(self.messages)
            + BYTES_PER_VERTEX * self.projection.size
            + BYTES_PER_EDGE * self.projection.link_count
            + BYTES_PER_POSTING * self.lexical.postings
            + 2 * self.text_bytes
            + (self.dense.vectors.nbytes if self.dense is not None else 0)
            + self.turns.nbytes
            + self.asking.nbytes
        )

    def asking_turns(self) -> np.ndarray:
        """Per message, whether it only asks (`only_asks`); worked out on first query, and for
        appended messages on the first query after them."""
        if len(self.asking) < len(self.messages):
            new = [only_asks(m.text) for m in self.messages[len(self.asking):]]
            self.asking = np.concatenate([self.asking, np.array(new, dtype=bool)])
        return self.asking

    def turn_context(self) -> TurnContext:
        """Where each message sits in its session (for the reranker); grown on the first query after appends."""
        if len(self.turns) < len(self.messages):
            self.turns.extend(self.messages[len(self.turns):])
        return self.turns

    def fact(self, relation: RelationEdge) -> Fact:
        """A relation with its entities' names and its source message's id."""
        source = self.source_ids.get(relation.message_id, relation.message_id)
        return Fact(
            id=relation.id, subject=self._name(relation.subject_id), predicate=relation.predicate,
            object=self._name(relation.object_id), text=relation.fact, source_id=source,
            observed_at=relation.observed_at, valid_from=relation.valid_from, valid_to=relation.valid_to,
            precision=relation.precision, expired_at=relation.expired_at, superseded_by=relation.superseded_by,
        )

    def _name(self, entity_id: str) -> str:
        entity = self.entities.get(entity_id)
        return entity.name if entity else entity_id



@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a while (if it was on).

    A build (or a snapshot's restore) allocates a few million objects (records, keys, postings) and frees almost none;
    each of the collector's full passes meanwhile walks every live object, so on a 100k-message
    tenant they took a third of the build. What the build makes is collected as usual afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def search(
    index: GroupIndex,
    query: str,
    k: int = 10,
    settings: SearchSettings = SearchSettings(),
    *,
    known_at: datetime | None = None,
    explain: bool = False,
) -> list[Evidence]:
    """Rank messages for a question by fusing the configured channels.

    With `known_at` (memory time), only what the memory knew at that moment is returned:
    messages said by then, and the facts it held then (superseded later or not).
    """
    if k <= 0 or not index.messages:
        return []
    ranked = _channel_rankings(index, query, settings, with_signals=settings.rerank)
    rankings = ranked.rankings
    if settings.rerank and ranked.signals is not None and rankings.get("ppr"):
        rankings["ppr"] = _reranked(index, rankings["ppr"], ranked.signals, settings)
    fused = _reciprocal_rank_fusion(rankings, settings)
    if known_at is not None:
        fused = [(i, score) for i, score in fused if index.messages[i].ts <= known_at]
    why = _explanations(rankings, ranked.linked)
    held = (lambda r: r.known_at(known_at)) if known_at is not None else (lambda r: r.current)
    return [
        _evidence(
            index.messages[i], score, why.get(i, ()),
            tuple(index.fact(r) for r in index.relations_by_message.get(index.messages[i].id, ()) if held(r)),
            _path(index, ranked.seeds, i) if explain else (),
        )
        for i, score in fused[:k]
    ]


def rerank_features(
    index: GroupIndex, query: str, settings: SearchSettings = SearchSettings()
) -> tuple[np.ndarray, np.ndarray]:
    """The graph's best `rerank_candidates` turns for a question (positions in `index.messages`, best
    first) and their reranking features (`rerank.features`): what the reranker is trained on."""
    ranked = _channel_rankings(index, query, settings, with_signals=True)
    if ranked.signals is None or not ranked.rankings.get("ppr"):
        return np.zeros(0, dtype=np.int64), np.zeros((0, len(features(index.dense is not None))))
    return _head_features(index, ranked.rankings["ppr"], ranked.signals, _rerank_count(index, settings))


def _head_features(
    index: GroupIndex, ranking: list[tuple[int, float]], signals: QuestionSignals, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """The best `count` of a graph ranking (positions) and their reranking features."""
    candidates = np.array([i for i, _ in ranking[:count]], dtype=np.int64)
    return candidates, candidate_features(candidates, signals, index.turn_context())


@dataclass(frozen=True)
class _Ranked:
    """What the channels made of a question: the entities it names, PPR's seeds, each channel's
    ranking, and (when PPR ran and they were asked for) the per-turn signals the reranker reads."""

    linked: Sequence[EntityNode]
    seeds: dict[int, float]
    rankings: dict[str, list[tuple[int, float]]]
    signals: QuestionSignals | None


def _channel_rankings(index: GroupIndex, query: str, settings: SearchSettings, *, with_signals: bool) -> _Ranked:
    cosines = _Cosines(index, query, settings.candidates)  # first: the encoding overlaps all that follows
    linked = index.linker.link(query)
    lexical_query = _lexical_query(query, linked, index, settings)
    bm25 = index.lexical.scores(lexical_query)
    lexical = top_k(bm25, settings.candidates) if bm25 is not None else []
    rankings: dict[str, list[tuple[int, float]]] = {}
    if "bm25" in settings.channels:
        rankings["bm25"] = lexical
    if "dense" in settings.channels:
        rankings["dense"] = cosines.nearest
    reranked = settings.rerank and "ppr" in settings.channels
    # With the reranker, the cosines enter through its features only, read after the graph's walk.
    graph_similarity = None if reranked else cosines.values()
    seeds = _seeds(index, lexical, [] if reranked else cosines.nearest, linked, settings)
    if reranked and not seeds:  # nothing in the question reaches the graph but its meaning: its nearest turns do
        seeds = _seeds(index, lexical, cosines.nearest, linked, settings)
    projection = index.projection
    asked = asked_entity_type(query)
    typed = _typed_entities(index, asked) if asked is not None else []  # for the seeds and the prior
    _add_type_seeds(index, seeds, typed, settings)
    marks = _question_marks(index, linked, absolute_time_constraint(query), typed, asked_category_members(query))
    prior = _prior(marks, settings)
    activation = None
    into_ppr = "ppr" in settings.channels
    # Into PPR, activation only adds the scenes and facets it evokes: none before consolidation.
    if "activation" in settings.channels and seeds and (not into_ppr or len(projection.consolidated_vertices)):
        activation = spread_activation(
            projection, seeds, decay=settings.activation_decay, hops=settings.activation_hops,
            keep=settings.activation_keep, threshold=settings.activation_threshold,
        )
    into_ppr = into_ppr and activation is not None
    signals = None
    if "ppr" in settings.channels and seeds:
        restart = with_activated(projection, seeds, activation, settings) if into_ppr else seeds
        scores = personalized_pagerank(projection, restart, settings.damping, settings.ppr_tolerance)
        scores = scores[projection.message_vertices]
        weighed = _weighed(scores, prior, graph_similarity, settings)
        rankings["ppr"] = top_k(weighed, settings.candidates)
        if with_signals:
            signals = _signals(index, lexical_query, linked, marks, scores, weighed, bm25, cosines.values())
    if activation is not None and not into_ppr:
        scores = activation[projection.message_vertices]
        rankings["activation"] = top_k(_weighed(scores, prior, graph_similarity, settings), settings.candidates)
    return _Ranked(linked, seeds, rankings, signals)


class _Cosines:
    """Every turn's cosine to the question, when embeddings are configured (else None), and the
    `k` nearest turns.

    The question's encoding starts when this is made and runs beside the graph's work
    (`DenseIndex.similarities_soon`); `values` waits for it. The sentence model reads the
    question without the participants' names."""

    def __init__(self, index: GroupIndex, query: str, k: int):
        dense = index.dense
        self._pending = dense.similarities_soon(without_names(query, _participant_names(index))) if dense else None
        self._k = k

    def values(self) -> np.ndarray | None:
        return self._pending.result() if self._pending is not None else None

    @cached_property
    def nearest(self) -> list[tuple[int, float]]:
        similarity = self.values()
        return top_k(similarity, self._k) if similarity is not None else []


def _participant_names(index: GroupIndex) -> list[str]:
    """The names the tenant's participants are called by: their entities' names and aliases."""
    entities = (index.entities.get(speaker) for speaker in index.speaker_ids)
    return [name for entity in entities if entity is not None for name in (entity.name, *entity.aliases)]


def _signals(
    index: GroupIndex, lexical_query: str, linked: Sequence[EntityNode], marks: _Marks,
    ppr: np.ndarray, weighed: np.ndarray, bm25: np.ndarray | None, similarity: np.ndarray | None,
) -> QuestionSignals:
    """The per-turn arrays the reranker's features are read from."""
    empty = np.zeros(len(index.messages))
    coverage = index.lexical.coverage(lexical_query)
    named = [e.id for e in linked if e.id not in index.speaker_ids and e.id in index.projection.entity_vertices]
    return QuestionSignals(
        graph=weighed, ppr=ppr, bm25=empty if bm25 is None else bm25, coverage=empty if coverage is None else coverage,
        asking=marks.asking, said_by_named=marks.own, names_member=marks.members, mentions_asked_type=marks.typed,
        mentions_named_entity=_mentioning(index, named) if named else None, similarity=similarity,
    )


def _reranked(
    index: GroupIndex, ranking: list[tuple[int, float]], signals: QuestionSignals, settings: SearchSettings
) -> list[tuple[int, float]]:
    """The graph ranking with its best `rerank_candidates` reordered by the reranking model.

    Their scores become exp(model score - the best's), so the best is 1 as before; the turns after
    them keep their order, scaled to stay below the last reranked one."""
    count = _rerank_count(index, settings)
    head, tail = ranking[:count], ranking[count:]
    candidates, rows = _head_features(index, ranking, signals, count)
    scores = _reranker(index).predict(rows)
    order = np.argsort(-scores, kind="stable")
    relative = np.exp(scores[order] - scores[order[0]])
    reranked = [(int(candidates[j]), float(value)) for j, value in zip(order, relative)]
    if tail:
        scale = reranked[-1][1] / head[-1][1]
        reranked += [(i, score * scale) for i, score in tail]
    return reranked


def _reranker(index: GroupIndex) -> TreeEnsemble:
    """The shipped reranking model for the index's embeddings."""
    return bundled_model(index.dense.model if index.dense is not None else "none")


def _rerank_count(index: GroupIndex, settings: SearchSettings) -> int:
    """How many of the graph's best turns are reranked: as set, or as many as the model was trained on."""
    return settings.rerank_candidates or _reranker(index).candidates


def _path(index: GroupIndex, seeds: dict[int, float], message: int) -> tuple[str, ...]:
    """How the question reached a message, seed first, each step captioned."""
    projection = index.projection
    target = int(projection.message_vertices[message])
    steps = strongest_path(projection, sorted(seeds), target)
    captions = [index.caption(projection.keys[v]) for v in steps]
    if not captions:
        return ()
    first = projection.keys[steps[0]]
    origin = "BM25 hit" if first in index.source_ids else "question names"
    return (f"{origin} {captions[0]}", *captions[1:])


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _seeds(
    index: GroupIndex,
    lexical: list[tuple[int, float]],
    dense: list[tuple[int, float]],
    linked: Sequence[EntityNode],
    settings: SearchSettings,
) -> dict[int, float]:
    """Restart weights for the graph channels: top BM25 (and dense) messages, scaled to the best
    hit of their channel, and linked entities by specificity."""
    projection = index.projection
    seeds: dict[int, float] = {}
    for hits, count, weight in ((lexical, settings.lexical_seeds, 1.0),
                                (dense, settings.dense_seeds, settings.dense_seed_weight)):
        for i, score in hits[:count]:
            vertex = int(projection.message_vertices[i])
            seeds[vertex] = seeds.get(vertex, 0.0) + weight * score / hits[0][1]
    for entity in linked:
        vertex = projection.entity_vertices.get(entity.id)
        if vertex is not None:
            weight = settings.entity_seed_weight * entity_specificity(projection, entity.id, len(index.messages))
            seeds[vertex] = seeds.get(vertex, 0.0) + weight
    return seeds


def with_activated(
    projection: GraphProjection, seeds: dict[int, float], activation: np.ndarray, settings: SearchSettings
) -> dict[int, float]:
    """The seeds plus the scenes and persona facets activation reaches most, weighted by their
    activation: how spreading activation enters personalized PageRank.

    Activation spreads over the whole graph, but only the structures consolidation found join the
    restart: the question evokes scenes and sides of a person, and PPR then pulls in their turns.
    Letting the facts and events it reaches in as well lowered recall on REALTALK dev (README).
    """
    structure = np.zeros_like(activation)
    evoked = projection.consolidated_vertices
    structure[evoked] = activation[evoked]
    structure[list(seeds)] = 0.0
    top = top_k(structure, settings.activation_seeds)
    if not top:
        return seeds
    scale = max(seeds.values()) * settings.activation_seed_weight / top[0][1]
    added = dict(seeds)
    for vertex, value in top:
        added[vertex] = added.get(vertex, 0.0) + scale * value
    return added


def _lexical_query(query: str, linked: Sequence[EntityNode], index: GroupIndex, settings: SearchSettings) -> str:
    """The question as BM25 reads it: a participant named by another name they go by ("Kate")
    is written as their speaker name, which prefixes their messages in the index."""
    for entity in linked:
        if entity.id in index.speaker_ids:
            for name in entity.aliases:
                query = re.sub(rf"\b{re.escape(name)}\b", entity.name, query, flags=re.IGNORECASE)
    return query


def _add_type_seeds(index: GroupIndex, seeds: dict[int, float], typed: Sequence[str], settings: SearchSettings) -> None:
    """Seed the entities of the type a question asks for (`typed`, see `_typed_entities`), the rare ones more."""
    if not typed or settings.type_seed_weight <= 0:
        return
    projection = index.projection
    scale = settings.type_seed_weight / max(1.0, len(typed)) ** 0.5
    for entity_id in typed:
        vertex = projection.entity_vertices[entity_id]
        seeds[vertex] = seeds.get(vertex, 0.0) + scale * entity_specificity(projection, entity_id, len(index.messages))


def _typed_entities(index: GroupIndex, asked: str) -> list[str]:
    """The ids of the tenant's entities of type `asked` that are in the graph."""
    return [e.id for e in index.entities.values() if e.type == asked and e.id in index.projection.entity_vertices]


def _mentioning(index: GroupIndex, entity_ids: Sequence[str]) -> np.ndarray:
    """Per message, whether it is linked to one of these entities in the graph (mentions it)."""
    projection, walk = index.projection, index.projection.walk
    linked = np.zeros(projection.size, dtype=bool)
    for entity_id in entity_ids:
        vertex = projection.entity_vertices[entity_id]
        linked[walk.neighbours[walk.indptr[vertex] : walk.indptr[vertex + 1]]] = True
    return linked[projection.message_vertices]


@dataclass(frozen=True)
class _Marks:
    """Per-turn marks from what the question constrains (None: it does not constrain that)."""

    own: np.ndarray | None  # said by the one participant it names
    in_time: np.ndarray | None  # said, or stating something dated, in its absolute time
    members: np.ndarray | None  # naming a member of a category it asks about
    typed: np.ndarray | None  # mentioning an entity of the type it asks for
    asking: np.ndarray  # turns that only ask, whatever the question


def _question_marks(
    index: GroupIndex,
    linked: Sequence[EntityNode],
    when: TimeRange | None,
    typed: Sequence[str],
    members: Sequence[str],
) -> _Marks:
    about = [e.id for e in linked if e.id in index.speaker_ids]
    inside = None
    if when is not None:
        start, end = when.start.toordinal(), when.end.toordinal()
        inside = (index.message_days >= start) & (index.message_days <= end)
        for message_id, spans in index.stated_days.items():
            if message_id in index.positions and any(first <= end and start <= last for first, last in spans):
                inside[index.positions[message_id]] = True
    named = index.lexical.scores(" ".join(members)) if members else None
    return _Marks(
        own=index.message_speakers == about[0] if len(about) == 1 else None,
        in_time=inside,
        members=named > 0 if named is not None else None,
        typed=_mentioning(index, typed) if typed else None,
        asking=index.asking_turns(),
    )


def _prior(marks: _Marks, settings: SearchSettings) -> np.ndarray | None:
    """Per-message score multipliers from the question's marks, or None when they change nothing.

    - the one participant it names: their own turns (x 1 + speaker_focus);
    - an absolute time ("in May 2023"): turns said then, or stating something dated then
      (x 1 + time_focus);
    - a category it asks about: turns naming one of its members (x 1 + category_focus), and
      turns mentioning an entity of the type it asks for (x 1 + type_focus);
    - turns that only ask (x asking_turn), whatever the question.
    """
    prior = np.ones(len(marks.asking))
    for mark, factor in ((marks.own, 1.0 + settings.speaker_focus), (marks.in_time, 1.0 + settings.time_focus),
                         (marks.members, 1.0 + settings.category_focus), (marks.typed, 1.0 + settings.type_focus)):
        if mark is not None and factor != 1.0:
            prior *= np.where(mark, factor, 1.0)
    if settings.asking_turn != 1.0:
        prior *= np.where(marks.asking, settings.asking_turn, 1.0)
    return None if np.all(prior == 1.0) else prior


def _weighed(
    scores: np.ndarray, prior: np.ndarray | None, similarity: np.ndarray | None, settings: SearchSettings
) -> np.ndarray:
    """A graph channel's message scores times the question's prior and, with embeddings, the dense boost."""
    if prior is not None:
        scores = scores * prior
    if similarity is not None:
        scores = boosted(scores, similarity, settings.dense_boost)
    return scores


def _stated_days(events: Sequence[EventNode], relations: Sequence[RelationEdge]) -> dict[str, list[tuple[int, int]]]:
    """Message id -> the day spans (ordinals) the events and facts it states are dated to."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for event in events:
        if event.ts_start is not None:
            end = event.ts_end or event.ts_start
            spans.setdefault(event.message_id, []).append((event.ts_start.toordinal(), end.toordinal()))
    for relation in relations:
        if relation.valid_from is not None:
            day = relation.valid_from.toordinal()
            spans.setdefault(relation.message_id, []).append((day, day))
    return spans


def _captions(entities, events, relations) -> dict[str, str]:
    """How explanations name projection vertices other than messages (`GroupIndex.caption`)."""
    return {
        **{e.id: e.name for e in entities},
        **{f"event:{e.id}": f"event «{_clip(e.summary)}»" for e in events},
        **{f"fact:{r.id}": f"fact «{_clip(r.fact)}»" for r in relations},
    }


def _reciprocal_rank_fusion(rankings: dict[str, list[tuple[int, float]]], settings: SearchSettings) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion of the channels' rankings.

    A single channel needs no fusion: its own scores, scaled so the best hit is 1, are kept, so
    a score says how close a hit came to the best one.
    """
    if len(rankings) == 1:
        (ranking,) = rankings.values()
        top = ranking[0][1] if ranking else 1.0
        return [(i, score / top) for i, score in ranking]
    fused: dict[int, float] = {}
    for channel, ranking in rankings.items():
        weight = settings.channel_weights.get(channel, 1.0)
        for rank, (i, _score) in enumerate(ranking):
            fused[i] = fused.get(i, 0.0) + weight / (settings.rrf_k + rank + 1)
    return sorted(fused.items(), key=lambda p: (-p[1], p[0]))


def _explanations(rankings: dict[str, list[tuple[int, float]]], linked: Sequence[EntityNode]) -> dict[int, tuple[str, ...]]:
    why: dict[int, list[str]] = {}
    for channel, ranking in rankings.items():
        for rank, (i, score) in enumerate(ranking[:50]):
            why.setdefault(i, []).append(f"{channel} #{rank + 1} ({score:.3g})")
    if linked:
        names = ", ".join(e.name for e in linked)
        for reasons in why.values():
            reasons.append(f"question names {names}")
    return {i: tuple(r) for i, r in why.items()}


def _evidence(
    message: MessageNode, score: float, why: tuple[str, ...], facts: tuple[Fact, ...], path: tuple[str, ...]
) -> Evidence:
    return Evidence(
        message_id=message.id,
        source_id=message.source_id,
        conversation_id=message.conversation_id,
        speaker=message.speaker,
        text=message.text,
        ts=message.ts,
        score=round(score, 6),
        why=why,
        facts=facts,
        path=path,
    )
