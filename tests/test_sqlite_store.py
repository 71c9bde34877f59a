"""The SQLite store raises only `StoreError`, transient exactly when another writer held the file."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from graphmem.errors import StoreError
from graphmem.store.base import IndexSnapshot
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


def test_a_snapshot_save_gives_up_on_a_held_lock_long_before_the_busy_timeout(tmp_path):
    """The query that built an index keeps its snapshot only if the file is free soon: behind another
    writer it gives up after SNAPSHOT_LOCK_WAIT_MS (transient) instead of the store's 10-minute timeout
    here, and the store's own timeout is back for every other statement."""
    path = tmp_path / "memory.db"
    store = SQLiteStore(path, busy_timeout=600)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock
    failures: list[StoreError] = []

    def save() -> None:
        try:
            store.save_index_snapshot("default", IndexSnapshot("key", 0, b"data"))
        except StoreError as error:
            failures.append(error)

    saver = threading.Thread(target=save)
    try:
        saver.start()
        saver.join(timeout=120)  # only a bound for the failure: it gives up after about a second
        assert not saver.is_alive(), "the snapshot save waited out the store's busy timeout"
    finally:
        other.execute("ROLLBACK")
        other.close()
        saver.join()
    assert len(failures) == 1 and failures[0].transient is True
    assert [tuple(row) for row in store._query("PRAGMA busy_timeout")] == [(600_000,)]  # restored
    store.close()
