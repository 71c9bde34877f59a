"""The embedded default store: one SQLite file in WAL mode, no server.

Every table is keyed by (group_id, ...), every statement takes group_id as a parameter, and a
whole `write` is one transaction: a failure leaves the file as it was. Like every store it raises
only `StoreError`, transient when the file was locked or busy (another writer held it too long).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from graphmem.errors import StoreError
from graphmem.models import (
    EntityNode, EntityType, EventNode, Facet, GraphBatch, MemberKind, Mention, MessageNode, Persona, PersonaFact,
    Precision, RelationEdge, Scene, SceneMember, WriteCounts, check_group_id, refined_type,
)
from graphmem.extraction.canonical import entity_id
from graphmem.store.base import EVERYTHING, IndexSnapshot, StoreCounts, TenantDelta, TenantVersion
from graphmem.store.sqlite.connection import open_sqlite
from graphmem.store.supersession import resolve_supersession, supersession_key

SCHEMA = (Path(__file__).parent / "schema.sql").read_text(encoding="utf-8")
# A snapshot is worth keeping but not worth holding up the query that built it: its save waits this
# long for another writer's lock (instead of the store's busy timeout), then gives up (transient).
SNAPSHOT_LOCK_WAIT_MS = 1000
VERSIONED_TABLES = ("messages", "entities", "relations")  # their rows carry the version that last wrote them
CONSOLIDATION_TABLES = ("scenes", "scene_members", "scene_links", "personas", "facets", "facet_facts")
MEMBER_TABLES = {MemberKind.MESSAGE: "messages", MemberKind.EVENT: "events", MemberKind.RELATION: "relations"}

_RELATIONS = """SELECT r.id AS id, r.subject_id AS subject_id, r.object_id AS object_id, r.predicate AS predicate,
       r.fact AS fact, (SELECT min(s.message_id) FROM relation_sources s
                        WHERE s.group_id = r.group_id AND s.relation_id = r.id) AS message_id,
       r.observed_at AS observed_at, r.valid_from AS valid_from, r.valid_to AS valid_to, r.precision AS precision,
       r.confidence AS confidence, r.expired_at AS expired_at, r.superseded_by AS superseded_by
FROM relations r WHERE r.group_id = ?"""
RELATIONS = _RELATIONS + " ORDER BY r.observed_at, r.id"
RELATIONS_OF_ENTITY = _RELATIONS + " AND (r.subject_id = ? OR r.object_id = ?) ORDER BY r.observed_at, r.id"
RELATIONS_SINCE = _RELATIONS + " AND r.version > ? ORDER BY r.observed_at, r.id"
RELATIONS_OF_BATCH_SUBJECTS = (
    _RELATIONS + " AND r.subject_id IN (SELECT id FROM batch_subjects) ORDER BY r.observed_at, r.id"
)


@dataclass
class _TenantWrite:
    """The open write transaction of one tenant and the version it stamps."""

    db: sqlite3.Connection
    version: int
    append: bool = False  # the writer found it only adds turns after the stored ones


class SQLiteStore:
    """A `Store` in one SQLite file (or `:memory:`); safe to share between threads."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 30):
        """`busy_timeout`: seconds a statement waits for another writer's lock before it fails (transient)."""
        self.path = str(path)
        try:
            self._db = open_sqlite(self.path, SCHEMA, timeout=busy_timeout)
            self._db.row_factory = sqlite3.Row  # rows are read by column name
            self._migrate()
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StoreError(f"cannot open the memory file {self.path}: {exc}") from exc
        self._lock = threading.RLock()

    def _migrate(self) -> None:
        """Bring a memory file written by an earlier graphmem up to this schema."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(relations)")}
        if "superseded_by" not in columns:
            self._db.execute("ALTER TABLE relations ADD COLUMN superseded_by TEXT")
        for table in VERSIONED_TABLES:
            if "version" not in {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
            self._db.execute(f"CREATE INDEX IF NOT EXISTS {table}_by_version ON {table} (group_id, version)")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; SQLite's own errors (a read-only or full disk, a lock held past the
        timeout) surface as `StoreError`, transient when the database was only busy."""
        with self._lock, self._store_errors():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _busy_timeout(self, milliseconds: int) -> Iterator[None]:
        """This connection waits at most `milliseconds` for a lock meanwhile, then its own timeout again."""
        with self._lock, self._store_errors():
            (before,) = self._db.execute("PRAGMA busy_timeout").fetchone()
            self._db.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")  # an int, never input
            try:
                yield
            finally:
                self._db.execute(f"PRAGMA busy_timeout = {int(before)}")

    @contextmanager
    def _versioned(self, group_id: str) -> Iterator[_TenantWrite]:
        """A write transaction on one tenant that bumps its version first (see graphmem.store.base).

        Every write goes through here. The change counts as an append only if the writer says
        so (`append = True`); otherwise the version is also recorded as the tenant's reset.
        """
        with self._transaction() as db:
            db.execute("INSERT INTO tenant_versions VALUES (?, 0, 0) ON CONFLICT DO NOTHING", (group_id,))
            (version,) = db.execute(
                "UPDATE tenant_versions SET version = version + 1 WHERE group_id = ? RETURNING version", (group_id,)
            ).fetchone()
            write = _TenantWrite(db, version)
            yield write
            if not write.append:
                db.execute("UPDATE tenant_versions SET reset = version WHERE group_id = ?", (group_id,))

    def _query(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self._lock, self._store_errors():
            return self._db.execute(sql, tuple(params)).fetchall()

    @contextmanager
    def _store_errors(self) -> Iterator[None]:
        """SQLite's errors as `StoreError`s, so callers handle one kind of store failure."""
        try:
            yield
        except sqlite3.Error as exc:
            raise sqlite_store_error(self.path, exc) from exc

    # -- writes --------------------------------------------------------------------------------

    def write(self, group_id: str, batch: GraphBatch) -> WriteCounts:
        check_group_id(group_id)
        with self._versioned(group_id) as write:
            db, version = write.db, write.version
            new_messages = self._count_new(db, group_id, "messages", [m.id for m in batch.messages])
            write.append = new_messages == len({m.id for m in batch.messages}) and self._after_stored_turns(
                db, group_id, batch.messages
            )
            new_entities = self._count_new(db, group_id, "entities", [e.id for e in batch.entities])
            new_events = self._count_new(db, group_id, "events", [e.id for e in batch.events])
            new_relations = self._count_new(db, group_id, "relations", [r.id for r in batch.relations])
            subjects = self._forget_derived(db, group_id, [m.id for m in batch.messages])
            db.executemany(
                """INSERT INTO conversations (group_id, id, source_id, participants) VALUES (?, ?, ?, ?)
                   ON CONFLICT DO UPDATE SET participants = excluded.participants""",
                [(group_id, c.id, c.source_id, json.dumps(list(c.participants))) for c in batch.conversations],
            )
            self._upsert_entities(db, group_id, batch.entities, version)
            db.executemany(
                """INSERT OR REPLACE INTO messages (group_id, id, source_id, conversation_id, seq, speaker, speaker_id,
                   addressee_id, text, caption, ts, session, digest, version)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    (group_id, m.id, m.source_id, m.conversation_id, m.seq, m.speaker, m.speaker_id, m.addressee_id,
                     m.text, m.caption, m.ts.isoformat(), m.session, m.digest, version)
                    for m in batch.messages
                ],
            )
            db.executemany(
                "INSERT OR IGNORE INTO mentions (group_id, message_id, entity_id) VALUES (?, ?, ?)",
                [(group_id, m.message_id, m.entity_id) for m in batch.mentions],
            )
            db.executemany(
                """INSERT OR REPLACE INTO events (group_id, id, message_id, predicate, summary, ts_start, ts_end,
                   precision, place_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    (group_id, e.id, e.message_id, e.predicate, e.summary, _iso(e.ts_start), _iso(e.ts_end),
                     e.precision, e.place_id)
                    for e in batch.events
                ],
            )
            db.executemany(
                "INSERT OR IGNORE INTO event_participants (group_id, event_id, entity_id, role) VALUES (?, ?, ?, ?)",
                [(group_id, e.id, entity, role) for e in batch.events for entity, role in e.participants],
            )
            db.executemany(
                """INSERT INTO relations (group_id, id, subject_id, object_id, predicate, fact, valid_from, valid_to,
                   precision, observed_at, confidence, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT DO UPDATE SET observed_at = min(observed_at, excluded.observed_at),
                                             version = excluded.version""",
                [
                    (group_id, r.id, r.subject_id, r.object_id, r.predicate, r.fact, _iso(r.valid_from),
                     _iso(r.valid_to), r.precision, r.observed_at.isoformat(), r.confidence, version)
                    for r in batch.relations
                ],
            )
            db.executemany(
                "INSERT OR IGNORE INTO relation_sources (group_id, relation_id, message_id) VALUES (?, ?, ?)",
                [(group_id, r.id, r.message_id) for r in batch.relations],
            )
            subjects |= {r.subject_id for r in batch.relations if supersession_key(r) is not None}
            self._apply_supersession(db, group_id, subjects, version)
            if new_messages < len({m.id for m in batch.messages}):  # rewritten messages may leave entities unused
                self._prune_entities(db, group_id)
        return WriteCounts(new_messages, new_entities, new_events, new_relations)

    def mirror_conversation(self, group_id: str, conversation_id: str, seqs: dict[str, int]) -> int:
        check_group_id(group_id)
        with self._versioned(group_id) as write:  # removes and renumbers turns: not an append
            db = write.db
            stored = dict(db.execute(
                "SELECT source_id, id FROM messages WHERE group_id = ? AND conversation_id = ?", (group_id, conversation_id)
            ).fetchall())
            removed = [node for source, node in stored.items() if source not in seqs]
            subjects: set[str] = set()
            if removed:
                subjects = self._forget_derived(db, group_id, removed)  # fills batch_messages with `removed`
                db.execute("DELETE FROM messages WHERE group_id = ? AND id IN (SELECT id FROM batch_messages)", (group_id,))
            db.executemany(
                "UPDATE messages SET seq = ? WHERE group_id = ? AND id = ? AND seq <> ?",
                [(seqs[source], group_id, node, seqs[source]) for source, node in stored.items() if source in seqs],
            )
            self._apply_supersession(db, group_id, subjects, write.version)
            if removed:
                self._prune_entities(db, group_id)
        return len(removed)

    @staticmethod
    def _prune_entities(db: sqlite3.Connection, group_id: str) -> None:
        """Delete the tenant's entities nothing refers to any more: no message (speaker, addressee),
        mention, event (participant, place) or relation, and no conversation's participant list."""
        participants = {
            entity_id(group_id, name)
            for (names,) in db.execute("SELECT participants FROM conversations WHERE group_id = ?", (group_id,))
            for name in json.loads(names)
        }
        db.execute("CREATE TEMP TABLE IF NOT EXISTS kept_entities (id TEXT PRIMARY KEY)")
        db.execute("DELETE FROM kept_entities")
        db.executemany("INSERT INTO kept_entities VALUES (?)", [(i,) for i in participants])
        db.execute(
            """DELETE FROM entities WHERE group_id = :g AND id NOT IN (
                   SELECT id FROM kept_entities
                   UNION SELECT speaker_id FROM messages WHERE group_id = :g
                   UNION SELECT addressee_id FROM messages WHERE group_id = :g AND addressee_id IS NOT NULL
                   UNION SELECT entity_id FROM mentions WHERE group_id = :g
                   UNION SELECT entity_id FROM event_participants WHERE group_id = :g
                   UNION SELECT place_id FROM events WHERE group_id = :g AND place_id IS NOT NULL
                   UNION SELECT subject_id FROM relations WHERE group_id = :g
                   UNION SELECT object_id FROM relations WHERE group_id = :g)""",
            {"g": group_id},
        )

    def _apply_supersession(self, db: sqlite3.Connection, group_id: str, subjects: set[str], version: int) -> None:
        """Recompute which relations of these subjects supersede which (see graphmem.store.supersession)."""
        if not subjects:
            return
        db.execute("CREATE TEMP TABLE IF NOT EXISTS batch_subjects (id TEXT PRIMARY KEY)")
        db.execute("DELETE FROM batch_subjects")
        db.executemany("INSERT INTO batch_subjects VALUES (?)", [(s,) for s in sorted(subjects)])
        stored = [_relation(row) for row in db.execute(RELATIONS_OF_BATCH_SUBJECTS, (group_id,))]
        db.executemany(
            """UPDATE relations SET valid_to = ?, expired_at = ?, superseded_by = ?, version = ?
               WHERE group_id = ? AND id = ?""",
            [
                (_iso(r.valid_to), r.expired_at.isoformat() if r.expired_at else None, r.superseded_by, version,
                 group_id, r.id)
                for r in resolve_supersession(stored)
            ],
        )

    @staticmethod
    def _after_stored_turns(db: sqlite3.Connection, group_id: str, messages: list[MessageNode]) -> bool:
        """Whether every message comes after the stored turns of its conversation (an append)."""
        first: dict[str, int] = {}
        for message in messages:
            first[message.conversation_id] = min(first.get(message.conversation_id, message.seq), message.seq)
        for conversation_id, seq in first.items():
            (last,) = db.execute(
                "SELECT max(seq) FROM messages WHERE group_id = ? AND conversation_id = ?", (group_id, conversation_id)
            ).fetchone()
            if last is not None and seq <= last:
                return False
        return True

    @staticmethod
    def _count_new(db: sqlite3.Connection, group_id: str, table: str, ids: list[str]) -> int:
        unique = set(ids)
        if not unique:
            return 0
        db.execute("CREATE TEMP TABLE IF NOT EXISTS batch_ids (id TEXT PRIMARY KEY)")
        db.execute("DELETE FROM batch_ids")
        db.executemany("INSERT INTO batch_ids VALUES (?)", [(i,) for i in unique])
        (stored,) = db.execute(
            f"SELECT count(*) FROM {table} JOIN batch_ids USING (id) WHERE group_id = ?", (group_id,)
        ).fetchone()
        return len(unique) - stored

    @staticmethod
    def _forget_derived(db: sqlite3.Connection, group_id: str, message_ids: list[str]) -> set[str]:
        """Drop what was extracted from these messages before; the batch writes it anew.

        Returns the subjects of the relations those messages stated, whose supersession may change.
        """
        db.execute("CREATE TEMP TABLE IF NOT EXISTS batch_messages (id TEXT PRIMARY KEY)")
        db.execute("DELETE FROM batch_messages")
        db.executemany("INSERT INTO batch_messages VALUES (?)", [(i,) for i in set(message_ids)])
        subjects = {
            row[0]
            for row in db.execute(
                """SELECT DISTINCT r.subject_id FROM relations r JOIN relation_sources s
                   ON s.group_id = r.group_id AND s.relation_id = r.id
                   WHERE r.group_id = ? AND s.message_id IN (SELECT id FROM batch_messages)""",
                (group_id,),
            )
        }
        db.execute(
            """DELETE FROM event_participants WHERE group_id = ? AND event_id IN
               (SELECT id FROM events WHERE group_id = ? AND message_id IN (SELECT id FROM batch_messages))""",
            (group_id, group_id),
        )
        for table in ("events", "mentions", "relation_sources"):
            db.execute(
                f"DELETE FROM {table} WHERE group_id = ? AND message_id IN (SELECT id FROM batch_messages)", (group_id,)
            )
        db.execute(
            """DELETE FROM relations WHERE group_id = ? AND NOT EXISTS
               (SELECT 1 FROM relation_sources s WHERE s.group_id = relations.group_id AND s.relation_id = relations.id)""",
            (group_id,),
        )
        return subjects

    @staticmethod
    def _upsert_entities(db: sqlite3.Connection, group_id: str, entities: list[EntityNode], version: int) -> None:
        if not entities:
            return
        stored = {
            row["id"]: (row["type"], json.loads(row["aliases"]))
            for row in db.execute(
                f"SELECT id, type, aliases FROM entities WHERE group_id = ? AND id IN ({','.join('?' * len(entities))})",
                (group_id, *(e.id for e in entities)),
            )
        }
        rows = []
        for entity in entities:
            old_type, old_aliases = stored.get(entity.id, (None, []))
            aliases = list(dict.fromkeys([*old_aliases, *entity.aliases]))
            entity_type = refined_type(old_type, entity.type)
            if (entity_type, aliases) != (old_type, old_aliases):  # unchanged entities keep their version
                rows.append((group_id, entity.id, entity.name, entity_type, json.dumps(aliases), version))
        db.executemany(
            """INSERT INTO entities (group_id, id, name, type, aliases, version) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT DO UPDATE SET type = excluded.type, aliases = excluded.aliases, version = excluded.version""",
            rows,
        )

    def forget(self, group_id: str) -> None:
        check_group_id(group_id)
        with self._versioned(group_id) as write:
            db = write.db
            for table in ("conversations", "messages", "entities", "mentions", "events", "event_participants",
                          "relations", "relation_sources", "index_snapshots", *CONSOLIDATION_TABLES):
                db.execute(f"DELETE FROM {table} WHERE group_id = ?", (group_id,))

    # -- reads ---------------------------------------------------------------------------------

    def message_digests(self, group_id: str, conversation_id: str) -> dict[str, str]:
        check_group_id(group_id)
        rows = self._query(
            "SELECT source_id, digest FROM messages WHERE group_id = ? AND conversation_id = ?", (group_id, conversation_id)
        )
        return dict(rows)

    def messages(self, group_id: str, conversation_id: str | None = None) -> list[MessageNode]:
        check_group_id(group_id)
        with self._lock, self._store_errors():
            return _messages(self._db, group_id, EVERYTHING, conversation_id)

    def entities(self, group_id: str) -> list[EntityNode]:
        check_group_id(group_id)
        with self._lock, self._store_errors():
            return _entities(self._db, group_id, EVERYTHING)

    def mentions(self, group_id: str) -> list[Mention]:
        check_group_id(group_id)
        with self._lock, self._store_errors():
            return _mentions(self._db, group_id, EVERYTHING)

    def events(self, group_id: str, entity_id: str | None = None) -> list[EventNode]:
        check_group_id(group_id)
        with self._lock, self._store_errors():
            return _events(self._db, group_id, EVERYTHING, entity_id)

    def facts(self, group_id: str, entity_id: str | None = None) -> list[RelationEdge]:
        check_group_id(group_id)
        if entity_id is None:
            rows = self._query(RELATIONS, (group_id,))
        else:
            rows = self._query(RELATIONS_OF_ENTITY, (group_id, entity_id, entity_id))
        return [_relation(row) for row in rows]

    def version(self, group_id: str) -> TenantVersion:
        check_group_id(group_id)
        with self._lock, self._store_errors():
            return _version(self._db, group_id)

    def changes(self, group_id: str, since: int = EVERYTHING) -> TenantDelta:
        check_group_id(group_id)
        with self._lock, self._store_errors():
            self._db.execute("BEGIN")  # one snapshot (WAL): the records and the version agree
            try:
                return TenantDelta(
                    _version(self._db, group_id),
                    _messages(self._db, group_id, since, None, in_write_order=True),
                    _entities(self._db, group_id, since),
                    _mentions(self._db, group_id, since),
                    _events(self._db, group_id, since, None),
                    [_relation(row) for row in self._db.execute(RELATIONS_SINCE, (group_id, since))],
                )
            finally:
                self._db.execute("COMMIT")

    def counts(self, group_id: str) -> StoreCounts:
        check_group_id(group_id)
        values = [
            self._query(f"SELECT count(*) FROM {table} WHERE group_id = ?", (group_id,))[0][0]
            for table in ("conversations", "messages", "entities", "events", "relations")
        ]
        return StoreCounts(*values)

    def save_index_snapshot(self, group_id: str, snapshot: IndexSnapshot) -> None:
        check_group_id(group_id)
        with self._busy_timeout(SNAPSHOT_LOCK_WAIT_MS), self._transaction() as db:
            db.execute(
                """INSERT INTO index_snapshots SELECT ?, ?, ?, ? FROM tenant_versions WHERE group_id = ? AND reset <= ?
                   ON CONFLICT (group_id) DO UPDATE
                   SET key = excluded.key, version = excluded.version, data = excluded.data
                   WHERE index_snapshots.key != excluded.key OR index_snapshots.version <= excluded.version""",
                (group_id, snapshot.key, snapshot.version, snapshot.data, group_id, snapshot.version),
            )

    def index_snapshot(self, group_id: str, key: str, since: int) -> IndexSnapshot | None:
        check_group_id(group_id)
        rows = self._query(
            "SELECT key, version, data FROM index_snapshots WHERE group_id = ? AND key = ? AND version >= ?",
            (group_id, key, since),
        )
        return IndexSnapshot(*rows[0]) if rows else None

    def groups(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT group_id FROM messages ORDER BY group_id")]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- consolidation: scenes and personas ----------------------------------------------------

    @contextmanager
    def _replacing(self, group_id: str, tables: tuple[str, ...]) -> Iterator[sqlite3.Connection]:
        """One versioned write (a reset) that empties the tenant's rows of `tables` and lets the
        caller insert their new set: consolidation replaces a tenant's scenes or personas whole."""
        check_group_id(group_id)
        with self._versioned(group_id) as write:
            for table in tables:  # names from this module, never from input
                write.db.execute(f"DELETE FROM {table} WHERE group_id = ?", (group_id,))
            yield write.db

    def write_scenes(self, group_id: str, scenes: list[Scene]) -> None:
        with self._replacing(group_id, ("scenes", "scene_members", "scene_links")) as db:
            db.executemany(
                "INSERT INTO scenes (group_id, id, label, ts_start, ts_end) VALUES (?, ?, ?, ?, ?)",
                [(group_id, s.id, s.label, s.ts_start.isoformat(), s.ts_end.isoformat()) for s in scenes],
            )
            db.executemany(
                "INSERT INTO scene_members (group_id, scene_id, member_id, kind, weight) VALUES (?, ?, ?, ?, ?)",
                [(group_id, s.id, m.id, m.kind, m.weight) for s in scenes for m in s.members],
            )
            db.executemany(
                "INSERT INTO scene_links (group_id, scene_id, kind, target_id) VALUES (?, ?, 'participant', ?)",
                [(group_id, s.id, entity) for s in scenes for entity in s.participants],
            )
            db.executemany(
                """INSERT INTO scene_links (group_id, scene_id, kind, target_id) SELECT ?, ?, 'persona', ?
                   WHERE EXISTS (SELECT 1 FROM personas WHERE group_id = ? AND id = ?)""",
                [(group_id, s.id, persona, group_id, persona) for s in scenes for persona in s.persona_ids],
            )

    def scenes(self, group_id: str) -> list[Scene]:
        check_group_id(group_id)
        exists = " OR ".join(
            f"""(sm.kind = ? AND EXISTS
                (SELECT 1 FROM {table} t WHERE t.group_id = sm.group_id AND t.id = sm.member_id))"""
            for table in MEMBER_TABLES.values()
        )
        members: dict[str, list[SceneMember]] = {}
        for scene_id, member_id, kind, weight in self._query(
            f"SELECT scene_id, member_id, kind, weight FROM scene_members sm WHERE group_id = ? AND ({exists})",
            (group_id, *MEMBER_TABLES),
        ):
            members.setdefault(scene_id, []).append(SceneMember(member_id, MemberKind(kind), weight))
        links: dict[tuple[str, str], list[str]] = {}
        for scene_id, kind, target in self._query(
            """SELECT l.scene_id, l.kind, l.target_id FROM scene_links l WHERE l.group_id = ? AND EXISTS (
                   SELECT 1 FROM entities e
                    WHERE l.kind = 'participant' AND e.group_id = l.group_id AND e.id = l.target_id
                   UNION ALL
                   SELECT 1 FROM personas p
                    WHERE l.kind = 'persona' AND p.group_id = l.group_id AND p.id = l.target_id)
               ORDER BY l.target_id""",
            (group_id,),
        ):
            links.setdefault((scene_id, kind), []).append(target)
        rows = self._query(
            "SELECT id, label, ts_start, ts_end FROM scenes WHERE group_id = ? ORDER BY ts_start, id", (group_id,)
        )
        return [
            Scene(
                scene_id, label, datetime.fromisoformat(start), datetime.fromisoformat(end),
                tuple(sorted(members.get(scene_id, []), key=lambda m: (-m.weight, m.id))),
                tuple(links.get((scene_id, "participant"), ())), tuple(links.get((scene_id, "persona"), ())),
            )
            for scene_id, label, start, end in rows
        ]

    def write_personas(self, group_id: str, personas: list[Persona]) -> None:
        with self._replacing(group_id, ("personas", "facets", "facet_facts")) as db:
            db.executemany(
                "INSERT INTO personas (group_id, id, entity_id, name, summary) VALUES (?, ?, ?, ?, ?)",
                [(group_id, p.id, p.entity_id, p.name, p.summary) for p in personas],
            )
            db.executemany(
                "INSERT INTO facets (group_id, id, persona_id, position, label, evidence) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (group_id, f.id, p.id, position, f.label, json.dumps(list(f.evidence)))
                    for p in personas for position, f in enumerate(p.facets)
                ],
            )
            db.executemany(
                """INSERT INTO facet_facts (group_id, facet_id, position, fact_id, kind, text, message_id, current,
                   moved_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    (group_id, f.id, position, x.id, x.kind, x.text, x.message_id, int(x.current), x.moved_from)
                    for p in personas for f in p.facets for position, x in enumerate(f.facts)
                ],
            )

    def personas(self, group_id: str) -> list[Persona]:
        check_group_id(group_id)
        facts: dict[str, list[PersonaFact]] = {}
        for row in self._query(
            """SELECT facet_id, fact_id, kind, text, message_id, current, moved_from FROM facet_facts
               WHERE group_id = ? ORDER BY facet_id, position""",
            (group_id,),
        ):
            facts.setdefault(row["facet_id"], []).append(PersonaFact(
                id=row["fact_id"], kind=MemberKind(row["kind"]), text=row["text"], message_id=row["message_id"],
                current=bool(row["current"]), moved_from=row["moved_from"],
            ))
        facets: dict[str, list[Facet]] = {}
        for persona_id, facet_id, label, evidence in self._query(
            "SELECT persona_id, id, label, evidence FROM facets WHERE group_id = ? ORDER BY persona_id, position",
            (group_id,),
        ):
            facets.setdefault(persona_id, []).append(
                Facet(facet_id, label, tuple(facts.get(facet_id, ())), tuple(json.loads(evidence)))
            )
        rows = self._query(
            "SELECT id, entity_id, name, summary FROM personas WHERE group_id = ? ORDER BY name, id", (group_id,)
        )
        return [
            Persona(r["id"], r["entity_id"], r["name"], r["summary"], tuple(facets.get(r["id"], ()))) for r in rows
        ]


def sqlite_store_error(path: str, exc: sqlite3.Error) -> StoreError:
    """`exc` as a `StoreError`: transient when the file was locked or busy, which a retry may get past."""
    message = str(exc)
    transient = isinstance(exc, sqlite3.OperationalError) and ("locked" in message or "busy" in message)
    return StoreError(f"the memory file {path}: {message}", transient=transient)


def _relation(row: sqlite3.Row) -> RelationEdge:
    return RelationEdge(
        id=row["id"], subject_id=row["subject_id"], object_id=row["object_id"], predicate=row["predicate"],
        fact=row["fact"], message_id=row["message_id"], observed_at=datetime.fromisoformat(row["observed_at"]),
        valid_from=_date(row["valid_from"]), valid_to=_date(row["valid_to"]),
        precision=Precision(row["precision"]) if row["precision"] else None,
        confidence=row["confidence"], superseded_by=row["superseded_by"],
        expired_at=datetime.fromisoformat(row["expired_at"]) if row["expired_at"] else None,
    )


# -- reads of records stamped after a version (EVERYTHING: all of them) --------------------------


def _version(db: sqlite3.Connection, group_id: str) -> TenantVersion:
    row = db.execute("SELECT version, reset FROM tenant_versions WHERE group_id = ?", (group_id,)).fetchone()
    return TenantVersion(*row) if row else TenantVersion()


def _messages(
    db: sqlite3.Connection, group_id: str, since: int, conversation_id: str | None, in_write_order: bool = False
) -> list[MessageNode]:
    sql = """SELECT id, source_id, conversation_id, seq, speaker, speaker_id, text, ts, session, caption,
                    addressee_id, digest FROM messages WHERE group_id = ? AND version > ?"""
    params: list = [group_id, since]
    if conversation_id is not None:
        sql += " AND conversation_id = ?"
        params.append(conversation_id)
    order = " ORDER BY version, conversation_id, seq" if in_write_order else " ORDER BY conversation_id, seq"
    return [  # positional: the columns are MessageNode's fields in order (a bulk read of a whole tenant)
        MessageNode(id_, source, conversation, seq, speaker, speaker_id, text, datetime.fromisoformat(ts), session,
                    caption, addressee, digest)
        for id_, source, conversation, seq, speaker, speaker_id, text, ts, session, caption, addressee, digest
        in db.execute(sql + order, params)
    ]


def _entities(db: sqlite3.Connection, group_id: str, since: int) -> list[EntityNode]:
    rows = db.execute(
        "SELECT id, name, type, aliases FROM entities WHERE group_id = ? AND version > ? ORDER BY name, id",
        (group_id, since),
    )
    return [EntityNode(r["id"], r["name"], EntityType(r["type"]), tuple(json.loads(r["aliases"]))) for r in rows]


_MESSAGES_SINCE = "(SELECT id FROM messages WHERE group_id = ? AND version > ?)"


def _mentions(db: sqlite3.Connection, group_id: str, since: int) -> list[Mention]:
    if since == EVERYTHING:
        rows = db.execute(
            "SELECT message_id, entity_id FROM mentions WHERE group_id = ? ORDER BY entity_id, message_id", (group_id,)
        )
    else:  # from the messages written since (CROSS JOIN fixes that order): time in proportion to the delta
        rows = db.execute(
            """SELECT x.message_id, x.entity_id FROM messages m INDEXED BY messages_by_version CROSS JOIN mentions x
               ON x.group_id = m.group_id AND x.message_id = m.id
               WHERE m.group_id = ? AND m.version > ? ORDER BY x.entity_id, x.message_id""",
            (group_id, since),
        )
    same = {}.setdefault  # one string per id: a tenant has ~3 mentions per message and few entities
    return [Mention(same(message, message), same(entity, entity)) for message, entity in rows]


def _events(db: sqlite3.Connection, group_id: str, since: int, entity_id: str | None) -> list[EventNode]:
    # A delta is read from the messages written since, whatever the planner would guess.
    # (and each message's events by events_by_message: left alone, the planner may scan the tenant's events)
    join = "JOIN events e" if since == EVERYTHING else (
        "INDEXED BY messages_by_version CROSS JOIN events e INDEXED BY events_by_message"
    )
    sql = f"""SELECT e.id, e.message_id, e.predicate, e.summary, e.ts_start, e.ts_end, e.precision, e.place_id
              FROM messages m {join} ON e.group_id = m.group_id AND e.message_id = m.id
              WHERE m.group_id = ? AND m.version > ?"""
    params: list = [group_id, since]
    if entity_id is not None:
        sql += " AND e.id IN (SELECT event_id FROM event_participants WHERE group_id = ? AND entity_id = ?)"
        params += [group_id, entity_id]
    rows = db.execute(sql + " ORDER BY m.conversation_id, m.seq, e.id", params).fetchall()
    participants: dict[str, list[tuple[str, str]]] = {}
    if since == EVERYTHING:
        members = db.execute(
            "SELECT event_id, entity_id, role FROM event_participants WHERE group_id = ? ORDER BY event_id, role, entity_id",
            (group_id,),
        )
    else:
        members = db.execute(  # looked up by the delta's own event ids: time in proportion to the delta
            """SELECT event_id, entity_id, role FROM event_participants
               WHERE group_id = ? AND event_id IN (SELECT value FROM json_each(?))
               ORDER BY event_id, role, entity_id""",
            (group_id, json.dumps([r["id"] for r in rows])),
        )
    for event_id, member, role in members:
        participants.setdefault(event_id, []).append((member, role))
    return [  # positional, in EventNode's field order (a bulk read of a whole tenant)
        EventNode(id_, message_id, predicate, summary, tuple(participants.get(id_, ())), _date(ts_start), _date(ts_end),
                  Precision(precision) if precision else None, place_id)
        for id_, message_id, predicate, summary, ts_start, ts_end, precision, place_id in rows
    ]


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None
