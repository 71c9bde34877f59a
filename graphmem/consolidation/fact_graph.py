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
Features are sparse (scipy CSR: an item has a handful of entities and keywords), and the
strongest links are found by neighbour search: rows are taken in time order, in blocks, and each
block's candidates are the items within reach in time that share an entity or a keyword with it
(a sparse product over the feature index), plus adjacent turns and statement sources. Only
candidates are scored, so cost and memory follow the links that exist, not items x items or
items x vocabulary; a block is cut so that its candidates stay under `LINK_BUDGET`. Of those,
only the ones sharing enough to make a row's top are scored (`Features._contenders`): the bound
comes from a scored sample, and the links found are exactly those of scoring every candidate.

Pure: plain data in, an igraph graph and memberships out.
"""

from __future__ import annotations

import math
import random
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, repeat

import igraph
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS
from scipy import sparse

from graphmem.models import EventNode, MemberKind, Mention, MessageNode, RelationEdge

MESSAGE, EVENT, RELATION = MemberKind.MESSAGE, MemberKind.EVENT, MemberKind.RELATION
BLOCK_ROWS = 256  # rows of the first block; later blocks adapt to how many candidates they find
MAX_BLOCK_ROWS = 4096
LINK_BUDGET = 2_000_000  # candidate pairs a block may hold at once: bounds its memory (tens of MB)
SAMPLE_PER_LINK = 4  # a row's candidates scored first, per link kept, to bound what the others must share
_LEVELS = 256  # sixteenths of an octave of shared content told apart when sampling a row's candidates
_LOWEST_LEVEL = (127 - 12) * 16  # the lowest: 2^-12 (float32 bits >> 19: exponent and 4 mantissa bits)
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
    return [w for w in _WORD.findall(text.lower()) if _is_content(w, skip)]


def _is_content(word: str, skip: frozenset[str]) -> bool:
    return len(word) > 2 and word not in _STOPWORDS and word not in skip


def stems(words: Sequence[str]) -> list[str]:
    """English stems of `words`, so that "painted" and "painting" count as one keyword."""
    return _STEMMER.stemWords(list(words))


def keyword_documents(texts: Iterable[str], skip: frozenset[str] = frozenset()) -> list[list[str]]:
    """`stems(content_words(text, skip))` of every text, with each distinct word judged and
    stemmed once (a tenant's texts share most of their words)."""
    stem_of: dict[str, str | None] = {}  # a word -> its stem; None: not a content word
    documents = []
    for text in texts:
        words = _WORD.findall(text.lower())
        unseen = [w for w in dict.fromkeys(words) if w not in stem_of]
        if unseen:
            kept = [w for w in unseen if _is_content(w, skip)]
            stem_of.update(dict.fromkeys(unseen))
            stem_of.update(zip(kept, _STEMMER.stemWords(kept)))
        documents.append([stem for stem in map(stem_of.__getitem__, words) if stem is not None])
    return documents


class Features:
    """What similarities are computed from: per item, an IDF-weighted entity vector and a TF-IDF
    keyword vector (side by side in one sparse row, `vectors`), and where it sits in time and in
    its conversation."""

    def __init__(self, items: Sequence[Item], speaker_ids: Iterable[str], speaker_names: Iterable[str],
                 weights: AffinityWeights = AffinityWeights()):
        self.items = list(items)
        self.weights = weights
        self.index = {item.id: position for position, item in enumerate(self.items)}
        speakers = frozenset(speaker_ids)
        skip = frozenset(word for name in speaker_names for word in _WORD.findall(name.lower()))
        documents = keyword_documents((item.text for item in self.items), skip)
        self.entity_frequency = Counter(chain.from_iterable(set(item.entity_ids) for item in self.items))
        self.term_frequency = Counter(chain.from_iterable(set(document) for document in documents))
        # Labels ask for these once per member of every scene and facet: computed once here.
        self._entity_idf = {e: _idf(len(self.items), count) for e, count in self.entity_frequency.items()}
        self._term_idf = {t: _idf(len(self.items), count) for t, count in self.term_frequency.items()}
        entities = _entity_vectors(self.items, self.entity_frequency, speakers, weights.speaker_share)
        terms = _term_vectors(documents, self.term_frequency)
        # One row per item: the dot product of two rows is their content affinity (`content`).
        self.vectors = sparse.hstack([math.sqrt(weights.entity) * entities, math.sqrt(weights.text) * terms],
                                     format="csr", dtype=np.float32)
        self.is_message = np.array([item.kind == MESSAGE for item in self.items], dtype=bool)
        source = np.array([self.index.get(item.message_id, -1) for item in self.items], dtype=np.int64)
        self.stated_in = np.where(self.is_message, -1, source)  # a statement's source message (position)
        conversations = {c: i for i, c in enumerate(sorted({item.conversation_id for item in self.items}))}
        conversation = np.array([conversations[item.conversation_id] for item in self.items], dtype=np.int64)
        session = np.array([-1 if item.session is None else item.session for item in self.items], dtype=np.int64)
        self.session = conversation * (int(session.max(initial=0)) + 2) + session + 1  # one number per session
        self.seq = np.array([item.seq for item in self.items], dtype=np.float32)
        days = np.array([item.ts.timestamp() / 86400.0 for item in self.items])
        self.days = (days - (days.min() if len(days) else 0.0)).astype(np.float32)  # from 0: float32 stays exact
        self.structure = self._structure()

    def __len__(self) -> int:
        return len(self.items)

    def entity_idf(self, entity_id: str) -> float:
        """How rare an entity is among the items: log(items / items involving it)."""
        return self._entity_idf.get(entity_id, 0.0)

    def term_idf(self, term: str) -> float:
        """How rare a keyword (a stem) is among the items' texts."""
        return self._term_idf.get(term, 0.0)

    def content(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """What items `rows` and `cols` (positions) share, whenever said: entities and words (a dense block)."""
        return (self.vectors[rows] @ self.vectors[cols].T).toarray()

    def affinity(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Link weights between items `rows` and items `cols` (positions), as a dense block."""
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        return self._weights(rows[:, None], cols[None, :], self.content(rows, cols))

    def _weights(self, rows: np.ndarray, cols: np.ndarray, content: np.ndarray) -> np.ndarray:
        """Link weights of item pairs (positions `rows`[i] and `cols`[i], any broadcastable shapes)
        that share `content`: content scaled by closeness in time, plus adjacent turns and sources."""
        w = self.weights
        same_session = self.session[rows] == self.session[cols]
        turns = np.abs(self.seq[rows] - self.seq[cols])
        apart = np.exp(-np.abs(self.days[rows] - self.days[cols]) / np.float32(w.day_scale))
        proximity = np.where(same_session, np.exp(-turns / np.float32(w.turn_scale)), np.float32(1.0)) * apart
        weight = content * (w.time_floor + (1.0 - w.time_floor) * proximity)
        adjacent = same_session & (turns == 1) & self.is_message[rows] & self.is_message[cols]
        weight = weight + w.adjacent_turn * adjacent * apart  # a conversation without sessions may pause for months
        sourced = (self.stated_in[rows] == cols) | (self.stated_in[cols] == rows)
        weight = weight + w.source * sourced  # an event or relation and its source message
        return np.where(rows == cols, 0.0, weight).astype(np.float32)

    def _structure(self) -> sparse.csr_matrix:
        """Pairs linked whatever they say (items x items, symmetric): adjacent turns of a session,
        and each event or relation with its source message."""
        messages = np.flatnonzero(self.is_message)
        seq = self.seq[messages].astype(np.int64)
        key = self.session[messages] * (int(seq.max(initial=0)) + 2) + seq
        order = np.argsort(key, kind="stable")
        key, messages = key[order], messages[order]
        low, high = np.searchsorted(key, key + 1, side="left"), np.searchsorted(key, key + 1, side="right")
        earlier, later = messages[np.repeat(np.arange(len(key)), high - low)], messages[_ranges(low, high)]
        statements = np.flatnonzero(self.stated_in >= 0)
        a, b = np.concatenate([earlier, self.stated_in[statements]]), np.concatenate([later, statements])
        size = len(self.items)
        ones = np.ones(2 * len(a), dtype=np.float32)
        return sparse.csr_matrix((ones, (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(size, size))

    def strongest_links(self, rows: np.ndarray, cols: np.ndarray) -> list[list[tuple[int, float]]]:
        """For each of `rows`, its `neighbours` strongest positive links to `cols`: (position, weight),
        by position (see `links`)."""
        found = self.links(rows, cols)
        return [list(zip(found.indices[start:end].tolist(), found.data[start:end].tolist()))
                for start, end in zip(found.indptr[:-1], found.indptr[1:])]

    def links(self, rows: np.ndarray, cols: np.ndarray) -> sparse.csr_matrix:
        """For each of `rows` (positions), its `neighbours` strongest positive links to `cols`, as a
        sparse (len(rows) x items) matrix; ties go to the earlier position.

        Without a time floor, items more than `horizon` day scales apart are never linked (their
        link would weigh under e^-horizon of what they share). Rows are taken in time order, in
        blocks; a block's candidates are the columns within reach in time that share a feature with
        one of its rows (`_FeatureIndex.window`), and its adjacent turns and sources.
        """
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        w = self.weights
        reach = w.horizon * w.day_scale if w.time_floor == 0 else math.inf
        by_time = cols[np.argsort(self.days[cols], kind="stable")]
        index = _FeatureIndex(self.vectors[by_time], self.days[by_time])
        row_order = np.argsort(self.days[rows], kind="stable")
        # Adjacent turns and sources, linked whatever they share: (place in row_order, column), by place.
        in_cols = np.zeros(len(self.items), dtype=bool)
        in_cols[cols] = True
        ordered = rows[row_order]
        around = self.structure[ordered].tocoo()
        chosen = np.flatnonzero(in_cols[around.col])
        around_places, around_cols = around.row[chosen].astype(np.int64), around.col[chosen].astype(np.int64)
        around_shared = self._shared(ordered[around_places], around_cols)
        found_rows, found_cols, found_weights = [], [], []
        start, size = 0, BLOCK_ROWS
        while start < len(rows):
            block, window = self._block(rows[row_order[start : start + size]], index, reach)
            product = window.rows @ window.matrix  # pairs sharing a feature; columns in the window
            pair_rows, pair_cols, content = self._contenders(block, product, by_time[window.low:], reach)
            first, last = np.searchsorted(around_places, [start, start + len(block)])
            around_rows, linked = around_places[first:last] - start, around_cols[first:last]
            unlinked = ~np.isin(pair_rows * len(self.items) + pair_cols, around_rows * len(self.items) + linked)
            pair_rows = np.concatenate([pair_rows[unlinked], around_rows])
            pair_cols = np.concatenate([pair_cols[unlinked], linked])
            content = np.concatenate([content[unlinked], around_shared[first:last]])
            weight = self._near_weights(block[pair_rows], pair_cols, content, reach)
            strongest = _top(pair_rows, pair_cols, weight, w.neighbours)
            found_rows.append(row_order[start : start + len(block)][pair_rows[strongest]])
            found_cols.append(pair_cols[strongest])
            found_weights.append(weight[strongest])
            start += len(block)
            size = _next_block_size(len(block), window.work)
        del index  # freed before the result is assembled (the step's peak memory)
        shape = (len(rows), len(self.items))
        if not found_rows:
            return sparse.csr_matrix(shape, dtype=np.float32)
        return sparse.csr_matrix((np.concatenate(found_weights), (np.concatenate(found_rows),
                                                                  np.concatenate(found_cols))), shape=shape)

    def _near_weights(self, rows: np.ndarray, cols: np.ndarray, content: np.ndarray, reach: float) -> np.ndarray:
        """`_weights` of pairs within `reach` days of each other; 0 for the others."""
        weight = self._weights(rows, cols, content)
        return np.where(np.abs(self.days[rows] - self.days[cols]) <= reach, weight, np.float32(0.0))

    def _shared(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """What items `rows`[i] and `cols`[i] (positions) share, summed as the sparse product sums it:
        over the first item's features in their stored order, one float32 addition after another, so
        that it is the product's value to the bit (`links` mixes the two)."""
        vectors = self.vectors
        starts, lengths = vectors.indptr[rows], np.diff(vectors.indptr)[rows]
        entries = _ranges(starts, starts + lengths)
        others, where = np.unique(cols, return_inverse=True)
        other = vectors[others]
        other.sort_indices()
        width = vectors.shape[1]
        keys = np.repeat(np.arange(len(others), dtype=np.int64), np.diff(other.indptr)) * width + other.indices
        total = np.zeros(len(rows), dtype=np.float32)
        if not len(keys):
            return total
        wanted = np.repeat(where.reshape(-1), lengths) * width + vectors.indices[entries]
        at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        terms = np.where(keys[at] == wanted, vectors.data[entries] * other.data[at], np.float32(0.0))
        longest = np.argsort(-lengths, kind="stable")  # each step adds to the pairs with terms left: a prefix
        offsets, lengths = (np.cumsum(lengths) - lengths)[longest], lengths[longest]
        going = len(lengths) - np.searchsorted(lengths[::-1], np.arange(int(lengths.max(initial=0))), side="right")
        summed = np.zeros(len(rows), dtype=np.float32)
        for step, count in enumerate(going.tolist()):
            summed[:count] += terms[offsets[:count] + step]
        total[longest] = summed
        return total

    def _contenders(self, block: np.ndarray, product: sparse.csr_matrix, columns: np.ndarray,
                    reach: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The pairs of `product` (block rows x window columns `columns`: what they share) that may be
        among a row's `neighbours` strongest links: (block row, column position, content).

        A link between items that are not adjacent turns nor a statement and its source weighs at
        most what they share (time only scales it down), so a row's pairs sharing less than the
        weight of its `neighbours`-th strongest link among a sample cannot make its top: they are
        never scored, nor those whose share scaled by their distance in days falls under it. The
        sample is each row's pairs sharing the most, and the bound the level (`_levels`) of its
        `neighbours`-th strongest link there: a level is a power of two times a multiple of 1/16,
        so `_top`'s tie resolution (weights' last 4 mantissa bits dropped) cannot rank a pair below
        it above one at or over it, and the top is exactly what scoring every pair finds."""
        counts = np.diff(product.indptr)
        content = product.data
        links = self.weights.neighbours
        # The sample: a row's pairs sharing the most, at least `links` + 1 of them (the row itself is one).
        levels = _levels(content, counts, SAMPLE_PER_LINK * links, most=4 * SAMPLE_PER_LINK * links, fewest=links + 1)
        sample = np.flatnonzero(content >= np.repeat(levels, counts))
        sample_rows = np.searchsorted(product.indptr, sample, side="right") - 1
        sample_cols = columns[product.indices[sample]]
        weight = self._near_weights(block[sample_rows], sample_cols, content[sample], reach)
        bound = _levels(weight, np.bincount(sample_rows, minlength=len(block)), links)
        kept = np.flatnonzero(content >= np.repeat(bound, counts))
        kept_rows = np.searchsorted(product.indptr, kept, side="right") - 1
        kept_cols = columns[product.indices[kept]]
        # Then time: apart, a pair's link weighs at most what they share times their closeness in
        # days (the scale of `_weights`, with a margin for rounding).
        w = self.weights
        apart = np.exp(-np.abs(self.days[block[kept_rows]] - self.days[kept_cols]) / np.float32(w.day_scale))
        most = content[kept] * (np.float32(w.time_floor) + np.float32(1.0 - w.time_floor) * apart)
        close = np.flatnonzero(most * np.float32(1.001) >= bound[kept_rows])
        return kept_rows[close], kept_cols[close], content[kept][close]

    def _block(self, rows: np.ndarray, index: _FeatureIndex, reach: float) -> tuple[np.ndarray, _Window]:
        """The first rows of `rows` (time order) whose candidates stay within `LINK_BUDGET`, with their window."""
        while True:
            window = index.window(self.vectors[rows], float(self.days[rows[0]]) - reach,
                                  float(self.days[rows[-1]]) + reach)
            if window.work <= LINK_BUDGET or len(rows) == 1:
                return rows, window
            rows = rows[: len(rows) // 2]

    def graph(self, positions: Sequence[int] | None = None) -> igraph.Graph:
        """The sparsified graph over `positions` (default: every item); vertex i is positions[i].
        Edge weights are the "weight" edge attribute, and the graph attributes "sources",
        "targets" and "weights" hold the edges as arrays."""
        chosen = np.arange(len(self.items)) if positions is None else np.asarray(positions, dtype=np.int64)
        local = np.full(len(self.items), -1, dtype=np.int64)
        local[chosen] = np.arange(len(chosen))
        sources, targets, weights = self._edges(chosen, local)
        graph = igraph.Graph(n=len(chosen), directed=False)
        graph.add_edges(np.column_stack([sources, targets]))
        graph.es["weight"] = weights.astype(np.float64).tolist()
        # The edges also as arrays (graph attributes), for per-vertex sums without Python lists.
        graph["sources"], graph["targets"], graph["weights"] = sources, targets, weights
        return graph

    def _edges(self, chosen: np.ndarray, local: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The links among `chosen` once per pair, sorted by (lower, higher) local vertex, with their
        weights. (Its own step, so the candidates' arrays are freed before the graph is made.)"""
        found = self.links(chosen, chosen).tocoo()
        a, b = found.row.astype(np.int64), local[found.col]
        low, high = np.minimum(a, b), np.maximum(a, b)
        _, first = np.unique(low * len(chosen) + high, return_index=True)
        return low[first], high[first], found.data[first]


@dataclass(frozen=True)
class _Window:
    """What a block of rows is compared with: `rows @ matrix` are their dot products with the
    columns `low`.. of a `_FeatureIndex` (in time order) sharing a feature with them; `work` is
    the number of products that takes, a bound on the candidates it yields."""

    rows: sparse.csr_matrix
    matrix: sparse.csr_matrix
    low: int
    work: int


class _FeatureIndex:
    """Items in time order, and for each feature the items that have it (their positions in time
    order, ascending): a block of rows finds the items within reach that share a feature with it
    by binary search, without touching the others."""

    def __init__(self, vectors: sparse.csr_matrix, days: np.ndarray):
        by_feature = vectors.tocsc()
        by_feature.sort_indices()
        self.days, self.size = days, vectors.shape[0]
        self.positions, self.values, self.starts = by_feature.indices, by_feature.data, by_feature.indptr
        feature_of = np.repeat(np.arange(vectors.shape[1], dtype=np.int64), np.diff(self.starts))
        self.keys = feature_of * self.size + self.positions  # ascending: by feature, then position

    def window(self, rows: sparse.csr_matrix, earliest: float, latest: float) -> _Window:
        """The columns from `earliest` to `latest` (days) that share a feature with `rows`."""
        low = int(np.searchsorted(self.days, earliest, side="left"))
        high = int(np.searchsorted(self.days, latest, side="right"))
        features, inverse, counts = np.unique(rows.indices, return_inverse=True, return_counts=True)
        begin = np.searchsorted(self.keys, features * self.size + low)
        end = np.searchsorted(self.keys, features * self.size + high)
        lengths = end - begin
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        take = _ranges(begin, end)
        matrix = sparse.csr_matrix((self.values[take], self.positions[take] - low, offsets),
                                   shape=(len(features), max(high - low, 0)))
        local = sparse.csr_matrix((rows.data, inverse.reshape(-1), rows.indptr), shape=(rows.shape[0], len(features)))
        return _Window(local, matrix, low, int((lengths * counts).sum()))


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenated ranges starts[i]..ends[i] (ends exclusive), without a Python loop."""
    lengths = ends - starts
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)


def _top(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, keep: int) -> np.ndarray:
    """Indices of the `keep` largest positive `weights` of each row (block rows: 0-based, < 2**12),
    ties (to 2e-6, relatively) going to the smaller column.

    One sort of an integer key: row, then the weight's float32 bits (monotone for positive
    floats; the last 4 mantissa bits dropped), inverted so that heavier comes first, then column.
    """
    positive = np.flatnonzero(weights > 0)
    if not len(positive):
        return positive
    row, col = rows[positive].astype(np.uint64), cols[positive].astype(np.uint64)
    heavier = np.uint32(2**27 - 1) - (weights[positive].astype(np.float32).view(np.uint32) >> np.uint32(4))
    if int(col.max()) < 2**24:
        order = np.argsort((row << np.uint64(51)) | (heavier.astype(np.uint64) << np.uint64(24)) | col)
    else:
        order = np.lexsort((col, heavier, row))
    ranked_rows = rows[positive][order]
    starts = np.concatenate([[0], np.cumsum(np.bincount(ranked_rows))])
    rank = np.arange(len(order)) - starts[ranked_rows]
    return positive[order[rank < keep]]


def _levels(values: np.ndarray, counts: np.ndarray, size: int, most: int | None = None, fewest: int = 1) -> np.ndarray:
    """Per row of a block (`counts` of `values` each, in row order, none negative), a level that at
    least `size` of its values reach: the floor of the sixteenth of an octave holding its `size`-th
    largest value, from a histogram rather than a sort (0 for rows with fewer than `size` values,
    or whose `size`-th largest is under 2^-12). Where ties let more than `most` values reach it,
    the level holding the `fewest`-th largest instead, if higher."""
    rows = len(counts)
    level = values.view(np.int32) >> np.int32(19)  # sign bit clear: none negative
    level -= np.int32(_LOWEST_LEVEL)
    np.clip(level, 0, _LEVELS - 1, out=level)
    level += np.repeat(np.arange(rows, dtype=np.int32) * np.int32(_LEVELS), counts)
    reaching = np.cumsum(np.bincount(level, minlength=rows * _LEVELS).reshape(rows, _LEVELS)[:, ::-1], axis=1)
    top = _LEVELS - 1 - np.argmax(reaching >= size, axis=1)  # values in this bucket or above: enough
    if most is not None:
        crowded = reaching[np.arange(rows), _LEVELS - 1 - top] > most
        fewer = _LEVELS - 1 - np.argmax(reaching >= fewest, axis=1)
        top = np.where(crowded & (fewer > top), fewer, top)
    floor = ((top + _LOWEST_LEVEL).astype(np.uint32) << np.uint32(19)).view(np.float32)
    return np.where((reaching[:, -1] >= size) & (top > 0), floor, np.float32(0.0))


def _next_block_size(size: int, work: int) -> int:
    """Rows in the next block: more when this one's candidates were few, fewer when many."""
    if work < LINK_BUDGET // 4:
        return min(2 * size, MAX_BLOCK_ROWS)
    return max(size // 2, 1) if work > LINK_BUDGET else size


def _idf(documents: int, frequency: int) -> float:
    return math.log(documents / frequency) if frequency else 0.0


def _entity_vectors(items: Sequence[Item], frequency: Counter[str], speakers: frozenset[str],
                    speaker_share: float) -> sparse.csr_matrix:
    """Rows whose dot product is the summed IDF of the entities two items share, scaled so that
    one entity seen in a single other item weighs about 1; speakers' weight is scaled down."""
    shared = sorted(e for e, count in frequency.items() if count > 1)  # only shared entities can link
    top = math.log(max(len(items), 2))
    weight = [math.sqrt(max(_idf(len(items), frequency[e]) * (speaker_share if e in speakers else 1.0), 0.0) / top)
              for e in shared]
    rows, cols = _shared_features([list(dict.fromkeys(item.entity_ids)) for item in items], shared)
    return _csr(np.array(weight, dtype=np.float64)[cols], rows, cols, (len(items), len(shared)))


def _term_vectors(documents: Sequence[list[str]], frequency: Counter[str]) -> sparse.csr_matrix:
    """L2-normalised TF-IDF rows (sublinear term frequency) over terms found in two documents or more."""
    shared = sorted(t for t, count in frequency.items() if count > 1)
    idf = np.array([_idf(len(documents), frequency[t]) for t in shared], dtype=np.float64)
    rows, cols = _shared_features(documents, shared)
    pairs, counts = np.unique(rows * max(len(shared), 1) + cols, return_counts=True)  # one per (document, term)
    rows, cols = pairs // max(len(shared), 1), pairs % max(len(shared), 1)
    sublinear = np.array([1.0 + math.log(count) if count else 0.0 for count in range(int(counts.max(initial=0)) + 1)])
    vectors = _csr(sublinear[counts] * idf[cols], rows, cols, (len(documents), len(shared)))
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    return sparse.diags(np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 1.0).astype(np.float32)) @ vectors


def _shared_features(rows: Sequence[Sequence[str]], shared: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of every feature of every row that is among `shared` (columns: positions in it)."""
    column = {feature: i for i, feature in enumerate(shared)}
    cols = np.fromiter(map(column.get, chain.from_iterable(rows), repeat(-1)), dtype=np.int64)
    positions = np.repeat(np.arange(len(rows), dtype=np.int64), [len(row) for row in rows])
    kept = cols >= 0
    return positions[kept], cols[kept]


def _csr(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    return sparse.csr_matrix((values.astype(np.float32), (rows, cols)), shape=shape)


def leiden(graph: igraph.Graph, resolution: float, seed: int, *, model: str = "cpm") -> list[int]:
    """Leiden communities (igraph's Leiden, two iterations as leidenalg did), deterministic for a seed.

    `model` "cpm" (constant Potts): each community's links are denser than `resolution`
    (weight per pair of its vertices); free of the resolution limit, so clustering part of a
    graph finds what clustering all of it finds there. "modularity": communities denser than a
    random graph with the same degrees would make them, at `resolution`; no tiny communities on
    small graphs. igraph's implementation replaced leidenalg's: on a 10k-message tenant's fact
    graph it is ~14x faster and finds partitions at least as good by leidenalg's own CPM quality;
    bench/scenes.py's figures held or improved.
    """
    if graph.vcount() == 0:
        return []
    objective = "cpm" if model == "cpm" else "modularity"
    with _IGRAPH_RANDOM:  # igraph draws from one process-wide generator: seed it for this run only
        igraph.set_random_number_generator(random.Random(seed))
        try:
            return list(graph.community_leiden(objective, weights="weight", resolution=resolution,
                                               n_iterations=2).membership)
        finally:
            igraph.set_random_number_generator(random)


_IGRAPH_RANDOM = threading.Lock()


def inside_share(graph: igraph.Graph, membership: Sequence[int]) -> list[float]:
    """For each vertex of a `Features.graph`, the share of its link weight that stays in its own
    community (1.0 if unlinked)."""
    sources, targets, weights = graph["sources"], graph["targets"], graph["weights"].astype(np.float64)
    community = np.asarray(membership)
    inside = community[sources] == community[targets]
    size = graph.vcount()
    total = np.bincount(sources, weights, size) + np.bincount(targets, weights, size)
    within = np.bincount(sources[inside], weights[inside], size) + np.bincount(targets[inside], weights[inside], size)
    return np.where(total > 0, within / np.where(total > 0, total, 1.0), 1.0).tolist()


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
    participants = frozenset(vocabulary.participants)
    for position, weight in members.items():
        for entity in set(features.items[position].entity_ids) - participants:
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
