"""Scenes: thematic, time-bounded clusters of a tenant's messages, events and facts.

Leiden over the fact-level graph (graphmem.consolidation.fact_graph) with the constant Potts model (CPM): a
scene is a set of items whose links are, on average, denser than `resolution`. CPM is free of
the resolution limit and locally consistent, so re-clustering only the part of the graph that
new items touch finds the scenes a full re-clustering would find there; that is what makes the
incremental update sound. A fixed seed makes every run deterministic.

A scene's id comes from its anchor, its earliest member: it stays the same while the scene
grows. Its label names its most salient entities (IDF-weighted, speakers left out), topped up
with keywords; its time span is that of its members' messages.

Pure: features and previous scenes in, scenes out.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from graphmem.consolidation.fact_graph import MESSAGE, AffinityWeights, Features, Vocabulary, inside_share, label, leiden
from graphmem.models import Scene, SceneMember, stable_id


@dataclass(frozen=True)
class SceneSettings:
    """How scenes are found; tuned on the LoCoMo dev split only."""

    resolution: float = 0.005  # CPM: the link density a scene must exceed
    seed: int = 42
    join_share: float = 0.5  # a new item joins the scene holding at least this share of its links
    touch_share: float = 0.2  # else it is re-clustered with the scenes holding at least this share
    label_terms: int = 3
    weights: AffinityWeights = AffinityWeights()


@dataclass
class SceneUpdate:
    """The scenes after an update, and what the update did."""

    scenes: list[Scene]
    new_items: int = 0
    removed_items: int = 0
    joined: int = 0  # new items that joined an existing scene
    reclustered: int = 0  # items re-clustered locally (new ones and those of the scenes they touch)
    touched: set[str] = field(default_factory=set)  # ids of scenes created or changed


def cluster_scenes(group_id: str, features: Features, vocabulary: Vocabulary, settings: SceneSettings) -> list[Scene]:
    """Every item of the tenant clustered into scenes from scratch."""
    graph = features.graph()
    membership = leiden(graph, settings.resolution, settings.seed)
    weights = inside_share(graph, membership)
    groups: dict[int, dict[int, float]] = defaultdict(dict)
    for position, community in enumerate(membership):
        groups[community][position] = weights[position]
    return ordered([describe_scene(group_id, features, members, vocabulary, settings) for members in groups.values()])


def update_scenes(
    group_id: str, features: Features, vocabulary: Vocabulary, previous: Sequence[Scene], settings: SceneSettings
) -> SceneUpdate:
    """Bring `previous` scenes up to date with the items in `features`.

    Items no longer stored leave their scenes. A new item (in no previous scene) joins the scene
    that holds at least `join_share` of its link weight; the others, with every scene they link
    to, are re-clustered together, and their scenes replaced by the result. Scenes no new item
    touches are kept as they were.
    """
    present = features.index
    kept: dict[str, dict[int, float]] = {}  # scene id -> member position -> weight
    changed: set[str] = set()
    removed = 0
    for scene in previous:
        members = {present[m.id]: m.weight for m in scene.members if m.id in present}
        removed += scene.size - len(members)
        if len(members) < scene.size:
            changed.add(scene.id)
        if members:
            kept[scene.id] = members
    clustered = {position: scene_id for scene_id, members in kept.items() for position in members}
    new = np.array([p for p in range(len(features)) if p not in clustered], dtype=np.int64)
    joined = reclustered = 0
    described: dict[str, Scene] = {}
    if len(new):
        links = dict(zip(new.tolist(), features.strongest_links(new, np.arange(len(features)))))
        unresolved = _join(links, clustered, kept, settings.join_share)
        joined = len(new) - len(unresolved)
        changed |= {clustered[p] for p in new.tolist() if p in clustered}
        if unresolved:
            for members in _recluster(features, unresolved, links, clustered, kept, settings):
                scene = describe_scene(group_id, features, members, vocabulary, settings)
                kept[scene.id] = members
                described[scene.id] = scene
                reclustered += len(members)
    before = {s.id: s for s in previous}
    scenes = [
        described.get(scene_id) or (before[scene_id] if scene_id in before and scene_id not in changed
                                    else describe_scene(group_id, features, members, vocabulary, settings))
        for scene_id, members in kept.items()
    ]
    touched = {s.id for s in scenes if s.id not in before or not _same_scene(before[s.id], s)}
    return SceneUpdate(ordered(scenes), new_items=len(new), removed_items=removed, joined=joined,
                       reclustered=reclustered, touched=touched)


def _same_scene(a: Scene, b: Scene) -> bool:
    """Same scene, whichever personas it was linked to (links are recomputed after clustering)."""
    return replace(a, persona_ids=()) == replace(b, persona_ids=())


def _scene_shares(links: list[tuple[int, float]], clustered: Mapping[int, str]) -> dict[str, float]:
    """The share of an item's link weight that goes to each scene."""
    total = sum(weight for _, weight in links)
    shares: Counter[str] = Counter()
    for neighbour, weight in links:
        if neighbour in clustered and total > 0:
            shares[clustered[neighbour]] += weight / total
    return shares


def _join(
    links: Mapping[int, list[tuple[int, float]]],
    clustered: dict[int, str],
    kept: dict[str, dict[int, float]],
    join_share: float,
) -> list[int]:
    """Let new items join the scene holding `join_share` of their link weight, repeatedly (an
    item that joined may carry the next one); returns the items that joined none, in order."""
    waiting = sorted(links)
    changed = True
    while changed and waiting:
        changed = False
        still = []
        for position in waiting:
            shares = _scene_shares(links[position], clustered)
            best = min(shares.items(), key=lambda pair: (-pair[1], pair[0]), default=None)
            if best is not None and best[1] >= join_share:
                clustered[position] = best[0]
                kept[best[0]][position] = best[1]
                changed = True
            else:
                still.append(position)
        waiting = still
    return waiting


def _recluster(
    features: Features,
    unresolved: list[int],
    links: Mapping[int, list[tuple[int, float]]],
    clustered: dict[int, str],
    kept: dict[str, dict[int, float]],
    settings: SceneSettings,
) -> list[dict[int, float]]:
    """Leiden over the unresolved items and the scenes that hold at least `touch_share` of one's
    link weight; those scenes are removed from `kept`, the communities found returned as
    member -> weight. (CPM is locally consistent: clustering this region alone finds what
    clustering the whole graph would find in it.)"""
    affected = sorted({
        scene_id for p in unresolved for scene_id, share in _scene_shares(links[p], clustered).items()
        if share >= settings.touch_share
    })
    region = sorted(set(unresolved) | {p for scene_id in affected for p in kept.pop(scene_id)})
    for position in region:
        clustered.pop(position, None)
    graph = features.graph(region)
    membership = leiden(graph, settings.resolution, settings.seed)
    weights = inside_share(graph, membership)
    groups: dict[int, dict[int, float]] = defaultdict(dict)
    for local, community in enumerate(membership):
        groups[community][region[local]] = weights[local]
    return list(groups.values())


def describe_scene(
    group_id: str, features: Features, members: Mapping[int, float], vocabulary: Vocabulary, settings: SceneSettings
) -> Scene:
    """The scene made of `members` (item position -> weight): id, label, span, participants."""
    items = [features.items[p] for p in sorted(members)]
    anchor = min(items, key=lambda item: (item.ts, features.index[item.id]))
    ordered_members = sorted(
        (SceneMember(item.id, item.kind, round(members[features.index[item.id]], 6)) for item in items),
        key=lambda m: (-m.weight, m.id),
    )
    return Scene(
        id=stable_id(group_id, "scene", anchor.id),
        label=label(features, members, vocabulary, settings.label_terms),
        ts_start=min(item.ts for item in items),
        ts_end=max(item.ts for item in items),
        members=tuple(ordered_members),
        participants=_participants(features, members, vocabulary),
    )


def _participants(features: Features, members: Mapping[int, float], vocabulary: Vocabulary) -> tuple[str, ...]:
    """People taking part: the speakers of its messages and the people two members or more involve."""
    speaking = {features.items[p].speaker_id for p in members if features.items[p].kind == MESSAGE}
    involved = Counter(e for p in members for e in set(features.items[p].entity_ids) if e in vocabulary.people)
    return tuple(sorted(speaking | {e for e, count in involved.items() if count > 1}))


def ordered(scenes: Sequence[Scene]) -> list[Scene]:
    """Scenes in time order (then by id): the order stores return them in."""
    return sorted(scenes, key=lambda s: (s.ts_start, s.id))


def scene_membership(scenes: Sequence[Scene], ids: Sequence[str]) -> list[int]:
    """The partition scenes make of `ids`, as a community index per id (-1: in no scene);
    for comparing partitions (modularity, NMI)."""
    community = {m.id: index for index, scene in enumerate(scenes) for m in scene.members}
    return [community.get(i, -1) for i in ids]


def median_span_days(scenes: Sequence[Scene]) -> float:
    """The median time span of scenes, in days (NaN without scenes)."""
    spans = [(s.ts_end - s.ts_start).total_seconds() / 86400.0 for s in scenes]
    return statistics.median(spans) if spans else math.nan
