"""Large tenants: ingest, queries, index updates, consolidation and memory, per tenant size.

    .venv/bin/python bench/scale.py [--sizes 10000,30000,100000] [--store sqlite|neo4j]
                                    [--questions 200] [--batches 10] [--no-consolidate]

Each tenant is built from the LoCoMo dev conversations, replicated with renamed speakers (each
copy's two speakers get names no other copy uses, in their turns and wherever the text names
them) until it holds the size's number of turns. Its last `--batches` x 20 turns are held back
and written afterwards, 20 at a time, as the continuation of their conversation (an append) while
a long-lived Memory reads, to time the index update each batch costs that Memory.

Printed per size: ingest turns/s (spaCy, end to end), query p50/p95/p99 (dev questions, the live
Memory), the cold first query (a fresh process: index built from the store) with the RSS it
adds and that RSS per indexed message, the index update per 20-turn batch (p50/max), and
consolidation's time and peak RSS (`Memory.consolidate` in a fresh process).
Targets (issue: 100k-message tenant, 2 cores): p95 <= 50 ms, update <= 100 ms, cold <= 2 s,
consolidation <= 60 s and <= 1 GB.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from graphmem import Config, Memory
from graphmem.loaders import load_file
from graphmem.models import Conversation

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"
BATCH = 20
FIRST_NAMES = """Avery Blake Casey Devon Emery Finley Harper Jordan Kendall Logan Morgan Parker Quinn Reese Rowan
Sawyer Taylor Skyler Dakota Hayden Jamie Kai Lennon Marlow Noel Oakley Peyton Remy Sage Tatum""".split()
LAST_NAMES = """Alder Brook Crane Dale Ellis Frost Grove Hale Irving Jett Knox Lowell Marsh Nash Orr Pike Quill
Rhodes Stone Thorne Vance Wells York Zane""".split()


def renamed(conversation: Conversation, copy: int) -> Conversation:
    """A copy of `conversation` whose speakers have names of their own (copy 0 keeps the originals)."""
    if copy == 0:
        return conversation
    names = {}
    for offset, speaker in enumerate(conversation.participants):
        k = (copy * len(conversation.participants) + offset) * 7
        names[speaker] = f"{FIRST_NAMES[k % len(FIRST_NAMES)]} {LAST_NAMES[(k // len(FIRST_NAMES)) % len(LAST_NAMES)]}"
    pattern = re.compile(r"\b(" + "|".join(re.escape(s) for s in names) + r")\b")
    messages = tuple(
        m.model_copy(update={"speaker": names[m.speaker], "text": pattern.sub(lambda x: names[x.group(1)], m.text),
                             "conversation_id": f"{conversation.id}-copy{copy}"})
        for m in conversation.messages
    )
    return conversation.model_copy(update={"id": f"{conversation.id}-copy{copy}",
                                           "participants": tuple(names[p] for p in conversation.participants),
                                           "messages": messages})


def tenant(source: list[Conversation], size: int) -> list[Conversation]:
    """Renamed copies of the dev conversations, `size` turns in all (the last copy cut short)."""
    conversations, left, copy = [], size, 0
    while left > 0:
        for conversation in source:
            if left <= 0:
                break
            copied = renamed(conversation, copy)
            if len(copied.messages) > left:
                copied = copied.model_copy(update={"messages": copied.messages[:left]})
            conversations.append(copied)
            left -= len(copied.messages)
        copy += 1
    return conversations


def questions(path: Path, count: int) -> list[str]:
    samples = json.loads(path.read_text())
    found = [qa["question"] for sample in samples for qa in sample["qa"]]
    return found[:: max(1, len(found) // count)][:count]


CHILD = """
import json, resource, sys, time
from graphmem import Config, Memory
task, config = sys.argv[1], Config.model_validate_json(sys.argv[2])
def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024
with Memory(config) as memory:
    before = rss_mb()
    started = time.perf_counter()
    if task == "cold":
        memory.search(sys.argv[3], k=10)
    else:
        memory.consolidate()
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rss_before": before, "rss_after": rss_mb(),
                      "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def in_child(task: str, config: Config, *args: str) -> dict:
    """Run a query or a consolidation in a fresh process (cold caches, its own peak RSS)."""
    done = subprocess.run([sys.executable, "-c", CHILD, task, config.model_dump_json(), *args],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(size: int, store: str, source: list[Conversation], asked: list[str], batches: int,
            consolidate: bool, scratch: Path) -> dict:
    conversations = tenant(source, size)
    held = batches * BATCH
    last = conversations[-1]
    if len(last.messages) <= held:
        raise SystemExit(f"size {size}: the last conversation is too short to hold back {held} turns")
    head = [*conversations[:-1], last.model_copy(update={"messages": last.messages[:-held]})]
    config = Config(store=store, path=scratch / f"scale-{size}.db", group_id=f"scale-{size}-{int(time.time())}")
    row: dict = {"size": size}
    with Memory(config) as memory:
        started = time.perf_counter()
        report = memory.ingest_conversations(head)
        row["ingest turns/s"] = report.messages_read / (time.perf_counter() - started)
        cold = in_child("cold", config, asked[0])
        row["cold first query s"] = cold["seconds"]
        row["index RSS MB"] = cold["rss_after"] - cold["rss_before"]
        row["RSS KB/message"] = 1024 * row["index RSS MB"] / report.messages_read
        memory.search(asked[0], k=10)  # this Memory's index, built
        latencies = []
        for question in asked:
            started = time.perf_counter()
            memory.search(question, k=10)
            latencies.append(1000 * (time.perf_counter() - started))
        row["query p50/p95/p99 ms"] = tuple(np.percentile(latencies, [50, 95, 99]))
        index = memory._index(None)
        updates = []
        for b in range(batches):
            upto = len(last.messages) - held + (b + 1) * BATCH
            memory.ingest_conversations([last.model_copy(update={"messages": last.messages[:upto]})])
            started = time.perf_counter()
            caught_up = memory._index(None)
            updates.append(1000 * (time.perf_counter() - started))
            assert caught_up is index, "an append rebuilt the index"
        row["update per 20 turns ms p50/max"] = (float(np.median(updates)), max(updates))
        if consolidate:
            result = in_child("consolidate", config)
            row["consolidate s"], row["consolidate peak MB"] = result["seconds"], result["peak"]
        memory.forget()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,30000,100000", help="tenant sizes in turns, comma-separated")
    parser.add_argument("--store", choices=["sqlite", "neo4j"], default="sqlite")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--batches", type=int, default=10, help="20-turn batches appended after the ingest")
    parser.add_argument("--no-consolidate", dest="consolidate", action="store_false")
    args = parser.parse_args()
    source = load_file(DEV).conversations
    asked = questions(DEV, args.questions)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for size in (int(s) for s in args.sizes.split(",")):
            rows.append(measure(size, args.store, source, asked, args.batches, args.consolidate, Path(scratch)))
    table = Table(title=f"scale (store={args.store}, {len(asked)} questions, 20-turn batches x {args.batches})")
    for column in rows[0]:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(_cell(value) for value in row.values()))
    Console(width=240).print(table)
    print(f"bench peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (this process)")


def _cell(value) -> str:
    if isinstance(value, tuple):
        return " / ".join(f"{v:.1f}" for v in value)
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


if __name__ == "__main__":
    main()
