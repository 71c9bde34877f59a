"""How graphmem opens a SQLite file: the memory itself, the LLM extraction cache, the flows' ledger."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_sqlite(path: str | Path, schema: str, *, timeout: float = 30) -> sqlite3.Connection:
    """A connection to the SQLite file at `path` (created with its folder if missing, or `:memory:`)
    holding the tables of `schema`.

    Autocommit (`isolation_level=None`: callers open transactions themselves), usable from any
    thread (callers serialise access), write-ahead log so readers never block the writer, durable at
    each commit, and `timeout` seconds to wait for another writer's lock before failing.
    """
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=timeout)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=OFF")
    db.executescript(schema)
    return db
