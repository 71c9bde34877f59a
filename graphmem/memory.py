"""`Memory`: the Python client. Ingest conversations, search them, look entities up.

    from graphmem import Memory

    with Memory() as memory:                      # the embedded store; see graphmem.config
        report = memory.ingest("chat.json")
        for hit in memory.search("When did Caroline go to the support group?", k=5):
            print(hit.score, hit.speaker, hit.text)

Every method takes an optional `group_id` (the tenant); without it (None) the configured one is
used. A given id must be valid (`graphmem.models.check_group_id`): an empty or malformed one raises
`GroupIdError`, never falls back to the configured tenant.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError
from threadpoolctl import ThreadpoolController

from graphmem.config import Config
from graphmem.consolidation.pipeline import ConsolidationReport, StepMeasures, TenantRecords, consolidate
from graphmem.errors import ConfigError, GroupIdError, InputError, RecordProblem, StoreError
from graphmem.extraction import Extractor
from graphmem.ingest.graph_builder import build_graph_batch, entity_id, message_digest
from graphmem.ingest.loaders import LoadedFile, conversation_from_messages, load_file
from graphmem.models import (
    Conversation, EntityNode, Evidence, Fact, MemberKind, Message, MessageNode, Persona, Precision, Scene, WriteCounts,
    check_group_id,
)
from graphmem.search.dense import DenseIndex
from graphmem.search.engine import GroupIndex, SearchSettings, search
from graphmem.search.projection import EdgeWeights
from graphmem.search.snapshot import (
    SnapshotError, embeddings_from_bytes, index_from_bytes, index_to_bytes, snapshot_key,
)
from graphmem.store.base import IndexSnapshot, Store, StoreCounts, TenantVersion

if TYPE_CHECKING:
    from graphmem.llm.answering import Answer
    from graphmem.llm.client import LLMClient
    from graphmem.llm.usage import LLMUsage

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
"""Called as (messages done, messages to do) while an ingest extracts and writes."""

# A restored snapshot extended by more than this share of its messages is replaced by the index
# it became, so later processes do not catch up on the same appends again and again.
SNAPSHOT_REFRESH_SHARE = 0.25


@dataclass(frozen=True)
class IngestReport:
    """What an ingest read, wrote and rejected."""

    files: int = 0
    conversations: int = 0
    messages_read: int = 0
    messages_skipped: int = 0  # already stored, unchanged
    messages_added: int = 0  # not stored before
    messages_changed: int = 0  # stored with other content (speaker, text, time, caption): re-extracted
    messages_removed: int = 0  # stored, but no longer in their conversation's file: removed from memory
    written: WriteCounts = field(default_factory=WriteCounts)
    rejected: tuple[RecordProblem, ...] = ()
    seconds: float = 0.0
    llm: LLMUsage | None = None  # what the LLM extractor spent, when it ran

    @property
    def turns_per_second(self) -> float:
        return self.messages_read / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class IndexSize:
    """What a tenant's search index holds."""

    messages: int
    entities: int


@dataclass(frozen=True)
class TimelineItem:
    """An event or relation involving an entity, placed in time."""

    kind: MemberKind  # an event or a relation
    when: date | None
    observed_at: datetime
    precision: Precision | None
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
        self.index_cache = IndexCache(self.config.index_cache_tenants, int(self.config.index_cache_mb * 2**20))
        self._weights = EdgeWeights()  # what this Memory's indexes are built with, and its snapshots keyed by
        self._snapshot_key = snapshot_key(self._weights, self.config.embeddings)
        self._tenant_locks: dict[str, threading.RLock] = {}
        self._locks_lock = threading.Lock()
        self._thread_pools: ThreadpoolController | None = None  # made on the first query

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
        paths: str | Path | LoadedFile | Iterable[str | Path | LoadedFile],
        *,
        group_id: str | None = None,
        group_per_conversation: bool = False,
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Ingest conversation files (JSON/JSONL), given by path or already read (`load_file`).
        Bad records and files are reported, not raised.

        Every file is read and validated before anything is written. A file that cannot be read
        at all (not UTF-8, malformed JSON, empty) is reported in `rejected` as a whole (record
        "file") and nothing of it is written; the other files are still ingested. Each file is
        the truth for the conversations it holds (see `ingest_conversations`' `mirror`).
        """
        if isinstance(paths, (str, Path, LoadedFile)):
            paths = [paths]
        started = time.perf_counter()
        group = self._group(group_id)
        loaded, unreadable = [], []
        for path in paths:
            try:
                loaded.append(path if isinstance(path, LoadedFile) else
                              load_file(path, max_message_chars=self.config.max_message_chars))
            except InputError as error:
                unreadable.append(error.problem)
        return self._ingest(
            [c for f in loaded for c in f.conversations], group, started=started, files=len(loaded) + len(unreadable),
            problems=[*unreadable, *(p for f in loaded for p in f.problems)],
            group_per_conversation=group_per_conversation, progress=progress, mirror=True,
        )

    def ingest_conversations(
        self,
        conversations: Sequence[Conversation],
        *,
        group_id: str | None = None,
        group_per_conversation: bool = False,
        progress: ProgressCallback | None = None,
        mirror: bool = False,
    ) -> IngestReport:
        """Extract and write conversations; messages already stored unchanged are skipped.

        With `mirror` (as `ingest` does for files), each conversation given is the truth for that
        conversation: its stored messages that it no longer holds are removed, with what only they supported (`Store.mirror_conversation`:
        a fact superseded only through a removed message is current again; one a remaining
        message still contradicts stays closed), and messages that only moved are renumbered,
        not re-extracted. Changed messages are re-extracted alone.

        With `group_per_conversation`, each conversation becomes its own tenant inside the given
        (or configured) one: `<group>/<conversation id>` (see `conversation_group`). A file thus
        never names a tenant outside the caller's; a conversation whose id makes no valid group
        id is rejected.
        """
        return self._ingest(
            conversations, self._group(group_id), started=time.perf_counter(),
            group_per_conversation=group_per_conversation, progress=progress, mirror=mirror,
        )

    def _ingest(
        self,
        conversations: Sequence[Conversation],
        parent: str,
        *,
        started: float,
        files: int = 0,
        problems: Sequence[RecordProblem] = (),
        group_per_conversation: bool = False,
        progress: ProgressCallback | None = None,
        mirror: bool = False,
    ) -> IngestReport:
        """`ingest_conversations` into the tenant `parent`, reported with the `files` read since
        `started` and the `problems` found reading them (listed first among the rejections)."""
        rejected = list(problems)
        work: list[tuple[str, Conversation, list[Message], list[tuple[str, str]]]] = []
        read = skipped = added = changed_count = removed = 0
        for conversation in conversations:
            group = parent
            if group_per_conversation:
                try:
                    group = conversation_group(parent, conversation.id)
                except GroupIdError as error:
                    record = f"conversation {conversation.id!r}"
                    rejected.append(RecordProblem("<conversations>", record, str(error), "conversation_id"))
                    continue
            conversation = self._within_message_limit(conversation, rejected)
            stored = {m.source_id: m for m in self.store.messages(group, conversation.id)}
            changed = [
                m for m in conversation.messages if m.id not in stored or stored[m.id].digest != message_digest(m)
            ]
            kept = {m.id: m.seq for m in conversation.messages}
            if mirror and any(source not in kept or kept[source] != m.seq for source, m in stored.items()):
                # turns removed or renumbered: a reset of the tenant's version, so indexes rebuild
                removed += self.store.mirror_conversation(group, conversation.id, kept)
            read += len(conversation.messages)
            skipped += len(conversation.messages) - len(changed)
            added += sum(1 for m in changed if m.id not in stored)
            changed_count += sum(1 for m in changed if m.id in stored)
            if changed:
                given = {m.id for m in conversation.messages}
                earlier = [
                    (m.speaker, m.text) for m in sorted(stored.values(), key=lambda m: m.seq) if m.source_id not in given
                ]
                work.append((group, conversation, changed, earlier))
        total = sum(len(messages) for _, _, messages, _ in work)
        usage_before = getattr(self.extractor, "usage", None) if work else None  # LLM extractors count usage
        written = WriteCounts()
        done = 0
        if progress:
            progress(0, total)
        for group, conversation, messages, earlier in work:
            extractions = []
            for extraction in self.extractor.extract(conversation, messages):
                extractions.append(extraction)
                done += 1
                if progress and done % 25 == 0:
                    progress(done, total)
            known_people = [e.name for e in self.store.entities(group) if e.type == "person"]
            batch = build_graph_batch(group, conversation, messages, extractions, known_people, earlier)
            written = written + self.store.write(group, batch)
        if progress:
            progress(done, total)
        return IngestReport(
            files=files, conversations=len(conversations), messages_read=read, messages_skipped=skipped,
            messages_added=added, messages_changed=changed_count, messages_removed=removed, written=written,
            rejected=tuple(rejected), seconds=time.perf_counter() - started,
            llm=self.extractor.usage - usage_before if usage_before is not None else None,
        )

    def _within_message_limit(self, conversation: Conversation, rejected: list[RecordProblem]) -> Conversation:
        """`conversation` without its turns longer than `Config.max_message_chars`, each reported
        in `rejected` (files are held to the limit when read; a conversation built in Python here)."""
        limit = self.config.max_message_chars
        kept = [m for m in conversation.messages if len(m.text) <= limit]
        if len(kept) == len(conversation.messages):
            return conversation
        rejected.extend(
            RecordProblem("<conversations>", f"conversation {conversation.id!r} message {m.id!r}",
                          f"{len(m.text):,} characters; the limit is {limit:,} (max_message_chars)", "text")
            for m in conversation.messages if len(m.text) > limit
        )
        return conversation.model_copy(update={"messages": tuple(kept)})

    def add_messages(
        self,
        conversation_id: str,
        messages: Sequence[dict],
        *,
        participants: Sequence[str] = (),
        group_id: str | None = None,
    ) -> IngestReport:
        """Ingest messages given as dicts (`speaker`, `text`, `timestamp`, optional `id`).

        The messages continue the conversation: they become its next turns, after those already
        stored (an append, which a live index extends by these messages alone). A message without
        an `id` is named by its place in the conversation (`<conversation_id>:<n>`). Passing the
        whole conversation again, from its first message, still works: stored turns are
        recognised and skipped, and only the new ones are written.
        """
        started = time.perf_counter()
        group = self._group(group_id)
        conversation, problems = self._continued_conversation(group, conversation_id, messages, tuple(participants))
        return self._ingest([conversation] if conversation else [], group, started=started, problems=problems)

    def _continued_conversation(
        self, group: str, conversation_id: str, messages: Sequence[dict], participants: tuple[str, ...]
    ) -> tuple[Conversation | None, list[RecordProblem]]:
        """`messages` as the conversation's next turns, or as given when they start it over.

        They start it over when the first one is the stored first turn: given with the id of a
        stored message, or without an id and saying what the stored `<conversation_id>:1` says.
        """
        limit = self.config.max_message_chars
        conversation, problems = conversation_from_messages(
            conversation_id, list(messages), participants=participants, max_message_chars=limit
        )
        if conversation is None:  # nothing valid, or no valid conversation id: nothing to look up
            return conversation, problems
        stored = self.store.message_digests(group, conversation.id)
        if not stored:
            return conversation, problems
        first, raw = conversation.messages[0], messages[0]
        given_id = isinstance(raw, dict) and raw.get("id") is not None
        if (first.id in stored) if given_id else (stored.get(first.id) == message_digest(first)):
            return conversation, problems
        offset = len(stored)
        named = [
            {**m, "id": f"{conversation_id}:{offset + i + 1}"} if isinstance(m, dict) and m.get("id") is None else m
            for i, m in enumerate(messages)
        ]
        conversation, problems = conversation_from_messages(
            conversation_id, named, participants=participants, max_message_chars=limit
        )
        if conversation is None:
            return conversation, problems
        turns = tuple(m.model_copy(update={"seq": m.seq + offset}) for m in conversation.messages)
        return conversation.model_copy(update={"messages": turns}), problems

    # -- queries -------------------------------------------------------------------------------
    # Every read catches the tenant's index up with the store first (`_reading`): one version
    # read, then nothing, the delta since the index's version, or a rebuild. Reads that go to
    # the store itself (`entities`, `counts`, `scenes`, `groups`) are current by construction.

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        settings: SearchSettings | None = None,
        group_id: str | None = None,
        known_at: datetime | None = None,
        explain: bool = False,
    ) -> list[Evidence]:
        """The `k` messages that best support an answer to `query`, best first.

        Each carries the facts it states that hold now; with `known_at` (memory time), only
        messages said by then, with the facts the memory held then. `settings` replaces the
        default ranking, e.g. `SearchSettings(channels=("bm25",))` as the evaluation's baselines
        do. With `explain`, each hit carries the graph path through which the question reached it.
        """
        if self._thread_pools is None:
            self._thread_pools = ThreadpoolController()
        with self._thread_pools.limit(limits=self.config.query_threads):  # config.query_threads says why
            with self._reading(group_id) as index:
                return search(index, query, k, settings or SearchSettings(), known_at=known_at, explain=explain)

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
        with self._reading(group_id) as index:
            relations = index.relations
            if entity is not None:
                found = self._entity(index, entity)
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

    def messages(self, *, conversation_id: str | None = None, group_id: str | None = None) -> list[MessageNode]:
        """The tenant's stored messages (of one conversation, if given), in conversation and turn order."""
        return self.store.messages(self._group(group_id), conversation_id)

    def entity(self, name: str, *, group_id: str | None = None) -> EntityNode | None:
        """The entity called `name` (or with `name` as an alias), if the memory knows one."""
        with self._reading(group_id) as index:
            return self._entity(index, name)

    @staticmethod
    def _entity(index: GroupIndex, name: str) -> EntityNode | None:
        wanted = entity_id(index.group_id, name)
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
        with self._reading(group) as index:
            entity = self._entity(index, name)
            if entity is None:
                return []
            events, relations = self.store.events(group, entity.id), self.store.facts(group, entity.id)
        items: list[TimelineItem] = []
        for event in events:
            message = index.message(event.message_id)
            if message is None:  # written after the version this read caught up to: the next read has it
                continue
            items.append(TimelineItem(
                MemberKind.EVENT, event.ts_start, message.ts, event.precision, event.summary, message.source_id,
            ))
        for relation in relations:
            message = index.message(relation.message_id)
            items.append(
                TimelineItem(
                    MemberKind.RELATION, relation.valid_from, relation.observed_at, relation.precision, relation.fact,
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

    def counts(self, *, group_id: str | None = None) -> StoreCounts:
        """How many conversations, messages, entities, events and facts the tenant holds."""
        return self.store.counts(self._group(group_id))

    def groups(self) -> list[str]:
        return self.store.groups()

    def rebuild_index(self, *, group_id: str | None = None) -> IndexSize:
        """Build the tenant's search index anew from the store's records (never from its snapshot),
        and keep it as the tenant's snapshot if the tenant is large enough.

        Proves every stored message and entity reads back and indexes; the size says what it holds.
        Run after consolidation (the `consolidate` flow does), query processes load the new index
        instead of each building it. Embeddings of texts this Memory's index of the tenant already
        holds are reused, not computed again.
        """
        group = self._group(group_id)
        with self._tenant_lock(group):
            index = self._built(group, self.index_cache.get(group))
            self.index_cache.put(group, index)
        return IndexSize(messages=len(index.messages), entities=len(index.entities))

    def forget(self, *, group_id: str | None = None) -> None:
        """Delete everything stored for a tenant."""
        group = self._group(group_id)
        self.store.forget(group)  # a reset of the tenant's version: indexes of it rebuild

    # -- consolidation: scenes and personas ----------------------------------------------------

    def consolidate(self, *, group_id: str | None = None, full: bool = False) -> ConsolidationReport:
        """Find the tenant's scenes and personas, align them, and store them (graphmem.consolidation.pipeline).

        Incremental: items (messages, events, facts) in no stored scene join the scene they are
        most strongly linked to, or are re-clustered with the scenes around them; `full`
        re-clusters everything. Personas are rebuilt where what they rest on changed (all of them
        when `full`). The report says what changed, with the seconds each step took and the
        process's peak resident memory during it.
        """
        group = self._group(group_id)
        store = self.store
        steps = StepMeasures()
        with steps.measure("read"):
            previous = store.scenes(group)
            personas = store.personas(group) if not full else []
        # The records go straight into consolidate, which lets go of them once it has the features.
        result = consolidate(group, self._tenant_records(group, steps), previous, personas=personas, full=full,
                             steps=steps)
        with steps.measure("write"):
            store.write_personas(group, result.personas)
            store.write_scenes(group, result.scenes)  # a new version, not an append: indexes rebuild
        return_freed_memory()  # consolidation's working set (hundreds of MB for a large tenant) is garbage now
        # the same report, built anew with the write step measured too
        return replace(result.report, timings=dict(steps.timings), peak_rss_mb=dict(steps.peak_rss_mb))

    def _tenant_records(self, group: str, steps: StepMeasures) -> TenantRecords:
        """What consolidation reads of a tenant (measured as part of the "read" step)."""
        store = self.store
        with steps.measure("read"):
            return TenantRecords(store.messages(group), store.mentions(group), store.events(group),
                                 store.facts(group), store.entities(group))

    def scenes(self, *, group_id: str | None = None) -> list[Scene]:
        """The tenant's scenes in time order, as the last consolidation left them: each with its
        members (message, event and relation ids with weights), participants and personas."""
        return self.store.scenes(self._group(group_id))

    def persona(self, name: str, *, group_id: str | None = None) -> Persona | None:
        """The persona of the participant called `name` (or with `name` as an alias), once consolidated."""
        group = self._group(group_id)
        entity = self.entity(name, group_id=group)
        if entity is None:
            return None
        return next((p for p in self.store.personas(group) if p.entity_id == entity.id), None)

    def _group(self, group_id: str | None) -> str:
        """The tenant a call works on: the given id (validated), or the configured one when None."""
        return self.config.group_id if group_id is None else check_group_id(group_id)

    @contextmanager
    def _reading(self, group_id: str | None) -> Iterator[GroupIndex]:
        """The tenant's index, caught up with the store's last commit, held for one read.

        Reads and catch-ups of one tenant take turns within this Memory (indexes grow in place);
        other tenants are not held up.
        """
        group = self._group(group_id)
        with self._tenant_lock(group):
            yield self._caught_up(group)

    def _tenant_lock(self, group: str) -> threading.RLock:
        with self._locks_lock:
            return self._tenant_locks.setdefault(group, threading.RLock())

    def _caught_up(self, group: str) -> GroupIndex:
        current = self.store.version(group)
        index = outdated = self.index_cache.get(group)
        if index is not None and current.version != index.version:
            index = self._extended(index, current, group)
        if index is None:
            index = self._restored(group, current) or self._built(group, outdated)
        self.index_cache.put(group, index)
        return index

    def _built(self, group: str, outdated: GroupIndex | None = None) -> GroupIndex:
        """The tenant's index built from its records, and kept as its snapshot if it is large.
        Embeddings already computed are reused: those of `outdated` (the index it replaces) or,
        without one, of the tenant's last snapshot, however old."""
        index = GroupIndex.build(self.store, group, self._weights, embeddings=self.config.embeddings,
                                 embedded=self._earlier_embeddings(group, outdated))
        self._keep_snapshot(index)
        _return_freed_memory(index)
        return index

    def _earlier_embeddings(
        self, group: str, outdated: GroupIndex | None
    ) -> tuple[Sequence[MessageNode], DenseIndex] | None:
        """Messages of the tenant embedded before, with their vectors: from `outdated`, else from the
        tenant's snapshot (any version); None without embeddings or when there are none."""
        if self.config.embeddings == "none":
            return None
        if outdated is not None and outdated.dense is not None:
            return outdated.messages, outdated.dense
        if not self.config.index_snapshots:
            return None
        snapshot = self.store.index_snapshot(group, self._snapshot_key, 0)
        if snapshot is None:
            return None
        try:
            return embeddings_from_bytes(snapshot.data, self.config.embeddings)
        except SnapshotError as exc:
            log.warning("the index snapshot of tenant %s is unreadable; embedding every message: %s", group, exc)
            return None

    def _restored(self, group: str, current: TenantVersion) -> GroupIndex | None:
        """The tenant's index loaded from its stored snapshot and caught up with the store; None
        when no snapshot stands in for a build (none kept, built otherwise, or overtaken by a
        write that was not an append). A snapshot much older than the tenant is replaced."""
        if not self.config.index_snapshots:
            return None
        snapshot = self.store.index_snapshot(group, self._snapshot_key, current.reset)
        if snapshot is None:
            return None
        try:
            index = index_from_bytes(snapshot.data, self._weights, self.config.embeddings)
        except SnapshotError as exc:
            log.warning("the index snapshot of tenant %s is unreadable; building the index instead: %s", group, exc)
            return None
        if index.group_id != group:
            return None
        held = len(index.messages)
        if index.version < current.version:
            index = self._extended(index, current, group)
        if index is not None and len(index.messages) - held > SNAPSHOT_REFRESH_SHARE * held:
            self._keep_snapshot(index)
        return index

    def _keep_snapshot(self, index: GroupIndex) -> None:
        """Store `index` as its tenant's snapshot if snapshots are on and the tenant is large enough.
        A store that refuses (read-only, unavailable) costs later processes only the build."""
        config = self.config
        if not config.index_snapshots or len(index.messages) < config.snapshot_min_messages:
            return
        snapshot = IndexSnapshot(self._snapshot_key, index.version, index_to_bytes(index))
        try:
            self.store.save_index_snapshot(index.group_id, snapshot)
        except StoreError as exc:
            log.warning("could not keep the index snapshot of tenant %s: %s", index.group_id, exc)

    def _extended(self, index: GroupIndex, current: TenantVersion, group: str) -> GroupIndex | None:
        """`index` brought in place to the tenant's version if all written since was an append;
        None if it must be rebuilt (rewritten, deleted or consolidated since, or forgotten and
        written anew). The delta's own version is checked too: a write that was not an append
        may commit between the version read and the delta read."""
        if current.version < index.version or current.needs_rebuild(index.version):
            return None
        delta = self.store.changes(group, index.version)
        if delta.version.version < index.version or delta.version.needs_rebuild(index.version):
            return None
        index.apply(delta)
        return index

    def index(self, *, group_id: str | None = None) -> GroupIndex:
        """The tenant's search index, caught up with the store: what `search` reads, for tools that
        inspect it (its messages, entities, graph projection and size)."""
        with self._reading(group_id) as index:
            return index


# An index at least this large (by its estimate) leaves its build's garbage to hand back.
LARGE_INDEX_BYTES = 16 * 2**20


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None where the C library has none (musl, macOS, Windows)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError, TypeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def return_freed_memory() -> None:
    """Hand the free pages of the C heap back to the OS (glibc's `malloc_trim`; elsewhere nothing).

    Python frees what a large index build or a consolidation allocated for the moment,
    but glibc keeps the pages for reuse: a long-lived process would hold its peak for good. At a
    100k-message tenant this returns 80 MB after a build (1-2 ms)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _return_freed_memory(index: GroupIndex) -> None:
    """`return_freed_memory` after building `index`, if it is large enough to matter. (Loading a
    snapshot leaves little behind: the same RSS with and without at 100k.)"""
    if index.estimated_bytes() >= LARGE_INDEX_BYTES:
        return_freed_memory()


class IndexCache:
    """Tenants' query indexes, least recently used dropped beyond `max_tenants` or `max_bytes`
    (by `GroupIndex.estimated_bytes`). The index just used always stays."""

    def __init__(self, max_tenants: int, max_bytes: int):
        self.max_tenants = max_tenants
        self.max_bytes = max_bytes
        self._indexes: OrderedDict[str, tuple[GroupIndex, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, group: str) -> GroupIndex | None:
        with self._lock:
            held = self._indexes.get(group)
            if held is None:
                return None
            self._indexes.move_to_end(group)
            return held[0]

    def put(self, group: str, index: GroupIndex) -> None:
        with self._lock:
            self._indexes[group] = (index, index.estimated_bytes())
            self._indexes.move_to_end(group)
            while len(self._indexes) > 1 and (len(self._indexes) > self.max_tenants or self.bytes > self.max_bytes):
                self._indexes.popitem(last=False)

    def pop(self, group: str) -> None:
        with self._lock:
            self._indexes.pop(group, None)

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self._indexes.values())

    def __contains__(self, group: str) -> bool:
        return group in self._indexes

    def __len__(self) -> int:
        return len(self._indexes)


def conversation_group(parent: str, conversation_id: str) -> str:
    """The tenant of one conversation under `group_per_conversation`: `<parent>/<conversation id>`.

    `GroupIdError` when the result is no valid group id (characters, length).
    """
    return check_group_id(f"{parent}/{conversation_id}")


def load_config(**overrides) -> Config:
    """`Config(**overrides)`, with an invalid value (given, or from the file or environment)
    reported as one `ConfigError` line per field instead of pydantic's multi-line report."""
    try:
        return Config(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'config'}: {_reason(error)}" for error in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None


def _reason(error: dict) -> str:
    cause = (error.get("ctx") or {}).get("error")
    return str(cause) if isinstance(cause, Exception) else error["msg"]


def open_store(config: Config) -> Store:
    """The store the configuration names."""
    if config.store == "neo4j":
        from graphmem.store.neo4j.store import Neo4jStore

        return Neo4jStore(config.neo4j_uri, config.neo4j_user, config.neo4j_password, config.neo4j_database)
    from graphmem.store.sqlite.store import SQLiteStore

    return SQLiteStore(config.path)
