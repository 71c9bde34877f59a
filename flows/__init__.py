"""Prefect flows for graphmem: scheduled ingest, consolidation and maintenance.

Flows are thin: their tasks call the library (`graphmem.Memory`) and hold no
logic of their own. `python -m flows.serve` (or `graphmem serve`) serves them with schedules;
`prefect.yaml` declares them for work pools. See flows/README.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from graphmem.config import Config
from graphmem.memory import load_config

StoreKind = Literal["sqlite", "neo4j"]


def memory_config(
    *, store: StoreKind | None = None, memory_path: str | None = None, group_id: str | None = None
) -> Config:
    """The library's configuration (graphmem.toml, GRAPHMEM_* variables) with a flow's overrides.

    An invalid value (an empty or malformed `group_id`, say) raises `ConfigError`, failing the run.
    """
    overrides = {"store": store, "path": memory_path, "group_id": group_id}
    return load_config(**{name: value for name, value in overrides.items() if value is not None})


def group_run_name(action: str) -> Callable[[], str]:
    """A `flow_run_name` for flows with a `group_id` parameter: e.g. `rebuild index default`, naming the
    configured group when the run was not given one."""

    def name() -> str:
        from prefect.runtime import flow_run

        return f"{action} {flow_run.parameters.get('group_id') or memory_config().group_id}"

    return name


def artifact_key(kind: str, group_id: str) -> str:
    """A Prefect artifact key (lowercase letters, digits, dashes) for one kind of report on a group,
    so that each group's reports form one history in the UI."""
    return re.sub(r"[^a-z0-9-]+", "-", f"{kind}-{group_id}".lower()).strip("-")
