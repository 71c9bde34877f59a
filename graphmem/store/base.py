"""The store interface: what every backend (embedded SQLite, Neo4j) provides.

A store persists graph records, scoped by tenant (`group_id`): no method reads or writes
outside the group it is given, and every method refuses an invalid group id
(`graphmem.models.check_group_id`) with `GroupIdError` before touching the store. Writes are
upserts keyed by deterministic ids, so writing the same batch twice leaves the store as it was.
The contract suite in tests/ runs against every implementation.
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
    relations: int = 0


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

    def relations(self, group_id: str, entity_id: str | None = None) -> list[RelationEdge]:
        """Relations, or only those with `entity_id` as subject or object."""
        ...

    def counts(self, group_id: str) -> StoreCounts: ...

    def groups(self) -> list[str]: ...

    def delete_group(self, group_id: str) -> None:
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
