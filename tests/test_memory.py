"""The Memory client end to end on the embedded store: ingest, search, timeline, tenants."""

from __future__ import annotations

import json
import shutil

import pytest

from graphmem import Config, ConfigError, InputError, Memory
from graphmem.memory import load_config
from graphmem.errors import GroupIdError
from graphmem.ingest.loaders import load_file
from tests.conftest import SAMPLE


@pytest.fixture
def memory(tmp_path):
    with Memory(Config(path=tmp_path / "memory.db", group_id="g1")) as opened:
        yield opened


def test_ingest_search_and_reingest(memory):
    first = memory.ingest(SAMPLE)
    assert (first.messages_read, first.written.messages, first.messages_skipped) == (12, 12, 0)
    assert first.written.entities > 5 and first.written.events > 3 and first.rejected == ()
    counts = memory.counts()
    hits = memory.search("When did Ana move to Porto?", k=3)
    assert hits[0].source_id == "s2-6" and hits[0].speaker == "Ana"
    assert hits[0].score >= hits[1].score >= hits[2].score
    again = memory.ingest(SAMPLE)
    assert (again.written.messages, again.written.entities, again.written.events, again.messages_skipped) == (0, 0, 0, 12)
    assert memory.counts() == counts


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
    before = (memory.counts(), [m.text for m in memory.store.messages("g1")])
    broken = tmp_path / "broken.json"
    broken.write_text('{"conversation_id": "sample-ana-ben", "messages": [{"id": "s1-1", "speaker": "X"')
    with pytest.raises(InputError):
        load_file(broken)
    report = memory.ingest([SAMPLE, broken])
    assert [(p.file, p.record) for p in report.rejected] == [(str(broken), "file")]
    assert "malformed JSON" in report.rejected[0].problem
    assert (memory.counts(), [m.text for m in memory.store.messages("g1")]) == before


def test_an_unreadable_file_does_not_stop_the_valid_files_beside_it(memory, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_bytes(b"\xff not UTF-8")
    report = memory.ingest([broken, SAMPLE])
    assert report.written.messages == 12 and report.files == 2
    assert [p.record for p in report.rejected] == ["file"] and "not UTF-8" in report.rejected[0].problem


@pytest.mark.parametrize("bad", ["", " ", "a b", "x" * 129, "-lead", "tab\t", "caf\u00e9", "nul\x00", 7])
def test_an_invalid_group_id_is_refused_everywhere(memory, bad):
    memory.ingest(SAMPLE)
    before = memory.counts()
    for call in (
        lambda: memory.search("Porto", group_id=bad),
        lambda: memory.forget(group_id=bad),
        lambda: memory.counts(group_id=bad),
        lambda: memory.ingest(SAMPLE, group_id=bad),
        lambda: memory.add_messages("c", [], group_id=bad),
        lambda: memory.timeline("Ana", group_id=bad),
        lambda: memory.store.forget(bad),
        lambda: memory.store.messages(bad),
    ):
        with pytest.raises(GroupIdError, match="invalid group id"):
            call()
    with pytest.raises(ConfigError, match="group_id: "):
        load_config(group_id=bad, path=memory.config.path)
    assert memory.counts() == before and memory.search("Porto")


def test_group_per_conversation_stays_inside_the_given_group(memory, tmp_path):
    hostile = {"conversation_id": "victim", "messages": [
        {"id": "1", "speaker": "Eve", "text": "I moved to Porto.", "timestamp": "2024-01-01T10:00:00"}]}
    unusable = {"conversation_id": "no spaces allowed", "messages": hostile["messages"]}
    path = tmp_path / "pick.json"
    path.write_text(json.dumps([hostile, unusable]))
    report = memory.ingest(path, group_per_conversation=True)
    assert memory.groups() == ["g1/victim"] and memory.counts(group_id="victim").messages == 0
    assert [p.field for p in report.rejected] == ["conversation_id"]
    assert "no spaces allowed" in str(report.rejected[0])


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
        assert reopened.counts().messages == 12


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
        assert shown and all(f.current for f in shown) and "Lisbon" not in {f.object for f in shown if f.predicate == "live in"}
        earlier = memory.search("Where does Ana live?", k=3, known_at=datetime(2023, 2, 1))
        assert {h.source_id for h in earlier} <= {"a", "b"}
        assert "Lisbon" in {f.object for h in earlier for f in h.facts}


def test_values_no_store_can_hold_are_rejected_before_anything_is_written(tmp_path, store):
    good = {"conversation_id": "good", "messages": [
        {"id": "1", "speaker": "Ann", "text": "I moved to Porto.", "timestamp": "2024-01-01T10:00:00"}]}
    bad = {"conversation_id": "bad", "messages": [
        {"id": "1", "speaker": "Bob", "text": "fine", "timestamp": "2024-01-01T10:00:00"},
        {"id": "2", "speaker": "Bob", "text": "lone \ud800", "timestamp": "2024-01-01T10:01:00"},
        {"id": "3", "speaker": "Bob", "text": "late", "timestamp": "9999-12-31T23:59:00-05:00"}]}
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps([good, bad]))
    with Memory(Config(path=tmp_path / "unused.db", group_id="g1"), store=store) as memory:
        memory.ingest(SAMPLE, group_id="other")
        other = memory.counts(group_id="other")
        report = memory.ingest([path, SAMPLE])
        assert sorted(p.field for p in report.rejected) == ["text", "timestamp"]
        assert sorted(m.text for m in memory.store.messages("g1") if m.conversation_id != "sample-ana-ben") == [
            "I moved to Porto.", "fine"]
        assert memory.counts(group_id="other") == other


# -- re-ingest mirrors the file -------------------------------------------------------------------


def _without(data: dict, *source_ids: str) -> dict:
    return {**data, "messages": [m for m in data["messages"] if m["id"] not in source_ids]}


def test_reingest_mirrors_the_file(tmp_path, store):
    data = json.loads(SAMPLE.read_text())
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(data))
    with Memory(Config(path=tmp_path / "unused.db", group_id="g1"), store=store) as memory:
        memory.ingest(SAMPLE, group_id="other")
        other = (memory.store.messages("other"), memory.store.entities("other"), memory.store.facts("other"))
        first = memory.ingest(path)
        entities = {e.id for e in memory.entities()}
        assert (first.messages_added, first.messages_changed, first.messages_removed) == (12, 0, 0)
        assert memory.entity("Lisbon") is not None  # named in s1-3 only

        path.write_text(json.dumps(_without(data, "s1-3")))
        removed = memory.ingest(path)
        assert (removed.messages_added, removed.messages_changed, removed.messages_removed) == (0, 0, 1)
        assert removed.messages_skipped == 11  # later messages moved up a turn, but are not re-extracted
        stored = memory.store.messages("g1")
        assert "s1-3" not in {m.source_id for m in stored}
        assert sorted(m.seq for m in stored) == list(range(11))  # one message per position
        hits = memory.search("Lisbon marathon", k=5)
        assert hits and "s1-3" not in {h.source_id for h in hits}
        assert memory.entity("Lisbon") is None  # it was only in the removed message

        data["messages"][3]["text"] = "I adopted a parrot called Zazu."
        path.write_text(json.dumps(data))
        edited = memory.ingest(path)
        assert (edited.messages_added, edited.messages_changed, edited.messages_removed) == (1, 1, 0)
        path.write_text(SAMPLE.read_text())
        reverted = memory.ingest(path)
        assert (reverted.messages_added, reverted.messages_changed, reverted.messages_removed) == (0, 1, 0)
        assert {e.id for e in memory.entities()} == entities  # nothing orphaned by the edit and revert
        assert (memory.store.messages("other"), memory.store.entities("other"),
                memory.store.facts("other")) == other


def test_a_fact_superseded_only_through_a_removed_message_is_current_again(tmp_path, store):
    talk = {"conversation_id": "moves", "participants": ["Ana", "Ben"], "messages": [
        {"id": "a", "speaker": "Ana", "text": "I live in Lisbon with my cat.", "timestamp": "2023-01-10T10:00:00"},
        {"id": "c", "speaker": "Ana", "text": "Big news: I moved to Porto last month!", "timestamp": "2023-06-05T10:00:00"},
    ]}
    path = tmp_path / "moves.json"
    path.write_text(json.dumps(talk))
    with Memory(Config(path=tmp_path / "unused.db"), store=store) as memory:
        memory.ingest(path)
        assert [f.object for f in memory.facts("Ana") if f.predicate == "live in"] == ["Porto"]
        path.write_text(json.dumps(_without(talk, "c")))
        memory.ingest(path)
        lived = [f for f in memory.facts("Ana", include_superseded=True) if f.predicate == "live in"]
        assert [(f.object, f.current, f.valid_to) for f in lived] == [("Lisbon", True, None)]
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


def test_conversations_built_in_python_meet_the_limits_files_meet(tmp_path):
    """A Conversation made in code is held to what a file's records are (name length, valid
    Unicode), when it is built: nothing unstorable reaches a store through ingest_conversations."""
    from pydantic import ValidationError

    from graphmem import Conversation, Message
    from graphmem.models import MAX_NAME_CHARS

    turn = {"id": "t1", "conversation_id": "c1", "seq": 1, "speaker": "Ann", "text": "Hi Bob!",
            "ts": "2024-01-01T10:00:00"}
    with pytest.raises(ValidationError) as long_name:
        Message(**dict(turn, speaker="A" * (MAX_NAME_CHARS + 1)))
    assert long_name.value.errors()[0]["loc"] == ("speaker",)
    with pytest.raises(ValidationError) as surrogate:
        Message(**dict(turn, text="broken \ud800 text"))
    assert surrogate.value.errors()[0]["loc"] == ("text",) and "lone surrogate \\ud800" in str(surrogate.value)
    with pytest.raises(ValidationError) as empty:
        Conversation(id="c1", participants=("Ann", ""), messages=())
    assert empty.value.errors()[0]["loc"] == ("participants", 1)

    long_turn = Message(**dict(turn, id="t2", seq=2, text="word " * 30))
    conversation = Conversation(id="c1", participants=("Ann", "Bob"), messages=(Message(**turn), long_turn))
    with Memory(Config(path=tmp_path / "m.db", max_message_chars=100)) as memory:
        report = memory.ingest_conversations([conversation])
        assert report.messages_added == 1 and [m.text for m in memory.messages()] == ["Hi Bob!"]
        (problem,) = report.rejected
        assert (problem.record, problem.field) == ("conversation 'c1' message 't2'", "text")
        assert problem.problem == "150 characters; the limit is 100 (max_message_chars)"


def test_freed_memory_goes_back_to_the_os_after_large_work():
    """What a large build, load or consolidation freed is handed back (glibc keeps free heap pages
    otherwise, and a long-lived process holds its peak for good). Platform behaviour graphmem
    relies on: blocks of 2 KB live in the C heap, not in pages of their own."""
    import gc
    import platform

    from graphmem import memory

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    resident = lambda: int(open("/proc/self/statm").read().split()[1]) * 4096  # noqa: E731
    memory.return_freed_memory()  # earlier tests' free pages would otherwise take the blocks unseen
    start = resident()
    blocks = [bytes(2000) for _ in range(50_000)]  # ~100 MB
    last = blocks[-1]  # the heap's top stays in use: only a trim can hand back the pages below it
    del blocks
    gc.collect()
    held = resident() - start
    memory.return_freed_memory()
    assert held > 80e6 and resident() - start < 0.2 * held
    assert len(last) == 2000
