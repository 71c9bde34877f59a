"""First ranking: BM25 plus entity matches, over a per-tenant index built from the store.

`GroupIndex` is the in-memory projection of one tenant that queries run against; it is built
once from the store and rebuilt only after that tenant is written to.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphmem.models import EntityNode, Evidence, MessageNode
from graphmem.search.lexical import LexicalIndex
from graphmem.search.linking import EntityLinker
from graphmem.store.base import Store

# How much a message gains when it mentions (or is spoken by) every entity the question names;
# lexical scores are scaled to at most 1.
ENTITY_MATCH_WEIGHT = 0.3
LEXICAL_CANDIDATES = 200


@dataclass
class GroupIndex:
    group_id: str
    messages: list[MessageNode]
    lexical: LexicalIndex
    linker: EntityLinker
    entities: dict[str, EntityNode]
    entities_by_message: dict[str, frozenset[str]]

    @classmethod
    def build(cls, store: Store, group_id: str) -> GroupIndex:
        messages = store.messages(group_id)
        entities = store.entities(group_id)
        by_message: dict[str, set[str]] = {m.id: {m.speaker_id} for m in messages}
        for mention in store.mentions(group_id):
            by_message.setdefault(mention.message_id, set()).add(mention.entity_id)
        return cls(
            group_id=group_id,
            messages=messages,
            lexical=LexicalIndex(messages),
            linker=EntityLinker(entities),
            entities={e.id: e for e in entities},
            entities_by_message={k: frozenset(v) for k, v in by_message.items()},
        )


def search(index: GroupIndex, query: str, k: int = 10) -> list[Evidence]:
    """Rank messages for a question: BM25 score (scaled to the best hit) plus entity overlap."""
    if k <= 0 or not index.messages:
        return []
    linked = {e.id: e for e in index.linker.link(query)}
    lexical = index.lexical.search(query, max(LEXICAL_CANDIDATES, k))
    top = lexical[0][1] if lexical else 1.0
    scores: dict[int, float] = {i: s / top for i, s in lexical}
    why: dict[int, list[str]] = {i: [f"bm25 {s:.2f}"] for i, s in lexical}
    if linked:
        for i, message in enumerate(index.messages):
            shared = linked.keys() & index.entities_by_message.get(message.id, frozenset())
            if shared:
                scores[i] = scores.get(i, 0.0) + ENTITY_MATCH_WEIGHT * len(shared) / len(linked)
                names = ", ".join(sorted(linked[e].name for e in shared))
                why.setdefault(i, []).append(f"mentions {names}")
    ranked = sorted(scores.items(), key=lambda p: (-p[1], p[0]))[:k]
    return [_evidence(index.messages[i], score, tuple(why.get(i, ()))) for i, score in ranked]


def _evidence(message: MessageNode, score: float, why: tuple[str, ...]) -> Evidence:
    return Evidence(
        message_id=message.id,
        source_id=message.source_id,
        conversation_id=message.conversation_id,
        speaker=message.speaker,
        text=message.text,
        ts=message.ts,
        score=round(score, 6),
        why=why,
    )
