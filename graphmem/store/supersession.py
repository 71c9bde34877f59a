"""Supersession: when a new statement contradicts a current one, the old one is closed, not deleted.

Only single-valued predicates contradict: someone lives in one place, works at one employer, has
one favourite book at a time; they may love many things. For each (subject, predicate) of a
single-valued predicate, the relations are put in world-time order (when they became true, else
when they were observed); each one whose object differs from the next one's is closed by it:

- `valid_to` = the successor's start (world time: it stopped being true then),
- `expired_at` = when the memory learned of the successor (memory time), never before it learned
  the old fact itself,
- `superseded_by` = the successor's id.

Because the state is computed from the whole set, the order of arrival does not matter: an older
fact ingested later is closed by the newer one already stored, and never closes it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import date

from graphmem.models import RelationEdge

SINGLE_VALUED_PREDICATES = frozenset(
    """live in|live at|move to|work at|work for|work as|job|job title|relationship status|
    marry|married to|engaged to|date|age|study at|go to school at|drive|name|own dog|own car|
    has boyfriend|has girlfriend|has husband|has wife|has partner|has fiance|has fiancee""".replace("\n", "")
    .split("|")
)
SINGLE_VALUED_PREFIXES = ("favorite ", "favourite ", "current ")


def is_single_valued(predicate: str) -> bool:
    """Whether a subject can hold this predicate with only one object at a time."""
    normalised = " ".join(predicate.lower().split())
    return normalised in SINGLE_VALUED_PREDICATES or normalised.startswith(SINGLE_VALUED_PREFIXES)


def supersession_key(relation: RelationEdge) -> tuple[str, str] | None:
    """The (subject, predicate) whose relations may supersede each other, or None."""
    if not is_single_valued(relation.predicate):
        return None
    return relation.subject_id, " ".join(relation.predicate.lower().split())


def world_start(relation: RelationEdge) -> date:
    """When a relation became true: its stated start, else the day the memory learned it."""
    return relation.valid_from or relation.observed_at.date()


def resolve_supersession(relations: Iterable[RelationEdge]) -> list[RelationEdge]:
    """The relations whose closing fields must change, with their new values.

    `relations` must hold every stored and incoming relation of the affected keys.
    """
    by_key: dict[tuple[str, str], list[RelationEdge]] = defaultdict(list)
    for relation in relations:
        key = supersession_key(relation)
        if key is not None:
            by_key[key].append(relation)
    changed: list[RelationEdge] = []
    for group in by_key.values():
        ordered = sorted(group, key=lambda r: (world_start(r), r.observed_at, r.id))
        for position, relation in enumerate(ordered):
            successor = next((later for later in ordered[position + 1 :] if later.object_id != relation.object_id), None)
            closed = _closed_by(relation, successor)
            if (closed.valid_to, closed.expired_at, closed.superseded_by) != (
                relation.valid_to, relation.expired_at, relation.superseded_by
            ):
                changed.append(closed)
    return changed


def _closed_by(relation: RelationEdge, successor: RelationEdge | None) -> RelationEdge:
    if successor is None:
        return replace(relation, valid_to=None, expired_at=None, superseded_by=None)
    return replace(
        relation,
        valid_to=world_start(successor),
        expired_at=max(successor.observed_at, relation.observed_at),
        superseded_by=successor.id,
    )
