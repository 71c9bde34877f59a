"""Consolidation: a tenant's scenes and personas, aligned with each other, with a report.

One pass, pure (the caller reads the records and writes the result):

1. the fact-level graph's items and features (graphmem.consolidation.fact_graph);
2. scenes: clustered from scratch (`full`, or when none exist yet), else updated incrementally
   from the previous scenes, whose members are the record of what was already clustered
   (graphmem.consolidation.scenes);
3. alignment: statements attributed to the wrong participant are moved, and scenes mixing the
   stories of different participants are split (graphmem.consolidation.alignment);
4. personas, one per participant, and each scene linked to the personas whose facts it holds
   (graphmem.consolidation.personas).
"""

from __future__ import annotations

import resource
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from graphmem.consolidation.alignment import AlignmentSettings, Misattribution, misattributions, split_mixed
from graphmem.consolidation.fact_graph import Features, Item, Vocabulary, items_of
from graphmem.models import EntityNode, EventNode, Mention, MessageNode, Persona, RelationEdge, Scene
from graphmem.consolidation.personas import PersonaSettings, build_persona, self_statements
from graphmem.consolidation.scenes import SceneSettings, SceneUpdate, cluster_scenes, describe_scene, ordered, update_scenes


@dataclass(frozen=True)
class ConsolidationSettings:
    scenes: SceneSettings = SceneSettings()
    personas: PersonaSettings = PersonaSettings()
    alignment: AlignmentSettings = AlignmentSettings()


@dataclass(frozen=True)
class TenantRecords:
    """What consolidation reads of a tenant."""

    messages: Sequence[MessageNode]
    mentions: Sequence[Mention]
    events: Sequence[EventNode]
    relations: Sequence[RelationEdge]
    entities: Sequence[EntityNode]


@dataclass
class StepMeasures:
    """How long each step of a consolidation took (seconds) and the process's peak resident memory
    during it (MB), filled in as the steps run (`measure`); the report is built from it at the end."""

    timings: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    start_rss_mb: float = field(default_factory=lambda: resident_mb())  # resident memory when measuring began

    @contextmanager
    def measure(self, step: str) -> Iterator[None]:
        with measured(step, self.timings, self.peak_rss_mb):
            yield


@dataclass(frozen=True)
class ConsolidationReport:
    """What a consolidation found and changed, and how long each step took (seconds)."""

    group_id: str
    full: bool
    items: int = 0  # messages, events and relations clustered
    new_items: int = 0  # not in any previous scene
    removed_items: int = 0  # in a previous scene, no longer stored
    joined: int = 0  # new items that joined an existing scene
    reclustered: int = 0  # items clustered again (all of them when full)
    scenes: int = 0
    scenes_changed: int = 0  # created or changed
    scenes_split: int = 0
    facts_moved: int = 0
    personas: int = 0
    facets: int = 0
    personas_rebuilt: int = 0  # the others were kept as stored: nothing they rest on changed
    changes: tuple[str, ...] = ()  # what alignment changed, one line each
    timings: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)  # per step: the process's peak resident memory
    start_rss_mb: float = 0.0  # resident memory when consolidation began

    @property
    def seconds(self) -> float:
        return sum(self.timings.values())

    @property
    def peak_memory_mb(self) -> float:
        """The process's peak resident memory (MB) while consolidating."""
        return max(self.peak_rss_mb.values(), default=self.start_rss_mb)


@dataclass
class Consolidation:
    """What `consolidate` found: the scenes and personas to store, and the report."""

    scenes: list[Scene]
    personas: list[Persona]
    report: ConsolidationReport


def consolidate(
    group_id: str,
    records: TenantRecords,
    previous: Sequence[Scene] = (),
    *,
    personas: Sequence[Persona] = (),
    full: bool = False,
    settings: ConsolidationSettings = ConsolidationSettings(),
    steps: StepMeasures | None = None,
) -> Consolidation:
    """Scenes and personas of a tenant: incremental over `previous` scenes unless `full` (or
    there are none); `previous` also defines which items are new. Of the `personas` stored
    before, those whose participant neither gained nor lost a statement (and whose facts kept
    their state) are kept as they were; the others are rebuilt (all of them when `full`).

    Each step is measured into `steps` (given when the caller measures steps of its own around
    this, like reading and writing the records), and the report holds every step measured there."""
    full = full or not previous
    steps = steps or StepMeasures()
    with steps.measure("graph"):
        features = tenant_features(records, settings.scenes)
        items, names = features.items, participant_names(records)
        vocabulary = Vocabulary({e.id: e.name for e in records.entities},
                                {e.id for e in records.entities if e.type == "person"}, set(names))
        source = {m.id: m.source_id for m in records.messages}
        past = {r.id for r in records.relations if not r.current}
    # Everything below reads the features: a caller that holds no other reference to the records
    # (Memory.consolidate) has their memory back for clustering, which needs the most.
    del records
    with steps.measure("scenes"):
        update = _scenes(group_id, features, vocabulary, previous, full, settings.scenes)
    with steps.measure("alignment"):
        moved = {m.item_id: m for m in misattributions(items, names)}
        moves = [_describe_move(m, features, vocabulary, source) for m in moved.values()]
        split = _split_mixed_scenes(group_id, features, vocabulary, update, moved, names, settings)
    with steps.measure("personas"):
        owned = self_statements(items, names, moved)
        kept = {} if full else {p.entity_id: p for p in personas}
        stale = _stale_personas(owned, previous, features, kept, past, moved) if kept else set(names)
        personas = sorted(
            (build_persona(group_id, person, owned.get(person, []), vocabulary, names=names, past=past, moved=moved,
                           settings=settings.personas) if person in stale or person not in kept else kept[person]
             for person in names),
            key=lambda p: (p.name, p.id),
        )
        scenes = link_personas(split.scenes, personas)
    report = ConsolidationReport(
        group_id, full, items=len(items), new_items=update.new_items, removed_items=update.removed_items,
        joined=update.joined, reclustered=update.reclustered, scenes=len(scenes), scenes_changed=split.changed,
        scenes_split=len(split.changes), facts_moved=len(moved), personas=len(personas),
        facets=sum(len(p.facets) for p in personas),
        personas_rebuilt=sum(person in stale or person not in kept for person in names),
        changes=(*moves, *split.changes), timings=dict(steps.timings), peak_rss_mb=dict(steps.peak_rss_mb),
        start_rss_mb=steps.start_rss_mb,
    )
    return Consolidation(scenes, personas, report)


def tenant_features(records: TenantRecords, settings: SceneSettings = SceneSettings()) -> Features:
    """The tenant's fact-level graph features, as scenes are clustered on them."""
    items = items_of(records.messages, records.mentions, records.events, records.relations)
    names = participant_names(records)
    return Features(items, names, [n[0] for n in names.values()], settings.weights)


def participant_names(records: TenantRecords) -> dict[str, list[str]]:
    """Each speaker's person entity id -> their name and aliases (the name first)."""
    entities = {e.id: e for e in records.entities}
    names: dict[str, list[str]] = {}
    for message in records.messages:
        if message.speaker_id not in names:
            entity = entities.get(message.speaker_id)
            names[message.speaker_id] = [message.speaker, *(entity.aliases if entity else ())]
    return names


def _scenes(group_id: str, features: Features, vocabulary: Vocabulary, previous: Sequence[Scene], full: bool,
            settings: SceneSettings) -> SceneUpdate:
    """Scenes clustered from scratch (`full`) or updated from `previous`."""
    if not full:
        return update_scenes(group_id, features, vocabulary, previous, settings)
    scenes = cluster_scenes(group_id, features, vocabulary, settings)
    clustered = {m.id for scene in previous for m in scene.members}
    return SceneUpdate(
        scenes, new_items=sum(item.id not in clustered for item in features.items),
        removed_items=len(clustered - set(features.index)), reclustered=len(features), touched={s.id for s in scenes},
    )


@dataclass(frozen=True)
class _SplitScenes:
    """The scenes after splitting those that mix participants' stories."""

    scenes: list[Scene]
    changed: int  # scenes created or changed, splits included
    changes: tuple[str, ...]  # one line per split


def _split_mixed_scenes(
    group_id: str,
    features: Features,
    vocabulary: Vocabulary,
    update: SceneUpdate,
    moved: dict[str, Misattribution],
    names: dict[str, list[str]],
    settings: ConsolidationSettings,
) -> _SplitScenes:
    """The scenes, with every created or changed one that mixes participants' stories split."""
    about = {
        position: moved[item.id].right if item.id in moved else item.about_id
        for position, item in enumerate(features.items)
        if (item.id in moved or item.about_id in names)
    }
    result, changed, changes = [], set(update.touched), []
    for scene in update.scenes:
        if scene.id not in update.touched:
            result.append(scene)
            continue
        weights = {features.index[m.id]: m.weight for m in scene.members}
        parts = split_mixed(features, sorted(weights), about, settings.alignment)
        if len(parts) == 1:
            result.append(scene)
            continue
        pieces = [describe_scene(group_id, features, {p: weights[p] for p in part}, vocabulary, settings.scenes)
                  for part in parts]
        result += pieces
        changed |= {piece.id for piece in pieces}
        changes.append(f"split scene '{scene.label}' ({scene.size} members), whose participants' stories "
                              f"share little context, into " + ", ".join(_describe_scene(s) for s in pieces))
    return _SplitScenes(ordered(result), len(changed & {s.id for s in result}), tuple(changes))


def _stale_personas(
    owned: dict[str, list[Item]],
    previous: Sequence[Scene],
    features: Features,
    kept: dict[str, Persona],
    past: set[str],
    moved: dict[str, Misattribution],
) -> set[str]:
    """Participants whose persona may have changed since the `previous` scenes: one of their
    statements or turns is new; an item of a scene they took part in is gone; or a fact of their
    persona is no longer stored, was superseded since, or was moved differently."""
    clustered = {m.id for scene in previous for m in scene.members}
    stale = {person for person, told in owned.items() if any(item.id not in clustered for item in told)}
    stale |= {person for scene in previous for person in scene.participants
              if any(m.id not in features.index for m in scene.members)}
    for person, persona in kept.items():
        for fact in persona.facts():
            move = moved.get(fact.id)
            if (fact.id not in features.index or fact.current == (fact.id in past)
                    or fact.moved_from != (move.wrong if move else None)):
                stale.add(person)
                break
    return stale


def link_personas(scenes: Sequence[Scene], personas: Sequence[Persona]) -> list[Scene]:
    """Each scene with the personas it shows: those with a fact among its members."""
    owner = {fact.id: persona.id for persona in personas for fact in persona.facts()}
    return [
        replace(scene, persona_ids=tuple(sorted({owner[m.id] for m in scene.members if m.id in owner})))
        for scene in scenes
    ]


def _describe_move(move: Misattribution, features: Features, vocabulary: Vocabulary, source: dict[str, str]) -> str:
    item: Item = features.items[features.index[move.item_id]]
    wrong, right = vocabulary.names.get(move.wrong, move.wrong), vocabulary.names.get(move.right, move.right)
    return (f"moved {item.kind} '{item.text}' from {wrong} to {right}: message {source.get(item.message_id, '?')} "
            f"is {right}'s turn, in the first person, and does not refer to {wrong}")


def _describe_scene(scene: Scene) -> str:
    return f"'{scene.label}' ({scene.size} members)"


@contextmanager
def measured(step: str, timings: dict[str, float], peaks: dict[str, float], interval: float = 0.005) -> Iterator[None]:
    """Record how long `step` takes (seconds, in `timings`) and the process's peak resident memory
    meanwhile (MB, in `peaks`): sampled every `interval` seconds on a thread, and exact whenever
    the step sets a new high for the process (the kernel's high-water mark then is the step's)."""
    high_before = peak_resident_mb()
    peak = [resident_mb()]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval):
            peak[0] = max(peak[0], resident_mb())

    sampler = threading.Thread(target=sample, name=f"rss-{step}", daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - started
        done.set()
        sampler.join()
        high_after = peak_resident_mb()
        top = max(peak[0], resident_mb(), high_after if high_after > high_before else 0.0)
        peaks[step] = max(peaks.get(step, 0.0), top)


_STATM = Path("/proc/self/statm")
_STATUS = Path("/proc/self/status")
_PAGE_MB = resource.getpagesize() / 2**20


def resident_mb() -> float:
    """The process's resident memory now (MB); its peak so far where /proc is not available."""
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE_MB
    except OSError:
        return peak_resident_mb()


def peak_resident_mb() -> float:
    """The process's peak resident memory so far (MB).

    Linux's VmHWM where there is /proc: getrusage's ru_maxrss is kept across fork and exec, so in
    a process started by a larger one (a bench's child, a worker's flow run) it reports the
    parent's peak until its own exceeds it.
    """
    try:
        status = _STATUS.read_text()
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB elsewhere
    return next(int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:"))
