"""Ingest throughput on the LoCoMo dev split, per stage, on the embedded store.

    .venv/bin/python bench/ingest.py [PATH] [--store sqlite|neo4j] [--processes N]

Prints a table: turns, seconds and turns/s for parsing+extraction, graph building and store
writes, and the whole ingest as `Memory.ingest` runs it. Target: >= 150 turns/s on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from graphmem import Config, Memory
from graphmem.extraction.spacy_pipeline import SpacyExtractor, load_spacy_model
from graphmem.ingest.graph_builder import build_graph_batch
from graphmem.ingest.loaders import load_file
from graphmem.memory import conversation_group

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default=DEFAULT_PATH, type=Path)
    parser.add_argument("--store", choices=["sqlite", "neo4j"], default="sqlite")
    parser.add_argument("--processes", type=int, default=None, help="spaCy processes (default: auto)")
    args = parser.parse_args()

    conversations = load_file(args.path).conversations
    turns = sum(len(c.messages) for c in conversations)
    load_spacy_model(Config().spacy_model)  # model load is a one-off, not throughput

    extractor = SpacyExtractor(n_process=args.processes)
    started = time.perf_counter()
    extracted = [(c, list(extractor.extract(c, c.messages))) for c in conversations]
    extract_s = time.perf_counter() - started
    started = time.perf_counter()
    batches = [(c.id, build_graph_batch(c.id, c, c.messages, e)) for c, e in extracted]
    build_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as scratch:
        config = Config(store=args.store, path=Path(scratch) / "bench.db", extract_processes=args.processes)
        with Memory(config) as memory:
            prefix = f"bench-{int(time.time())}-"
            started = time.perf_counter()
            for group, batch in batches:
                memory.store.write(prefix + group, batch)
            write_s = time.perf_counter() - started
            for group, _ in batches:
                memory.forget(group_id=prefix + group)
            started = time.perf_counter()
            memory.ingest(args.path, group_per_conversation=True)
            total_s = time.perf_counter() - started
            for conversation in conversations:
                memory.forget(group_id=conversation_group(config.group_id, conversation.id))

    table = Table(title=f"ingest throughput ({args.path.name}, {turns} turns, store={args.store})")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("turns/s", justify="right")
    for stage, seconds in [("parse + extract (spaCy)", extract_s), ("build graph batch", build_s),
                           ("store write", write_s), ("Memory.ingest end to end", total_s)]:
        table.add_row(stage, f"{seconds:.2f}", f"{turns / seconds:.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
