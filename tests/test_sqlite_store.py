"""The SQLite store raises only `StoreError`, transient exactly when another writer held the file."""

from __future__ import annotations

import sqlite3

import pytest

from graphmem.errors import StoreError
from graphmem.store.sqlite.store import SQLiteStore


def test_a_file_locked_by_another_writer_is_a_transient_store_error(tmp_path):
    path = tmp_path / "memory.db"
    store = SQLiteStore(path, busy_timeout=0.1)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        with pytest.raises(StoreError, match="locked") as raised:
            store.forget("default")
        assert raised.value.transient is True
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.forget("default")  # the lock released, the same call succeeds
    store.close()


def test_a_broken_file_is_a_permanent_store_error(tmp_path):
    path = tmp_path / "memory.db"
    store = SQLiteStore(path)
    with sqlite3.connect(path) as other:
        other.execute("DROP TABLE entities")
    with pytest.raises(StoreError, match="no such table: entities") as raised:
        store.entities("default")
    assert raised.value.transient is False
    store.close()
