"""Flow `consolidate`: the periodic, whole-group work that follows ingest.

The library offers no consolidation yet: scenes, personas and their alignment (DESIGN.md) are a
later issue. So today the flow only rebuilds the group's search index and reports what the group
holds, through `reindex_group`; it claims no step it does not run. The hook for consolidation is
marked in the flow body.
"""

from __future__ import annotations

from prefect import flow

from flows import StoreKind, group_run_name
from flows.maintenance import IndexReport, reindex_group


@flow(name="consolidate", flow_run_name=group_run_name("consolidate"))
def consolidate(
    group_id: str | None = None, store: StoreKind | None = None, memory_path: str | None = None
) -> IndexReport:
    """Consolidate the memory of `group_id` (default: the configured group)."""
    # Hook: when the library consolidates (scenes, personas, their alignment), call it here, as
    # tasks, before the index rebuild below so that the index covers what consolidation adds.
    return reindex_group(group_id, store=store, memory_path=memory_path)
