"""The fact-level graph that scenes and persona facets are clustered on, and Leiden over it.

Vertices are a tenant's messages, events and relations (facts), each an `Item`: who said it,
when, which entities it involves, its text. Two items are linked by

- shared entities, weighted by inverse document frequency: a rare entity binds more than a
  common one, and the speakers (present in about every item) bind little;
- text similarity: the cosine of their TF-IDF vectors over stemmed keywords;
- temporal proximity: the content affinity above counts fully between neighbouring turns and
  decays with turn distance in a session and with day distance (down to `time_floor`: 0 for
  scenes, which are time-bounded; more for persona facets, whose traits outlast a session);
- conversation structure: adjacent turns, and an event or relation with its source message.

Each item keeps only its `neighbours` strongest links (a sparse graph, so Leiden stays fast).
Similarities are computed block by block with numpy (dense blocks of `BLOCK_ROWS` rows), each
block only against the items within reach in time; memory grows with items x vocabulary.

Pure: plain data in, an igraph graph and memberships out.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import igraph
import leidenalg
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

from graphmem.models import EventNode, MemberKind, Mention, MessageNode, RelationEdge

MESSAGE, EVENT, RELATION = MemberKind.MESSAGE, MemberKind.EVENT, MemberKind.RELATION
BLOCK_ROWS = 256
_WORD = re.compile(r"[a-z]+")
_STEMMER = Stemmer.Stemmer("english")
# Chat filler: frequent in conversation, says nothing about a topic.
_FILLER = frozenset("""really gonna wanna yeah yes hey thanks thank great awesome cool amazing wow sure lot much
    one thing things stuff also just get got make made know think feel felt going way glad totally
    definitely always something anything everything time good nice like love""".split())
_STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | _FILLER


@dataclass(frozen=True, slots=True)
class Item:
    """A vertex of the fact-level graph: a message, an event or a relation, as plain data."""

    id: str
    kind: MemberKind
    message_id: str  # the source message (a message's own id)
    conversation_id: str
    session: int | None
    seq: int
    ts: datetime
    speaker_id: str
    entity_ids: tuple[str, ...]
    text: str
    about_id: str | None = None  # who a statement is about: a relation's subject, an event's agent


@dataclass(frozen=True)
class AffinityWeights:
    """How strongly each signal links two items; tuned on the LoCoMo dev split only."""

    entity: float = 1.0
    text: float = 1.0
    speaker_share: float = 0.25  # a speaker entity's IDF weight is scaled by this
    time_floor: float = 0.0  # share of content affinity kept between items far apart in time
    turn_scale: float = 4.0  # turns: proximity exp(-turns / scale) within a session
    day_scale: float = 3.0  # days: proximity exp(-days / scale) between any two items
    adjacent_turn: float = 0.3
    source: float = 1.0  # an event or relation and the message it came from
    neighbours: int = 10  # links kept per item (the strongest)
    horizon: float = 10.0  # day scales beyond which items are not compared (when time_floor is 0)


def items_of(
    messages: Sequence[MessageNode],
    mentions: Iterable[Mention],
    events: Iterable[EventNode],
    relations: Iterable[RelationEdge],
) -> list[Item]:
    """The tenant's records as items, in conversation order (each message, then what it states)."""
    by_id = {m.id: m for m in messages}
    mentioned: dict[str, list[str]] = {}
    for mention in mentions:
        mentioned.setdefault(mention.message_id, []).append(mention.entity_id)
    stated: dict[str, list[Item]] = {}
    for event in events:
        source = by_id.get(event.message_id)
        if source is not None:
            entity_ids = [member for member, _ in event.participants] + ([event.place_id] if event.place_id else [])
            agent = next((member for member, role in event.participants if role == "agent"), None)
            stated.setdefault(source.id, []).append(
                _statement(event.id, EVENT, source, entity_ids, event.summary, agent)
            )
    for relation in relations:
        source = by_id.get(relation.message_id)
        if source is not None:
            entity_ids = [relation.subject_id, relation.object_id]
            stated.setdefault(source.id, []).append(
                _statement(relation.id, RELATION, source, entity_ids, relation.fact, relation.subject_id)
            )
    items: list[Item] = []
    for message in sorted(messages, key=lambda m: (m.conversation_id, m.seq, m.id)):
        text = f"{message.text} {message.caption}" if message.caption else message.text
        entity_ids = tuple(dict.fromkeys([message.speaker_id, *sorted(mentioned.get(message.id, ()))]))
        items.append(Item(message.id, MESSAGE, message.id, message.conversation_id, message.session, message.seq,
                          message.ts, message.speaker_id, entity_ids, text))
        items.extend(sorted(stated.get(message.id, ()), key=lambda item: (item.kind, item.id)))
    return items


def _statement(item_id: str, kind: str, source: MessageNode, entity_ids: list[str], text: str,
               about_id: str | None) -> Item:
    return Item(item_id, kind, source.id, source.conversation_id, source.session, source.seq, source.ts,
                source.speaker_id, tuple(dict.fromkeys(entity_ids)), text, about_id)


def content_words(text: str, skip: frozenset[str] = frozenset()) -> list[str]:
    """The content words of a text, lower-cased (stopwords, short words and words in `skip` left out)."""
    return [w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOPWORDS and w not in skip]


def stems(words: Sequence[str]) -> list[str]:
    """English stems of `words`, so that "painted" and "painting" count as one keyword."""
    return _STEMMER.stemWords(list(words))


class Features:
    """What similarities are computed from: per item, an IDF-weighted entity vector, a TF-IDF
    keyword vector, and where it sits in time and in its conversation."""

    def __init__(self, items: Sequence[Item], speaker_ids: Iterable[str], speaker_names: Iterable[str],
                 weights: AffinityWeights = AffinityWeights()):
        self.items = list(items)
        self.weights = weights
        self.index = {item.id: position for position, item in enumerate(self.items)}
        speakers = frozenset(speaker_ids)
        skip = frozenset(word for name in speaker_names for word in _WORD.findall(name.lower()))
        documents = [stems(content_words(item.text, skip)) for item in self.items]
        self.entity_frequency = Counter(e for item in self.items for e in set(item.entity_ids))
        self.term_frequency = Counter(term for document in documents for term in set(document))
        self.entities = _entity_vectors(self.items, self.entity_frequency, speakers, weights.speaker_share)
        self.terms = _term_vectors(documents, self.term_frequency)
        self.is_message = np.array([item.kind == MESSAGE for item in self.items])
        self.source = np.array([self.index.get(item.message_id, -1) for item in self.items])
        conversations = {c: i for i, c in enumerate(sorted({item.conversation_id for item in self.items}))}
        self.conversation = np.array([conversations[item.conversation_id] for item in self.items])
        self.session = np.array([-1 if item.session is None else item.session for item in self.items])
        self.seq = np.array([item.seq for item in self.items], dtype=np.float32)
        days = np.array([item.ts.timestamp() / 86400.0 for item in self.items])
        self.days = (days - (days.min() if len(days) else 0.0)).astype(np.float32)  # from 0: float32 stays exact

    def __len__(self) -> int:
        return len(self.items)

    def entity_idf(self, entity_id: str) -> float:
        """How rare an entity is among the items: log(items / items involving it)."""
        return _idf(len(self.items), self.entity_frequency[entity_id])

    def term_idf(self, term: str) -> float:
        """How rare a keyword (a stem) is among the items' texts."""
        return _idf(len(self.items), self.term_frequency[term])

    def content(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """What items `rows` and `cols` (positions) share, whenever said: entities and words."""
        w = self.weights
        shared_entities = self.entities[rows] @ self.entities[cols].T
        return w.entity * shared_entities + w.text * (self.terms[rows] @ self.terms[cols].T)

    def affinity(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Link weights between items `rows` and items `cols` (positions), as a dense block."""
        w = self.weights
        content = self.content(rows, cols)
        same_session = (self.conversation[rows, None] == self.conversation[None, cols]) & (
            self.session[rows, None] == self.session[None, cols]
        )
        turns = np.abs(self.seq[rows, None] - self.seq[None, cols])
        apart = np.exp(-np.abs(self.days[rows, None] - self.days[None, cols]) / w.day_scale)
        proximity = np.where(same_session, np.exp(-turns / w.turn_scale), 1.0) * apart
        weight = content * (w.time_floor + (1.0 - w.time_floor) * proximity)
        adjacent = same_session & (turns == 1) & self.is_message[rows, None] & self.is_message[None, cols]
        weight += w.adjacent_turn * adjacent * apart  # a conversation without sessions may pause for months
        position = {int(c): j for j, c in enumerate(cols)}
        for i, row in enumerate(rows):  # an event or relation and its source message
            if not self.is_message[row] and int(self.source[row]) in position:
                weight[i, position[int(self.source[row])]] += w.source
        at = {int(r): i for i, r in enumerate(rows)}
        for j, col in enumerate(cols):
            if not self.is_message[col] and int(self.source[col]) in at:
                weight[at[int(self.source[col])], j] += w.source
            if int(col) in at:
                weight[at[int(col)], j] = 0.0
        return weight

    def strongest_links(self, rows: np.ndarray, cols: np.ndarray) -> list[list[tuple[int, float]]]:
        """For each of `rows`, its `neighbours` strongest positive links to `cols`: (position, weight).

        Without a time floor, items more than `horizon` day scales apart are never linked (their
        link would weigh under e^-horizon of what they share): rows are taken in time order, and
        each block is compared only with the columns within that distance of it.
        """
        keep = self.weights.neighbours
        windowed = self.weights.time_floor == 0
        order = np.argsort(self.days[rows], kind="stable") if windowed else np.arange(len(rows))
        col_order = np.argsort(self.days[cols], kind="stable")
        col_days = self.days[cols][col_order]
        reach = self.weights.horizon * self.weights.day_scale
        found: dict[int, list[tuple[int, float]]] = {}
        for start in range(0, len(rows), BLOCK_ROWS):
            block_rows = rows[order[start : start + BLOCK_ROWS]]
            block_cols = cols
            if windowed:
                low, high = np.searchsorted(col_days, [self.days[block_rows].min() - reach,
                                                       self.days[block_rows].max() + reach], side="left")
                block_cols = np.sort(cols[col_order[low:high]])
            block = self.affinity(block_rows, block_cols)
            if block.shape[1] > keep:
                top = np.argpartition(-block, keep - 1, axis=1)[:, :keep]
            else:
                top = np.tile(np.arange(block.shape[1]), (block.shape[0], 1))
            for index, line, picks in zip(order[start : start + BLOCK_ROWS], block, top):
                found[int(index)] = sorted((int(block_cols[j]), float(line[j])) for j in picks if line[j] > 0)
        return [found[index] for index in range(len(rows))]

    def graph(self, positions: Sequence[int] | None = None) -> igraph.Graph:
        """The sparsified graph over `positions` (default: every item); vertex i is positions[i]."""
        chosen = np.arange(len(self.items)) if positions is None else np.asarray(positions, dtype=np.int64)
        local = {int(p): i for i, p in enumerate(chosen)}
        edges: dict[tuple[int, int], float] = {}
        for row, links in zip(chosen, self.strongest_links(chosen, chosen)):
            for col, weight in links:
                a, b = sorted((local[int(row)], local[col]))
                edges[(a, b)] = weight
        ordered = sorted(edges)
        graph = igraph.Graph(n=len(chosen), edges=ordered, directed=False)
        graph.es["weight"] = [edges[e] for e in ordered]
        return graph


def _idf(documents: int, frequency: int) -> float:
    return math.log(documents / frequency) if frequency else 0.0


def _entity_vectors(items: Sequence[Item], frequency: Counter[str], speakers: frozenset[str],
                    speaker_share: float) -> np.ndarray:
    """Rows whose dot product is the summed IDF of the entities two items share, scaled so that
    one entity seen in a single other item weighs about 1; speakers' weight is scaled down."""
    shared = sorted(e for e, count in frequency.items() if count > 1)  # only shared entities can link
    column = {e: i for i, e in enumerate(shared)}
    vectors = np.zeros((len(items), len(shared)), dtype=np.float32)
    top = math.log(max(len(items), 2))
    for row, item in enumerate(items):
        for entity in item.entity_ids:
            if entity in column:
                idf = _idf(len(items), frequency[entity]) * (speaker_share if entity in speakers else 1.0)
                vectors[row, column[entity]] = math.sqrt(max(idf, 0.0) / top)
    return vectors


def _term_vectors(documents: Sequence[list[str]], frequency: Counter[str]) -> np.ndarray:
    """L2-normalised TF-IDF rows (sublinear term frequency) over terms found in two documents or more."""
    shared = sorted(t for t, count in frequency.items() if count > 1)
    column = {t: i for i, t in enumerate(shared)}
    vectors = np.zeros((len(documents), len(shared)), dtype=np.float32)
    for row, document in enumerate(documents):
        for term, count in Counter(document).items():
            if term in column:
                vectors[row, column[term]] = (1.0 + math.log(count)) * _idf(len(documents), frequency[term])
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def leiden(graph: igraph.Graph, resolution: float, seed: int, *, model: str = "cpm") -> list[int]:
    """Leiden communities, deterministic for a seed.

    `model` "cpm" (constant Potts): each community's links are denser than `resolution`
    (weight per pair of its vertices); free of the resolution limit, so clustering part of a
    graph finds what clustering all of it finds there. "modularity" (RB configuration model):
    communities denser than a random graph with the same degrees would make them, at
    `resolution`; no tiny communities on small graphs.
    """
    if graph.vcount() == 0:
        return []
    partition_type = leidenalg.CPMVertexPartition if model == "cpm" else leidenalg.RBConfigurationVertexPartition
    partition = leidenalg.find_partition(
        graph, partition_type, weights="weight", resolution_parameter=resolution, seed=seed
    )
    return list(partition.membership)


def inside_share(graph: igraph.Graph, membership: Sequence[int]) -> list[float]:
    """For each vertex, the share of its link weight that stays in its own community (1.0 if unlinked)."""
    inside = np.zeros(graph.vcount())
    total = np.zeros(graph.vcount())
    for edge, weight in zip(graph.get_edgelist(), graph.es["weight"] if graph.ecount() else []):
        a, b = edge
        total[a] += weight
        total[b] += weight
        if membership[a] == membership[b]:
            inside[a] += weight
            inside[b] += weight
    return [float(i / t) if t > 0 else 1.0 for i, t in zip(inside, total)]


@dataclass(frozen=True)
class Vocabulary:
    """What labels are written with: entity names, which entities are people, and which are the
    participants (never used as label words: every scene involves them)."""

    names: Mapping[str, str]  # entity id -> name
    people: Collection[str]
    participants: Collection[str]


def label(features: Features, members: Mapping[int, float], vocabulary: Vocabulary, terms: int) -> str:
    """A name for a group of items (position -> weight): its most salient entities (weight x
    IDF, in two items or more; participants left out), topped up with its most salient keywords."""
    salience: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for position, weight in members.items():
        for entity in set(features.items[position].entity_ids) - set(vocabulary.participants):
            salience[entity] += weight * features.entity_idf(entity)
            seen[entity] += 1
    names = [vocabulary.names[e] for e, _ in sorted(salience.items(), key=lambda p: (-p[1], p[0]))
             if seen[e] > 1 and e in vocabulary.names][:terms]
    if len(names) < terms:
        names += _keywords(features, members, vocabulary, covered=" ".join(names).lower())[: terms - len(names)]
    return ", ".join(names) if names else "small talk"


def _keywords(features: Features, members: Mapping[int, float], vocabulary: Vocabulary, covered: str) -> list[str]:
    """The group's keywords by summed weight x IDF, each in its most frequent surface form.

    Words are read from the source messages' own text (each message once, at its members'
    highest weight), not from the extractor's rewritten statements.
    """
    skip = frozenset(w for e in vocabulary.participants for w in vocabulary.names.get(e, "").lower().split())
    texts: dict[str, tuple[float, str]] = {}
    for position, weight in members.items():
        item = features.items[position]
        source = features.index.get(item.message_id)
        key, text = (item.message_id, features.items[source].text) if source is not None else (item.id, item.text)
        texts[key] = (max(weight, texts[key][0]) if key in texts else weight, text)
    score: Counter[str] = Counter()
    surface: dict[str, Counter[str]] = defaultdict(Counter)
    for weight, text in texts.values():
        words = content_words(text, skip)
        for word, stem in zip(words, stems(words)):
            score[stem] += weight * features.term_idf(stem)
            surface[stem][word] += 1
    ranked = sorted(score.items(), key=lambda p: (-p[1], p[0]))
    words = [min(surface[stem].items(), key=lambda p: (-p[1], p[0]))[0] for stem, s in ranked if s > 0]
    return [w for w in words if w not in covered]
