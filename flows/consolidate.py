"""Flow `consolidate`: the periodic, whole-group work that follows ingest.

It consolidates the group (`Memory.consolidate`: scenes, personas and their alignment,
incremental unless `full`), then rebuilds the group's search index through `rebuild_index`, so
that the index covers what consolidation wrote: for a large group the index is kept as its
snapshot, which query processes then load instead of each building it.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import StoreKind, group_run_name, memory_config
from flows.maintenance import IndexReport, rebuild_index
from graphmem import Config, ConsolidationReport, Memory


@dataclass(frozen=True)
class ConsolidateReport:
    """What the flow did: the consolidation, then the search index rebuild."""

    consolidation: ConsolidationReport
    index: IndexReport


@task(name="consolidate-memory", task_run_name="consolidate {config.group_id}", cache_policy=NO_CACHE)
def consolidate_memory(config: Config, full: bool) -> ConsolidationReport:
    """Scenes, personas and their alignment for the group."""
    with Memory(config) as memory:
        report = memory.consolidate(full=full)
    log = get_run_logger()
    log.info(
        "%s: %d scenes (%d created or changed, %d split), %d personas, %d facts moved, %d new items, in %.2f s, "
        "peak memory %.0f MB",
        report.group_id, report.scenes, report.scenes_changed, report.scenes_split, report.personas,
        report.facts_moved, report.new_items, report.seconds, report.peak_memory_mb,
    )
    for change in report.changes:
        log.info(change)
    return report


@flow(name="consolidate", flow_run_name=group_run_name("consolidate"))
def consolidate(
    group_id: str | None = None, store: StoreKind | None = None, memory_path: str | None = None, full: bool = False
) -> ConsolidateReport:
    """Consolidate the memory of `group_id` (default: the configured group); `full` re-clusters
    every scene instead of updating around what is new."""
    config = memory_config(store=store, memory_path=memory_path, group_id=group_id)
    consolidation = consolidate_memory(config, full)
    return ConsolidateReport(consolidation, rebuild_index(group_id, store=store, memory_path=memory_path))
