"""Extraction by an LLM, as pure functions: the prompt, the JSON schema, and parsing the reply.

One call covers a batch of consecutive turns of one conversation. Each turn is shown with a
short id (`m1`, `m2`, ...), its time and its speaker, and the reply holds one item per id with
the same entities, events and relations the spaCy extractor produces (`MessageExtraction`).

Dates are never computed by the model: it copies the time words as written ("yesterday",
"last May") into `time_text`, and `graphmem.extraction.temporal` resolves them against the turn's own
timestamp, exactly as for spaCy. Small models get date arithmetic wrong; the resolver does not.
A `time_text` that does not occur in the turn is ignored (the model made it up).

Parsing is per message: a turn whose item is missing or does not match the schema is reported
as a failure (the extractor falls back to spaCy for it), items with ids not in the batch are
ignored, and everything else is kept.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ValidationError

from graphmem.extraction.canonical import clean_name
from graphmem.extraction.temporal import find_time_expressions, resolve_time_expression
from graphmem.models import (
    Conversation,
    EntityType,
    ExtractedEntity,
    ExtractedEvent,
    ExtractedRelation,
    Message,
    MessageExtraction,
    Participant,
    TimeRange,
)
from graphmem.vocab import FIRST_PERSON, SECOND_PERSON

SCHEMA_NAME = "conversation_extraction"
MAX_ENTITIES_PER_MESSAGE = 8
MAX_EVENTS_PER_MESSAGE = 4
MAX_RELATIONS_PER_MESSAGE = 4

INSTRUCTIONS = """\
Extract a knowledge graph from the conversation turns below: for each turn, the entities it \
mentions, the events it reports and the lasting facts it states.

- entities: people, places, organizations, things, concepts, events and works the turn mentions. \
name = the entity's usual name; type = one of {types}; mention = the words the turn uses.
- events: something that happened or will happen. predicate = the verb's base form in lower case \
("move", "visit"); summary = one short sentence with names, not pronouns; participants = each \
entity taking part with its role (agent, patient, recipient, companion, destination, source, topic); \
time_text = the time words exactly as written in the turn ("yesterday", "last May"), or null; \
place = where it happened, or null.
- relations: a fact that holds over time ("lives in", "works as", "has kid", "likes"). subject and \
object are entity names; predicate = a short lower-case phrase; fact = one sentence; time_text as \
for events.

Write people by name, never as pronouns: {pronouns} Never compute a date: copy the time words. \
Leave a list empty when the turn states nothing of that kind. Answer with one item per turn id.

Conversation between {participants}. Turns, as id | time | speaker: text
{turns}"""

_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")
_SPACES = re.compile(r"\s+")
_PRONOUNS = FIRST_PERSON | SECOND_PERSON


# -- the request -----------------------------------------------------------------------------


def turn_ids(batch: Sequence[Message]) -> list[str]:
    """The short ids the prompt gives the batch's turns, in order."""
    return [f"m{i}" for i in range(1, len(batch) + 1)]


def extraction_prompt(conversation: Conversation, batch: Sequence[Message]) -> list[dict[str, str]]:
    """The chat messages asking for the batch's extractions.

    One user message and no system message: some chat templates (Gemma's) have no system role.
    """
    turns = "\n".join(
        f"{turn_id} | {message.ts:%Y-%m-%d %H:%M (%a)} | {message.speaker}: {_turn_text(message)}"
        for turn_id, message in zip(turn_ids(batch), batch, strict=True)
    )
    prompt = INSTRUCTIONS.format(
        types=", ".join(t.value for t in EntityType),
        pronouns=_pronoun_rule(conversation),
        participants=" and ".join(conversation.participants),
        turns=turns,
    )
    return [{"role": "user", "content": prompt}]


def extraction_schema(ids: Sequence[str]) -> dict:
    """The JSON schema of a reply for a batch with these turn ids (strict-mode compatible)."""
    text = {"type": "string"}
    optional_text = {"type": ["string", "null"]}
    entity = _object(name=text, type={"type": "string", "enum": [t.value for t in EntityType]}, mention=text)
    participant = _object(name=text, role=text)
    event = _object(
        predicate=text, summary=text, participants=_array(participant, 4), time_text=optional_text, place=optional_text
    )
    relation = _object(subject=text, predicate=text, object=text, fact=text, time_text=optional_text)
    turn = _object(
        id={"type": "string", "enum": list(ids)},
        entities=_array(entity, MAX_ENTITIES_PER_MESSAGE),
        events=_array(event, MAX_EVENTS_PER_MESSAGE),
        relations=_array(relation, MAX_RELATIONS_PER_MESSAGE),
    )
    return _object(messages={**_array(turn, len(ids)), "minItems": len(ids)})


def _object(**properties: dict) -> dict:
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def _array(items: dict, max_items: int) -> dict:
    return {"type": "array", "items": items, "maxItems": max_items}


PROMPT_VERSION = hashlib.sha256((INSTRUCTIONS + json.dumps(extraction_schema(["m1"]))).encode()).hexdigest()[:12]
"""Changes whenever the prompt or the schema does, so cached extractions of an older prompt are not reused."""


def _turn_text(message: Message) -> str:
    text = _SPACES.sub(" ", message.text).strip()
    return f"{text} [shares a photo: {message.caption}]" if message.caption else text


def _pronoun_rule(conversation: Conversation) -> str:
    if len(conversation.participants) == 2:
        first, second = conversation.participants
        return f'"I/me/my" is the turn\'s speaker; "you/your" is the other one ({first} or {second}).'
    return '"I/me/my" is the turn\'s speaker.'


# -- the reply -------------------------------------------------------------------------------


class _Entity(BaseModel):
    name: str
    type: EntityType
    mention: str


class _Participant(BaseModel):
    name: str
    role: str


class _Event(BaseModel):
    predicate: str
    summary: str
    participants: list[_Participant]
    time_text: str | None
    place: str | None


class _Relation(BaseModel):
    subject: str
    predicate: str
    object: str
    fact: str
    time_text: str | None


class _Turn(BaseModel):
    """One reply item, as the schema describes it (extra keys are ignored, missing or mistyped ones fail)."""

    id: str
    entities: list[_Entity]
    events: list[_Event]
    relations: list[_Relation]


@dataclass(frozen=True)
class ParsedBatch:
    """A reply read against its batch: what validated, and why the other turns did not."""

    extractions: dict[str, MessageExtraction] = field(default_factory=dict)  # by message id
    failures: dict[str, str] = field(default_factory=dict)  # message id -> why it needs the fallback
    ignored: tuple[str, ...] = ()  # reply items that matched no turn


def parse_extraction_reply(
    reply: str, conversation: Conversation, batch: Sequence[Message], *, truncated: bool = False
) -> ParsedBatch:
    """Read the model's JSON `reply` for `batch` into one `MessageExtraction` per turn that validated."""
    by_turn_id = dict(zip(turn_ids(batch), batch, strict=True))
    items, problem = _reply_items(reply, truncated)
    if problem:
        return ParsedBatch(failures={m.id: problem for m in batch})
    extractions: dict[str, MessageExtraction] = {}
    failures: dict[str, str] = {}
    ignored: list[str] = []
    for index, item in enumerate(items):
        turn_id = item.get("id") if isinstance(item, dict) else None
        message = by_turn_id.get(turn_id) if isinstance(turn_id, str) else None
        if message is None:
            ignored.append(f"messages[{index}]: id {turn_id!r} is not a turn of this batch")
            continue
        if message.id in extractions or message.id in failures:
            ignored.append(f"messages[{index}]: turn {turn_id} given twice; the first kept")
            continue
        try:
            turn = _Turn.model_validate(item)
        except ValidationError as exc:
            failures[message.id] = f"turn {turn_id} does not match the schema: {_first_error(exc)}"
            continue
        extractions[message.id] = _to_message_extraction(turn, conversation, message)
    for turn_id, message in by_turn_id.items():
        if message.id not in extractions and message.id not in failures:
            failures[message.id] = f"turn {turn_id} is missing from the reply"
    return ParsedBatch(extractions, failures, tuple(ignored))


def _reply_items(reply: str, truncated: bool) -> tuple[list, str | None]:
    """The reply's list of turn items, or why there is none."""
    cut_off = " (generation stopped at max_tokens)" if truncated else ""
    try:
        document = json.loads(_FENCE.sub("", reply))
    except json.JSONDecodeError as exc:
        return [], f"reply is not valid JSON{cut_off}: {exc}"
    if not isinstance(document, dict) or not isinstance(document.get("messages"), list):
        return [], f'reply is not an object with a "messages" list{cut_off}'
    return document["messages"], None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}"


def _to_message_extraction(turn: _Turn, conversation: Conversation, message: Message) -> MessageExtraction:
    """The validated reply item as the extractor-independent contract, names resolved, times resolved."""
    names = _NameResolver(conversation, message)
    entities = []
    for entity in turn.entities:
        name = names.resolve(entity.name)
        if name:
            entities.append(ExtractedEntity(name=name, type=entity.type, mention=clean_name(entity.mention) or name))
    events = []
    for event in turn.events:
        predicate = _phrase(event.predicate)
        if not predicate:
            continue
        participants = tuple(
            dict.fromkeys(
                Participant(name=name, role=_phrase(p.role) or "participant")
                for p in event.participants
                if (name := names.resolve(p.name))
            )
        )
        time_text = _stated_time(event.time_text, message)
        events.append(
            ExtractedEvent(
                predicate=predicate,
                summary=_SPACES.sub(" ", event.summary).strip() or predicate,
                participants=participants,
                time=resolve_time_text(time_text, message.ts) if time_text else None,
                time_text=time_text,
                place=names.resolve(event.place) if event.place else None,
            )
        )
    relations = []
    for relation in turn.relations:
        subject, obj = names.resolve(relation.subject), names.resolve(relation.object)
        predicate = _phrase(relation.predicate)
        if subject and predicate and obj:
            time_text = _stated_time(relation.time_text, message)
            relations.append(
                ExtractedRelation(
                    subject=subject,
                    predicate=predicate,
                    object=obj,
                    fact=_SPACES.sub(" ", relation.fact).strip() or f"{subject} {predicate} {obj}",
                    valid=resolve_time_text(time_text, message.ts) if time_text else None,
                )
            )
    return MessageExtraction(
        message_id=message.id,
        entities=tuple(dict.fromkeys(entities)),
        events=tuple(events),
        relations=tuple(dict.fromkeys(relations)),
    )


def resolve_time_text(time_text: str, reference: datetime) -> TimeRange | None:
    """The time a copied time expression names, said at `reference`: the whole text, else its only expression."""
    whole = resolve_time_expression(time_text, reference)
    if whole is not None:
        return whole
    found = find_time_expressions(time_text, reference)
    return found[0].time if len(found) == 1 else None


def _stated_time(time_text: str | None, message: Message) -> str | None:
    """`time_text` if the turn really says it (case and spacing aside), else None."""
    if not time_text:
        return None
    wanted = _SPACES.sub(" ", time_text).strip().casefold()
    said = _SPACES.sub(" ", message.text).casefold()
    return time_text.strip() if wanted and wanted in said else None


def _phrase(text: str) -> str:
    return _SPACES.sub(" ", text).strip().lower()


class _NameResolver:
    """Entity names as the graph keys them: cleaned, pronouns replaced by the person meant, and owned
    nouns scoped to their owner as spaCy's rules do ("my sister" -> "Ann's sister")."""

    def __init__(self, conversation: Conversation, message: Message):
        self.speaker = message.speaker
        self.addressee = conversation.addressee_of(message.speaker)

    def resolve(self, name: str) -> str | None:
        cleaned = clean_name(name)
        first, _, rest = cleaned.partition(" ")
        if first.casefold() not in _PRONOUNS:
            return cleaned or None
        person = self.speaker if first.casefold() in FIRST_PERSON else self.addressee
        if not rest:
            return person
        return f"{person}'s {rest}" if person else None
