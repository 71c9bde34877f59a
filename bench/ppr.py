"""Personalized PageRank at scale: forward push against exact PRPACK, and tail latency under load.

    .venv/bin/python bench/ppr.py [PATH] [--sizes 2760,10000,30000,100000] [--db FILE] [--queries 40]

1. Tenants of increasing size. Ingesting 100k messages with spaCy takes most of an hour on 2
   cores, so the large tenants are synthesised from what ingest stored for the LoCoMo dev split:
   its conversations' records (messages, entities, mentions, events, facts) are replicated with
   renamed speakers until the tenant holds the wanted number of messages, and projected into one
   graph. Topic entities keep one vertex per name across copies, as one tenant's store would
   merge them, so hubs grow with the tenant. Each dev question's seeds (BM25 hits and linked
   entities, as the engine computes them) are mapped into a random copy of its conversation.
   Per size: time per PPR call (p50/p95) of exact PRPACK (held to one thread) and of push, and
   the agreement of their top-k messages (k = 10, 50, 200; mean, and worst in brackets).
2. Tail latency while other processes burn CPU. `memory.search` on the largest dev conversation
   (a LoCoMo-size tenant) with `--burners` busy-loop processes running (bounded in time), for the
   engine as configured (push, query_threads=1) and for exact PRPACK with one thread and with
   OpenMP's default (one thread per core), which is what queries ran before.

Targets (issue 12, 2 cores): a 100k-message tenant's query p95 <= 50 ms; a LoCoMo-size tenant's
query p50 <= 5 ms and p95 <= 15 ms while another process runs CPU-bound work.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from threadpoolctl import ThreadpoolController

import graphmem.search.engine as engine
from graphmem import Config, Memory
from graphmem.eval.locomo import percentile
from graphmem.ingest.loaders import load_file
from graphmem.search.engine import SearchSettings
from graphmem.search.projection import (
    build_projection, exact_personalized_pagerank, personalized_pagerank,
)
from graphmem.store.sqlite.store import SQLiteStore

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"
KS = (10, 50, 200)


def ingest(path: Path, db: Path) -> None:
    """Each dev conversation as its own tenant, once (a db that holds them is reused)."""
    with Memory(Config(path=db)) as memory:
        present = set(memory.store.groups())
        for conversation in load_file(path).conversations:
            if conversation.id not in present:
                memory.ingest_conversations([conversation], group_id=conversation.id)


def question_seeds(memory: Memory, samples: list[dict], settings: SearchSettings) -> list[tuple[str, dict[str, float]]]:
    """Per dev question: its tenant and the engine's PPR seeds, by vertex key."""
    found = []
    for sample in samples:
        index = memory.index(group_id=sample["sample_id"])
        keys = index.projection.keys
        for qa in sample["qa"]:
            question = str(qa["question"])
            lexical = index.lexical.search(question, settings.candidates)
            seeds = engine._seeds(index, lexical, [], index.linker.link(question), settings)
            if seeds:
                found.append((sample["sample_id"], {keys[v]: w for v, w in seeds.items()}))
    return found


def replicated_tenant(store: SQLiteStore, size: int):
    """One tenant of `size` messages: the stored dev tenants copied with renamed speakers.

    Returns the projection and, per copy, (source tenant, key in the copy of each source key).
    """
    tenants = [
        (g, store.messages(g), store.entities(g), store.mentions(g), store.events(g), store.facts(g))
        for g in store.groups()
    ]
    messages, entities, mentions, events, relations, copies = [], {}, [], [], [], []
    copy = 0
    while len(messages) < size:
        for group, t_messages, t_entities, t_mentions, t_events, t_relations in tenants:
            if len(messages) >= size:
                break
            suffix = f"#{copy}"
            speakers = {m.speaker_id for m in t_messages} | {m.addressee_id for m in t_messages if m.addressee_id}
            entity_key = {e.id: e.id + suffix if e.id in speakers else "entity:" + e.name.lower() for e in t_entities}
            for e in t_entities:
                new = entity_key[e.id]
                entities.setdefault(new, replace(e, id=new, name=e.name + suffix if e.id in speakers else e.name))
            message_key = {m.id: m.id + suffix for m in t_messages}
            messages += [
                replace(m, id=message_key[m.id], conversation_id=m.conversation_id + suffix, speaker=m.speaker + suffix,
                        speaker_id=entity_key.get(m.speaker_id, m.speaker_id),
                        addressee_id=entity_key.get(m.addressee_id, m.addressee_id) if m.addressee_id else None)
                for m in t_messages
            ]
            mentions += [replace(x, message_id=message_key[x.message_id], entity_id=entity_key[x.entity_id])
                         for x in t_mentions if x.entity_id in entity_key]
            events += [replace(e, id=e.id + suffix, message_id=message_key[e.message_id],
                               participants=tuple((entity_key.get(a, a), role) for a, role in e.participants))
                       for e in t_events]
            relations += [replace(r, id=r.id + suffix, message_id=message_key[r.message_id],
                                  subject_id=entity_key.get(r.subject_id, r.subject_id),
                                  object_id=entity_key.get(r.object_id, r.object_id))
                          for r in t_relations]
            key = {**entity_key, **message_key}
            key.update({f"event:{e.id}": f"event:{e.id}{suffix}" for e in t_events})
            key.update({f"fact:{r.id}": f"fact:{r.id}{suffix}" for r in t_relations})
            copies.append((group, key))
        copy += 1
    return build_projection(messages, list(entities.values()), mentions, events, relations), copies


def timed(function: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    result = function()
    return result, (time.perf_counter() - started) * 1000


def agreement(exact: np.ndarray, approximate: np.ndarray, k: int) -> float:
    k = min(k, len(exact))
    return len(set(np.argsort(-exact)[:k]) & set(np.argsort(-approximate)[:k])) / k


def scale_rows(store: SQLiteStore, seeds: list, sizes: list[int], queries: int, settings: SearchSettings,
               pools: ThreadpoolController) -> list[dict]:
    rng = np.random.default_rng(0)
    picked = [seeds[i] for i in rng.choice(len(seeds), min(queries, len(seeds)), replace=False)]
    rows = []
    for size in sizes:
        started = time.perf_counter()
        projection, copies = replicated_tenant(store, size)
        built = time.perf_counter() - started
        _, walk_ms = timed(lambda: projection.walk)
        vertex = {key: i for i, key in enumerate(projection.keys)}
        exact_ms, push_ms, overlap = [], [], {k: [] for k in KS}
        for group, keys in picked:
            candidates = [key for g, key in copies if g == group]
            key = candidates[rng.integers(len(candidates))]
            restart = {vertex[key[k]]: w for k, w in keys.items() if k in key and key[k] in vertex}
            with pools.limit(limits=1):
                exact, ms = timed(lambda: exact_personalized_pagerank(projection, restart, settings.damping))
            exact_ms.append(ms)
            pushed, ms = timed(lambda: personalized_pagerank(projection, restart, settings.damping,
                                                             settings.ppr_tolerance))
            push_ms.append(ms)
            for k in KS:
                overlap[k].append(agreement(exact[projection.message_vertices], pushed[projection.message_vertices], k))
        rows.append({
            "messages": len(projection.message_vertices), "vertices": projection.size,
            "edges": projection.graph.ecount(), "build_s": built, "walk_ms": walk_ms,
            "exact_ms": (percentile(exact_ms, 50), percentile(exact_ms, 95)),
            "push_ms": (percentile(push_ms, 50), percentile(push_ms, 95)),
            "overlap": {k: (float(np.mean(v)), float(np.min(v))) for k, v in overlap.items()},
        })
    return rows


def _burn(until: float) -> None:
    while time.monotonic() < until:
        pass


@contextmanager
def burning(processes: int, seconds: float) -> Iterator[None]:
    """`processes` busy loops that stop by themselves after `seconds` (or when the block ends)."""
    until = time.monotonic() + seconds
    workers = [multiprocessing.Process(target=_burn, args=(until,), daemon=True) for _ in range(processes)]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        for worker in workers:
            worker.terminate()
            worker.join()


@contextmanager
def engine_ppr(function: Callable) -> Iterator[None]:
    """Make the engine rank with `function` in place of push PPR (the before-this-change rows)."""
    kept = engine.personalized_pagerank
    engine.personalized_pagerank = function
    try:
        yield
    finally:
        engine.personalized_pagerank = kept


def load_rows(db: Path, samples: list[dict], burners: int, repeats: int) -> list[dict]:
    """Query p50/p95 of `memory.search` on the largest dev conversation while `burners` processes spin."""
    largest = max(samples, key=lambda s: sum(len(v) for k, v in s["conversation"].items()
                                             if k.startswith("session_") and isinstance(v, list)))
    questions = [str(qa["question"]) for qa in largest["qa"]] * repeats
    exact = lambda projection, seeds, damping, tolerance: exact_personalized_pagerank(projection, seeds, damping)
    variants = [
        ("push, query_threads=1 (default)", 1, personalized_pagerank),
        ("exact PRPACK, query_threads=1", 1, exact),
        (f"exact PRPACK, OpenMP default ({os.cpu_count()} threads)", 0, exact),
    ]
    rows = []
    for label, threads, function in variants:
        config = Config(path=db, query_threads=threads or os.cpu_count() or 1)
        with Memory(config) as memory, engine_ppr(function):
            memory.search(questions[0], group_id=largest["sample_id"])  # the index, built once
            latencies = {}
            for load in (0, burners):
                with burning(load, seconds=600):
                    times = [timed(lambda: memory.search(q, k=10, group_id=largest["sample_id"]))[1]
                             for q in questions]
                latencies[load] = (percentile(times, 50), percentile(times, 95))
        rows.append({"variant": label, "idle": latencies[0], "loaded": latencies[burners], "queries": len(questions)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--sizes", default="2760,10000,30000,100000")
    parser.add_argument("--queries", type=int, default=40, help="questions per tenant size")
    parser.add_argument("--db", type=Path, help="SQLite file holding (or to hold) the ingested dev split")
    parser.add_argument("--burners", type=int, default=1, help="busy-loop processes during the load test")
    parser.add_argument("--repeats", type=int, default=1, help="passes over the questions in the load test")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    samples = json.loads(args.path.read_text(encoding="utf-8"))
    settings = SearchSettings()
    with tempfile.TemporaryDirectory(prefix="graphmem-bench-ppr-") as scratch:
        db = args.db or Path(scratch) / "dev.db"
        ingest(args.path, db)
        store = SQLiteStore(db)
        with Memory(Config(path=db)) as memory:
            seeds = question_seeds(memory, samples, settings)
        pools = ThreadpoolController()
        scale = scale_rows(store, seeds, [int(s) for s in args.sizes.split(",")], args.queries, settings, pools)
        store.close()
        load = load_rows(db, samples, args.burners, args.repeats)
    if args.json:
        print(json.dumps({"scale": scale, "load": load}, indent=1))
        return
    console = Console(width=200)
    table = Table(title=f"PPR per query: exact PRPACK (1 thread) vs push (tolerance {settings.ppr_tolerance:g})")
    for column in ("messages", "vertices", "edges", "exact p50 / p95 ms", "push p50 / p95 ms",
                   "top-10 agree", "top-50 agree", "top-200 agree", "walk matrix ms"):
        table.add_column(column, justify="right")
    for row in scale:
        table.add_row(
            f"{row['messages']:,}", f"{row['vertices']:,}", f"{row['edges']:,}",
            "{:.1f} / {:.1f}".format(*row["exact_ms"]), "{:.1f} / {:.1f}".format(*row["push_ms"]),
            *("{:.3f} ({:.2f})".format(*row["overlap"][k]) for k in KS), f"{row['walk_ms']:.0f}",
        )
    console.print(table)
    table = Table(title=f"memory.search on a LoCoMo-size tenant, idle and with {args.burners} busy process(es)")
    for column in ("PPR", "idle p50 / p95 ms", "loaded p50 / p95 ms", "queries"):
        table.add_column(column, justify="right")
    for row in load:
        table.add_row(row["variant"], "{:.1f} / {:.1f}".format(*row["idle"]), "{:.1f} / {:.1f}".format(*row["loaded"]),
                      str(row["queries"]))
    console.print(table)


if __name__ == "__main__":
    main()
