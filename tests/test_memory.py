"""The Memory client end to end on the embedded store: ingest, search, timeline, tenants."""

from __future__ import annotations

import json
import shutil

import pytest

from graphmem import Config, InputError, Memory
from tests.conftest import SAMPLE


@pytest.fixture
def memory(tmp_path):
    with Memory(Config(path=tmp_path / "memory.db", group_id="g1")) as opened:
        yield opened


def test_ingest_search_and_reingest(memory):
    first = memory.ingest(SAMPLE)
    assert (first.messages_read, first.written.messages, first.messages_skipped) == (12, 12, 0)
    assert first.written.entities > 5 and first.written.events > 3 and first.rejected == []
    counts = memory.stats()
    hits = memory.search("When did Ana move to Porto?", k=3)
    assert hits[0].source_id == "s2-6" and hits[0].speaker == "Ana"
    assert hits[0].score >= hits[1].score >= hits[2].score
    again = memory.ingest(SAMPLE)
    assert (again.written.messages, again.written.entities, again.written.events, again.messages_skipped) == (0, 0, 0, 12)
    assert memory.stats() == counts


def test_changed_message_is_reextracted_alone(memory, tmp_path):
    memory.ingest(SAMPLE)
    data = json.loads(SAMPLE.read_text())
    data["messages"][3]["text"] = "I adopted a cat named Miso yesterday."
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(data))
    report = memory.ingest(changed)
    assert report.messages_skipped == 11 and report.written.messages == 0
    assert memory.search("Miso the cat", k=1)[0].source_id == "s1-4"
    assert memory.entity("Miso") is not None


def test_malformed_file_leaves_the_store_unchanged(memory, tmp_path):
    memory.ingest(SAMPLE)
    before = (memory.stats(), [m.text for m in memory.store.messages("g1")])
    broken = tmp_path / "broken.json"
    broken.write_text('{"conversation_id": "sample-ana-ben", "messages": [{"id": "s1-1", "speaker": "X"')
    with pytest.raises(InputError):
        memory.ingest([SAMPLE, broken])
    assert (memory.stats(), [m.text for m in memory.store.messages("g1")]) == before


def test_rejected_records_are_reported_and_valid_ones_kept(memory, tmp_path):
    data = json.loads(SAMPLE.read_text())
    data["messages"][2]["timestamp"] = "whenever"
    del data["messages"][5]["speaker"]
    path = tmp_path / "partly.json"
    path.write_text(json.dumps(data))
    report = memory.ingest(path)
    assert report.written.messages == 10
    assert sorted(p.field for p in report.rejected) == ["speaker", "timestamp"]


def test_timeline_orders_events_in_world_time(memory):
    memory.ingest(SAMPLE)
    items = memory.timeline("Ana")
    dated = [i.when for i in items if i.when is not None]
    assert dated == sorted(dated) and len(dated) >= 3
    assert any("Kyoto" in i.text for i in items)
    assert memory.timeline("Nobody Atall") == []
    from datetime import date

    later = memory.timeline("Ana", after=date(2024, 4, 1))
    assert later and all(i.day > date(2024, 4, 1) for i in later)
    assert {i.message_id for i in later} <= {"s2-2", "s2-4", "s2-6"}
    earlier = memory.timeline("Ana", before=date(2024, 3, 15))
    assert earlier and all(i.day < date(2024, 3, 15) for i in earlier)


def test_tenants_do_not_see_each_other(memory):
    memory.ingest(SAMPLE, group_id="tenant-a")
    assert memory.search("Porto", group_id="tenant-b") == []
    assert memory.search("Porto", group_id="tenant-a")
    memory.forget(group_id="tenant-a")
    assert memory.search("Porto", group_id="tenant-a") == []


def test_add_messages_from_an_application(memory):
    report = memory.add_messages(
        "chat-1",
        [{"speaker": "Ann", "text": "I started learning Portuguese last week.", "timestamp": "2024-01-10T09:00:00"},
         {"speaker": "Bob", "text": "", "timestamp": "2024-01-10T09:01:00"}],
    )
    assert report.written.messages == 1 and [p.field for p in report.rejected] == ["text"]
    assert memory.search("Portuguese")[0].speaker == "Ann"


def test_memory_file_is_durable(tmp_path):
    path = tmp_path / "m.db"
    with Memory(Config(path=path)) as memory:
        memory.ingest(SAMPLE)
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    with Memory(Config(path=copy)) as reopened:
        assert reopened.stats().messages == 12


def test_contradicted_facts_are_closed_and_hidden_by_default(tmp_path, store):
    from datetime import date, datetime

    talk = {"conversation_id": "moves", "participants": ["Ana", "Ben"], "messages": [
        {"id": "a", "speaker": "Ana", "text": "I live in Lisbon with my cat.", "timestamp": "2023-01-10T10:00:00"},
        {"id": "b", "speaker": "Ben", "text": "Lisbon is lovely.", "timestamp": "2023-01-10T10:01:00"},
        {"id": "c", "speaker": "Ana", "text": "Big news: I moved to Porto last month!", "timestamp": "2023-06-05T10:00:00"},
    ]}
    path = tmp_path / "moves.json"
    path.write_text(json.dumps(talk))
    with Memory(Config(path=tmp_path / "unused.db"), store=store) as memory:
        memory.ingest(path)
        current = [(f.predicate, f.object) for f in memory.facts("Ana") if f.predicate == "live in"]
        assert current == [("live in", "Porto")]
        history = {f.object: f for f in memory.facts("Ana", include_superseded=True) if f.predicate == "live in"}
        assert history["Lisbon"].valid_to == date(2023, 5, 1) and history["Lisbon"].superseded_by == history["Porto"].id
        assert [f.object for f in memory.facts("Ana", as_of=date(2023, 3, 1)) if f.predicate == "live in"] == ["Lisbon"]
        assert [f.object for f in memory.facts("Ana", known_at=datetime(2023, 2, 1)) if f.predicate == "live in"] == ["Lisbon"]
        hits = memory.search("Where does Ana live?", k=3)
        assert {h.source_id for h in hits} >= {"a", "c"}
        shown = [f for h in hits for f in h.facts]
        assert all(f.current for f in shown) and "Lisbon" not in {f.object for f in shown if f.predicate == "live in"}
        earlier = memory.search("Where does Ana live?", k=3, known_at=datetime(2023, 2, 1))
        assert {h.source_id for h in earlier} <= {"a", "b"}
        assert "Lisbon" in {f.object for h in earlier for f in h.facts}


def test_messages_and_a_rebuilt_index_are_read_through_memory(memory):
    memory.ingest(SAMPLE)
    messages = memory.messages()
    assert [m.source_id for m in messages][:3] == ["s1-1", "s1-2", "s1-3"] and len(messages) == 12
    assert memory.messages(conversation_id=messages[0].conversation_id) == messages
    assert memory.messages(conversation_id="no such conversation") == []
    assert memory.messages(group_id="g2") == []
    size = memory.rebuild_index()
    assert (size.messages, size.entities) == (12, len(memory.entities()))
    assert memory.search("When did Ana move to Porto?", k=1)[0].source_id == "s2-6"
