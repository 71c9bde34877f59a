"""`LLMExtractor`: the `Extractor` that asks an LLM, a batch of turns per call, a few calls at a time.

For each conversation: turns already in the cache are not sent; the rest go in batches of
consecutive turns (`batch_size`) to a small thread pool (`concurrency` calls in flight). A turn
whose reply item does not validate (invalid JSON, a field off the schema, missing from the reply)
is extracted by the fallback extractor (spaCy) instead, with a warning in the log; validated
turns are cached. Results come out one per turn, in order, as the `Extractor` protocol requires.
An endpoint that keeps failing raises `LLMError`: nothing is silently extracted without the LLM.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from graphmem.config import Config
from graphmem.extraction import Extractor
from graphmem.llm.cache import ExtractionCache, extraction_cache_key
from graphmem.llm.client import LLMClient
from graphmem.llm.extraction_prompt import (
    PROMPT_VERSION,
    SCHEMA_NAME,
    ParsedBatch,
    extraction_prompt,
    extraction_schema,
    parse_extraction_reply,
    turn_ids,
)
from graphmem.llm.usage import LLMUsage
from graphmem.models import Conversation, Message, MessageExtraction

log = logging.getLogger(__name__)

CACHE_FILE_NAME = "llm-cache.db"
# A cap, not a target: a full turn (8 entities, 4 events, 4 relations) is ~650 tokens of JSON.
DEFAULT_MAX_TOKENS_PER_TURN = 800


def extraction_cache_path(config: Config) -> Path:
    """Where the extraction cache lives: `llm_cache_path`, else `llm-cache.db` next to the memory file."""
    return config.llm_cache_path or config.path.parent / CACHE_FILE_NAME


@dataclass(frozen=True, slots=True)
class _BatchResult:
    batch: Sequence[Message]
    parsed: ParsedBatch
    usage: LLMUsage


class LLMExtractor:
    """Extraction through an OpenAI-compatible LLM, producing the same `MessageExtraction`s as spaCy."""

    def __init__(
        self,
        client: LLMClient,
        *,
        fallback: Extractor,
        cache: ExtractionCache | None = None,
        batch_size: int = 12,
        concurrency: int = 4,
        max_tokens_per_turn: int = DEFAULT_MAX_TOKENS_PER_TURN,
    ):
        self.client = client
        self.fallback = fallback
        self.cache = cache
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.max_tokens_per_turn = max_tokens_per_turn
        self._usage = LLMUsage()
        self._usage_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Config, *, client: LLMClient | None = None) -> LLMExtractor:
        """The configured LLM extractor (spaCy as its fallback); `ConfigError` when no endpoint is configured."""
        from graphmem.extraction.spacy_pipeline import SpacyExtractor

        return cls(
            client or LLMClient.from_config(config),
            fallback=SpacyExtractor(config.spacy_model, n_process=config.extract_processes),
            cache=ExtractionCache(extraction_cache_path(config)),
            batch_size=config.llm_batch_size,
            concurrency=config.llm_concurrency,
        )

    def close(self) -> None:
        """Close the cache file (the client belongs to whoever made it)."""
        if self.cache is not None:
            self.cache.close()

    @property
    def usage(self) -> LLMUsage:
        """Everything this extractor has spent so far (subtract an earlier reading for one ingest's share)."""
        return self._usage

    def extract(self, conversation: Conversation, messages: Sequence[Message]) -> Iterator[MessageExtraction]:
        keys = {m.id: extraction_cache_key(PROMPT_VERSION, self.client.model, conversation, m) for m in messages}
        cached = self.cache.get_many(list(keys.values())) if self.cache else {}
        todo = [m for m in messages if keys[m.id] not in cached]
        self._count(LLMUsage(cached_messages=len(messages) - len(todo)))
        batches = [todo[start:start + self.batch_size] for start in range(0, len(todo), self.batch_size)]
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="graphmem-llm")
        try:
            pending: dict[str, Future[_BatchResult]] = {}
            for batch in batches:
                future = pool.submit(self._ask, conversation, batch)
                pending.update((m.id, future) for m in batch)
            done: dict[str, MessageExtraction] = {}
            for message in messages:
                key = keys[message.id]
                if key in cached:
                    yield cached[key].model_copy(update={"message_id": message.id})
                    continue
                if message.id not in done:
                    done.update(self._settle(conversation, pending[message.id].result(), keys))
                yield done.pop(message.id)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _ask(self, conversation: Conversation, batch: Sequence[Message]) -> _BatchResult:
        """One call for one batch (runs in the pool)."""
        reply = self.client.complete_json(
            extraction_prompt(conversation, batch),
            schema_name=SCHEMA_NAME,
            schema=extraction_schema(turn_ids(batch)),
            max_tokens=self.max_tokens_per_turn * len(batch),
        )
        parsed = parse_extraction_reply(reply.text, conversation, batch, truncated=reply.truncated)
        return _BatchResult(batch, parsed, reply.usage)

    def _settle(
        self, conversation: Conversation, result: _BatchResult, keys: dict[str, str]
    ) -> dict[str, MessageExtraction]:
        """A batch's extractions by message id: cache what validated, fall back for the rest (in this thread)."""
        parsed = result.parsed
        if self.cache and parsed.extractions:
            self.cache.put_many((keys[message_id], e) for message_id, e in parsed.extractions.items())
        if parsed.ignored:
            log.warning("LLM reply for conversation %s: ignored %s", conversation.id, "; ".join(parsed.ignored))
        extractions = dict(parsed.extractions)
        failed = [m for m in result.batch if m.id in parsed.failures]
        if failed:
            log.warning(
                "LLM extraction fell back to spaCy for %d turn(s) of conversation %s: %s",
                len(failed), conversation.id, "; ".join(f"{m.id}: {parsed.failures[m.id]}" for m in failed),
            )
            extractions.update((e.message_id, e) for e in self.fallback.extract(conversation, failed))
        self._count(result.usage + LLMUsage(fallback_messages=len(failed)))
        return extractions

    def _count(self, usage: LLMUsage) -> None:
        with self._usage_lock:
            self._usage = self._usage + usage
