"""The in-memory graph a tenant's queries run on, and personalized PageRank over it.

One undirected weighted graph per tenant: message, entity, event and fact vertices (and, once
consolidated, scene and persona-facet vertices), with edges for mentions, speakers, addressees,
turn adjacency, event participation, facts' subject / object / provenance, scene membership and
facets' evidence. It is built once from the store and extended in place as new messages are
appended (`extend_projection`, in time proportional to the new records); queries only read it. It
is held as numpy arrays of links (a build merges parallel links with one sort); an igraph graph is
made from them only for explanations' shortest paths and exact PPR.

Personalized PageRank runs on the graph's weighted adjacency in CSR form (`WalkMatrix`), built
lazily on a projection's first query after a build or an extension (one sort of the edge list).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain

import igraph
import numpy as np

from graphmem.models import EntityNode, EventNode, Mention, MessageNode, Persona, RelationEdge, Scene


@dataclass(frozen=True)
class EdgeWeights:
    """How strongly each kind of link carries activation; tuned on the dev split only."""

    mention: float = 1.0
    speaker: float = 0.15
    addressee: float = 0.05
    next_turn: float = 2.0  # a statement often completes in the next turn (question, answer)
    event_source: float = 1.0
    participant: float = 0.3
    fact_source: float = 1.0
    fact_argument: float = 0.3
    scene_member: float = 0.5  # times the member's weight in its scene
    # A persona facet (one side of a participant: family, a hobby) links the messages behind its
    # facts, across sessions: "What does Melanie do with her family?" reaches the other family turns.
    facet_evidence: float = 2.0


@dataclass(frozen=True)
class WalkMatrix:
    """Where a random walk steps from each vertex, in CSR form: the out-links of vertex v are
    entries indptr[v]:indptr[v + 1], each a neighbour and the probability of stepping to it
    (the link's weight over the vertex's total weight). A vertex without links has none."""

    indptr: np.ndarray
    sources: np.ndarray  # the vertex each entry leaves from (a row index per entry)
    neighbours: np.ndarray
    step: np.ndarray
    degree: np.ndarray
    isolated: np.ndarray  # vertices without links

    @classmethod
    def from_links(cls, sources: np.ndarray, targets: np.ndarray, step: np.ndarray, size: int) -> WalkMatrix:
        """From both directions of every edge: `sources[i]` steps to `targets[i]` with probability `step[i]`."""
        order = np.argsort(sources, kind="stable")
        degree = np.bincount(sources, minlength=size)
        indptr = np.zeros(size + 1, dtype=np.int64)
        np.cumsum(degree, out=indptr[1:])
        return cls(indptr, sources[order], targets[order], step[order], degree, np.flatnonzero(degree == 0))


@dataclass
class GraphProjection:
    """A tenant's graph as arrays: every undirected link once (`links`, lower vertex first, with
    `link_weights`), in the order igraph would hold it (built links sorted, parallel links merged;
    appended links after them). The igraph graph is made from the arrays only when something asks
    for it (explanations' shortest paths, exact PPR): queries walk the arrays' CSR form."""

    keys: list[str]  # a message or entity id, "event:<id>", "fact:<id>", "scene:<id>" or "facet:<id>"
    vertex: dict[str, int]  # the inverse of `keys`
    links: np.ndarray  # (links, 2) int64: the two vertices of each link, the lower first
    link_weights: np.ndarray  # float64, one per link
    message_vertices: np.ndarray  # vertex of messages[i]
    entity_vertices: dict[str, int]
    entity_degree: dict[str, int]  # messages mentioning or spoken by each entity
    last_turns: dict[tuple[str, int | None], str]  # (conversation, session) -> the id of its last message
    _graph: igraph.Graph | None = field(default=None, repr=False)  # derived from the link arrays, see `graph`
    _edge_arrays: tuple | None = field(default=None, repr=False)  # derived from the link arrays, see `_edges`
    _walk: WalkMatrix | None = field(default=None, repr=False)  # derived from the edge arrays, see `walk`
    _consolidated: np.ndarray | None = field(default=None, repr=False)  # see `consolidated_vertices`
    _path_costs: list[float] | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return len(self.keys)

    @property
    def link_count(self) -> int:
        return len(self.links)

    @property
    def graph(self) -> igraph.Graph:
        """The projection as a weighted igraph graph (edge ids in link order), made on first use."""
        if self._graph is None:
            graph = igraph.Graph(n=self.size, edges=self.links, directed=False)
            graph.es["weight"] = self.link_weights.tolist()
            self._graph = graph
        return self._graph

    @property
    def consolidated_vertices(self) -> np.ndarray:
        """The scene and persona-facet vertices (none before the tenant is consolidated)."""
        if self._consolidated is None:
            self._consolidated = np.array(
                [v for v, key in enumerate(self.keys) if key.startswith(("scene:", "facet:"))], dtype=np.int64
            )
        return self._consolidated

    @property
    def sources(self) -> np.ndarray:
        """Both directions of every edge (with `targets`), for activation spreading."""
        return self._edges()[0]

    @property
    def targets(self) -> np.ndarray:
        return self._edges()[1]

    @property
    def fan_out_weights(self) -> np.ndarray:
        """Per directed edge, its weight over the source vertex's total weight."""
        return self._edges()[2]

    @property
    def path_costs(self) -> list[float]:
        """Per edge, 1 / weight: strong links are short in explanations."""
        if self._path_costs is None:
            self._path_costs = (1.0 / self.link_weights).tolist()
        return self._path_costs

    @property
    def walk(self) -> WalkMatrix:
        """The walk matrix PPR pushes along, built on first use after a build or an extension."""
        if self._walk is None:
            self._walk = WalkMatrix.from_links(self.sources, self.targets, self.fan_out_weights, self.size)
        return self._walk

    def _edges(self) -> tuple:
        """Both directions of every link, and each one's share of its source's weight, computed on
        first use after a build or an extension (appends do not pay for them)."""
        if self._edge_arrays is None:
            pairs, weight = self.links, self.link_weights
            sources = np.concatenate([pairs[:, 0], pairs[:, 1]])
            targets = np.concatenate([pairs[:, 1], pairs[:, 0]])
            both = np.concatenate([weight, weight])
            strength = np.bincount(sources, weights=both, minlength=self.size)
            fan_out = both / np.where(strength[sources] > 0, strength[sources], 1.0)
            self._edge_arrays = (sources, targets, fan_out)
        return self._edge_arrays


def build_projection(
    messages: Sequence[MessageNode],
    entities: Sequence[EntityNode],
    mentions: Sequence[Mention],
    events: Sequence[EventNode],
    relations: Sequence[RelationEdge],
    weights: EdgeWeights = EdgeWeights(),
    scenes: Sequence[Scene] = (),
    personas: Sequence[Persona] = (),
) -> GraphProjection:
    """Project a tenant's records into one weighted graph.

    Scenes are vertices linked to their members, so a fact evokes its scene and the scene pulls
    in the scene's other facts and messages (Bi-Mem's associative recall). Persona facets are
    vertices linked to the messages behind their facts, the same recall along one participant's side.
    """
    builder = _Builder(weights)
    builder.vertices(e.id for e in entities)
    builder.add(messages, mentions, events, relations, scenes)
    builder.add_facets(personas)
    return builder.finish(messages, [e.id for e in entities])


def extend_projection(
    projection: GraphProjection,
    new_messages: Sequence[MessageNode],
    entity_ids: Sequence[str],
    mentions: Sequence[Mention],
    events: Sequence[EventNode],
    relations: Sequence[RelationEdge],
    weights: EdgeWeights = EdgeWeights(),
) -> None:
    """Add new records to the projection in place, in time proportional to them.

    `new_messages` must come after every stored message of their conversation (an append), so
    each links to the turn before it and no old link changes; they take the next positions of
    `message_vertices`. `entity_ids` are entities new or changed since (each gets a vertex).
    Every new edge touches a new vertex (message, event or fact), so merging parallel edges
    among the new ones gives the graph a fresh build would.
    """
    builder = _Builder(weights, projection)
    builder.vertices(entity_ids)
    builder.add(new_messages, mentions, events, relations, ())
    builder.grow(projection, new_messages, entity_ids)


class _Builder:
    """Collects vertices and weighted links, for a new projection or to grow an existing one.

    Vertices are numbered in the order records first name them, and links kept in the order
    records make them (records of one kind at a time): merging parallel links then sums their
    weights in the same order whichever way the graph is grown.
    """

    def __init__(self, weights: EdgeWeights, base: GraphProjection | None = None):
        self.weights = weights
        # Growing a projection adds to its own maps; the links are only the new ones.
        self.vertex: dict[str, int] = base.vertex if base else {}
        self.degree: dict[str, int] = base.entity_degree if base else {}
        self.last_turn: dict[tuple[str, int | None], str] = base.last_turns if base else {}
        self.sources: list[np.ndarray] = []  # links, in blocks
        self.targets: list[np.ndarray] = []
        self.link_weights: list[np.ndarray] = []
        self.added: list[str] = []  # keys of the vertices this builder created, in vertex order

    def vertices(self, keys: Iterable[str]) -> None:
        """Give each of `keys` not known yet the next vertex, in the order they first appear."""
        vertex = self.vertex
        new = [key for key in dict.fromkeys(keys) if key not in vertex]
        vertex.update(zip(new, range(len(vertex), len(vertex) + len(new))))
        self.added.extend(new)

    def ids(self, keys: list[str], named_in_order: Callable[[], Iterable[str]]) -> list[int]:
        """The vertices of `keys`. Any key not known yet gets one first, in the order the records
        name keys (`named_in_order`), so numbering follows the records whichever lists are looked up."""
        vertex = self.vertex
        try:
            return [vertex[key] for key in keys]
        except KeyError:
            self.vertices(named_in_order())
            return [vertex[key] for key in keys]

    def link(self, sources: Sequence[int], targets: Sequence[int], weights: float | Sequence[float]) -> None:
        self.sources.append(np.asarray(sources, dtype=np.int64))
        self.targets.append(np.asarray(targets, dtype=np.int64))
        self.link_weights.append(np.broadcast_to(np.asarray(weights, dtype=np.float64), (len(sources),)))

    def add(self, messages, mentions, events, relations, scenes) -> None:
        w, vertex = self.weights, self.vertex
        named = lambda: chain.from_iterable((m.id, m.speaker_id, m.addressee_id or m.speaker_id) for m in messages)
        own = np.array(self.ids([m.id for m in messages], named), dtype=np.int64)
        speaker = self.ids([m.speaker_id for m in messages], named)
        addressee = self.ids([m.addressee_id or m.speaker_id for m in messages], named)
        before = []
        last_turn = self.last_turn
        for message in messages:
            turn = (message.conversation_id, message.session)
            before.append(last_turn.get(turn))
            last_turn[turn] = message.id
        self._count([m.speaker_id for m in messages])
        # Per message, in this order: its speaker, its addressee, the turn before it.
        has_addressee = np.array([bool(m.addressee_id) for m in messages], dtype=bool)
        has_before = np.array([b is not None for b in before], dtype=bool)
        previous = np.array([vertex[b] for b in before if b is not None], dtype=np.int64)
        sources = np.column_stack([own, own, np.zeros_like(own)])
        targets = np.column_stack([np.array(speaker, dtype=np.int64), np.array(addressee, dtype=np.int64), own])
        sources[has_before, 2] = previous
        present = np.column_stack([np.ones_like(has_addressee), has_addressee, has_before])
        kinds = np.broadcast_to(np.array([w.speaker, w.addressee, w.next_turn]), present.shape)
        self.link(sources[present], targets[present], kinds[present])
        named = lambda: chain.from_iterable((x.message_id, x.entity_id) for x in mentions)
        self.link(self.ids([x.message_id for x in mentions], named), self.ids([x.entity_id for x in mentions], named),
                  w.mention)
        self._count([x.entity_id for x in mentions])
        self._statements([(f"event:{e.id}", e.message_id, [member for member, _role in e.participants])
                          for e in events], w.event_source, w.participant)
        self._statements([(f"fact:{r.id}", r.message_id, [r.subject_id, r.object_id]) for r in relations],
                         w.fact_source, w.fact_argument)
        member_key = {"message": "{}", "event": "event:{}", "relation": "fact:{}"}
        scene_links = [
            (f"scene:{scene.id}", key, w.scene_member * member.weight)
            for scene in scenes for member in scene.members
            if (key := member_key[member.kind].format(member.id)) in vertex and member.weight > 0
        ]
        self.vertices([scene for scene, _, _ in scene_links])
        self.link([vertex[scene] for scene, _, _ in scene_links], [vertex[key] for _, key, _ in scene_links],
                  [weight for _, _, weight in scene_links])

    def _statements(self, statements: list[tuple[str, str, list[str]]], source: float, argument: float) -> None:
        """Events or facts: each (key, source message, entities) links to its message, then its entities."""
        ends = [end for _, message, entities in statements for end in (message, *entities)]
        vertex = self.vertex
        if all(map(vertex.__contains__, ends)):  # the statements' own keys are new, in their order
            self.vertices([key for key, _, _ in statements])
        else:
            self.vertices(chain.from_iterable((key, message, *entities) for key, message, entities in statements))
        counts = np.array([1 + len(entities) for _, _, entities in statements], dtype=np.int64)
        keys = np.array([vertex[key] for key, _, _ in statements], dtype=np.int64)
        first = np.zeros(int(counts.sum()), dtype=bool)
        first[np.cumsum(counts) - counts] = True
        self.link(np.repeat(keys, counts), [vertex[end] for end in ends], np.where(first, source, argument))

    def _count(self, entity_ids: list[str]) -> None:
        for entity_id, count in Counter(entity_ids).items():
            self.degree[entity_id] = self.degree.get(entity_id, 0) + count

    def add_facets(self, personas: Sequence[Persona]) -> None:
        """Persona facets: each links the messages behind its facts (those in the projection)."""
        vertex = self.vertex
        facet_links = [
            (f"facet:{facet.id}", message_id)
            for persona in personas for facet in persona.facets for message_id in facet.evidence
            if message_id in vertex
        ]
        self.vertices([facet for facet, _ in facet_links])
        self.link([vertex[facet] for facet, _ in facet_links], [vertex[message] for _, message in facet_links],
                  self.weights.facet_evidence)

    def finish(self, messages: Sequence[MessageNode], entity_ids: Sequence[str]) -> GraphProjection:
        """The projection of the collected links, parallel ones merged (weights summed) and loops
        dropped, sorted by vertex pair: what igraph's simplify(combine_edges="sum") makes of them."""
        size = len(self.vertex)
        a, b, link_weights = self._collected()
        low, high = np.minimum(a, b), np.maximum(a, b)
        kept = low != high
        pairs, slot = np.unique(low[kept] * size + high[kept], return_inverse=True)
        weights = np.bincount(slot.reshape(-1), weights=link_weights[kept], minlength=len(pairs))
        return GraphProjection(
            keys=self.added,
            vertex=self.vertex,
            links=with_room(np.column_stack([pairs // max(size, 1), pairs % max(size, 1)]), dtype=np.int64),
            link_weights=with_room(weights, dtype=np.float64),
            message_vertices=np.array([self.vertex[m.id] for m in messages], dtype=np.int64),
            entity_vertices={e: self.vertex[e] for e in entity_ids},
            entity_degree=self.degree,
            last_turns=self.last_turn,
        )

    def _collected(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The collected links' two ends and weights, in the order they were made."""
        return tuple(np.concatenate([np.zeros(0, dtype=dtype), *blocks]) for blocks, dtype in
                     ((self.sources, np.int64), (self.targets, np.int64), (self.link_weights, np.float64)))

    def grow(self, projection: GraphProjection, messages: Sequence[MessageNode], entity_ids: Sequence[str]) -> None:
        """Add the collected vertices and links to `projection` (parallel new links merged, summed)."""
        projection.keys.extend(self.added)
        merged: dict[tuple[int, int], float] = {}
        for a, b, weight in zip(*(column.tolist() for column in self._collected()), strict=True):
            if a != b:
                pair = (a, b) if a < b else (b, a)
                merged[pair] = merged.get(pair, 0.0) + weight
        new_links = np.array(list(merged), dtype=np.int64).reshape(-1, 2)
        new_weights = np.array(list(merged.values()), dtype=np.float64)
        projection.links = appended_rows(projection.links, new_links)
        projection.link_weights = appended_rows(projection.link_weights, new_weights)
        if projection._graph is not None:
            projection._graph.add_vertices(len(self.added))
            projection._graph.add_edges(new_links.tolist(), attributes={"weight": new_weights.tolist()})
        projection.entity_vertices.update({e: self.vertex[e] for e in entity_ids})
        projection.message_vertices = np.concatenate(
            [projection.message_vertices, np.array([self.vertex[m.id] for m in messages], dtype=np.int64)]
        )
        projection._edge_arrays = None
        projection._walk = None
        projection._path_costs = None


# Room an array grown by appends keeps behind its rows, as a share of them (see `appended_rows`).
GROWTH_ROOM = 0.25


def appended_rows(rows: np.ndarray, more: np.ndarray) -> np.ndarray:
    """`rows` followed by `more`, written into spare room behind `rows` when it has some.

    An append to a large tenant adds a few links to an array of millions: copying it whole each
    time costs milliseconds, and on a machine where fresh memory is slow to touch, much more. So
    the result is a view of a buffer with room for a quarter more rows (left untouched until
    used); while the room lasts, an append copies only its own rows. The rows before never change,
    so earlier views of the buffer still hold what they did; append only to the latest one.
    """
    size = len(rows) + len(more)
    buffer = rows.base
    if not (isinstance(buffer, np.ndarray) and buffer.flags.c_contiguous and rows.flags.c_contiguous
            and len(buffer) >= size
            and buffer.dtype == rows.dtype and buffer.shape[1:] == rows.shape[1:]
            and buffer.__array_interface__["data"][0] == rows.__array_interface__["data"][0]):
        buffer = with_room(rows, extra=len(more)).base
    buffer[len(rows) : size] = more
    return buffer[:size]


def with_room(rows: np.ndarray, extra: int = 0, dtype: np.dtype | type | None = None) -> np.ndarray:
    """`rows` copied into a buffer with `GROWTH_ROOM` spare (plus `extra` rows), as a view of it,
    of `dtype` (default: theirs): what `appended_rows` then fills without copying. Built and
    restored projections start so, so that even a tenant's first append copies nothing."""
    size = len(rows) + extra
    buffer = np.empty((size + int(GROWTH_ROOM * size),) + rows.shape[1:], dtype=dtype or rows.dtype)
    buffer[: len(rows)] = rows
    return buffer[: len(rows)]


def entity_specificity(projection: GraphProjection, entity_id: str, messages: int) -> float:
    """An inverse-document-frequency weight: rare entities are stronger seeds."""
    return math.log(1 + messages / (1 + projection.entity_degree.get(entity_id, 0)))


# Push threshold per unit of degree: on the dev sets, top-200 agreement with exact PPR 0.995 and
# recall unchanged; at 100k messages top-200 agreement 0.97 (README, bench/ppr.py).
PPR_TOLERANCE = 3e-6


def seed_distribution(size: int, seeds: Mapping[int, float]) -> np.ndarray:
    """The seeds' weights over `size` vertices, summing to 1 (all zero when no weight is positive)."""
    weights = np.zeros(size)
    for index, weight in seeds.items():
        weights[index] += weight
    total = weights.sum()
    return weights / total if total > 0 else weights


def personalized_pagerank(
    projection: GraphProjection, seeds: Mapping[int, float], damping: float, tolerance: float = PPR_TOLERANCE
) -> np.ndarray:
    """Approximate PPR scores of every vertex for a restart distribution over `seeds` (vertex -> weight).

    Forward push (Andersen, Chung & Lang 2006), in rounds: every vertex whose residual is at
    least `tolerance` times its degree keeps 1 - damping of it as score and passes the rest to
    its neighbours in proportion to link weight. The work follows the seeds' neighbourhood, not
    the graph: a hub is pushed only once enough mass has reached it. When a round would touch a
    large share of the graph anyway (small tenants), it pushes every vertex at once, which is one
    step of power iteration over the CSR matrix, cheaper than gathering the active vertices' links.
    A vertex without links restarts at the seeds. Scores sum to less than 1 (the residual left
    below the threshold); only their order and ratios matter.
    """
    size = projection.size
    reset = seed_distribution(size, seeds)
    if not reset.any():
        return reset
    walk = projection.walk
    degree = walk.degree
    threshold = tolerance * np.maximum(degree, 1)
    restart_at = np.flatnonzero(reset)
    scores = np.zeros(size)
    residual = reset.copy()
    candidates: np.ndarray | None = restart_at  # vertices whose residual may exceed the threshold; None: any
    while True:
        if candidates is None:
            pushing = residual >= threshold
            volume = int(degree[pushing].sum())
            if not volume and not pushing.any():
                break
        else:
            active = candidates[residual[candidates] >= threshold[candidates]]
            if not len(active):
                break
            volume = int(degree[active].sum())
        if _SPARSE_ROUND_COST + _SPARSE_LINK_COST * volume >= len(walk.neighbours):
            scores += (1 - damping) * residual
            stranded = residual[walk.isolated].sum()
            residual = damping * np.bincount(walk.neighbours, weights=residual[walk.sources] * walk.step, minlength=size)
            if stranded > 0:
                residual += damping * stranded * reset
            candidates = None
            continue
        if candidates is None:
            active = np.flatnonzero(pushing)
        counts = degree[active]
        mass = residual[active]
        scores[active] += (1 - damping) * mass
        residual[active] = 0.0
        entries = np.repeat(walk.indptr[active] - np.cumsum(counts) + counts, counts) + np.arange(volume)
        reached, slot = np.unique(walk.neighbours[entries], return_inverse=True)
        residual[reached] += damping * np.bincount(slot, weights=np.repeat(mass, counts) * walk.step[entries])
        candidates = reached
        stranded = mass[counts == 0].sum()
        if stranded > 0:
            residual += damping * stranded * reset
            candidates = np.union1d(reached, restart_at)
    return scores + (1 - damping) * residual  # each vertex's own residual adds at least this much to its score


# What a sparse round costs, in matrix entries a dense round reads in the same time (measured with
# numpy 2 on the 100k-message bench tenant: a dense round ~6.5 ns per entry; a sparse one ~12 us
# plus ~30 ns per link it pushes, since it gathers and sorts them). A round goes dense when cheaper.
_SPARSE_ROUND_COST = 2_000
_SPARSE_LINK_COST = 5


def exact_personalized_pagerank(
    projection: GraphProjection, seeds: Mapping[int, float], damping: float
) -> np.ndarray:
    """PPR solved exactly (igraph's PRPACK): the reference `personalized_pagerank` is measured
    against. PRPACK parallelises with OpenMP; callers limit its threads (threadpoolctl)."""
    reset = np.zeros(projection.size)
    for index, weight in seeds.items():
        reset[index] += weight
    if reset.sum() <= 0:
        return reset
    scores = projection.graph.personalized_pagerank(
        damping=damping, reset=reset.tolist(), weights="weight", implementation="prpack"
    )
    return np.asarray(scores)


def spread_activation(
    projection: GraphProjection,
    seeds: Mapping[int, float],
    *,
    decay: float,
    hops: int,
    keep: int,
    threshold: float,
) -> np.ndarray:
    """Activation reaching every vertex from `seeds`, summed over `hops` steps.

    Each step passes a vertex's activation to its neighbours in proportion to edge weight over
    the vertex's total weight (fan-out normalisation), scaled by `decay`. Lateral inhibition keeps
    only the `keep` most active vertices of a step, and activation under `threshold` dies out.
    """
    size = projection.size
    active = seed_distribution(size, seeds)
    if not active.any():
        return active
    reached = active.copy()
    for _ in range(hops):
        flow = active[projection.sources] * projection.fan_out_weights
        active = decay * np.bincount(projection.targets, weights=flow, minlength=size)
        if keep < size:
            cutoff = np.partition(active, size - keep)[size - keep]
            active[active < cutoff] = 0.0
        active[active < threshold] = 0.0
        if not active.any():
            break
        reached += active
    return reached


def strongest_path(projection: GraphProjection, seeds: Sequence[int], target: int) -> list[int]:
    """The vertices from the closest seed to `target`, where strong links are short (cost 1/weight).

    This is the explanation of a hit: the chain of mentions, turns, facts and scenes through
    which the question reached it. Empty when no seed reaches the target.
    """
    if not seeds:
        return []
    costs = projection.path_costs
    distances = projection.graph.distances(target, list(seeds), weights=costs)[0]
    best = min(range(len(seeds)), key=lambda i: distances[i])
    if math.isinf(distances[best]):
        return []
    return list(reversed(projection.graph.get_shortest_path(target, seeds[best], weights=costs)))
