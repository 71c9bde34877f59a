"""The in-memory graph a tenant's queries run on, and personalized PageRank over it.

One undirected weighted igraph graph per tenant: message, entity, event and fact vertices (and,
once consolidated, scene and persona-facet vertices), with edges for mentions, speakers,
addressees, turn adjacency, event participation, facts' subject / object / provenance, scene
membership and facets' evidence. It is built once from the store and extended in place as new
messages are appended (`extend_projection`, in time proportional to the new records); queries
only read it.

Personalized PageRank runs on the graph's weighted adjacency in CSR form (`WalkMatrix`), built
lazily on a projection's first query after a build or an extension (one sort of the edge list).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
    graph: igraph.Graph
    message_vertices: np.ndarray  # vertex of messages[i]
    entity_vertices: dict[str, int]
    entity_degree: dict[str, int]  # messages mentioning or spoken by each entity
    keys: list[str]  # a message or entity id, "event:<id>", "fact:<id>", "scene:<id>" or "facet:<id>"
    vertex: dict[str, int]  # the inverse of `keys`
    last_turns: dict[tuple[str, int | None], str]  # (conversation, session) -> the id of its last message
    _edge_arrays: tuple | None = field(default=None, repr=False)  # derived from `graph`, see `_edges`
    _walk: WalkMatrix | None = field(default=None, repr=False)  # derived from the edge arrays, see `walk`
    _consolidated: np.ndarray | None = field(default=None, repr=False)  # see `consolidated_vertices`

    @property
    def size(self) -> int:
        return self.graph.vcount()

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
        return self._edges()[3]

    @property
    def walk(self) -> WalkMatrix:
        """The walk matrix PPR pushes along, built on first use after a build or an extension."""
        if self._walk is None:
            self._walk = WalkMatrix.from_links(self.sources, self.targets, self.fan_out_weights, self.size)
        return self._walk

    def _edges(self) -> tuple:
        """Edge arrays derived from the graph, computed on first use after a build or an extension
        (only activation and explanations need them, so appends do not pay for them)."""
        if self._edge_arrays is None:
            graph = self.graph
            pairs = np.array(graph.get_edgelist(), dtype=np.int64).reshape(-1, 2)
            weight = np.asarray(graph.es["weight"] if graph.ecount() else [], dtype=float)
            sources = np.concatenate([pairs[:, 0], pairs[:, 1]])
            targets = np.concatenate([pairs[:, 1], pairs[:, 0]])
            both = np.concatenate([weight, weight])
            strength = np.bincount(sources, weights=both, minlength=graph.vcount())
            fan_out = both / np.where(strength[sources] > 0, strength[sources], 1.0)
            self._edge_arrays = (sources, targets, fan_out, [1.0 / w for w in weight])
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
    for entity in entities:
        builder.vid(entity.id)
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
    for entity_id in entity_ids:
        builder.vid(entity_id)
    builder.add(new_messages, mentions, events, relations, ())
    builder.grow(projection, new_messages, entity_ids)


class _Builder:
    """Collects vertices and weighted edges, for a new projection or to grow an existing one."""

    def __init__(self, weights: EdgeWeights, base: GraphProjection | None = None):
        self.weights = weights
        # Growing a projection adds to its own maps; the edges are only the new ones.
        self.vertex: dict[str, int] = base.vertex if base else {}
        self.degree: dict[str, int] = base.entity_degree if base else {}
        self.last_turn: dict[tuple[str, int | None], str] = base.last_turns if base else {}
        self.edges: list[tuple[int, int]] = []
        self.edge_weights: list[float] = []
        self.added: list[str] = []  # keys of the vertices this builder created, in vertex order

    def vid(self, key: str) -> int:
        found = self.vertex.get(key)
        if found is None:
            found = self.vertex[key] = len(self.vertex)
            self.added.append(key)
        return found

    def link(self, a: str, b: str, weight: float) -> None:
        self.edges.append((self.vid(a), self.vid(b)))
        self.edge_weights.append(weight)

    def add(self, messages, mentions, events, relations, scenes) -> None:
        w = self.weights
        for message in messages:
            self.link(message.id, message.speaker_id, w.speaker)
            self.degree[message.speaker_id] = self.degree.get(message.speaker_id, 0) + 1
            if message.addressee_id:
                self.link(message.id, message.addressee_id, w.addressee)
            turn = (message.conversation_id, message.session)
            if turn in self.last_turn:
                self.link(self.last_turn[turn], message.id, w.next_turn)
            self.last_turn[turn] = message.id
        for mention in mentions:
            self.link(mention.message_id, mention.entity_id, w.mention)
            self.degree[mention.entity_id] = self.degree.get(mention.entity_id, 0) + 1
        for event in events:
            key = f"event:{event.id}"
            self.link(key, event.message_id, w.event_source)
            for member, _role in event.participants:
                self.link(key, member, w.participant)
        for relation in relations:
            key = f"fact:{relation.id}"
            self.link(key, relation.message_id, w.fact_source)
            self.link(key, relation.subject_id, w.fact_argument)
            self.link(key, relation.object_id, w.fact_argument)
        member_key = {"message": "{}", "event": "event:{}", "relation": "fact:{}"}
        for scene in scenes:
            for member in scene.members:
                key = member_key[member.kind].format(member.id)
                if key in self.vertex and member.weight > 0:
                    self.link(f"scene:{scene.id}", key, w.scene_member * member.weight)

    def add_facets(self, personas: Sequence[Persona]) -> None:
        for persona in personas:
            for facet in persona.facets:
                for message_id in facet.evidence:
                    if message_id in self.vertex:
                        self.link(f"facet:{facet.id}", message_id, self.weights.facet_evidence)

    def finish(self, messages: Sequence[MessageNode], entity_ids: Sequence[str]) -> GraphProjection:
        graph = igraph.Graph(n=len(self.vertex), edges=self.edges, directed=False)
        graph.es["weight"] = self.edge_weights
        if self.edges:
            graph = graph.simplify(combine_edges="sum")
        return GraphProjection(
            graph,
            np.array([self.vertex[m.id] for m in messages], dtype=np.int64),
            {e: self.vertex[e] for e in entity_ids},
            self.degree,
            self.added,
            self.vertex,
            self.last_turn,
        )

    def grow(self, projection: GraphProjection, messages: Sequence[MessageNode], entity_ids: Sequence[str]) -> None:
        """Add the collected vertices and edges to `projection` (parallel new edges merged, summed)."""
        graph = projection.graph
        graph.add_vertices(len(self.added))
        projection.keys.extend(self.added)
        merged: dict[tuple[int, int], float] = {}
        for (a, b), weight in zip(self.edges, self.edge_weights, strict=True):
            if a != b:
                pair = (a, b) if a < b else (b, a)
                merged[pair] = merged.get(pair, 0.0) + weight
        if merged:
            graph.add_edges(list(merged), attributes={"weight": list(merged.values())})
        projection.entity_vertices.update({e: self.vertex[e] for e in entity_ids})
        projection.message_vertices = np.concatenate(
            [projection.message_vertices, np.array([self.vertex[m.id] for m in messages], dtype=np.int64)]
        )
        projection._edge_arrays = None
        projection._walk = None


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
