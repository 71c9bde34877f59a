"""Entity resolution measured on hand-labelled mention pairs from the LoCoMo dev split.

Each pair names two mentions (turn id and text as written) and whether they are the same entity.
The conversations are ingested as they are; a mention resolves to the entity its turn mentions
(or is spoken by / addressed to) whose name or alias is that text. Precision and recall of the
merges are printed and held to the issue's targets (>= 0.95 and >= 0.85).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graphmem import Config, Memory
from graphmem.memory import conversation_group
from graphmem.extraction.canonical import entity_key
from graphmem.ingest.loaders import load_file
from graphmem.ingest.resolution import short_form_targets
from tests.conftest import LOCOMO_DEV

PAIRS = json.loads((Path(__file__).parent / "data" / "entity_pairs.json").read_text())["pairs"]


def test_short_forms_resolve_only_when_unique():
    known = ["Jennifer Lopez", "Melanie", "Mark Twain", "Maria"]
    assert short_form_targets(["Jen", "Jennifer", "Mel", "Ma", "Mar", "Maria"], known) == {
        "Jen": "Jennifer Lopez", "Jennifer": "Jennifer Lopez", "Mel": "Melanie",
    }
    assert short_form_targets(["Jo"], ["Joanna"]) == {}  # too short to trust outside the participants


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    """For every (conversation, turn, text) in the pairs, the entity id it resolves to (or None)."""
    wanted = {p["conversation"] for p in PAIRS}
    conversations = [c for c in load_file(LOCOMO_DEV).conversations if c.id in wanted]
    path = tmp_path_factory.mktemp("resolution") / "m.db"
    with Memory(Config(path=path)) as memory:
        memory.ingest_conversations(conversations, group_per_conversation=True)
        lookup = {}
        for conversation in conversations:
            group = conversation_group("default", conversation.id)
            entities = {e.id: e for e in memory.entities(group_id=group)}
            mentioned: dict[str, set[str]] = {}
            for mention in memory.store.mentions(group):
                mentioned.setdefault(mention.message_id, set()).add(mention.entity_id)
            for message in memory.store.messages(group):
                candidates = mentioned.get(message.id, set()) | {message.speaker_id, message.addressee_id} - {None}
                lookup[(conversation.id, message.source_id)] = [entities[c] for c in candidates if c in entities]
    return lookup


def _resolve(lookup, conversation: str, turn: str, text: str) -> str | None:
    key = entity_key(text)
    for entity in lookup.get((conversation, turn), []):
        if key in {entity_key(n) for n in (entity.name, *entity.aliases)}:
            return entity.id
    return None


def test_merge_precision_and_recall_on_labelled_pairs(resolved, capsys):
    true_merges = false_merges = missed = 0
    unresolved = []
    for pair in PAIRS:
        first = _resolve(resolved, pair["conversation"], *pair["a"])
        second = _resolve(resolved, pair["conversation"], *pair["b"])
        unresolved += [m for m, r in ((pair["a"], first), (pair["b"], second)) if r is None]
        merged = first is not None and first == second
        if merged and pair["same"]:
            true_merges += 1
        elif merged:
            false_merges += 1
        elif pair["same"]:
            missed += 1
    precision = true_merges / max(1, true_merges + false_merges)
    recall = true_merges / max(1, true_merges + missed)
    with capsys.disabled():
        print(f"\nentity resolution on {len(PAIRS)} labelled pairs: precision {precision:.3f}, recall {recall:.3f}"
              f" (unresolved mentions: {unresolved})")
    assert len(PAIRS) >= 50
    assert precision >= 0.95 and recall >= 0.85
