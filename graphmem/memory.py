"""`Memory`: the Python client. Ingest conversations, search them, look entities up.

    from graphmem import Memory

    with Memory() as memory:                      # the embedded store; see graphmem.config
        report = memory.ingest("chat.json")
        for hit in memory.search("When did Caroline go to the support group?", k=5):
            print(hit.score, hit.speaker, hit.text)

Every method takes an optional `group_id` (the tenant); without it the configured one is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from graphmem.config import Config
from graphmem.consolidation import ConsolidationReport, TenantRecords, consolidate, measured, resident_mb
from graphmem.errors import RecordProblem
from graphmem.extraction import Extractor
from graphmem.graph_builder import build_graph_batch, entity_id, message_digest
from graphmem.loaders import conversation_from_messages, load_file
from graphmem.models import Conversation, EntityNode, Evidence, Fact, Message, Persona, Scene, WriteCounts
from graphmem.search.engine import GroupIndex, SearchSettings, search
from graphmem.store.base import Store, StoreCounts

if TYPE_CHECKING:
    from graphmem.llm.answering import Answer
    from graphmem.llm.client import LLMClient
    from graphmem.llm.usage import LLMUsage

ProgressCallback = Callable[[int, int], None]
"""Called as (messages done, messages to do) while an ingest extracts and writes."""


@dataclass
class IngestReport:
    """What an ingest read, wrote and rejected."""

    files: int = 0
    conversations: int = 0
    messages_read: int = 0
    messages_skipped: int = 0  # already stored, unchanged
    written: WriteCounts = field(default_factory=WriteCounts)
    rejected: list[RecordProblem] = field(default_factory=list)
    seconds: float = 0.0
    llm: LLMUsage | None = None  # what the LLM extractor spent, when it ran

    @property
    def turns_per_second(self) -> float:
        return self.messages_read / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class TimelineItem:
    """An event or relation involving an entity, placed in time."""

    kind: str  # "event" | "relation"
    when: date | None
    observed_at: datetime
    precision: str | None
    text: str
    message_id: str

    @property
    def day(self) -> date:
        """Where it sits in time: its stated day, else the day it was said."""
        return self.when or self.observed_at.date()


class Memory:
    """A graph memory over one store; safe to keep open for the life of an application."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        store: Store | None = None,
        extractor: Extractor | None = None,
        llm: LLMClient | None = None,
    ):
        self.config = config or Config()
        self.store = store or open_store(self.config)
        # What this Memory makes it closes; what it is handed stays the caller's.
        self._owns_store = store is None
        self._owns_extractor = extractor is None
        self._owns_llm = llm is None
        self._extractor = extractor
        self._llm = llm
        self._indexes: dict[str, GroupIndex] = {}

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Close what this Memory opened: its store, LLM client and extraction cache (ones passed in stay open)."""
        close_extractor = getattr(self._extractor, "close", None)  # the LLM extractor's cache file
        if self._owns_extractor and close_extractor is not None:
            close_extractor()
        if self._owns_llm and self._llm is not None:
            self._llm.close()
        if self._owns_store:
            self.store.close()

    @property
    def extractor(self) -> Extractor:
        if self._extractor is None and self.config.extractor == "llm":
            from graphmem.llm.extractor import LLMExtractor

            self._extractor = LLMExtractor.from_config(self.config, client=self.llm)
        if self._extractor is None:
            from graphmem.extraction.spacy_pipeline import SpacyExtractor

            self._extractor = SpacyExtractor(self.config.spacy_model, n_process=self.config.extract_processes)
        return self._extractor

    @property
    def llm(self) -> LLMClient:
        """The configured LLM client (made on first use); `ConfigError` when no endpoint is configured."""
        if self._llm is None:
            from graphmem.llm.client import LLMClient

            self._llm = LLMClient.from_config(self.config)
        return self._llm

    # -- ingest --------------------------------------------------------------------------------

    def ingest(
        self,
        paths: str | Path | Iterable[str | Path],
        *,
        group_id: str | None = None,
        group_per_conversation: bool = False,
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Ingest conversation files (JSON/JSONL). Bad records are reported, not raised.

        A file that cannot be read at all raises `InputError` before anything is written.
        """
        if isinstance(paths, (str, Path)):
            paths = [paths]
        started = time.perf_counter()
        loaded = [load_file(p, max_message_chars=self.config.max_message_chars) for p in paths]
        conversations = [c for f in loaded for c in f.conversations]
        report = self.ingest_conversations(
            conversations, group_id=group_id, group_per_conversation=group_per_conversation, progress=progress
        )
        report.files = len(loaded)
        report.rejected = [p for f in loaded for p in f.problems]
        report.seconds = time.perf_counter() - started
        return report

    def ingest_conversations(
        self,
        conversations: Sequence[Conversation],
        *,
        group_id: str | None = None,
        group_per_conversation: bool = False,
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Extract and write conversations; messages already stored unchanged are skipped.

        With `group_per_conversation`, each conversation becomes its own tenant, named by its id.
        """
        started = time.perf_counter()
        report = IngestReport(conversations=len(conversations))
        work: list[tuple[str, Conversation, list[Message]]] = []
        for conversation in conversations:
            group = conversation.id if group_per_conversation else self._group(group_id)
            stored = self.store.message_digests(group, conversation.id)
            changed = [m for m in conversation.messages if stored.get(m.id) != message_digest(m)]
            report.messages_read += len(conversation.messages)
            report.messages_skipped += len(conversation.messages) - len(changed)
            if changed:
                work.append((group, conversation, changed))
        total = sum(len(messages) for _, _, messages in work)
        usage_before = getattr(self.extractor, "usage", None) if work else None  # LLM extractors count usage
        done = 0
        if progress:
            progress(0, total)
        for group, conversation, messages in work:
            extractions = []
            for extraction in self.extractor.extract(conversation, messages):
                extractions.append(extraction)
                done += 1
                if progress and done % 25 == 0:
                    progress(done, total)
            known_people = [e.name for e in self.store.entities(group) if e.type == "person"]
            batch = build_graph_batch(group, conversation, messages, extractions, known_people)
            report.written = report.written + self.store.write(group, batch)
            if group in self._indexes:  # a query-ready tenant grows its index in place
                self._indexes[group] = self._indexes[group].extended(self.store, batch)
        if progress:
            progress(done, total)
        if usage_before is not None:
            report.llm = self.extractor.usage - usage_before
        report.seconds = time.perf_counter() - started
        return report

    def add_messages(
        self,
        conversation_id: str,
        messages: Sequence[dict],
        *,
        participants: Sequence[str] = (),
        group_id: str | None = None,
    ) -> IngestReport:
        """Ingest messages given as dicts (`speaker`, `text`, `timestamp`, optional `id`).

        The conversation's earlier messages must be passed again (or given ids) for turn order
        to stay right: a message's position in `messages` is its sequence number.
        """
        conversation, problems = conversation_from_messages(
            conversation_id, messages, participants=tuple(participants), max_message_chars=self.config.max_message_chars
        )
        report = self.ingest_conversations([conversation] if conversation else [], group_id=group_id)
        report.rejected = problems
        return report

    # -- queries -------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        group_id: str | None = None,
        as_of: datetime | None = None,
        channels: Sequence[str] | None = None,
        explain: bool = False,
    ) -> list[Evidence]:
        """The `k` messages that best support an answer to `query`, best first.

        Each carries the facts it states that hold now; with `as_of`, only messages said by
        then, with the facts the memory held then. `channels` picks ranking channels (`bm25`,
        `ppr`, `activation`) in place of the default engine, as the evaluation's baselines do.
        With `explain`, each hit carries the graph path through which the question reached it.
        """
        settings = SearchSettings(channels=tuple(channels)) if channels else SearchSettings()
        return search(self._index(group_id), query, k, settings, as_of=as_of, explain=explain)

    def facts(
        self,
        entity: str | None = None,
        *,
        as_of: date | None = None,
        known_at: datetime | None = None,
        include_superseded: bool = False,
        group_id: str | None = None,
    ) -> list[Fact]:
        """Facts (about `entity`, as subject or object), oldest first.

        By default only current ones: superseded facts are left out. `as_of` gives what was true
        in the world on that day; `known_at` what the memory held true at that moment.
        """
        index = self._index(group_id)
        relations = index.relations
        if entity is not None:
            found = self.entity(entity, group_id=group_id)
            if found is None:
                return []
            relations = [r for r in relations if found.id in (r.subject_id, r.object_id)]
        if as_of is not None:
            relations = [r for r in relations if r.valid_at(as_of)]
        if known_at is not None:
            relations = [r for r in relations if r.known_at(known_at)]
        if as_of is None and known_at is None and not include_superseded:
            relations = [r for r in relations if r.current]
        ordered = sorted(relations, key=lambda r: (r.valid_from or r.observed_at.date(), r.observed_at, r.id))
        return [index.fact(r) for r in ordered]

    def entities(self, *, group_id: str | None = None) -> list[EntityNode]:
        return self.store.entities(self._group(group_id))

    def entity(self, name: str, *, group_id: str | None = None) -> EntityNode | None:
        """The entity called `name` (or with `name` as an alias), if the memory knows one."""
        group = self._group(group_id)
        index = self._index(group)
        wanted = entity_id(group, name)
        if wanted in index.entities:
            return index.entities[wanted]
        linked = index.linker.link(name)
        return linked[0] if len(linked) == 1 else None

    def timeline(
        self, name: str, *, after: date | None = None, before: date | None = None, group_id: str | None = None
    ) -> list[TimelineItem]:
        """Events and relations involving an entity, in world-time order.

        An item with no stated time is placed on the day it was said. `after` / `before` keep
        only items strictly after / before a day ("what did Ana do after she moved?").
        """
        group = self._group(group_id)
        entity = self.entity(name, group_id=group)
        if entity is None:
            return []
        by_id = {m.id: m for m in self._index(group).messages}
        items: list[TimelineItem] = []
        for event in self.store.events(group, entity.id):
            message = by_id[event.message_id]
            items.append(TimelineItem("event", event.ts_start, message.ts, event.precision, event.summary, message.source_id))
        for relation in self.store.relations(group, entity.id):
            message = by_id.get(relation.message_id)
            items.append(
                TimelineItem(
                    "relation", relation.valid_from, relation.observed_at, relation.precision, relation.fact,
                    message.source_id if message else relation.message_id,
                )
            )
        items = [
            t for t in items
            if (after is None or t.day > after) and (before is None or t.day < before)
        ]
        return sorted(items, key=lambda t: (t.day, t.observed_at, t.kind))

    def ask(self, question: str, *, k: int = 10, group_id: str | None = None) -> Answer:
        """An answer to `question` by the configured LLM from the `k` best messages, citing those it rests on.

        Without a configured endpoint this raises `ConfigError` before searching or touching the
        network. Unsupported by the evidence, the answer is "I don't know" with `supported=False`.
        """
        from graphmem.llm.answering import answer_question

        llm = self.llm
        return answer_question(llm, question, self.search(question, k=k, group_id=group_id))

    def stats(self, *, group_id: str | None = None) -> StoreCounts:
        return self.store.counts(self._group(group_id))

    def groups(self) -> list[str]:
        return self.store.groups()

    def forget(self, *, group_id: str | None = None) -> None:
        """Delete everything stored for a tenant."""
        group = self._group(group_id)
        self.store.delete_group(group)
        self._indexes.pop(group, None)

    # -- consolidation: scenes and personas ----------------------------------------------------

    def consolidate(self, group_id: str | None = None, full: bool = False) -> ConsolidationReport:
        """Find the tenant's scenes and personas, align them, and store them (graphmem.consolidation).

        Incremental: items (messages, events, facts) in no stored scene join the scene they are
        most strongly linked to, or are re-clustered with the scenes around them; `full`
        re-clusters everything. Personas are rebuilt where what they rest on changed (all of them
        when `full`). The report says what changed, with the seconds each step took and the
        process's peak resident memory during it.
        """
        group = self._group(group_id)
        store = self.store
        timings: dict[str, float] = {}
        peaks: dict[str, float] = {}
        start_rss = resident_mb()
        with measured("read", timings, peaks):
            records = TenantRecords(store.messages(group), store.mentions(group), store.events(group),
                                    store.relations(group), store.entities(group))
            previous = store.scenes(group)
            personas = store.personas(group) if not full else []
        result = consolidate(group, records, previous, personas=personas, full=full)
        del records
        with measured("write", timings, peaks):
            store.write_personas(group, result.personas)
            store.write_scenes(group, result.scenes)
        self._indexes.pop(group, None)  # scenes are part of the query graph
        report = result.report
        report.timings = {"read": timings["read"], **report.timings, "write": timings["write"]}
        report.peak_rss_mb = {"read": peaks["read"], **report.peak_rss_mb, "write": peaks["write"]}
        report.start_rss_mb = start_rss
        return report

    def scenes(self, group_id: str | None = None) -> list[Scene]:
        """The tenant's scenes in time order, as the last consolidation left them: each with its
        members (message, event and relation ids with weights), participants and personas."""
        return self.store.scenes(self._group(group_id))

    def persona(self, name: str, group_id: str | None = None) -> Persona | None:
        """The persona of the participant called `name` (or with `name` as an alias), once consolidated."""
        group = self._group(group_id)
        entity = self.entity(name, group_id=group)
        if entity is None:
            return None
        return next((p for p in self.store.personas(group) if p.entity_id == entity.id), None)

    def _group(self, group_id: str | None) -> str:
        return group_id or self.config.group_id

    def _index(self, group_id: str | None) -> GroupIndex:
        group = self._group(group_id)
        if group not in self._indexes:
            self._indexes[group] = GroupIndex.build(self.store, group, embeddings=self.config.embeddings)
        return self._indexes[group]


def open_store(config: Config) -> Store:
    """The store the configuration names."""
    if config.store == "neo4j":
        from graphmem.store.neo4j import Neo4jStore

        return Neo4jStore(config.neo4j_uri, config.neo4j_user, config.neo4j_password, config.neo4j_database)
    from graphmem.store.sqlite import SQLiteStore

    return SQLiteStore(config.path)
