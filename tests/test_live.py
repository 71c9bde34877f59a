"""A long-lived Memory stays current while other processes write, and its index cache stays bounded.

The writer is a real second process running graphmem (the CLI, or a short script using Memory);
each read comes after that process exited, i.e. after its write committed, and must reflect it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from graphmem import Config, Memory
from tests.conftest import SAMPLE, STORE_KINDS, make_store

CELLO = {"speaker": "Ana", "text": "Big news: I started playing the cello yesterday!", "timestamp": "2024-05-20T10:00:00"}


def _in_another_process(env: dict[str, str], *args: str) -> None:
    """Run graphmem in a child process and wait for it to exit (its write has committed then)."""
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr


def _cli(env: dict[str, str], *args: str) -> None:
    _in_another_process(env, "-m", "graphmem", *args)


def _script(env: dict[str, str], code: str) -> None:
    """`code` run with `memory`, a Memory configured from the environment."""
    _in_another_process(env, "-c", f"from graphmem import Memory\nwith Memory() as memory:\n    {code}")


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_a_long_lived_memory_sees_every_commit_of_another_process(kind, request, tmp_path):
    path = tmp_path / "memory.db"
    env = {**os.environ, "GRAPHMEM_STORE": kind, "GRAPHMEM_PATH": str(path), "GRAPHMEM_GROUP_ID": "live"}
    data = json.loads(SAMPLE.read_text())
    first = tmp_path / "first.json"
    first.write_text(json.dumps(dict(data, messages=data["messages"][:6])))
    store = make_store(kind, request, tmp_path)
    with Memory(Config(path=path, group_id="live"), store=store) as memory:
        assert memory.search("Who adopted a beagle?") == [] and memory.timeline("Ana") == []

        _cli(env, "ingest", str(first))
        assert "s1-4" in {h.source_id for h in memory.search("Who adopted a beagle?", k=3)}
        assert memory.counts().messages == 6 and memory.entity("Maya") is not None
        index = memory.index()

        _cli(env, "ingest", str(SAMPLE))  # the longer export of the same chat: an append
        assert memory.search("Who did Ana visit Kyoto with?", k=1)[0].source_id == "s2-2"
        assert any("Kyoto" in item.text for item in memory.timeline("Ana"))
        assert [f.object for f in memory.facts("Ana") if f.predicate == "live in"] == ["Porto"]
        assert memory.index() is index and len(index.messages) == 12  # extended in place, not rebuilt

        _script(env, f"memory.add_messages('sample-ana-ben', [{CELLO!r}])")
        (hit,) = memory.search("When did Ana start the cello?", k=1)
        assert (hit.source_id, hit.text) == ("sample-ana-ben:13", CELLO["text"])
        assert memory.index() is index

        _script(env, "memory.consolidate()")
        assert memory.scenes() and memory.persona("Ana") is not None
        assert any(key.startswith("scene:") for key in memory.index().projection.keys)  # rebuilt with scenes
        assert memory.search("Who did Ana visit Kyoto with?", k=1)[0].source_id == "s2-2"

        changed = tmp_path / "changed.json"
        changed.write_text(json.dumps(dict(data, messages=[
            dict(m, text="I visited Osaka with Maya in April.") if m["id"] == "s2-2" else m for m in data["messages"]
        ])))
        _cli(env, "ingest", str(changed))  # a rewritten turn: not an append
        assert memory.search("Who did Ana visit Osaka with?", k=1)[0].source_id == "s2-2"
        assert not any("Kyoto" in item.text for item in memory.timeline("Ana") if item.message_id == "s2-2")

        _script(env, "memory.forget()")
        assert memory.search("Who did Ana visit Kyoto with?") == [] and memory.timeline("Ana") == []
        assert memory.entity("Ana") is None and memory.facts() == [] and memory.counts().messages == 0

        _cli(env, "ingest", str(first))  # written anew after the forget
        assert "s1-4" in {h.source_id for h in memory.search("Who adopted a beagle?", k=3)}
        assert memory.counts().messages == 6
        assert "sample-ana-ben:13" not in {h.source_id for h in memory.search("cello", k=10)}


APPENDS = 30
_APPENDING_WRITER = f"""
from graphmem import Memory
with Memory() as memory:
    for i in range({APPENDS}):
        memory.add_messages("chat", [{{"speaker": "Ann", "text": f"note w{{i}}x here",
                                       "timestamp": f"2024-01-02T09:{{i:02d}}:00"}}])
        print(i, flush=True)  # printed once the append has committed
"""


def _found(memory: Memory, i: int) -> bool:
    """Whether a search for append `i`'s one distinctive word returns that turn."""
    return f"note w{i}x here" in {hit.text for hit in memory.search(f"w{i}x", k=3)}


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_reads_racing_another_processs_appends_reflect_every_commit_seen_before_them(kind, request, tmp_path):
    """Another process appends turns back to back, one transaction each, while this one reads
    without pause: every read reflects the last append known to have committed before the read
    began, and once the writer is done, every append is in the long-lived index (none was
    skipped by a catch-up that raced a commit)."""
    env = {**os.environ, "GRAPHMEM_STORE": kind, "GRAPHMEM_PATH": str(tmp_path / "memory.db"),
           "GRAPHMEM_GROUP_ID": "racing"}
    store = make_store(kind, request, tmp_path)
    with Memory(Config(path=tmp_path / "memory.db", group_id="racing"), store=store) as memory:
        memory.add_messages("chat", [{"speaker": "Ann", "text": "hello there", "timestamp": "2024-01-01T10:00:00"}])
        assert memory.search("hello", k=1)[0].text == "hello there"  # the index exists before the appends
        committed = [-1]
        first_commit = threading.Event()
        errors = tmp_path / "writer.err"  # a file, not a pipe: nothing the writer says can block it
        with errors.open("w") as error_file:
            writer = subprocess.Popen([sys.executable, "-c", _APPENDING_WRITER], env=env, stdout=subprocess.PIPE,
                                      stderr=error_file, text=True)

        def follow() -> None:
            for line in writer.stdout:
                committed[0] = int(line)
                first_commit.set()

        follower = threading.Thread(target=follow)
        follower.start()
        assert first_commit.wait(timeout=600), errors.read_text()
        stale, reads = [], 0
        while follower.is_alive():
            last = committed[0]
            reads += 1
            if not _found(memory, last):
                stale.append(last)
        follower.join()
        assert writer.wait(timeout=600) == 0, errors.read_text()
        assert committed[0] == APPENDS - 1 and reads > 0
        assert stale == [], f"reads missed appends committed before they began: {stale}"
        assert [i for i in range(APPENDS) if not _found(memory, i)] == []


def test_the_index_cache_stays_within_its_budget_and_evicted_tenants_still_answer(tmp_path):
    tenants = [f"t{i}" for i in range(5)]
    with Memory(Config(path=tmp_path / "memory.db", index_cache_tenants=2)) as memory:
        for tenant in tenants:
            memory.ingest(SAMPLE, group_id=tenant)
        for _round in range(2):
            for tenant in tenants:
                assert memory.search("Who did Ana visit Kyoto with?", k=1, group_id=tenant)[0].source_id == "s2-2"
                assert len(memory.index_cache) <= 2 and tenant in memory.index_cache
        one_tenant = memory.index(group_id="t0").estimated_bytes()
    budget_mb = 2.5 * one_tenant / 2**20  # room for two tenants' indexes, not three
    with Memory(Config(path=tmp_path / "memory.db", index_cache_mb=budget_mb)) as memory:
        for tenant in tenants * 2:
            assert memory.timeline("Ana", group_id=tenant) and memory.entity("Maya", group_id=tenant) is not None
            assert 1 <= len(memory.index_cache) <= 2 and memory.index_cache.bytes <= budget_mb * 2**20
        assert len(memory.index_cache) == 2


def test_a_rewrite_committed_between_the_version_read_and_the_delta_read_rebuilds_the_index(tmp_path):
    """The catch-up reads the tenant's version, then the delta: a write that is not an append
    can commit in between, and the index must then be rebuilt, not extended past it."""
    from graphmem.store.sqlite.store import SQLiteStore

    path = tmp_path / "memory.db"
    data = json.loads(SAMPLE.read_text())
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(dict(data, messages=[
        dict(m, text="I visited Osaka with Maya in April.") if m["id"] == "s2-2" else m for m in data["messages"]
    ])))

    class RewrittenAfterVersionRead(SQLiteStore):
        """A real SQLite store on which, once, another Memory rewrites a turn of the file right
        after a version read (as another process's commit landing at that moment)."""

        armed = False

        def version(self, group_id):
            current = super().version(group_id)
            if self.armed:
                self.armed = False
                with Memory(Config(path=path, group_id="live")) as other:
                    other.ingest(changed)
            return current

    store = RewrittenAfterVersionRead(path)
    with Memory(Config(path=path, group_id="live"), store=store) as memory:
        memory.ingest(SAMPLE)
        memory.add_messages("later", [CELLO])
        assert memory.search("Who did Ana visit Kyoto with?", k=1)[0].source_id == "s2-2"
        with Memory(Config(path=path, group_id="live")) as other:
            other.add_messages("later", [dict(CELLO, text="And a viola next month.")])  # an append: a delta to read
        store.armed = True
        (hit,) = memory.search("Who did Ana visit Osaka with?", k=1)
        assert (hit.source_id, hit.text) == ("s2-2", "I visited Osaka with Maya in April.")
        assert "And a viola next month." in {h.text for h in memory.search("viola", k=3)}
