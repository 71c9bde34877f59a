"""Personas: what each participant is like, from what they said about themselves.

A participant's self-statements are the relations and events of their own turns that are about
them: they are the relation's subject or the event's agent, take part in it, or are named in it
(the extractor writes a speaker's "I", "my", "me" as their name), plus the statements alignment
moved to them (graphmem.consolidation.alignment). "I love pottery", "I'm allergic to cats", "I work as a
nurse" land here; what others say about them does not.

The statements are grouped into facets by Leiden over the participant's own fact graph (shared
entities, keywords and, loosely, time: traits outlast the session they were stated in), each
labelled by its salient entities and keywords and backed by the messages that state it.
Relations a later statement superseded stay, marked as past (`current=False`), so a changed job
shows the new one as current and the old one as before.

Pure: items in, personas out.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from graphmem.consolidation.alignment import Misattribution, correct_text, in_first_person
from graphmem.consolidation.fact_graph import MESSAGE, AffinityWeights, Features, Item, Vocabulary, label, leiden
from graphmem.models import Facet, Persona, PersonaFact, stable_id


@dataclass(frozen=True)
class PersonaSettings:
    """How facets are found; tuned on the LoCoMo dev split only."""

    model: str = "modularity"  # facets are re-found whole each time: no need for CPM's locality
    resolution: float = 1.0
    seed: int = 42
    label_terms: int = 3
    summary_facets: int = 5  # facets named in a persona's summary
    weights: AffinityWeights = AffinityWeights(time_floor=0.5, day_scale=30.0)


def self_statements(
    items: Sequence[Item], names: Mapping[str, Sequence[str]], moved: Mapping[str, Misattribution]
) -> dict[str, list[Item]]:
    """Each participant's statements about themselves, and their turns in the first person
    (participant entity id -> items, in conversation order).

    `names` maps each participant to their name and aliases; `moved` holds the statements that
    alignment re-attributed, by item id.
    """
    owned: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        if item.id in moved:
            owned[moved[item.id].right].append(item)
        elif item.speaker_id in names and _about_speaker(item, names[item.speaker_id]):
            owned[item.speaker_id].append(item)
    return dict(owned)


def _about_speaker(item: Item, speaker_names: Sequence[str]) -> bool:
    """Whether an item of its speaker's own turn is about the speaker: a turn in the first
    person, a statement with them as subject, agent or participant, or naming them."""
    if item.kind == MESSAGE:
        return in_first_person(item.text)
    if item.about_id == item.speaker_id or item.speaker_id in item.entity_ids:
        return True
    return any(re.search(rf"\b{re.escape(name)}\b", item.text) for name in speaker_names if name)


def build_persona(
    group_id: str,
    person: str,
    items: Sequence[Item],
    vocabulary: Vocabulary,
    *,
    names: Mapping[str, Sequence[str]],
    past: Collection[str],
    moved: Mapping[str, Misattribution],
    settings: PersonaSettings,
) -> Persona:
    """The persona of `person` from `items`, their self-statements and first-person turns
    (`self_statements`), in facets: each facet holds the statements of one Leiden community as
    facts, and its turns and the statements' messages as evidence.

    `past` holds the ids of superseded relations; `names` every participant's name and aliases
    (a moved statement's text is corrected with them).
    """
    features = Features(items, vocabulary.participants, [vocabulary.names[p] for p in vocabulary.participants],
                        settings.weights)
    membership = leiden(features.graph(), settings.resolution, settings.seed, model=settings.model)
    groups: dict[int, list[int]] = defaultdict(list)
    for position, community in enumerate(membership):
        groups[community].append(position)
    facets = []
    for positions in groups.values():
        facts = tuple(_persona_fact(items[p], past, moved, names, vocabulary) for p in positions
                      if items[p].kind != MESSAGE)
        if facts:
            facets.append(Facet(
                id=stable_id(group_id, "facet", person, facts[0].id),
                label=label(features, {p: 1.0 for p in positions}, vocabulary, settings.label_terms),
                facts=facts,
                evidence=tuple(sorted({items[p].message_id for p in positions})),
            ))
    facets.sort(key=lambda f: (-len(f.facts), f.id))
    name = vocabulary.names[person]
    return Persona(
        id=persona_id(group_id, person), entity_id=person, name=name,
        summary=_summary(name, facets, settings.summary_facets), facets=tuple(facets),
    )


def persona_id(group_id: str, person: str) -> str:
    return stable_id(group_id, "persona", person)


def _persona_fact(item: Item, past: Collection[str], moved: Mapping[str, Misattribution],
                  names: Mapping[str, Sequence[str]], vocabulary: Vocabulary) -> PersonaFact:
    move = moved.get(item.id)
    text = correct_text(item.text, names[move.wrong], vocabulary.names[move.right]) if move else item.text
    return PersonaFact(item.id, item.kind, text, item.message_id, current=item.id not in past,
                       moved_from=move.wrong if move else None)


def _summary(name: str, facets: Sequence[Facet], shown: int) -> str:
    """`Ana: work, Lumen Labs (4 facts); Maya, sister (3 facts); …`: the largest facets."""
    if not facets:
        return f"{name}: nothing said about themselves yet"
    parts = [f"{f.label} ({len(f.facts)} fact{'s' if len(f.facts) > 1 else ''})" for f in facets[:shown]]
    more = f"; and {len(facets) - shown} more facets" if len(facets) > shown else ""
    return f"{name}: " + "; ".join(parts) + more
