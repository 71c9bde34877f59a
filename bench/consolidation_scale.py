"""Consolidation at scale: full and incremental consolidation of tenants of 10k / 30k / 100k messages.

    .venv/bin/python bench/consolidation_scale.py [--sizes 10000,30000,100000] [--batch 20] [--shift-days 7]

How the tenants are built: the LoCoMo dev conversations are ingested once with spaCy into a seed
tenant, and their extracted records (messages, mentions, events, relations, entities) are then
replicated into each tenant until it holds the wanted number of messages: copy k of a conversation
gets new ids, its speakers are renamed (new person entities; their names replaced in the texts),
and its times are shifted by k x `--shift-days` (a tenant of many conversations over the years;
0 stacks every copy on the same days, the worst case for neighbour search). Other entities stay
shared between copies, as a person's places and things recur across their conversations.
Ingesting 100k messages with spaCy would take ~10 minutes on 2 cores and measure ingest, not
consolidation; the records consolidation reads are the same either way.

Each measurement runs `Memory.consolidate` in a fresh process on the SQLite store: a full
consolidation of the tenant, then, after a batch of `--batch` new messages (the next copy's first
turns, with what was extracted from them) is written, an incremental one. Printed: seconds (wall,
including reading and writing the store) and the process's CPU seconds (on a shared machine, wall
time depends on the load; CPU time much less), the process's peak resident memory (VmHWM)
and, in brackets, what consolidation added to what the process held when it began (the report's
own figure); then the seconds and peak memory of each step.

Target (issue 12): a 100k-message tenant consolidates in <= 60 s with <= 1 GB peak.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from graphmem import Config, Memory
from graphmem.consolidation.pipeline import peak_resident_mb
from graphmem.ingest.loaders import load_file
from graphmem.models import ConversationNode, EntityNode, GraphBatch
from graphmem.store.sqlite.store import SQLiteStore

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"
GROUP = "scale"


@dataclass
class Seed:
    """One ingested conversation's records, to copy."""

    conversation: ConversationNode
    batch: GraphBatch
    speakers: dict[str, str]  # speaker entity id -> name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default=DEFAULT_PATH, type=Path)
    parser.add_argument("--sizes", default="10000,30000,100000", help="messages per tenant, comma-separated")
    parser.add_argument("--batch", type=int, default=20, help="messages added before the incremental run")
    parser.add_argument("--shift-days", type=float, default=7.0, help="time shift between consecutive copies")
    parser.add_argument("--seed-db", type=Path, help="keep the seed ingest in this SQLite file and reuse it")
    parser.add_argument("--measure", nargs=2, metavar=("DB", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        _measure(Path(args.measure[0]), args.measure[1] == "full")
        return
    sizes = [int(size) for size in args.sizes.split(",")]
    console = Console(width=160)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        seeds = _seeds(args.path, args.seed_db or Path(scratch) / "seed.db")
        console.print(f"seed: {sum(len(s.batch.messages) for s in seeds)} messages of {len(seeds)} conversations, "
                      f"ingested with spaCy (or read back from --seed-db) in {time.perf_counter() - started:.0f} s")
        for size in sizes:
            db = Path(scratch) / f"tenant-{size}.db"
            copies = _build(db, seeds, size, args.shift_days)
            full = _run(db, "full")
            _add_batch(db, seeds, copies, args.batch, args.shift_days)
            incremental = _run(db, "incremental")
            rows.append((size, copies, full, incremental))
            console.print(f"{size} messages: full {full['seconds']:.1f} s, incremental {incremental['seconds']:.1f} s")
            db.unlink()
    _print(console, rows, args)


def _seeds(path: Path, db: Path) -> list[Seed]:
    """The dev conversations ingested with spaCy, each as its records."""
    conversations = load_file(path).conversations
    with Memory(Config(path=db, group_id="seed")) as memory:
        if memory.store.counts("seed").messages < sum(len(c.messages) for c in conversations):
            memory.ingest_conversations(conversations)
        store = memory.store
        entities = {e.id: e for e in store.entities("seed")}
        mentions, events, relations = store.mentions("seed"), store.events("seed"), store.facts("seed")
        seeds = []
        for conversation in conversations:
            messages = store.messages("seed", conversation.id)
            ids = {m.id for m in messages}
            speakers = {m.speaker_id: m.speaker for m in messages}
            own_entities = {x.entity_id for x in mentions if x.message_id in ids} | set(speakers)
            own_entities |= {p for e in events if e.message_id in ids for p, _ in e.participants}
            own_entities |= {e.place_id for e in events if e.message_id in ids and e.place_id}
            own_entities |= {i for r in relations if r.message_id in ids for i in (r.subject_id, r.object_id)}
            batch = GraphBatch(
                messages=messages, entities=[entities[i] for i in sorted(own_entities) if i in entities],
                mentions=[x for x in mentions if x.message_id in ids],
                events=[e for e in events if e.message_id in ids],
                relations=[r for r in relations if r.message_id in ids],
            )
            node = ConversationNode(conversation.id, conversation.id, tuple(conversation.participants))
            seeds.append(Seed(node, batch, speakers))
    return seeds


def _copy(seed: Seed, copy: int, shift_days: float, messages: int | None = None) -> GraphBatch:
    """Copy `copy` of a seed conversation (its first `messages` messages): new ids, renamed speakers, shifted times."""
    tag = _tag(copy)
    shift = timedelta(days=copy * shift_days)
    names = {name: f"{name} {tag}" for name in seed.speakers.values()}
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b")

    def text(value: str) -> str:
        return pattern.sub(lambda m: names[m.group(1)], value)

    def entity(entity_id: str) -> str:
        return f"{entity_id}~{tag}" if entity_id in seed.speakers else entity_id

    def day(value):
        return value + shift if value is not None else None

    kept = seed.batch.messages[:messages] if messages is not None else seed.batch.messages
    ids = {m.id for m in kept}
    key = f"~{tag}"
    return GraphBatch(
        conversations=[ConversationNode(seed.conversation.id + key, seed.conversation.source_id + key,
                                        tuple(names.get(p, p) for p in seed.conversation.participants))],
        messages=[replace(m, id=m.id + key, conversation_id=m.conversation_id + key, speaker=names[m.speaker],
                          speaker_id=entity(m.speaker_id), text=text(m.text),
                          caption=text(m.caption) if m.caption else None, ts=m.ts + shift,
                          addressee_id=entity(m.addressee_id) if m.addressee_id else None, digest=m.digest + key)
                  for m in kept],
        entities=[EntityNode(entity(e.id), names.get(e.name, e.name), e.type,
                             tuple(text(a) for a in e.aliases)) for e in seed.batch.entities],
        mentions=[replace(x, message_id=x.message_id + key, entity_id=entity(x.entity_id))
                  for x in seed.batch.mentions if x.message_id in ids],
        events=[replace(e, id=e.id + key, message_id=e.message_id + key, summary=text(e.summary),
                        participants=tuple((entity(p), role) for p, role in e.participants),
                        place_id=entity(e.place_id) if e.place_id else None, ts_start=day(e.ts_start),
                        ts_end=day(e.ts_end)) for e in seed.batch.events if e.message_id in ids],
        relations=[replace(r, id=r.id + key, subject_id=entity(r.subject_id), object_id=entity(r.object_id),
                           fact=text(r.fact), message_id=r.message_id + key, observed_at=r.observed_at + shift,
                           valid_from=day(r.valid_from), valid_to=day(r.valid_to),
                           expired_at=day(r.expired_at),
                           superseded_by=r.superseded_by + key if r.superseded_by else None)
                   for r in seed.batch.relations if r.message_id in ids],
    )


def _tag(copy: int) -> str:
    """A short name suffix for copy `copy`: "Aa", "Ab", ... (letters: no digits in names)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    word = ""
    while True:
        copy, digit = divmod(copy, 26)
        word = letters[digit] + word
        if copy == 0:
            return ("a" * max(0, 2 - len(word)) + word).capitalize()


def _build(db: Path, seeds: list[Seed], size: int, shift_days: float) -> int:
    """Write copies of the seeds into a fresh tenant until it holds `size` messages; returns the copies made."""
    store = SQLiteStore(db)
    written = copy = 0
    try:
        while written < size:
            seed = seeds[copy % len(seeds)]
            take = min(len(seed.batch.messages), size - written)
            store.write(GROUP, _copy(seed, copy, shift_days, take))
            written += take
            copy += 1
    finally:
        store.close()
    return copy


def _add_batch(db: Path, seeds: list[Seed], copies: int, batch: int, shift_days: float) -> None:
    """The first `batch` turns of one more copy (a new conversation), as an ingest would add them."""
    store = SQLiteStore(db)
    try:
        store.write(GROUP, _copy(seeds[copies % len(seeds)], copies, shift_days, batch))
    finally:
        store.close()


def _run(db: Path, mode: str) -> dict:
    """`_measure` in a fresh process (its peak memory is consolidation's own)."""
    done = subprocess.run([sys.executable, __file__, "--measure", str(db), mode], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _measure(db: Path, full: bool) -> None:
    with Memory(Config(path=db, group_id=GROUP)) as memory:
        started, cpu = time.perf_counter(), time.process_time()
        report = memory.consolidate(full=full)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({
        "seconds": seconds, "cpu": cpu, "items": report.items, "new_items": report.new_items,
        "reclustered": report.reclustered,
        "scenes": report.scenes, "personas": report.personas, "personas_rebuilt": report.personas_rebuilt,
        "timings": report.timings, "step_peaks": report.peak_rss_mb,
        "peak_rss_mb": peak_resident_mb(),
        "added_mb": report.peak_memory_mb - report.start_rss_mb,
    }))


def _print(console: Console, rows: list, args: argparse.Namespace) -> None:
    table = Table(title=f"consolidation at scale (SQLite; LoCoMo dev records replicated, speakers renamed, "
                        f"copies {args.shift_days:g} days apart; incremental after {args.batch} new messages)")
    for column in ("messages", "items", "scenes", "full: s (CPU s)", "full: peak RSS MB (added)",
                   "incremental: s (CPU s)", "incremental: re-clustered / personas rebuilt",
                   "incremental: peak RSS MB (added)"):
        table.add_column(column, justify="right")
    for size, _, full, incremental in rows:
        table.add_row(
            f"{size:,}", f"{full['items']:,}", f"{full['scenes']:,}", f"{full['seconds']:.1f} ({full['cpu']:.1f})",
            f"{full['peak_rss_mb']:.0f} ({full['added_mb']:.0f})",
            f"{incremental['seconds']:.1f} ({incremental['cpu']:.1f})",
            f"{incremental['reclustered']:,} / {incremental['personas_rebuilt']}",
            f"{incremental['peak_rss_mb']:.0f} ({incremental['added_mb']:.0f})",
        )
    console.print(table)
    for size, _, full, incremental in rows:
        for mode, run in (("full", full), ("incremental", incremental)):
            steps = ", ".join(f"{step} {seconds:.1f} s / {run['step_peaks'][step]:.0f} MB"
                              for step, seconds in run["timings"].items())
            console.print(f"{size:,} messages, {mode}: {steps}")


if __name__ == "__main__":
    main()
