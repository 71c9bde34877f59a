"""Scenes and personas on the LoCoMo dev split: quality, persona coverage, full vs incremental.

    .venv/bin/python bench/scenes.py [PATH] [--store sqlite|neo4j]

Each conversation is its own tenant in a temporary memory. The first half of its sessions is
ingested and consolidated in full; then each later session is ingested and consolidated
incrementally; finally the tenant is consolidated in full again. Per conversation and overall:

- scenes, their modularity Q on the weighted fact graph, their median time span (days);
- persona coverage: the share of LoCoMo's `observation` annotations about a speaker (used only
  to score, never ingested) whose evidence turn is the source of a fact, or an evidence
  message of a facet, in that speaker's persona; also by facts alone, and the share of a
  speaker's own turns their persona links (what linking turns at random would cover);
- seconds of a full consolidation and of an incremental one (mean per added session), and the
  agreement (NMI) of the incremental partition with the full one, next to Leiden's agreement
  with itself under another seed (the most any re-clustering can be expected to reach).

Targets: coverage >= 0.7; a conversation consolidates in well under a second.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import igraph
from rich.console import Console
from rich.table import Table

from graphmem import Config, Memory
from graphmem.consolidation.pipeline import (
    ConsolidationReport, ConsolidationSettings, TenantRecords, consolidate, tenant_features,
)
from graphmem.ingest.loaders import load_file
from graphmem.models import Conversation, Persona, Scene
from graphmem.consolidation.scenes import SceneSettings, median_span_days, scene_membership

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"
DIA_ID = re.compile(r"D:?(\d+):(\d+)")  # also reads the malformed "D:11:26"


@dataclass
class Row:
    conversation: str
    scenes: int
    modularity: float
    span_days: float
    observations: int
    covered: int
    covered_by_facts: int
    unreadable: int  # observations whose evidence id names no turn
    turn_share: float
    full_s: float
    full_cluster_s: float
    incremental_s: float
    incremental_cluster_s: float
    nmi: float
    seed_nmi: float

    @property
    def coverage(self) -> float:
        return self.covered / self.observations if self.observations else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default=DEFAULT_PATH, type=Path)
    parser.add_argument("--store", choices=["sqlite", "neo4j"], default="sqlite")
    args = parser.parse_args()
    conversations = load_file(args.path).conversations
    observations = {s["sample_id"]: s["observation"] for s in json.loads(args.path.read_text())}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        config = Config(store=args.store, path=Path(scratch) / "bench.db")
        with Memory(config) as memory:
            for conversation in conversations:
                group = f"bench-scenes-{conversation.id}"
                memory.forget(group_id=group)
                rows.append(_bench(memory, group, conversation, observations[conversation.id]))
                memory.forget(group_id=group)
    _print(rows, args.path.name)


def _bench(memory: Memory, group: str, conversation: Conversation, observation: dict) -> Row:
    sessions = sorted({m.session for m in conversation.messages if m.session is not None})
    half = sessions[len(sessions) // 2 - 1]
    memory.ingest_conversations([_until(conversation, half)], group_id=group)
    memory.consolidate(group_id=group, full=True)
    incremental = []
    for session in (s for s in sessions if s > half):
        memory.ingest_conversations([_until(conversation, session)], group_id=group)
        incremental.append(memory.consolidate(group_id=group))
    incremental_scenes = memory.scenes(group_id=group)
    full = memory.consolidate(group_id=group, full=True)
    scenes, personas = memory.scenes(group_id=group), memory.store.personas(group)
    records = _records(memory, group)
    features = tenant_features(records)
    graph, ids = features.graph(), [item.id for item in features.items]
    other_seed = consolidate(group, records, full=True, settings=ConsolidationSettings(scenes=SceneSettings(seed=7)))
    coverage = _coverage(observation, personas, records)
    return Row(
        conversation.id, len(scenes), graph.modularity(_partition(scenes, ids), weights="weight"),
        median_span_days(scenes), *coverage, full_s=full.seconds, full_cluster_s=_clustering(full),
        incremental_s=statistics.mean(r.seconds for r in incremental),
        incremental_cluster_s=statistics.mean(_clustering(r) for r in incremental),
        nmi=_nmi(scenes, incremental_scenes, ids), seed_nmi=_nmi(scenes, other_seed.scenes, ids),
    )


def _clustering(report: ConsolidationReport) -> float:
    """Seconds spent building the fact graph and clustering scenes (no store I/O, no personas)."""
    return report.timings["graph"] + report.timings["scenes"]


def _until(conversation: Conversation, session: int) -> Conversation:
    """The conversation as it stood after `session`."""
    return conversation.model_copy(
        update={"messages": tuple(m for m in conversation.messages if (m.session or 0) <= session)}
    )


def _records(memory: Memory, group: str) -> TenantRecords:
    store = memory.store
    return TenantRecords(store.messages(group), store.mentions(group), store.events(group), store.facts(group),
                         store.entities(group))


def _partition(scenes: list[Scene], ids: list[str]) -> list[int]:
    """Scene index per item; an item in no scene gets a community of its own."""
    membership = scene_membership(scenes, ids)
    alone = iter(range(len(scenes), len(scenes) + len(ids)))
    return [community if community >= 0 else next(alone) for community in membership]


def _nmi(a: list[Scene], b: list[Scene], ids: list[str]) -> float:
    return igraph.compare_communities(_partition(a, ids), _partition(b, ids), method="nmi")


def _coverage(observation: dict, personas: list[Persona], records: TenantRecords) -> tuple[int, int, int, int, float]:
    """(observations, covered, covered by facts alone, unreadable, share of own turns linked)."""
    message_of = {m.source_id: m.id for m in records.messages}
    by_name = {p.name: p for p in personas}
    total = covered = by_facts = unreadable = 0
    for per_speaker in observation.values():
        for speaker, annotations in per_speaker.items():
            persona = by_name.get(speaker)
            facts = {f.message_id for f in persona.facts()} if persona else set()
            linked = facts | {m for facet in persona.facets for m in facet.evidence} if persona else set()
            for annotation in annotations:
                turns = [message_of.get(f"D{a}:{b}") for a, b in DIA_ID.findall(json.dumps(annotation[1:]))]
                turns = [t for t in turns if t is not None]
                total += 1
                unreadable += not turns
                covered += any(t in linked for t in turns)
                by_facts += any(t in facts for t in turns)
    own_turns = [sum(m.speaker_id == p.entity_id for m in records.messages) for p in personas]
    linked_turns = [len({f.message_id for f in p.facts()} | {m for f in p.facets for m in f.evidence})
                    for p in personas]
    share = sum(linked_turns) / sum(own_turns) if sum(own_turns) else float("nan")
    return total, covered, by_facts, unreadable, share


def _print(rows: list[Row], name: str) -> None:
    table = Table(title=f"scenes and personas ({name}; each conversation its own tenant)")
    for column in ("conversation", "scenes", "modularity Q", "median span (days)", "persona coverage",
                   "by facts alone", "own turns linked", "full (s): all / clustering",
                   "incremental (s/session): all / clustering",
                   "NMI incr. vs full", "NMI seed 42 vs 7"):
        table.add_column(column, justify="left" if column == "conversation" else "right")
    for row in rows:
        table.add_row(
            row.conversation, str(row.scenes), f"{row.modularity:.3f}", f"{row.span_days:.1f}",
            f"{row.coverage:.3f} ({row.covered}/{row.observations})", f"{row.covered_by_facts / row.observations:.3f}",
            f"{row.turn_share:.2f}", f"{row.full_s:.2f} / {row.full_cluster_s:.2f}",
            f"{row.incremental_s:.2f} / {row.incremental_cluster_s:.2f}", f"{row.nmi:.3f}",
            f"{row.seed_nmi:.3f}",
        )
    observations = sum(r.observations for r in rows)
    table.add_row(
        "all", str(sum(r.scenes for r in rows)), f"{statistics.mean(r.modularity for r in rows):.3f}",
        f"{statistics.median(r.span_days for r in rows):.1f}",
        f"{sum(r.covered for r in rows) / observations:.3f} ({sum(r.covered for r in rows)}/{observations})",
        f"{sum(r.covered_by_facts for r in rows) / observations:.3f}",
        f"{statistics.mean(r.turn_share for r in rows):.2f}",
        f"{statistics.mean(r.full_s for r in rows):.2f} / {statistics.mean(r.full_cluster_s for r in rows):.2f}",
        f"{statistics.mean(r.incremental_s for r in rows):.2f} / "
        f"{statistics.mean(r.incremental_cluster_s for r in rows):.2f}",
        f"{statistics.mean(r.nmi for r in rows):.3f}",
        f"{statistics.mean(r.seed_nmi for r in rows):.3f}", style="bold",
    )
    console = Console(width=200)
    console.print(table)
    unreadable = sum(r.unreadable for r in rows)
    console.print(f"{unreadable} observations had no readable evidence turn (counted as not covered).")


if __name__ == "__main__":
    main()
