"""Large tenants: ingest, queries, index updates, consolidation and memory, per tenant size.

    .venv/bin/python bench/scale.py [--sizes 10000,30000,100000] [--store sqlite|neo4j]
                                    [--questions 200] [--batches 10] [--no-consolidate]

Each tenant is built from the LoCoMo dev conversations, replicated with renamed speakers (each
copy's two speakers get names no other copy uses, in their turns and wherever the text names
them) until it holds the size's number of turns. Its last `--batches` x 20 turns are held back
and written afterwards, 20 at a time, as the continuation of their conversation (an append) while
a long-lived Memory reads, to time the index update each batch costs that Memory.

With `--reuse-extraction`, spaCy parses each dev turn once and every copy reuses its extraction
(speakers renamed in it as in the text): a 100k-turn tenant is built in minutes, and the ingest
rate is not measured (see bench/ingest.py for it).

Printed per size: ingest turns/s (spaCy, end to end), query p50/p95/p99 (dev questions, the live
Memory), the cold first query (a fresh process: index built from the store's records; wall and
CPU seconds) with the RSS it adds and that RSS per indexed message, what the long-lived Memory's
first query costs (the build, and keeping the index as the tenant's snapshot) and the snapshot's
size, the index update per 20-turn batch (p50/max; and how many appends rebuilt the index instead
of extending it: none should), the cold first query once more after the
appends (a fresh process: the snapshot loaded, then caught up with the 20-turn appends since it),
and consolidation's time (wall, CPU) and peak RSS (`Memory.consolidate` in a fresh process; its
own VmHWM: ru_maxrss would report this bench's peak, inherited across fork and exec).
Targets (issue: 100k-message tenant, 2 cores): p95 <= 50 ms, update <= 100 ms, cold <= 2 s,
consolidation <= 60 s and <= 1 GB.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from graphmem import Config, Memory
from graphmem.ingest.graph_builder import build_graph_batch
from graphmem.ingest.loaders import load_file
from graphmem.models import Conversation, MessageExtraction
from graphmem.search.projection import EdgeWeights
from graphmem.search.snapshot import snapshot_key

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"
BATCH = 20
FIRST_NAMES = """Avery Blake Casey Devon Emery Finley Harper Jordan Kendall Logan Morgan Parker Quinn Reese Rowan
Sawyer Taylor Skyler Dakota Hayden Jamie Kai Lennon Marlow Noel Oakley Peyton Remy Sage Tatum""".split()
LAST_NAMES = """Alder Brook Crane Dale Ellis Frost Grove Hale Irving Jett Knox Lowell Marsh Nash Orr Pike Quill
Rhodes Stone Thorne Vance Wells York Zane""".split()


@dataclass(frozen=True)
class Copy:
    """A copy of a dev conversation with speakers of its own (copy 0 keeps the originals)."""

    source_id: str
    conversation: Conversation
    rename: Callable[[str], str]  # the original text with the copy's names


def renamed(conversation: Conversation, copy: int) -> Copy:
    names = {}
    for offset, speaker in enumerate(conversation.participants):
        k = (copy * len(conversation.participants) + offset) * 7
        names[speaker] = f"{FIRST_NAMES[k % len(FIRST_NAMES)]} {LAST_NAMES[(k // len(FIRST_NAMES)) % len(LAST_NAMES)]}"
    if copy == 0:
        return Copy(conversation.id, conversation, lambda text: text)
    pattern = re.compile(r"\b(" + "|".join(re.escape(s) for s in names) + r")\b")

    def rename(text: str) -> str:
        return pattern.sub(lambda found: names[found.group(1)], text)

    messages = tuple(
        m.model_copy(update={"speaker": names[m.speaker], "text": rename(m.text),
                             "conversation_id": f"{conversation.id}-copy{copy}"})
        for m in conversation.messages
    )
    copied = conversation.model_copy(update={"id": f"{conversation.id}-copy{copy}",
                                             "participants": tuple(names[p] for p in conversation.participants),
                                             "messages": messages})
    return Copy(conversation.id, copied, rename)


def tenant(source: list[Conversation], size: int) -> list[Copy]:
    """Renamed copies of the dev conversations, `size` turns in all (the last copy cut short)."""
    copies, left, copy = [], size, 0
    while left > 0:
        for conversation in source:
            if left <= 0:
                break
            copied = renamed(conversation, copy)
            if len(copied.conversation.messages) > left:
                cut = copied.conversation.model_copy(update={"messages": copied.conversation.messages[:left]})
                copied = Copy(copied.source_id, cut, copied.rename)
            copies.append(copied)
            left -= len(copied.conversation.messages)
        copy += 1
    return copies


def write_reusing_extraction(memory: Memory, copies: list[Copy], extracted: dict[str, list[MessageExtraction]]) -> None:
    """Write the copies with the dev turns' extractions (`extracted`, by dev conversation id), the
    speakers renamed in them as in the text: builds a large tenant without hours of parsing."""
    group = memory.config.group_id
    for copy in copies:
        conversation = copy.conversation
        extractions = [MessageExtraction.model_validate_json(copy.rename(e.model_dump_json()))
                       for e in extracted[copy.source_id][: len(conversation.messages)]]
        batch = build_graph_batch(group, conversation, conversation.messages, extractions, conversation.participants)
        memory.store.write(group, batch)


def questions(path: Path, count: int) -> list[str]:
    samples = json.loads(path.read_text())
    found = [qa["question"] for sample in samples for qa in sample["qa"]]
    return found[:: max(1, len(found) // count)][:count]


CHILD = """
import json, sys, time
from graphmem import Config, Memory
task, config = sys.argv[1], Config.model_validate_json(sys.argv[2])
def status_mb(field):  # VmRSS: now; VmHWM: this process's peak (ru_maxrss would include the parent's)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":")) / 1024
with Memory(config) as memory:
    before = status_mb("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()
    if task == "cold":
        memory.search(sys.argv[3], k=10)
    else:
        memory.consolidate()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rss_before": before, "rss_after": status_mb("VmRSS"),
                      "peak": status_mb("VmHWM")}))
"""


def in_child(task: str, config: Config, *args: str) -> dict:
    """Run a query or a consolidation in a fresh process (cold caches, its own peak RSS)."""
    done = subprocess.run([sys.executable, "-c", CHILD, task, config.model_dump_json(), *args],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(size: int, store: str, source: list[Conversation], asked: list[str], batches: int,
            consolidate: bool, reuse_extraction: bool, scratch: Path) -> dict:
    copies = tenant(source, size)
    held = batches * BATCH
    last = copies[-1].conversation
    if len(last.messages) <= held:
        raise SystemExit(f"size {size}: the last conversation is too short to hold back {held} turns")
    head = [*copies[:-1], Copy(copies[-1].source_id, last.model_copy(update={"messages": last.messages[:-held]}),
                               copies[-1].rename)]
    config = Config(store=store, path=scratch / f"scale-{size}.db", group_id=f"scale-{size}-{int(time.time())}")
    row: dict = {"size": size}
    with Memory(config) as memory:
        written = sum(len(c.conversation.messages) for c in head)
        if reuse_extraction:
            extracted = {c.id: list(memory.extractor.extract(c, c.messages)) for c in source}
            started = time.perf_counter()
            write_reusing_extraction(memory, head, extracted)
            row["write turns/s (extraction reused)"] = written / (time.perf_counter() - started)
        else:
            started = time.perf_counter()
            memory.ingest_conversations([c.conversation for c in head])
            row["ingest turns/s"] = written / (time.perf_counter() - started)
        cold = in_child("cold", config.model_copy(update={"index_snapshots": False}), asked[0])
        row["cold first query, built s"] = cold["seconds"]
        row["cold CPU s"] = cold["cpu"]
        row["index RSS MB"] = cold["rss_after"] - cold["rss_before"]
        row["RSS KB/message"] = 1024 * row["index RSS MB"] / written
        started = time.perf_counter()
        memory.search(asked[0], k=10)  # this Memory's index, built, and kept as the tenant's snapshot
        row["build + keep snapshot s"] = time.perf_counter() - started
        snapshot = memory.store.index_snapshot(config.group_id, snapshot_key(EdgeWeights(), config.embeddings), 0)
        row["snapshot MB"] = len(snapshot.data) / 2**20 if snapshot else 0.0
        latencies = []
        for question in asked:
            started = time.perf_counter()
            memory.search(question, k=10)
            latencies.append(1000 * (time.perf_counter() - started))
        row["query p50/p95/p99 ms"] = tuple(np.percentile(latencies, [50, 95, 99]))
        index = memory.index()
        updates, rebuilt = [], 0
        for b in range(batches):
            upto = len(last.messages) - held + (b + 1) * BATCH
            memory.ingest_conversations([last.model_copy(update={"messages": last.messages[:upto]})])
            started = time.perf_counter()
            caught_up = memory.index()
            updates.append(1000 * (time.perf_counter() - started))
            rebuilt += caught_up is not index  # an append should extend the index in place
            index = caught_up
        row["update per 20 turns ms p50/max"] = (float(np.median(updates)), max(updates))
        row["appends that rebuilt"] = rebuilt
        cold = in_child("cold", config, asked[0])  # the snapshot, then the appends since it
        row["cold first query, from snapshot s"] = cold["seconds"]
        row["snapshot cold CPU s"] = cold["cpu"]
        if consolidate:
            result = in_child("consolidate", config)
            row["consolidate s"], row["consolidate CPU s"] = result["seconds"], result["cpu"]
            row["consolidate peak MB"] = result["peak"]
        memory.forget()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,30000,100000", help="tenant sizes in turns, comma-separated")
    parser.add_argument("--store", choices=["sqlite", "neo4j"], default="sqlite")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--batches", type=int, default=10, help="20-turn batches appended after the ingest")
    parser.add_argument("--no-consolidate", dest="consolidate", action="store_false")
    parser.add_argument("--reuse-extraction", action="store_true",
                        help="parse each dev turn once and reuse its extraction in every copy (no ingest rate)")
    args = parser.parse_args()
    source = load_file(DEV).conversations
    asked = questions(DEV, args.questions)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for size in (int(s) for s in args.sizes.split(",")):
            rows.append(measure(size, args.store, source, asked, args.batches, args.consolidate,
                                args.reuse_extraction, Path(scratch)))
            print({k: _cell(v) for k, v in rows[-1].items()}, flush=True)  # each size as soon as it is done
    table = Table(title=f"scale (store={args.store}, {len(asked)} questions, 20-turn batches x {args.batches})")
    for column in rows[0]:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(_cell(value) for value in row.values()))
    Console(width=240).print(table)
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    print(f"bench peak RSS {peak:.0f} MB (this process)")


def _cell(value) -> str:
    if isinstance(value, tuple):
        return " / ".join(f"{v:.1f}" for v in value)
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


if __name__ == "__main__":
    main()
