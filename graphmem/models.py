"""Plain data shared by every part of graphmem.

Three layers of data live here, in the order they flow through an ingest:

1. the conversation as read from a file (`Conversation`, `Message`);
2. what an extractor finds in each message (`MessageExtraction`), the contract that the
   spaCy extractor and the LLM extractor both produce;
3. the graph records a store writes (`GraphBatch` and its nodes and edges), with
   deterministic ids so that writing the same batch twice changes nothing.

Nothing here does I/O.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from graphmem.config import group_id_problem
from graphmem.errors import GroupIdError

ID_NAMESPACE = uuid.UUID("6f1d3a52-8e0b-4c1e-9a57-3f0d2c9b7e41")


def check_group_id(group_id: object) -> str:
    """`group_id` if it is a valid tenant id (`graphmem.config.group_id_problem`), else `GroupIdError`."""
    if problem := group_id_problem(group_id):
        raise GroupIdError(problem)
    return group_id


def stable_id(group_id: str, kind: str, *key: str) -> str:
    """A deterministic id for a node or edge: the same tenant, kind and key always give the same id.

    The parts are encoded as a JSON array (ASCII-escaped), so no two different part lists share
    a name: conversation `a` with message `b|c` and conversation `a|b` with message `c` differ
    whatever separator the parts contain.
    """
    return str(uuid.uuid5(ID_NAMESPACE, json.dumps([group_id, kind, *key])))


class MemberKind(StrEnum):
    """What a scene member, a persona fact or a timeline item is: a message, an event or a relation."""

    MESSAGE = "message"
    EVENT = "event"
    RELATION = "relation"


class Precision(StrEnum):
    """How exact a resolved time is; a value only means its own granularity."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    SEASON = "season"
    QUARTER = "quarter"
    YEAR = "year"
    DECADE = "decade"


class TimeRange(BaseModel):
    """A span of world time with its precision; `start` and `end` are both inclusive."""

    model_config = ConfigDict(frozen=True)

    start: date
    end: date
    precision: Precision


class EntityType(StrEnum):
    PERSON = "person"
    PLACE = "place"
    ORGANIZATION = "organization"
    THING = "thing"
    CONCEPT = "concept"
    EVENT = "event"
    WORK = "work"


def refined_type(stored: EntityType | None, seen: EntityType) -> EntityType:
    """An entity's type once it is seen again as `seen`: an unknown or `thing` type takes the new,
    more specific one; any other stored type stays. The one rule for every writer (the Neo4j store
    states it in Cypher, write/upsert_entities)."""
    return seen if stored in (None, EntityType.THING) else stored


# -- 1. conversations ------------------------------------------------------------------------

MAX_NAME_CHARS = 256
"""Longest speaker, participant, conversation id or message id: a name, not a document (and far
inside Neo4j's index key limit)."""
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def lone_surrogate_problem(text: str) -> str | None:
    """Why `text` cannot be stored, if it holds a lone surrogate (no store can encode one); else None."""
    found = _LONE_SURROGATE.search(text)
    if found is None:
        return None
    return f"lone surrogate \\u{ord(found.group()):04x} at character {found.start()} (not valid Unicode text)"


def _storable_text(text: str) -> str:
    if problem := lone_surrogate_problem(text):
        raise ValueError(problem)
    return text


Text = Annotated[str, AfterValidator(_storable_text)]
"""A message's text or caption: any length (ingest caps it by `Config.max_message_chars`), valid Unicode."""
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS), AfterValidator(_storable_text)]
"""A speaker, participant, conversation id or message id: 1 to MAX_NAME_CHARS characters, valid Unicode."""


class Message(BaseModel):
    """One turn of a conversation, as it was said."""

    model_config = ConfigDict(frozen=True)

    id: Name
    conversation_id: Name
    seq: int
    speaker: Name
    text: Text
    ts: datetime
    session: int | None = None
    caption: Text | None = Field(default=None, description="text standing for a shared image")


class Conversation(BaseModel):
    """A conversation as read (or built in Python): the same limits hold as for files, checked when built."""

    model_config = ConfigDict(frozen=True)

    id: Name
    participants: tuple[Name, ...]
    messages: tuple[Message, ...]

    def addressee_of(self, speaker: str) -> str | None:
        """Whom `speaker` talks to: the other participant in two-party talk, else nobody in particular.

        The one rule behind "you" in extraction and the addressee link of a message.
        """
        others = [p for p in self.participants if p != speaker]
        return others[0] if len(self.participants) == 2 and len(others) == 1 else None


# -- 2. extraction ---------------------------------------------------------------------------


class ExtractedEntity(BaseModel):
    """An entity mentioned in a message, already in canonical form (`name`)."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: EntityType
    mention: str


class Participant(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    role: str  # agent, patient, recipient, companion, ...


class ExtractedEvent(BaseModel):
    """Something that happened (or will happen) to someone, with when and where if stated."""

    model_config = ConfigDict(frozen=True)

    predicate: str
    summary: str
    participants: tuple[Participant, ...]
    time: TimeRange | None = None
    time_text: str | None = None
    place: str | None = None


class ExtractedRelation(BaseModel):
    """A subject-predicate-object statement, valid over `valid` in world time when known."""

    model_config = ConfigDict(frozen=True)

    subject: str
    predicate: str
    object: str
    fact: str
    valid: TimeRange | None = None
    confidence: float = 1.0


class MessageExtraction(BaseModel):
    """Everything an extractor found in one message; the extractor-independent contract."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    entities: tuple[ExtractedEntity, ...] = ()
    events: tuple[ExtractedEvent, ...] = ()
    relations: tuple[ExtractedRelation, ...] = ()


# -- 3. graph records ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntityNode:
    id: str
    name: str
    type: EntityType
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MessageNode:
    id: str
    source_id: str  # the id the input gave the message (e.g. LoCoMo's dia_id)
    conversation_id: str
    seq: int
    speaker: str
    speaker_id: str  # the speaker's person EntityNode id
    text: str
    ts: datetime
    session: int | None = None
    caption: str | None = None
    addressee_id: str | None = None
    digest: str = ""  # content hash: a re-ingested message with the same digest is skipped


@dataclass(frozen=True, slots=True)
class Mention:
    message_id: str
    entity_id: str


@dataclass(frozen=True, slots=True)
class EventNode:
    id: str
    message_id: str
    predicate: str
    summary: str
    participants: tuple[tuple[str, str], ...]  # (entity id, role)
    ts_start: date | None = None
    ts_end: date | None = None
    precision: Precision | None = None
    place_id: str | None = None


@dataclass(frozen=True, slots=True)
class RelationEdge:
    id: str
    subject_id: str
    object_id: str
    predicate: str
    fact: str
    message_id: str
    observed_at: datetime
    valid_from: date | None = None
    valid_to: date | None = None  # set when a later statement superseded it (world time)
    precision: Precision | None = None
    confidence: float = 1.0
    expired_at: datetime | None = None  # when the memory learned it no longer holds (memory time)
    superseded_by: str | None = None  # id of the relation that closed it

    @property
    def current(self) -> bool:
        """Not superseded: what the memory holds true now."""
        return self.superseded_by is None

    def valid_at(self, moment: date) -> bool:
        """True in the world on `moment` (a relation with no stated start counts from when it was learned)."""
        start = self.valid_from or self.observed_at.date()
        return start <= moment and (self.valid_to is None or moment < self.valid_to)

    def known_at(self, moment: datetime) -> bool:
        """Held true by the memory at `moment`: learned by then and not yet expired."""
        return self.observed_at <= moment and (self.expired_at is None or moment < self.expired_at)


@dataclass(frozen=True, slots=True)
class ConversationNode:
    id: str
    source_id: str
    participants: tuple[str, ...]


@dataclass(slots=True)
class GraphBatch:
    """Everything one ingest writes, in one transaction."""

    conversations: list[ConversationNode] = field(default_factory=list)
    messages: list[MessageNode] = field(default_factory=list)
    entities: list[EntityNode] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    events: list[EventNode] = field(default_factory=list)
    relations: list[RelationEdge] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WriteCounts:
    """How many records a write created (not touched): re-writing the same batch gives zeros."""

    messages: int = 0
    entities: int = 0
    events: int = 0
    facts: int = 0

    def __add__(self, other: WriteCounts) -> WriteCounts:
        return WriteCounts(
            self.messages + other.messages,
            self.entities + other.entities,
            self.events + other.events,
            self.facts + other.facts,
        )


# -- query results ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fact:
    """A relation as a reader sees it: names instead of ids, both time axes, its source message."""

    id: str
    subject: str
    predicate: str
    object: str
    text: str
    source_id: str  # the message that first stated it
    observed_at: datetime
    valid_from: date | None = None
    valid_to: date | None = None
    precision: Precision | None = None
    expired_at: datetime | None = None
    superseded_by: str | None = None

    @property
    def current(self) -> bool:
        return self.superseded_by is None


@dataclass(frozen=True, slots=True)
class Evidence:
    """One retrieved message with its score, why it was found, and the facts it states.

    `facts` holds only facts that hold now (or, for a search `known_at` a time, that the memory
    held then): superseded facts never appear unless asked for.
    """

    message_id: str
    source_id: str
    conversation_id: str
    speaker: str
    text: str
    ts: datetime
    score: float
    why: tuple[str, ...] = ()
    facts: tuple[Fact, ...] = ()
    path: tuple[str, ...] = ()  # with explain=True: how the question reached it, seed first


# -- 4. consolidation: scenes and personas -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class SceneMember:
    """A message, event or relation in a scene, with how firmly it belongs there.

    `weight` in [0, 1] is the share of the member's links (in the fact-level graph) that stay
    inside its scene: 1.0 for a member bound only to its own scene.
    """

    id: str
    kind: MemberKind
    weight: float


@dataclass(frozen=True, slots=True)
class Scene:
    """A thematic, time-bounded cluster of a tenant's messages, events and facts.

    `members` are ordered by weight (strongest first), then id; `participants` are the person
    entities taking part, `persona_ids` the personas whose facts the scene holds.
    """

    id: str
    label: str
    ts_start: datetime
    ts_end: datetime
    members: tuple[SceneMember, ...]
    participants: tuple[str, ...] = ()
    persona_ids: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return len(self.members)

    def member_ids(self, kind: MemberKind | None = None) -> list[str]:
        """Ids of the members (of one kind, if given), strongest first."""
        return [m.id for m in self.members if kind is None or m.kind == kind]


@dataclass(frozen=True, slots=True)
class PersonaFact:
    """Something a participant said about themselves: a relation or an event, with its source.

    `current` is False for a relation a later statement superseded (a past state, e.g. a former
    job). `moved_from` names the entity the extraction attributed it to, when alignment moved
    it to the participant who actually said it about themselves.
    """

    id: str  # the relation's or the event's id
    kind: MemberKind  # a relation or an event
    text: str
    message_id: str
    current: bool = True
    moved_from: str | None = None


@dataclass(frozen=True, slots=True)
class Facet:
    """One side of a persona (work, family, a hobby, ...): its facts and the messages behind them."""

    id: str
    label: str
    facts: tuple[PersonaFact, ...]
    evidence: tuple[str, ...]  # message ids, sorted


@dataclass(frozen=True, slots=True)
class Persona:
    """What one participant is like, from what they said about themselves, in facets."""

    id: str
    entity_id: str  # the participant's person entity
    name: str
    summary: str
    facets: tuple[Facet, ...]

    def facts(self) -> list[PersonaFact]:
        return [fact for facet in self.facets for fact in facet.facts]
