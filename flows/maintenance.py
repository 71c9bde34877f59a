"""Maintenance flows: `forget_group` deletes a tenant, `rebuild_index` rebuilds its search index.

graphmem's search index (BM25 over messages plus the entity linker, graphmem.search.engine) is
built in memory from the store by each process on its first query; nothing of it is persisted.
`rebuild_index` therefore builds it exactly as a query process would: that proves every stored
message and entity reads back and indexes, and reports the index's size and the build time a
first query pays. Should a store come to keep an index of its own, rebuilding it belongs here.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows import StoreKind, artifact_key, group_run_name, memory_config
from flows.ledger import Ledger, default_ledger_path
from graphmem import Config, Memory, StoreCounts


@dataclass(frozen=True)
class IndexReport:
    """What a group's search index holds and how long it took to build."""

    group_id: str
    messages: int
    entities: int
    seconds: float


@task(name="count-group", task_run_name="count {config.group_id}", cache_policy=NO_CACHE)
def count_group(config: Config) -> StoreCounts:
    """What the store holds for the group."""
    with Memory(config) as memory:
        counts = memory.counts()
    get_run_logger().info("%s holds %s", config.group_id, _describe_counts(counts))
    return counts


@task(name="build-search-index", task_run_name="build search index {config.group_id}", cache_policy=NO_CACHE)
def build_search_index(config: Config) -> IndexReport:
    """Build the group's search index from the store, as a query process does on first search."""
    with Memory(config) as memory:
        started = time.perf_counter()
        size = memory.rebuild_index()
        report = IndexReport(config.group_id, size.messages, size.entities, time.perf_counter() - started)
    get_run_logger().info(
        "search index of %s: %d messages, %d entities, built in %.2f s",
        report.group_id, report.messages, report.entities, report.seconds,
    )
    return report


@task(name="forget-memory-and-ledger", task_run_name="forget {config.group_id}", cache_policy=NO_CACHE)
def forget_memory_and_ledger(config: Config, ledger_path: Path) -> int:
    """Delete the group from the store and from the ingest ledger (so its files can be ingested
    again); returns how many ledger records were dropped."""
    with Memory(config) as memory:
        memory.forget()
    with Ledger(ledger_path) as ledger:
        dropped = ledger.forget(config.group_id)
    get_run_logger().info("deleted %s from the store and %d files from the ledger", config.group_id, dropped)
    return dropped


@flow(name="forget-group", flow_run_name=group_run_name("forget"))
def forget_group(
    group_id: str, store: StoreKind | None = None, memory_path: str | None = None, ledger_path: str | None = None
) -> StoreCounts:
    """Delete everything stored for the tenant `group_id`; returns what it held."""
    config = memory_config(store=store, memory_path=memory_path, group_id=group_id)
    held = count_group(config)
    forget_memory_and_ledger(config, Path(ledger_path) if ledger_path else default_ledger_path(config.path))
    create_markdown_artifact(
        f"# Forgot `{group_id}`\n\nIt held {_describe_counts(held)}.",
        key=artifact_key("forget", group_id), description=f"forgot {group_id}",
    )
    return held


@flow(name="rebuild-index", flow_run_name=group_run_name("rebuild index"))
def rebuild_index(
    group_id: str | None = None, store: StoreKind | None = None, memory_path: str | None = None
) -> IndexReport:
    """Rebuild the search index of `group_id` (default: the configured group) and report it."""
    config = memory_config(store=store, memory_path=memory_path, group_id=group_id)
    counts = count_group(config)
    report = build_search_index(config)
    create_markdown_artifact(
        _index_markdown(report, counts), key=artifact_key("index", config.group_id),
        description=f"search index of {config.group_id}",
    )
    return report


def _describe_counts(counts: StoreCounts) -> str:
    return ", ".join(f"{value} {name}" for name, value in asdict(counts).items())


def _index_markdown(report: IndexReport, counts: StoreCounts) -> str:
    rows = [f"| {name} | {value} |" for name, value in asdict(counts).items()]
    return "\n".join([
        f"# Group `{report.group_id}`", "",
        "| stored | count |", "|---|---:|", *rows, "",
        f"Search index: {report.messages} messages, {report.entities} entities, built in {report.seconds:.2f} s.",
    ])
