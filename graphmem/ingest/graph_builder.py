"""From a conversation and its extractions to the graph records a store writes.

Pure: ids are derived from the tenant and a canonical key (`graphmem.models.stable_id`), so
building the same input twice gives identical records and a store's upserts stay idempotent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from graphmem.extraction.canonical import clean_name, entity_id, message_id
from graphmem.ingest.resolution import names_people_go_by, short_form_targets
from graphmem.models import (
    Conversation,
    ConversationNode,
    EntityNode,
    EntityType,
    EventNode,
    GraphBatch,
    Mention,
    Message,
    MessageExtraction,
    MessageNode,
    RelationEdge,
    refined_type,
    stable_id,
)


def message_digest(message: Message) -> str:
    """A hash of what a message says and when: unchanged messages are not re-extracted.

    Its position (seq) is left out: a message that only moved (an earlier one was removed or
    inserted) is renumbered by `Store.mirror_conversation`, not extracted again.
    """
    parts = [message.speaker, message.text, message.ts.isoformat(), message.caption]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def build_graph_batch(
    group_id: str,
    conversation: Conversation,
    messages: Sequence[Message],
    extractions: Sequence[MessageExtraction],
    known_people: Sequence[str] = (),
    earlier_turns: Sequence[tuple[str, str]] = (),
) -> GraphBatch:
    """Graph records for `messages` (a subset of `conversation`) and their extractions.

    `known_people` are the names of person entities already stored for the tenant: short forms
    of them ("Jen") resolve to the full name (graphmem.ingest.resolution). The names a participant goes
    by in the conversation ("Kate" for the speaker "Emi") become aliases of the participant; they
    are found over the whole conversation: `earlier_turns` (speaker, text) are its stored turns
    that `conversation` does not repeat (a conversation continued by `Memory.add_messages`).
    """
    people_here = [e.name for x in extractions for e in x.entities if e.type is EntityType.PERSON]
    renames = short_form_targets(people_here, [*known_people, *conversation.participants, *people_here])
    turns = [*earlier_turns, *((m.speaker, m.text) for m in conversation.messages)]
    pair = conversation.participants
    if len(pair) != 2:
        pair = tuple(dict.fromkeys(speaker for speaker, _ in turns))
    goes_by = names_people_go_by(turns, pair)
    renames.update({name: participant for participant, names in goes_by.items() for name in names})
    builder = _BatchBuilder(group_id, renames)
    batch = builder.batch
    batch.conversations.append(
        ConversationNode(
            id=stable_id(group_id, "conversation", conversation.id),
            source_id=conversation.id,
            participants=conversation.participants,
        )
    )
    for participant in conversation.participants:
        builder.entity(participant, EntityType.PERSON, participant)
    for participant, names in goes_by.items():
        for name in names:
            builder.entity(participant, EntityType.PERSON, name)
    by_id = {e.message_id: e for e in extractions}
    for message in messages:
        node_id = message_id(group_id, conversation.id, message.id)
        speaker_id = builder.entity(message.speaker, EntityType.PERSON, message.speaker)
        addressee = conversation.addressee_of(message.speaker)
        batch.messages.append(
            MessageNode(
                id=node_id,
                source_id=message.id,
                conversation_id=conversation.id,
                seq=message.seq,
                speaker=message.speaker,
                speaker_id=speaker_id,
                text=message.text,
                ts=message.ts,
                session=message.session,
                caption=message.caption,
                addressee_id=builder.entity(addressee, EntityType.PERSON, addressee) if addressee else None,
                digest=message_digest(message),
            )
        )
        extraction = by_id.get(message.id)
        if extraction is not None:
            builder.add_extraction(node_id, message, extraction)
    batch.entities = list(builder.entities.values())
    return batch


class _BatchBuilder:
    def __init__(self, group_id: str, renames: dict[str, str]):
        self.group_id = group_id
        self.renames = renames
        self.batch = GraphBatch()
        self.entities: dict[str, EntityNode] = {}
        self._mentions: set[tuple[str, str]] = set()

    def entity(self, name: str, entity_type: EntityType, mention: str | None = None) -> str:
        """The id of the entity `name` resolves to, recording it (and `mention` as an alias)."""
        mention = mention or (name if name in self.renames else None)
        name = self.renames.get(name, name)
        node_id = entity_id(self.group_id, name)
        known = self.entities.get(node_id)
        alias = clean_name(mention) if mention else None
        if known is None:
            canonical = clean_name(name)
            aliases = (alias,) if alias and alias != canonical else ()
            self.entities[node_id] = EntityNode(node_id, canonical, entity_type, aliases)
        else:
            aliases = known.aliases
            if alias and alias != known.name and alias not in aliases:
                aliases = (*aliases, alias)
            refined = refined_type(known.type, entity_type)
            if aliases != known.aliases or refined != known.type:
                self.entities[node_id] = EntityNode(node_id, known.name, refined, aliases)
        return node_id

    def add_extraction(self, node_id: str, message: Message, extraction: MessageExtraction) -> None:
        group = self.group_id
        for found in extraction.entities:
            target = self.entity(found.name, found.type, found.mention)
            if (node_id, target) not in self._mentions:
                self._mentions.add((node_id, target))
                self.batch.mentions.append(Mention(node_id, target))
        for index, event in enumerate(extraction.events):
            participants = tuple(
                dict.fromkeys((self.entity(p.name, EntityType.THING), p.role) for p in event.participants)
            )
            self.batch.events.append(
                EventNode(
                    id=stable_id(group, "event", node_id, str(index), event.predicate),
                    message_id=node_id,
                    predicate=event.predicate,
                    summary=event.summary,
                    participants=participants,
                    ts_start=event.time.start if event.time else None,
                    ts_end=event.time.end if event.time else None,
                    precision=event.time.precision if event.time else None,
                    place_id=self.entity(event.place, EntityType.PLACE) if event.place else None,
                )
            )
        for relation in extraction.relations:
            subject_id = self.entity(relation.subject, EntityType.THING)
            object_id = self.entity(relation.object, EntityType.THING)
            valid_from = relation.valid.start.isoformat() if relation.valid else ""
            self.batch.relations.append(
                RelationEdge(
                    id=stable_id(group, "relation", subject_id, relation.predicate, object_id, valid_from),
                    subject_id=subject_id,
                    object_id=object_id,
                    predicate=relation.predicate,
                    fact=relation.fact,
                    message_id=node_id,
                    observed_at=message.ts,
                    valid_from=relation.valid.start if relation.valid else None,
                    precision=relation.valid.precision if relation.valid else None,
                    confidence=relation.confidence,
                )
            )
