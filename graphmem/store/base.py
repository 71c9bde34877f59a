"""The store interface: what every backend (embedded SQLite, Neo4j) provides.

A store persists graph records, scoped by tenant (`group_id`): no method reads or writes
outside the group it is given, and every method refuses an invalid group id
(`graphmem.models.check_group_id`) with `GroupIdError` before touching the store. Writes are
upserts keyed by deterministic ids, so writing the same batch twice leaves the store as it was.
The contract suite in tests/ runs against every implementation.

Every write transaction also bumps the tenant's version (`version`), and stamps what it writes
with that version, so a process holding an in-memory index of the tenant can tell whether it is
current and read just what changed since (`changes`). A write that only adds turns after the
stored ones of their conversations is an *append*: an index can be extended by the delta. Any
other change (a rewritten message, a deletion, new scenes or personas) sets the version's
`reset`, and an index older than that is rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from graphmem.models import (
    EntityNode, EventNode, GraphBatch, Mention, MessageNode, Persona, RelationEdge, Scene, WriteCounts,
)


@dataclass(frozen=True, slots=True)
class StoreCounts:
    conversations: int = 0
    messages: int = 0
    entities: int = 0
    events: int = 0
    facts: int = 0


@dataclass(frozen=True, slots=True)
class TenantVersion:
    """Where a tenant's writes stand: the last committed version, and the last one that was not an append."""

    version: int = 0
    reset: int = 0

    def needs_rebuild(self, since: int) -> bool:
        """Whether an index at version `since` must be rebuilt rather than extended to this version."""
        return self.reset > since


@dataclass(frozen=True)
class TenantDelta:
    """What a tenant's writes after a version stamped: records written or changed since, at `version`.

    Messages come in write order (version, then conversation and seq); mentions and events are
    those of the messages listed; entities and relations include stored ones a later write
    changed (merged aliases, a refined type, a relation superseded or given another source).
    """

    version: TenantVersion
    messages: list[MessageNode]
    entities: list[EntityNode]
    mentions: list[Mention]
    events: list[EventNode]
    relations: list[RelationEdge]


@dataclass(frozen=True)
class IndexSnapshot:
    """A tenant's query index at one write version, as bytes (graphmem.search.snapshot), with the
    key naming what it was built with: a cache of derived data, not tenant data."""

    key: str
    version: int
    data: bytes


EVERYTHING = -1
"""`since` that reads every record of a tenant (stamped versions start at 0 for records older than versions)."""


@runtime_checkable
class Store(Protocol):
    def write(self, group_id: str, batch: GraphBatch) -> WriteCounts:
        """Upsert a batch in one transaction; return how many records it created.

        A message already stored is replaced with everything derived from it (mentions,
        events, its provenance on relations), so a changed message leaves no stale facts, and
        entities nothing refers to any more are removed.
        """
        ...

    def mirror_conversation(self, group_id: str, conversation_id: str, seqs: dict[str, int]) -> int:
        """Make a stored conversation hold only the messages in `seqs` (source id -> seq), in one transaction.

        Stored messages not in `seqs` are removed with everything only they supported: their
        mentions and events, their share of relations (a relation no remaining message states is
        removed, and its subject's supersession recomputed, so a fact superseded only through a
        removed message is current again), and entities nothing refers to any more. The others
        take their seq from `seqs` (turn order follows). Messages in `seqs` not yet stored are
        left to `write`. Returns how many messages were removed.
        """
        ...

    def message_digests(self, group_id: str, conversation_id: str) -> dict[str, str]:
        """Source message id -> content digest, for every stored message of a conversation."""
        ...

    def messages(self, group_id: str, conversation_id: str | None = None) -> list[MessageNode]:
        """Messages in conversation order (conversation id, then seq)."""
        ...

    def entities(self, group_id: str) -> list[EntityNode]: ...

    def mentions(self, group_id: str) -> list[Mention]: ...

    def events(self, group_id: str, entity_id: str | None = None) -> list[EventNode]:
        """Events, or only those `entity_id` took part in; ordered by message order."""
        ...

    def facts(self, group_id: str, entity_id: str | None = None) -> list[RelationEdge]:
        """Facts (stored as relation edges), or only those with `entity_id` as subject or object."""
        ...

    def counts(self, group_id: str) -> StoreCounts: ...

    def version(self, group_id: str) -> TenantVersion:
        """The tenant's write version: one cheap read (0, 0 for a tenant never written)."""
        ...

    def changes(self, group_id: str, since: int = EVERYTHING) -> TenantDelta:
        """Records written or changed after version `since` (all of them by default), with the
        version they bring the reader to; read in one transaction."""
        ...

    def groups(self) -> list[str]: ...

    def save_index_snapshot(self, group_id: str, snapshot: IndexSnapshot) -> None:
        """Keep `snapshot` as the tenant's index snapshot unless the one kept is newer (same key),
        or a write that was not an append came after its version (it could never be used).

        A tenant keeps one snapshot: one with another key replaces it. Saving is no write of the
        tenant (its version stays); `forget` removes the snapshot with the rest, and a snapshot
        built before a forget and saved after it is refused.
        """
        ...

    def index_snapshot(self, group_id: str, key: str, since: int) -> IndexSnapshot | None:
        """The tenant's index snapshot if it has `key` and reflects version `since` or a later one."""
        ...

    def forget(self, group_id: str) -> None:
        """Remove everything stored for a tenant, and nothing else."""
        ...

    def close(self) -> None: ...

    # -- consolidation: scenes and personas (graphmem.consolidation.pipeline) ---------------------------

    def write_scenes(self, group_id: str, scenes: list[Scene]) -> None:
        """Replace the tenant's scenes with `scenes`, in one transaction.

        A scene's links to personas are kept for personas already stored: write personas first.
        """
        ...

    def scenes(self, group_id: str) -> list[Scene]:
        """The tenant's scenes in time order (ts_start, then id); members strongest first.

        Members no longer stored (a re-ingested message's old events, say) are left out.
        """
        ...

    def write_personas(self, group_id: str, personas: list[Persona]) -> None:
        """Replace the tenant's personas (and their facets) with `personas`, in one transaction."""
        ...

    def personas(self, group_id: str) -> list[Persona]:
        """The tenant's personas by name (then id), facets in the order written."""
        ...
