"""The production store: Neo4j over Bolt with the official driver.

Graph model (every node and RELATES edge carries `group_id` and a deterministic `id`):

    (:Message)-[:IN]->(:Conversation)          (:Message)-[:NEXT]->(:Message)   turn order
    (:Message)-[:SPOKEN_BY]->(:Entity)         (:Message)-[:ADDRESSED_TO]->(:Entity)
    (:Message)-[:MENTIONS]->(:Entity)          (:Event)-[:FROM]->(:Message)
    (:Entity)-[:PARTICIPATED_IN {role}]->(:Event)   (:Event)-[:AT]->(:Entity)   place
    (:Event)-[:NEXT_EVENT {entity_id}]->(:Event)     each participant's events in time order
    (:Entity)-[:RELATES {predicate, fact, valid_from, valid_to, observed_at, message_ids, ...}]->(:Entity)

Consolidation (graphmem.consolidation.pipeline) adds scenes and personas:

    (:Scene {label, ts_start, ts_end, size, relation_ids})-[:HAS_MEMBER {weight}]->(:Message|Event)
    (:Scene)-[:INVOLVES]->(:Entity)            (:Scene)-[:SHOWS]->(:Persona)-[:PERSONA_OF]->(:Entity)
    (:Persona)-[:HAS_FACET {position}]->(:Facet {label, facts})-[:SUPPORTED_BY]->(:Message)

Every statement is a named file under `cypher/` (see `graphmem.store.neo4j.cypher`) and takes its
values as parameters. Uniqueness constraints on (group_id, id) make concurrent MERGEs safe; a
whole `write` is one transaction, retried on transient failures (deadlocks, lost connections)
with exponential backoff and jitter.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from neo4j import Driver, GraphDatabase, ManagedTransaction, Record, Session
from neo4j.exceptions import AuthError, DriverError, Neo4jError, ServiceUnavailable

from graphmem.errors import StoreError
from graphmem.models import (
    EntityNode, EntityType, EventNode, Facet, GraphBatch, MemberKind, Mention, MessageNode, Persona, PersonaFact,
    Precision, RelationEdge, Scene, SceneMember, WriteCounts, check_group_id,
)
from graphmem.extraction.canonical import entity_id, message_id
from graphmem.store.base import EVERYTHING, IndexSnapshot, StoreCounts, TenantDelta, TenantVersion
from graphmem.store.neo4j.cypher import load, names
from graphmem.store.supersession import resolve_supersession, supersession_key

log = logging.getLogger(__name__)

T = TypeVar("T")

CONNECTION_TIMEOUT_SECONDS = 10.0
EXCERPT_CHARS = 60  # length of a message's `excerpt`, its caption in Neo4j Browser
SNAPSHOT_CHUNK_BYTES = 4 * 2**20  # an index snapshot is stored in pieces of this size


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to keep retrying a transaction that failed for a transient reason."""

    first_delay: float = 0.05  # seconds
    max_delay: float = 2.0
    budget: float = 30.0  # total seconds of waiting before giving up

    def delays(self) -> Iterator[float]:
        """Exponential delays with jitter (each in [d/2, d]), until the budget is spent."""
        delay, waited = self.first_delay, 0.0
        while waited < self.budget:
            jittered = random.uniform(delay / 2, delay)
            waited += jittered
            yield jittered
            delay = min(delay * 2, self.max_delay)


class Neo4jStore:
    """A `Store` in a Neo4j database; safe to share between threads."""

    def __init__(self, uri: str, user: str, password: str, database: str = "neo4j", *,
                 retry: RetryPolicy = RetryPolicy()):
        self.uri = uri
        self.user = user
        self.database = database
        self.retry = retry
        try:
            # The driver's own retry loop is switched off (max_transaction_retry_time=0): `retry`
            # is the one policy, and no retry warning is logged for a deadlock that resolves.
            self._driver: Driver = GraphDatabase.driver(
                uri, auth=(user, password), max_transaction_retry_time=0,
                connection_timeout=CONNECTION_TIMEOUT_SECONDS, notifications_min_severity="OFF",
            )
        except (DriverError, Neo4jError, ValueError) as error:
            raise self._store_error(error) from error
        try:
            self._verify_connectivity()
            self._create_schema()
        except StoreError:
            self._driver.close()
            raise

    def _verify_connectivity(self) -> None:
        """Fail fast, without retries, when no server answers or it refuses the credentials."""
        try:
            self._driver.verify_connectivity()
        except (Neo4jError, DriverError) as error:
            raise self._store_error(error) from error

    def _create_schema(self) -> None:
        """Constraints and indexes, each created only if missing (schema changes need their own
        transactions); then records written by an earlier graphmem are brought up to this one."""
        for name in names("schema"):
            self._write(lambda tx, name=name: _execute(tx, name))
        for name in names("migrate"):
            self._write(lambda tx, name=name: _execute(tx, name))

    # -- transactions --------------------------------------------------------------------------

    def _write(self, work: Callable[[ManagedTransaction], T]) -> T:
        return self._transact(lambda session: session.execute_write(work))

    def _versioned(self, group_id: str, work: Callable[[ManagedTransaction, TenantWrite], T]) -> T:
        """A write transaction on one tenant that bumps its version first (see graphmem.store.base).

        Every write goes through here. The change counts as an append only if `work` says so
        (`write.append = True`); otherwise the version is also recorded as the tenant's reset.
        """

        def transaction(tx: ManagedTransaction) -> T:
            (record,) = _fetch(tx, "write/bump_version", group_id=group_id)
            write = TenantWrite(record["version"])
            result = work(tx, write)
            if not write.append:
                _execute(tx, "write/mark_reset", group_id=group_id)
            return result

        return self._write(transaction)

    def _read(self, work: Callable[[ManagedTransaction], T]) -> T:
        return self._transact(lambda session: session.execute_read(work))

    def _transact(self, run: Callable[[Session], T]) -> T:
        """Run one managed transaction; retry it while it fails for a transient reason."""
        delays = self.retry.delays()
        while True:
            try:
                with self._driver.session(database=self.database) as session:
                    return run(session)
            except (Neo4jError, DriverError) as error:
                delay = next(delays, None) if error.is_retryable() else None
                if delay is None:
                    raise self._store_error(error) from error
                log.debug("retrying a Neo4j transaction in %.2fs after %s", delay, error)
                time.sleep(delay)
            except (UnicodeEncodeError, OverflowError) as error:  # the driver cannot pack a parameter
                raise StoreError(
                    f"Neo4j at {self.uri} cannot be sent a value: {error} (lone surrogates and integers "
                    "beyond 64 bits have no Bolt encoding)"
                ) from error

    def _store_error(self, error: Exception) -> StoreError:
        """One clear message for a driver or server error, saying how to fix it when we can."""
        where = f"Neo4j at {self.uri} (database {self.database!r})"
        if isinstance(error, (ServiceUnavailable, AuthError)):
            reason = (f"the server refused user {self.user!r} with the configured password"
                      if isinstance(error, AuthError) else "no server answers there")
            return StoreError(
                f"cannot connect to {where}: {reason}. Start the local server with `dev/neo4j/start` "
                "(or `docker compose up -d neo4j`), or set NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD "
                "to a running one.",
                transient=isinstance(error, ServiceUnavailable),
            )
        detail = f"{error.code}: {error.message}" if isinstance(error, Neo4jError) else str(error)
        retryable = isinstance(error, (Neo4jError, DriverError)) and error.is_retryable()
        return StoreError(f"{where} failed: {detail}", transient=retryable)

    # -- writes --------------------------------------------------------------------------------

    def write(self, group_id: str, batch: GraphBatch) -> WriteCounts:
        check_group_id(group_id)
        return self._versioned(group_id, lambda tx, write: _write_batch(tx, group_id, batch, write))

    def mirror_conversation(self, group_id: str, conversation_id: str, seqs: dict[str, int]) -> int:
        check_group_id(group_id)
        return self._versioned(group_id, lambda tx, write: _mirror_conversation(tx, group_id, conversation_id, seqs, write))

    def forget(self, group_id: str) -> None:
        """Delete the tenant in batches of 1,000 nodes, each its own transaction (cypher/delete/group):
        a large tenant never has to fit in one transaction. Interrupted, it leaves part of the
        tenant deleted; running it again finishes the job. The tenant's version is bumped (as a
        reset) before and after, so that no index outlives a batch that committed."""
        check_group_id(group_id)
        self._versioned(group_id, lambda tx, write: None)
        self._transact(lambda session: session.run(load("delete/group"), {"group_id": group_id}).consume())
        self._versioned(group_id, lambda tx, write: None)

    # -- reads ---------------------------------------------------------------------------------

    def _fetch(self, name: str, **params: Any) -> list[Record]:
        return self._read(lambda tx: _fetch(tx, name, **params))

    def message_digests(self, group_id: str, conversation_id: str) -> dict[str, str]:
        check_group_id(group_id)
        records = self._fetch("read/message_digests", group_id=group_id, conversation_id=conversation_id)
        return {r["source_id"]: r["digest"] for r in records}

    def messages(self, group_id: str, conversation_id: str | None = None) -> list[MessageNode]:
        check_group_id(group_id)
        return self._read(lambda tx: _messages(tx, group_id, EVERYTHING, conversation_id))

    def entities(self, group_id: str) -> list[EntityNode]:
        check_group_id(group_id)
        return self._read(lambda tx: _entities(tx, group_id, EVERYTHING))

    def mentions(self, group_id: str) -> list[Mention]:
        check_group_id(group_id)
        return self._read(lambda tx: _mentions(tx, group_id, EVERYTHING))

    def events(self, group_id: str, entity_id: str | None = None) -> list[EventNode]:
        check_group_id(group_id)
        return self._read(lambda tx: _events(tx, group_id, EVERYTHING, entity_id))

    def facts(self, group_id: str, entity_id: str | None = None) -> list[RelationEdge]:
        check_group_id(group_id)
        return self._read(lambda tx: _relations(tx, group_id, EVERYTHING, entity_id))

    def version(self, group_id: str) -> TenantVersion:
        check_group_id(group_id)
        return self._read(lambda tx: _version(tx, group_id))

    def changes(self, group_id: str, since: int = EVERYTHING) -> TenantDelta:
        """The delta since `since`, read after a fence (cypher/write/fence_version): a short write
        transaction that waits until every write up to the version it returns is fully applied.

        Neo4j reads committed data statement by statement, and a commit becomes visible piece by
        piece while it is applied: read directly, a tenant's version can show a write whose
        messages the index lookup of the next statement does not see yet. After the fence, the
        read (in the same session, so also causally after it in a cluster) sees all of that
        version; records of writes committed meanwhile may come too, and an index applies them
        idempotently and reads them again from the fenced version on. Entities come last, so that
        every entity a listed record refers to is listed or already known.
        """
        check_group_id(group_id)

        def read(tx: ManagedTransaction, version: TenantVersion) -> TenantDelta:
            messages = _messages(tx, group_id, since, None, in_write_order=True)
            mentions = _mentions(tx, group_id, since)
            events = _events(tx, group_id, since, None)
            relations = _relations(tx, group_id, since, None)
            return TenantDelta(version, messages, _entities(tx, group_id, since), mentions, events, relations)

        def fenced(session: Session) -> TenantDelta:
            version = session.execute_write(lambda tx: _version(tx, group_id, "write/fence_version"))
            return session.execute_read(read, version)

        return self._transact(fenced)

    def counts(self, group_id: str) -> StoreCounts:
        check_group_id(group_id)
        (record,) = self._fetch("read/counts", group_id=group_id)
        return StoreCounts(**record.data())

    def groups(self) -> list[str]:
        return [r["group_id"] for r in self._fetch("read/groups")]

    def save_index_snapshot(self, group_id: str, snapshot: IndexSnapshot) -> None:
        """In chunks of SNAPSHOT_CHUNK_BYTES (one node each, written in one transaction)."""
        check_group_id(group_id)
        data = snapshot.data
        chunks = [data[i : i + SNAPSHOT_CHUNK_BYTES] for i in range(0, len(data), SNAPSHOT_CHUNK_BYTES)] or [b""]

        def save(tx: ManagedTransaction) -> None:
            if _fetch(tx, "write/claim_index_snapshot", group_id=group_id, key=snapshot.key,
                      version=snapshot.version, chunks=len(chunks)):
                _execute(tx, "delete/index_snapshot_chunks", group_id=group_id)
                _execute(tx, "write/index_snapshot_chunks", group_id=group_id, version=snapshot.version, chunks=chunks)

        self._write(save)

    def index_snapshot(self, group_id: str, key: str, since: int) -> IndexSnapshot | None:
        check_group_id(group_id)
        records = self._fetch("read/index_snapshot", group_id=group_id, key=key, since=since)
        if not records or len(records) != records[0]["chunks"]:  # replaced while read: as if none
            return None
        return IndexSnapshot(records[0]["key"], records[0]["version"], b"".join(r["data"] for r in records))

    def close(self) -> None:
        self._driver.close()

    # -- consolidation: scenes and personas ----------------------------------------------------

    def write_scenes(self, group_id: str, scenes: list[Scene]) -> None:
        check_group_id(group_id)
        self._versioned(group_id, lambda tx, write: _write_scenes(tx, group_id, scenes))

    def scenes(self, group_id: str) -> list[Scene]:
        check_group_id(group_id)
        return [_scene(r) for r in self._fetch("read/scenes", group_id=group_id)]

    def write_personas(self, group_id: str, personas: list[Persona]) -> None:
        check_group_id(group_id)
        self._versioned(group_id, lambda tx, write: _write_personas(tx, group_id, personas))

    def personas(self, group_id: str) -> list[Persona]:
        check_group_id(group_id)
        return [_persona(r) for r in self._fetch("read/personas", group_id=group_id)]


# -- transaction functions ---------------------------------------------------------------------
# Module-level so that a retried transaction re-runs them from scratch with the same inputs.


def _execute(tx: ManagedTransaction, name: str, **params: Any):
    """Run a statement for its effect; returns its summary (with the counters of what it changed)."""
    return tx.run(load(name), params).consume()


def _fetch(tx: ManagedTransaction, name: str, **params: Any) -> list[Record]:
    return list(tx.run(load(name), params))


@dataclass(slots=True)
class TenantWrite:
    """The version a tenant's write transaction stamps, and whether it only appended turns."""

    version: int
    append: bool = False


def _version(tx: ManagedTransaction, group_id: str, statement: str = "read/version") -> TenantVersion:
    records = _fetch(tx, statement, group_id=group_id)
    return TenantVersion(records[0]["version"], records[0]["reset"]) if records else TenantVersion()


def _messages(
    tx: ManagedTransaction, group_id: str, since: int, conversation_id: str | None, in_write_order: bool = False
) -> list[MessageNode]:
    records = _fetch(tx, "read/messages", group_id=group_id, since=since, conversation_id=conversation_id,
                     in_write_order=in_write_order)
    return [MessageNode(**{**r.data(), "ts": _native(r["ts"])}) for r in records]


def _entities(tx: ManagedTransaction, group_id: str, since: int) -> list[EntityNode]:
    records = _fetch(tx, "read/entities", group_id=group_id, since=since)
    return [EntityNode(r["id"], r["name"], EntityType(r["type"]), tuple(r["aliases"])) for r in records]


def _mentions(tx: ManagedTransaction, group_id: str, since: int) -> list[Mention]:
    return [Mention(r["message_id"], r["entity_id"]) for r in _fetch(tx, "read/mentions", group_id=group_id, since=since)]


def _events(tx: ManagedTransaction, group_id: str, since: int, entity_id: str | None) -> list[EventNode]:
    records = _fetch(tx, "read/events", group_id=group_id, since=since, entity_id=entity_id)
    return [
        EventNode(
            **{**r.data(), "participants": tuple(tuple(p) for p in r["participants"]),
               "ts_start": _native(r["ts_start"]), "ts_end": _native(r["ts_end"]),
               "precision": Precision(r["precision"]) if r["precision"] else None}
        )
        for r in records
    ]


def _relations(tx: ManagedTransaction, group_id: str, since: int, entity_id: str | None) -> list[RelationEdge]:
    return [_relation(r) for r in _fetch(tx, "read/relations", group_id=group_id, since=since, entity_id=entity_id)]


def _write_batch(tx: ManagedTransaction, group_id: str, batch: GraphBatch, write: TenantWrite) -> WriteCounts:
    """Everything a `write` does, in one transaction: forget, upsert, link, prune.

    Rows go in sorted by id, so concurrent writers lock shared nodes in the same order. The
    counts are what the MERGEs created, so a batch written twice (even concurrently) counts once.
    It is an append when it rewrites no stored message and puts no turn before a stored one.
    """
    message_ids = sorted({m.id for m in batch.messages})
    rewritten = [r["id"] for r in _fetch(tx, "read/existing_messages", group_id=group_id, message_ids=message_ids)]
    write.append = not rewritten and _after_stored_turns(tx, group_id, batch.messages)
    touched = _forget_derived(tx, group_id, rewritten, [e.id for e in batch.events]) if rewritten else {}

    def write_rows(name: str, rows: list[dict]):
        return _execute(tx, name, group_id=group_id, rows=rows, version=write.version).counters

    write_rows("write/upsert_conversations", [_conversation_row(c) for c in batch.conversations])
    entities = write_rows("write/upsert_entities", [_entity_row(e) for e in _by_id(batch.entities)]).nodes_created
    messages = write_rows("write/upsert_messages", [_message_row(m) for m in _by_id(batch.messages)]).nodes_created
    conversation_ids = sorted({m.conversation_id for m in batch.messages})
    _execute(tx, "write/link_turns", group_id=group_id, conversation_ids=conversation_ids)
    write_rows("write/link_mentions", [asdict(m) for m in batch.mentions])
    events = write_rows("write/upsert_events", [_event_row(e) for e in _by_id(batch.events)]).nodes_created
    relations = write_rows("write/upsert_relations", [asdict(r) for r in _by_id(batch.relations)]).relationships_created
    participants = sorted({member for e in batch.events for member, _ in e.participants})
    if participants:
        _execute(tx, "write/link_participant_events", group_id=group_id, entity_ids=participants)
    if touched:
        _execute(tx, "delete/prune_relations", group_id=group_id, relation_ids=sorted(touched))
    subjects = set(touched.values()) | {r.subject_id for r in batch.relations if supersession_key(r) is not None}
    if subjects:
        _apply_supersession(tx, group_id, sorted(subjects), write.version)
    if rewritten:
        _prune_entities(tx, group_id)
    return WriteCounts(messages, entities, events, relations)


def _mirror_conversation(
    tx: ManagedTransaction, group_id: str, conversation_id: str, seqs: dict[str, int], write: TenantWrite
) -> int:
    """`Store.mirror_conversation` in one transaction: forget and remove the messages not in `seqs`,
    prune the relations and entities left without support, renumber and rechain the rest."""
    stored = {
        r["source_id"]: message_id(group_id, conversation_id, r["source_id"])
        for r in _fetch(tx, "read/message_digests", group_id=group_id, conversation_id=conversation_id)
    }
    removed = sorted(node for source, node in stored.items() if source not in seqs)
    if removed:
        touched = _forget_derived(tx, group_id, removed, [])
        _execute(tx, "delete/messages", group_id=group_id, message_ids=removed)
        if touched:
            _execute(tx, "delete/prune_relations", group_id=group_id, relation_ids=sorted(touched))
            _apply_supersession(tx, group_id, sorted(set(touched.values())), write.version)
    rows = sorted(({"id": node, "seq": seqs[source]} for source, node in stored.items() if source in seqs),
                  key=lambda row: row["id"])
    _execute(tx, "write/renumber_messages", group_id=group_id, rows=rows)
    _execute(tx, "write/link_turns", group_id=group_id, conversation_ids=[conversation_id])
    if removed:
        _prune_entities(tx, group_id)
    return len(removed)


def _prune_entities(tx: ManagedTransaction, group_id: str) -> None:
    """Delete the tenant's entities nothing refers to any more (cypher/delete/orphan_entities)."""
    participants = {
        entity_id(group_id, name) for r in _fetch(tx, "read/participants", group_id=group_id) for name in r["participants"]
    }
    _execute(tx, "delete/orphan_entities", group_id=group_id, kept_ids=sorted(participants))


def _after_stored_turns(tx: ManagedTransaction, group_id: str, messages: list[MessageNode]) -> bool:
    """Whether every message comes after the stored turns of its conversation (an append)."""
    first: dict[str, int] = {}
    for message in messages:
        first[message.conversation_id] = min(first.get(message.conversation_id, message.seq), message.seq)
    last = _fetch(tx, "read/last_turns", group_id=group_id, conversation_ids=sorted(first))
    return all(r["last_seq"] is None or first[r["conversation_id"]] > r["last_seq"] for r in last)


def _apply_supersession(tx: ManagedTransaction, group_id: str, subject_ids: list[str], version: int) -> None:
    """Recompute which relations of these subjects supersede which (see graphmem.store.supersession)."""
    stored = [_relation(r) for r in _fetch(tx, "read/relations_of_subjects", group_id=group_id, subject_ids=subject_ids)]
    rows = [
        {"id": r.id, "valid_to": r.valid_to, "expired_at": r.expired_at, "superseded_by": r.superseded_by}
        for r in _by_id(resolve_supersession(stored))
    ]
    if rows:
        _execute(tx, "write/close_relations", group_id=group_id, rows=rows, version=version)


def _write_scenes(tx: ManagedTransaction, group_id: str, scenes: list[Scene]) -> None:
    """Replace the tenant's scenes: delete them all, create the new ones with their links."""
    _execute(tx, "delete/scenes", group_id=group_id)
    _execute(tx, "write/create_scenes", group_id=group_id, rows=[_scene_row(s) for s in _by_id(scenes)])
    _execute(tx, "write/link_scene_relation_sources", group_id=group_id, scene_ids=sorted(s.id for s in scenes))


def _write_personas(tx: ManagedTransaction, group_id: str, personas: list[Persona]) -> None:
    """Replace the tenant's personas; those written again keep their node (and SHOWS links)."""
    _execute(tx, "delete/stale_personas", group_id=group_id, persona_ids=sorted(p.id for p in personas))
    _execute(tx, "write/upsert_personas", group_id=group_id, rows=[_persona_row(p) for p in _by_id(personas)])


def _forget_derived(
    tx: ManagedTransaction, group_id: str, message_ids: list[str], kept_event_ids: list[str]
) -> dict[str, str]:
    """Drop what was extracted from stored messages the batch rewrites; returns the relations
    touched (id -> subject id)."""
    _execute(tx, "delete/forget_mentions", group_id=group_id, message_ids=message_ids)
    _execute(tx, "delete/forget_events", group_id=group_id, message_ids=message_ids, kept_event_ids=kept_event_ids)
    touched = _fetch(tx, "delete/forget_relation_sources", group_id=group_id, message_ids=message_ids)
    return {r["id"]: r["subject_id"] for r in touched}


# -- rows in, records out ----------------------------------------------------------------------


def _by_id(records: list[T]) -> list[T]:
    return sorted(records, key=lambda record: record.id)


def _conversation_row(conversation) -> dict:
    return {"id": conversation.id, "source_id": conversation.source_id, "participants": list(conversation.participants)}


def _message_row(message: MessageNode) -> dict:
    """A message's properties, with the short `excerpt` that Neo4j Browser shows as its caption."""
    return {**asdict(message), "excerpt": message_excerpt(message)}


def message_excerpt(message: MessageNode, width: int = EXCERPT_CHARS) -> str:
    """`Ana (2024-05-02): I moved to Porto last…`: speaker, day and the text cut at a word, in `width` chars."""
    head = f"{message.speaker} ({message.ts.date().isoformat()}): "
    text = " ".join(message.text.split())
    room = max(width - len(head), 1)
    if len(text) > room:
        cut = text[: room - 1]
        text = (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:.") + "…"
    return head + text


def _entity_row(entity: EntityNode) -> dict:
    return {"id": entity.id, "name": entity.name, "type": entity.type, "aliases": list(dict.fromkeys(entity.aliases))}


def _event_row(event: EventNode) -> dict:
    row = asdict(event)
    row["participants"] = [{"entity_id": entity_id, "role": role} for entity_id, role in event.participants]
    return row


def _scene_row(scene: Scene) -> dict:
    relations = [m for m in scene.members if m.kind == MemberKind.RELATION]
    return {
        "id": scene.id, "label": scene.label, "ts_start": scene.ts_start, "ts_end": scene.ts_end, "size": scene.size,
        "relation_ids": [m.id for m in relations], "relation_weights": [m.weight for m in relations],
        "members": [asdict(m) for m in scene.members if m.kind != MemberKind.RELATION],
        "participants": list(scene.participants), "persona_ids": list(scene.persona_ids),
    }


def _scene(record: Record) -> Scene:
    members = sorted((SceneMember(m["id"], MemberKind(m["kind"]), m["weight"]) for m in record["members"]),
                     key=lambda m: (-m.weight, m.id))
    return Scene(
        id=record["id"], label=record["label"], ts_start=_native(record["ts_start"]), ts_end=_native(record["ts_end"]),
        members=tuple(members), participants=tuple(sorted(record["participants"])),
        persona_ids=tuple(sorted(record["persona_ids"])),
    )


def _persona_row(persona: Persona) -> dict:
    """A persona's properties, its facets' facts as parallel lists (Neo4j has no nested maps)."""
    facets = [
        {
            "id": f.id, "position": position, "label": f.label, "evidence": list(f.evidence),
            "facts": [x.text for x in f.facts], "fact_ids": [x.id for x in f.facts],
            "fact_kinds": [x.kind for x in f.facts], "fact_message_ids": [x.message_id for x in f.facts],
            "fact_current": [x.current for x in f.facts], "fact_moved_from": [x.moved_from or "" for x in f.facts],
        }
        for position, f in enumerate(persona.facets)
    ]
    return {"id": persona.id, "entity_id": persona.entity_id, "name": persona.name, "summary": persona.summary,
            "facets": facets}


def _persona(record: Record) -> Persona:
    facets = tuple(
        Facet(
            id=f["id"], label=f["label"], evidence=tuple(sorted(f["evidence"])),
            facts=tuple(
                PersonaFact(fact[0], MemberKind(fact[1]), *fact[2:5], moved_from=fact[5] or None)
                for fact in zip(f["fact_ids"], f["fact_kinds"], f["facts"], f["fact_message_ids"], f["fact_current"],
                                f["fact_moved_from"])
            ),
        )
        for f in record["facets"]
    )
    return Persona(record["id"], record["entity_id"], record["name"], record["summary"], facets)


def _relation(record: Record) -> RelationEdge:
    return RelationEdge(
        id=record["id"], subject_id=record["subject_id"], object_id=record["object_id"],
        predicate=record["predicate"], fact=record["fact"], message_id=min(record["message_ids"]),
        observed_at=_native(record["observed_at"]), valid_from=_native(record["valid_from"]),
        valid_to=_native(record["valid_to"]),
        precision=Precision(record["precision"]) if record["precision"] else None, confidence=record["confidence"],
        expired_at=_native(record["expired_at"]), superseded_by=record["superseded_by"],
    )


def _native(value: Any) -> Any:
    """A Neo4j temporal value as the Python date/datetime it was written from (None stays None)."""
    return value.to_native() if value is not None else None
