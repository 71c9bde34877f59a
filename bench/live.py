"""One tenant written and read at once by separate processes: freshness and latency under writes.

    .venv/bin/python bench/live.py [--stores sqlite,neo4j] [--clients 2] [--writes 20] [--interval 0.5]

A writer process appends a turn naming a new marker word (`add_messages`, one transaction per
write) every `--interval` seconds, and logs when each write returned (committed). `--clients`
client processes each keep one `Memory` open on the same tenant and query it in a loop: dev
questions (the default engine) in between, and the next marker not yet seen (BM25 channel). A marker's visibility lag is the time
from its commit to the first query (by any client) that returns its turn. The tenant starts with
one dev conversation. Printed per store: writes, queries, errors, query p50/p95/p99 and the
visibility lag p50/p95/max (the question latencies include catching up after each write). Target (issue): every read issued after a commit reflects it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from graphmem import Config, Memory, SearchSettings
from graphmem.ingest.loaders import load_file

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"
CONVERSATION = "live-bench"


def marker(i: int) -> str:
    return f"zqmark{i}"


def writer(config: Config, writes: int, interval: float, commits, start) -> None:
    """Append one turn per write; put (marker number, commit time) after each write returns."""
    with Memory(config) as memory:
        memory.add_messages(CONVERSATION, [{"speaker": "Ann", "text": "Warming up the extractor.",
                                            "timestamp": "2024-01-01T09:00:00"}])
        start.wait()
        for i in range(writes):
            text = f"Ann says the garden code word is {marker(i)} today."
            memory.add_messages(CONVERSATION, [{"speaker": "Ann", "text": text, "timestamp": f"2024-01-02T09:{i % 60:02d}:00"}])
            commits.put((i, time.time()))
            time.sleep(interval)
    commits.put(None)


def client(config: Config, questions: list[str], writes: int, deadline: float, results, start) -> None:
    """Query in a loop until every marker is seen or the deadline passes; report what happened."""
    latencies, errors, seen = [], [], {}
    with Memory(config) as memory:
        memory.search(questions[0], k=10)  # the index, built before the writes start
        start.wait()
        turn = 0
        while len(seen) < writes and time.time() < deadline:
            wanted, asks_marker = len(seen), turn % 2 == 0
            question = f"What is the code word {marker(wanted)}?" if asks_marker else questions[turn % len(questions)]
            turn += 1
            try:
                begun = time.perf_counter()
                # The marker probe ranks by BM25 alone: it asks whether the turn is indexed, not how
                # the graph ranks near-identical turns. Latencies are those of the dev questions.
                hits = memory.search(question, k=5, settings=SearchSettings(channels=("bm25",)) if asks_marker else None)
                if not asks_marker:
                    latencies.append(1000 * (time.perf_counter() - begun))
            except Exception:  # noqa: BLE001 -- a failed read is what this measures: count it, keep going
                errors.append(traceback.format_exc(limit=2))
                continue
            if asks_marker and any(marker(wanted) in hit.text.split() for hit in hits):
                seen[wanted] = time.time()
    results.put({"latencies": latencies, "errors": errors, "seen": seen})


def run(store: str, clients: int, writes: int, interval: float, scratch: Path) -> dict:
    group = f"live-bench-{store}-{int(time.time())}"
    config = Config(store=store, path=scratch / "live.db", group_id=group)
    source = load_file(DEV).conversations[0]
    with Memory(config) as memory:
        memory.ingest_conversations([source])
    context = multiprocessing.get_context("spawn")
    commits, results = context.Queue(), context.Queue()
    start = context.Barrier(clients + 1)  # every client's index built and the writer warmed up
    questions = [qa["question"] for qa in json.loads(DEV.read_text())[0]["qa"]][:50]
    deadline = time.time() + 60 + writes * (interval + 5)
    readers = [context.Process(target=client, args=(config, questions, writes, deadline, results, start))
               for _ in range(clients)]
    write = context.Process(target=writer, args=(config, writes, interval, commits, start))
    for process in (*readers, write):
        process.start()
    committed = {}
    while (item := commits.get()) is not None:
        committed[item[0]] = item[1]
    reports = [results.get() for _ in readers]
    for process in (*readers, write):
        process.join()
    with Memory(config) as memory:
        memory.forget()
    first_seen: dict[int, float] = {}
    for report in reports:
        for i, when in report["seen"].items():
            first_seen[int(i)] = min(first_seen.get(int(i), when), when)
    lags = [1000 * (first_seen[i] - committed[i]) for i in committed if i in first_seen]
    latencies = [x for r in reports for x in r["latencies"]]
    errors = [e for r in reports for e in r["errors"]]
    if errors:
        print(f"{store}: first error:\n{errors[0]}")
    return {
        "store": store, "clients": clients, "writes": len(committed), "seen": len(lags),
        "questions": len(latencies), "errors": len(errors),
        "query p50/p95/p99 ms": tuple(np.percentile(latencies, [50, 95, 99])) if latencies else (),
        "lag p50/p95/max ms": (float(np.median(lags)), float(np.percentile(lags, 95)), max(lags)) if lags else (),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", default="sqlite,neo4j")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between writes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        rows = [run(store, args.clients, args.writes, args.interval, Path(scratch)) for store in args.stores.split(",")]
    table = Table(title=f"live: 1 writer, {args.clients} clients, one tenant")
    for column in rows[0]:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(" / ".join(f"{v:.1f}" for v in value) if isinstance(value, tuple) else str(value)
                        for value in row.values()))
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
