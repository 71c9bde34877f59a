"""The query engine: lexical and entity seeds, personalized PageRank, fused by reciprocal rank.

`GroupIndex` is the in-memory projection of one tenant that queries run against; it is built
once from the store and rebuilt only after that tenant is written to, never per query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from graphmem.models import EntityNode, EventNode, Evidence, Fact, GraphBatch, MessageNode, RelationEdge, TimeRange
from graphmem.search.dense import DenseIndex
from graphmem.search.lexical import LexicalIndex
from graphmem.search.linking import EntityLinker
from graphmem.search.question import absolute_time_constraint
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
from graphmem.store.base import Store

CHANNELS = ("bm25", "dense", "ppr", "activation")


@dataclass(frozen=True)
class SearchSettings:
    """Ranking parameters; they make sense for any conversation and are tuned on the dev split."""

    # BM25 feeds PPR its seeds; fusing BM25's own ranking back in lowered recall on the dev split.
    channels: tuple[str, ...] = ("ppr",)
    channel_weights: dict[str, float] = field(default_factory=lambda: {"bm25": 1.0, "ppr": 1.0})
    rrf_k: int = 60
    damping: float = 0.9  # probability of walking on rather than restarting at a seed
    # PPR's push threshold per unit of degree: smaller is closer to exact PPR and slower.
    ppr_tolerance: float = PPR_TOLERANCE
    lexical_seeds: int = 40
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
    # With embeddings configured, the nearest messages by cosine also seed the graph channels.
    dense_seeds: int = 10
    dense_seed_weight: float = 0.5

    def __post_init__(self) -> None:
        unknown = [c for c in self.channels if c not in CHANNELS]
        if unknown or not self.channels:
            raise ValueError(f"unknown ranking channel(s) {unknown}; choose from {', '.join(CHANNELS)}")


@dataclass
class GroupIndex:
    """Everything queries on one tenant read, derived from the store once and then kept current."""

    group_id: str
    weights: EdgeWeights
    messages: list[MessageNode]
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
    speaker_ids: frozenset[str]
    message_days: np.ndarray  # day ordinal each message was said
    stated_days: dict[str, list[tuple[int, int]]]  # message id -> day spans its events/facts are dated to
    captions: dict[str, str]  # projection vertex key -> how an explanation names it

    @classmethod
    def build(
        cls, store: Store, group_id: str, weights: EdgeWeights = EdgeWeights(), embeddings: str = "none"
    ) -> GroupIndex:
        """Read the tenant from the store and build every structure from scratch."""
        messages = store.messages(group_id)
        entities = store.entities(group_id)
        relations = store.relations(group_id)
        events = store.events(group_id)
        scenes = store.scenes(group_id)
        projection = build_projection(messages, entities, store.mentions(group_id), events, relations, weights, scenes)
        captions = _captions(messages, entities, events, relations)
        captions.update({f"scene:{s.id}": f"scene «{s.label}»" for s in scenes})
        dense = DenseIndex.build(messages) if embeddings == "wordllama" else None
        return cls._assemble(group_id, weights, messages, entities, relations, projection, captions,
                             _stated_days(events, relations), dense)

    def extended(self, store: Store, batch: GraphBatch) -> GroupIndex:
        """This index with a freshly written batch added: the graph grows in place, never rebuilt.

        Falls back to `build` when the batch rewrites stored messages or puts a turn before
        stored turns of its conversation (turn adjacency would change, not just grow).
        """
        last_seq: dict[str, int] = {}
        for message in self.messages:
            last_seq[message.conversation_id] = max(last_seq.get(message.conversation_id, -1), message.seq)
        new = [m for m in batch.messages if m.id not in self.source_ids]
        embeddings = "wordllama" if self.dense is not None else "none"
        if len(new) != len(batch.messages) or any(m.seq <= last_seq.get(m.conversation_id, -1) for m in new):
            return GroupIndex.build(store, self.group_id, self.weights, embeddings)
        messages = sorted([*self.messages, *new], key=lambda m: (m.conversation_id, m.seq))
        entities = store.entities(self.group_id)  # the store merged aliases and refined types
        relations = store.relations(self.group_id)  # supersession may have closed stored ones
        known = {r.id for r in self.relations}
        added = [r for r in relations if r.id not in known]
        projection = extend_projection(
            self.projection, messages, [e.id for e in entities], new, batch.mentions, batch.events, added, self.weights
        )
        captions = {**self.captions, **_captions(new, entities, batch.events, added)}
        stated = {**self.stated_days, **_stated_days(batch.events, added)}
        dense = self.dense.extended([m.id for m in self.messages], messages) if self.dense is not None else None
        return GroupIndex._assemble(self.group_id, self.weights, messages, entities, relations, projection, captions,
                                    stated, dense)

    @classmethod
    def _assemble(
        cls, group_id, weights, messages, entities, relations, projection, captions, stated, dense
    ) -> GroupIndex:
        by_message: dict[str, list[RelationEdge]] = {}
        for relation in relations:
            by_message.setdefault(relation.message_id, []).append(relation)
        return cls(
            group_id=group_id,
            weights=weights,
            messages=messages,
            lexical=LexicalIndex(messages),
            dense=dense,
            linker=EntityLinker(entities),
            entities={e.id: e for e in entities},
            projection=projection,
            relations=relations,
            relations_by_message=by_message,
            source_ids={m.id: m.source_id for m in messages},
            positions={m.id: i for i, m in enumerate(messages)},
            message_speakers=np.array([m.speaker_id for m in messages], dtype=object),
            speaker_ids=frozenset(m.speaker_id for m in messages),
            message_days=np.array([m.ts.toordinal() for m in messages], dtype=np.int64),
            stated_days=stated,
            captions=captions,
        )

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



def search(
    index: GroupIndex,
    query: str,
    k: int = 10,
    settings: SearchSettings = SearchSettings(),
    *,
    as_of: datetime | None = None,
    explain: bool = False,
) -> list[Evidence]:
    """Rank messages for a question by fusing the configured channels.

    With `as_of`, only what the memory knew at that time is returned: messages said by then,
    and the facts it held then (superseded later or not).
    """
    if k <= 0 or not index.messages:
        return []
    lexical = index.lexical.search(query, settings.candidates)
    dense = index.dense.search(query, settings.candidates) if index.dense is not None else []
    linked = index.linker.link(query)
    rankings: dict[str, list[tuple[int, float]]] = {}
    if "bm25" in settings.channels:
        rankings["bm25"] = lexical
    if "dense" in settings.channels:
        rankings["dense"] = dense
    seeds = _seeds(index, lexical, dense, linked, settings)
    projection = index.projection
    prior = _prior(index, linked, absolute_time_constraint(query), settings)
    if "ppr" in settings.channels and seeds:
        scores = personalized_pagerank(projection, seeds, settings.damping, settings.ppr_tolerance)
        scores = scores[projection.message_vertices]
        rankings["ppr"] = _top_messages(scores if prior is None else scores * prior, settings.candidates)
    if "activation" in settings.channels and seeds:
        scores = spread_activation(
            projection, seeds, decay=settings.activation_decay, hops=settings.activation_hops,
            keep=settings.activation_keep, threshold=settings.activation_threshold,
        )[projection.message_vertices]
        rankings["activation"] = _top_messages(scores if prior is None else scores * prior, settings.candidates)
    fused = _reciprocal_rank_fusion(rankings, settings)
    if as_of is not None:
        fused = [(i, score) for i, score in fused if index.messages[i].ts <= as_of]
    why = _explanations(rankings, linked)
    held = (lambda r: r.known_at(as_of)) if as_of is not None else (lambda r: r.current)
    return [
        _evidence(
            index.messages[i], score, why.get(i, ()),
            tuple(index.fact(r) for r in index.relations_by_message.get(index.messages[i].id, ()) if held(r)),
            _path(index, seeds, i) if explain else (),
        )
        for i, score in fused[:k]
    ]


def _path(index: GroupIndex, seeds: dict[int, float], message: int) -> tuple[str, ...]:
    """How the question reached a message, seed first, each step captioned."""
    projection = index.projection
    target = int(projection.message_vertices[message])
    steps = strongest_path(projection, sorted(seeds), target)
    captions = [index.captions.get(projection.keys[v], projection.keys[v]) for v in steps]
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


def _top_messages(scores: np.ndarray, count: int) -> list[tuple[int, float]]:
    count = min(count, len(scores))
    top = np.argpartition(-scores, count - 1)[:count]
    return sorted(((int(i), float(scores[i])) for i in top if scores[i] > 0), key=lambda p: (-p[1], p[0]))


def _prior(
    index: GroupIndex, linked: Sequence[EntityNode], when: TimeRange | None, settings: SearchSettings
) -> np.ndarray | None:
    """Per-message score multipliers from what the question constrains, or None when it constrains nothing.

    - the one participant it names: their own turns (x 1 + speaker_focus);
    - an absolute time ("in May 2023"): turns said then, or stating something dated then
      (x 1 + time_focus).
    """
    prior = np.ones(len(index.messages))
    about = [e.id for e in linked if e.id in index.speaker_ids]
    if settings.speaker_focus > 0 and len(about) == 1:
        prior *= np.where(index.message_speakers == about[0], 1.0 + settings.speaker_focus, 1.0)
    if settings.time_focus > 0 and when is not None:
        start, end = when.start.toordinal(), when.end.toordinal()
        inside = (index.message_days >= start) & (index.message_days <= end)
        for message_id, spans in index.stated_days.items():
            if message_id in index.positions and any(first <= end and start <= last for first, last in spans):
                inside[index.positions[message_id]] = True
        prior *= np.where(inside, 1.0 + settings.time_focus, 1.0)
    return None if np.all(prior == 1.0) else prior


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


def _captions(messages, entities, events, relations) -> dict[str, str]:
    """How explanations name projection vertices."""
    return {
        **{m.id: f"{m.source_id} {m.speaker}: {_clip(m.text)}" for m in messages},
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
