"""The in-memory graph a tenant's queries run on, and personalized PageRank over it.

One undirected weighted igraph graph per tenant: message, entity, event and fact vertices, with
edges for mentions, speakers, addressees, turn adjacency, event participation, facts' subject /
object / provenance. It is built once from the store and kept until the tenant is written to;
queries only read it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import igraph
import numpy as np

from graphmem.models import EntityNode, EventNode, Mention, MessageNode, RelationEdge, Scene


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


@dataclass
class GraphProjection:
    graph: igraph.Graph
    message_vertices: np.ndarray  # vertex of messages[i]
    entity_vertices: dict[str, int]
    entity_degree: dict[str, int]  # messages mentioning or spoken by each entity
    sources: np.ndarray  # both directions of every edge, for activation spreading
    targets: np.ndarray
    fan_out_weights: np.ndarray  # edge weight / the source vertex's total weight
    keys: list[str]  # what each vertex stands for: a message or entity id, "event:<id>", "fact:<id>", "scene:<id>"

    @property
    def size(self) -> int:
        return self.graph.vcount()


def build_projection(
    messages: Sequence[MessageNode],
    entities: Sequence[EntityNode],
    mentions: Sequence[Mention],
    events: Sequence[EventNode],
    relations: Sequence[RelationEdge],
    weights: EdgeWeights = EdgeWeights(),
    scenes: Sequence[Scene] = (),
) -> GraphProjection:
    """Project a tenant's records into one weighted graph.

    Scenes are vertices linked to their members, so a fact evokes its scene and the scene pulls
    in the scene's other facts and messages (Bi-Mem's associative recall).
    """
    vertex: dict[str, int] = {}

    def vid(key: str) -> int:
        found = vertex.get(key)
        if found is None:
            found = vertex[key] = len(vertex)
        return found

    message_vertices = np.array([vid(m.id) for m in messages], dtype=np.int64)
    entity_vertices = {e.id: vid(e.id) for e in entities}
    edges: list[tuple[int, int]] = []
    edge_weights: list[float] = []
    degree: dict[str, int] = {}

    def link(a: str, b: str, weight: float) -> None:
        edges.append((vid(a), vid(b)))
        edge_weights.append(weight)

    previous: MessageNode | None = None
    for message in messages:
        link(message.id, message.speaker_id, weights.speaker)
        degree[message.speaker_id] = degree.get(message.speaker_id, 0) + 1
        if message.addressee_id:
            link(message.id, message.addressee_id, weights.addressee)
        if previous is not None and previous.conversation_id == message.conversation_id and previous.session == message.session:
            link(previous.id, message.id, weights.next_turn)
        previous = message
    for mention in mentions:
        link(mention.message_id, mention.entity_id, weights.mention)
        degree[mention.entity_id] = degree.get(mention.entity_id, 0) + 1
    for event in events:
        key = f"event:{event.id}"
        link(key, event.message_id, weights.event_source)
        for member, _role in event.participants:
            link(key, member, weights.participant)
    for relation in relations:
        key = f"fact:{relation.id}"
        link(key, relation.message_id, weights.fact_source)
        link(key, relation.subject_id, weights.fact_argument)
        link(key, relation.object_id, weights.fact_argument)

    member_key = {"message": "{}", "event": "event:{}", "relation": "fact:{}"}
    for scene in scenes:
        for member in scene.members:
            key = member_key[member.kind].format(member.id)
            if key in vertex and member.weight > 0:
                link(f"scene:{scene.id}", key, weights.scene_member * member.weight)

    graph = igraph.Graph(n=len(vertex), edges=edges, directed=False)
    graph.es["weight"] = edge_weights
    graph = graph.simplify(combine_edges="sum") if edges else graph
    pairs = np.array(graph.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    weight = np.asarray(graph.es["weight"] if edges else [], dtype=float)
    sources = np.concatenate([pairs[:, 0], pairs[:, 1]])
    targets = np.concatenate([pairs[:, 1], pairs[:, 0]])
    both = np.concatenate([weight, weight])
    strength = np.bincount(sources, weights=both, minlength=graph.vcount())
    fan_out = both / np.where(strength[sources] > 0, strength[sources], 1.0)
    keys = [""] * len(vertex)
    for key, index in vertex.items():
        keys[index] = key
    return GraphProjection(graph, message_vertices, entity_vertices, degree, sources, targets, fan_out, keys)


def entity_specificity(projection: GraphProjection, entity_id: str, messages: int) -> float:
    """An inverse-document-frequency weight: rare entities are stronger seeds."""
    return math.log(1 + messages / (1 + projection.entity_degree.get(entity_id, 0)))


def personalized_pagerank(projection: GraphProjection, seeds: Mapping[int, float], damping: float) -> np.ndarray:
    """PPR scores of every vertex for a restart distribution over `seeds` (vertex -> weight)."""
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
    active = np.zeros(size)
    for index, weight in seeds.items():
        active[index] += weight
    total = active.sum()
    if total <= 0:
        return active
    active /= total
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
    costs = [1.0 / w for w in projection.graph.es["weight"]]
    distances = projection.graph.distances(target, list(seeds), weights=costs)[0]
    best = min(range(len(seeds)), key=lambda i: distances[i])
    if math.isinf(distances[best]):
        return []
    return list(reversed(projection.graph.get_shortest_path(target, seeds[best], weights=costs)))
