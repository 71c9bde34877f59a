"""Ingest throughput into Neo4j on the LoCoMo dev split, end to end and for the store writes alone.

    .venv/bin/python bench/ingest_neo4j.py [PATH]

Needs a running Neo4j (`dev/neo4j/start`, or NEO4J_URI / NEO4J_PASSWORD). Each conversation is
ingested with `Memory(Config(store="neo4j"))` into its own fresh group, deleted afterwards, and
a table shows turns, seconds and turns/s for the whole ingest and for `store.write` within it.
Target: >= 100 turns/s end to end on 2 cores.
"""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

from graphmem import Config, Memory
from graphmem.ingest.loaders import load_file
from graphmem.memory import open_store
from graphmem.models import GraphBatch, WriteCounts
from graphmem.store.base import Store

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"


class TimedWrites:
    """A store that adds up the seconds its `write` calls take; everything else passes through."""

    def __init__(self, store: Store):
        self.store = store
        self.write_seconds = 0.0

    def write(self, group_id: str, batch: GraphBatch) -> WriteCounts:
        started = time.perf_counter()
        try:
            return self.store.write(group_id, batch)
        finally:
            self.write_seconds += time.perf_counter() - started

    def __getattr__(self, name: str):
        return getattr(self.store, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default=DEFAULT_PATH, type=Path)
    args = parser.parse_args()

    conversations = load_file(args.path).conversations
    turns = sum(len(c.messages) for c in conversations)
    config = Config(store="neo4j")
    store = TimedWrites(open_store(config))
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    with Memory(config, store=store) as memory:
        list(memory.extractor.extract(conversations[0], conversations[0].messages[:1]))  # model load: not throughput
        started = time.perf_counter()
        try:
            for conversation in conversations:
                memory.ingest_conversations([conversation], group_id=prefix + conversation.id)
            total_s = time.perf_counter() - started
        finally:
            for conversation in conversations:
                memory.forget(group_id=prefix + conversation.id)

    table = Table(title=f"Neo4j ingest ({args.path.name}, {len(conversations)} conversations, {config.neo4j_uri})")
    for column in ("stage", "turns", "seconds", "turns/s"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage, seconds in [("Memory.ingest end to end", total_s), ("store.write only", store.write_seconds)]:
        table.add_row(stage, str(turns), f"{seconds:.2f}", f"{turns / seconds:.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
