"""The names participants go by: does a question that names a participant reach that speaker?

    .venv/bin/python bench/names.py [--locomo PATH] [--realtalk DIR]

For each dev conversation, the participants' entities are built as ingest builds them
(graphmem.ingest.graph_builder, which adds the names each participant goes by in the chat as aliases,
graphmem.ingest.resolution.names_people_go_by), and each question is linked by the query engine's
entity linker. A question names a participant when it contains their speaker name or a name
the chat calls them by (`CALLED`, read off the chats and used only to score); it is linked
right when every participant it names links to that speaker and no other participant links.
Printed next to the same measure with speaker names only (no name linking).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from graphmem.eval.locomo import EvalSet, locomo_set, realtalk_set
from graphmem.extraction.canonical import entity_key
from graphmem.ingest.graph_builder import build_graph_batch, entity_id
from graphmem.models import EntityNode
from graphmem.search.linking import EntityLinker

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# Names the dev questions use for a participant that differ from the speaker field (scoring only).
CALLED = {"Chat_1_Emi_Elise": {"Kate": "Emi"}, "conv-42": {"Jo": "Joanna"}}


def score(dataset: EvalSet) -> tuple[int, int, int, list[tuple[str, dict]]]:
    """(questions naming a participant, linked right with name linking, linked right without, names found)."""
    naming = right = right_plain = 0
    found: list[tuple[str, dict]] = []
    for conversation_id, conversation in dataset.conversations.items():
        group = "bench"
        batch = build_graph_batch(group, conversation, conversation.messages, [])
        people = [e for e in batch.entities if e.type == "person"]
        found.append((conversation_id, {e.name: e.aliases for e in people if e.aliases}))
        linker = EntityLinker(people)
        plain = EntityLinker([EntityNode(e.id, e.name, e.type, ()) for e in people])
        names = {entity_key(p): p for p in conversation.participants}
        names.update({entity_key(n): p for n, p in CALLED.get(conversation_id, {}).items()})
        ids = {p: entity_id(group, p) for p in conversation.participants}
        for question in (q for q in dataset.questions if q.conversation_id == conversation_id):
            words = {entity_key(w) for w in re.findall(r"[A-Za-z]+", question.question)}
            named = {names[w] for w in words if w in names}
            if not named:
                continue
            naming += 1
            wanted = {ids[p] for p in named}
            right += {e.id for e in linker.link(question.question)} & set(ids.values()) == wanted
            right_plain += {e.id for e in plain.link(question.question)} & set(ids.values()) == wanted
    return naming, right, right_plain, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locomo", default=DATA / "locomo" / "locomo_dev.json")
    parser.add_argument("--realtalk", default=DATA / "realtalk")
    args = parser.parse_args()
    print("| dev set | questions naming a participant | linked to the right speaker | speaker names only |")
    print("|---|---|---|---|")
    details = []
    for dataset in (locomo_set(args.locomo), realtalk_set([args.realtalk])):
        naming, right, plain, found = score(dataset)
        print(f"| {dataset.name} | {naming} | **{right / naming:.3f}** ({right}) | {plain / naming:.3f} ({plain}) |")
        details.extend(found)
    print("\nnames found (participant: aliases):")
    for conversation_id, aliases in details:
        print(f"  {conversation_id}: {aliases}")


if __name__ == "__main__":
    main()
