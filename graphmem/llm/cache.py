"""A small SQLite file of LLM extractions, keyed by what was asked: re-ingesting never asks again.

The key hashes the prompt version, the model, the conversation's participants and the turn's
speaker, time and text (`extraction_cache_key`), not its id: the same turn in another file or
tenant is a hit, and a changed turn, model or prompt is a miss. Only replies that validated are
stored; a turn that fell back to spaCy is asked again next time.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from graphmem.models import Conversation, Message, MessageExtraction
from graphmem.store.sqlite.connection import open_sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS extraction (
    key TEXT PRIMARY KEY,
    extraction TEXT NOT NULL   -- MessageExtraction as JSON
)
"""


def extraction_cache_key(prompt_version: str, model: str, conversation: Conversation, message: Message) -> str:
    """The cache key of one turn's extraction (see the module docstring for what it covers)."""
    parts = [
        prompt_version, model, list(conversation.participants),
        message.speaker, message.ts.isoformat(), message.text, message.caption,
    ]  # as JSON: no text, whatever characters it holds, can pass for another split of the parts
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


class ExtractionCache:
    """Extractions by cache key in one SQLite file; usable from any thread."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._db = open_sqlite(path, _SCHEMA)

    def get_many(self, keys: Sequence[str]) -> dict[str, MessageExtraction]:
        """The cached extractions among `keys` (their `message_id` is whatever turn stored them)."""
        found: dict[str, MessageExtraction] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, extraction FROM extraction WHERE key IN ({marks})", chunk)
                found.update((key, MessageExtraction.model_validate_json(value)) for key, value in rows)
        return found

    def put_many(self, entries: Iterable[tuple[str, MessageExtraction]]) -> None:
        rows = [(key, extraction.model_dump_json()) for key, extraction in entries]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO extraction (key, extraction) VALUES (?, ?)", rows)

    def close(self) -> None:
        with self._lock:
            self._db.close()
