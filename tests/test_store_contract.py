"""The store contract: every backend passes the same tests (see conftest.STORE_KINDS)."""

from __future__ import annotations

from datetime import date, datetime

from graphmem.graph_builder import build_graph_batch
from graphmem.models import (
    EntityType,
    ExtractedEntity,
    ExtractedEvent,
    ExtractedRelation,
    MessageExtraction,
    Participant,
    Precision,
    TimeRange,
)
from tests.conftest import conversation

HOSTILE = "'}) DETACH DELETE n // `x` \" ; DROP TABLE messages; --"


def _batch(group_id: str, text_suffix: str = ""):
    talk = conversation(
        ("Ann", "I moved to Lisbon last month" + text_suffix),
        ("Bob", "Nice! I adopted a dog named Rex yesterday."),
    )
    extractions = [
        MessageExtraction(
            message_id="m0",
            entities=(ExtractedEntity(name="Lisbon", type=EntityType.PLACE, mention="Lisbon"),),
            events=(
                ExtractedEvent(
                    predicate="move",
                    summary="Ann moved to Lisbon last month",
                    participants=(Participant(name="Ann", role="agent"), Participant(name="Lisbon", role="destination")),
                    time=TimeRange(start=date(2023, 4, 1), end=date(2023, 4, 30), precision=Precision.MONTH),
                    place="Lisbon",
                ),
            ),
            relations=(
                ExtractedRelation(
                    subject="Ann", predicate="live in", object="Lisbon", fact="Ann lives in Lisbon",
                    valid=TimeRange(start=date(2023, 4, 1), end=date(2023, 4, 30), precision=Precision.MONTH),
                ),
            ),
        ),
        MessageExtraction(
            message_id="m1",
            entities=(ExtractedEntity(name="Rex", type=EntityType.PERSON, mention="Rex"),),
            events=(
                ExtractedEvent(
                    predicate="adopt",
                    summary="Bob adopted a dog named Rex yesterday",
                    participants=(Participant(name="Bob", role="agent"), Participant(name="Rex", role="patient")),
                    time=TimeRange(start=date(2023, 5, 7), end=date(2023, 5, 7), precision=Precision.DAY),
                ),
            ),
        ),
    ]
    return build_graph_batch(group_id, talk, talk.messages, extractions)


def test_write_then_read_back(store):
    counts = store.write("g1", _batch("g1"))
    assert (counts.messages, counts.events, counts.relations) == (2, 2, 1)
    assert counts.entities == 4  # Ann, Bob, Lisbon, Rex
    messages = store.messages("g1")
    assert [m.source_id for m in messages] == ["m0", "m1"]
    assert messages[0].speaker == "Ann" and messages[0].ts == datetime(2023, 5, 8, 13, 56)
    assert messages[0].addressee_id == messages[1].speaker_id
    names = {e.name: e.type for e in store.entities("g1")}
    assert names == {"Ann": "person", "Bob": "person", "Lisbon": "place", "Rex": "person"}
    events = store.events("g1")
    assert [e.predicate for e in events] == ["move", "adopt"]
    assert events[0].ts_start == date(2023, 4, 1) and events[0].precision == "month"
    assert events[0].place_id is not None
    (relation,) = store.relations("g1")
    assert (relation.predicate, relation.valid_from, relation.valid_to) == ("live in", date(2023, 4, 1), date(2023, 4, 30))
    assert relation.message_id == messages[0].id
    assert store.counts("g1").messages == 2


def test_rewriting_the_same_batch_creates_nothing(store):
    store.write("g1", _batch("g1"))
    before = store.counts("g1")
    again = store.write("g1", _batch("g1"))
    assert (again.messages, again.entities, again.events, again.relations) == (0, 0, 0, 0)
    assert store.counts("g1") == before


def test_changed_message_replaces_what_was_derived_from_it(store):
    store.write("g1", _batch("g1"))
    changed = _batch("g1", text_suffix=" (edited)")
    changed.events = [e for e in changed.events if e.predicate != "move"]
    changed.relations = []
    store.write("g1", changed)
    assert [e.predicate for e in store.events("g1")] == ["adopt"]
    assert store.relations("g1") == []
    assert store.messages("g1")[0].text.endswith("(edited)")


def test_tenants_are_isolated(store):
    store.write("g1", _batch("g1"))
    store.write("g2", _batch("g2"))
    store.delete_group("g1")
    assert store.messages("g1") == [] and store.entities("g1") == [] and store.events("g1") == []
    assert store.counts("g2").messages == 2
    assert sorted(store.groups()) == ["g2"]
    g2_ids = {m.id for m in store.messages("g2")}
    assert all(m.message_id in g2_ids for m in store.mentions("g2"))


def test_same_input_in_two_tenants_gets_distinct_ids(store):
    store.write("g1", _batch("g1"))
    store.write("g2", _batch("g2"))
    assert {m.id for m in store.messages("g1")}.isdisjoint({m.id for m in store.messages("g2")})


def test_hostile_text_is_stored_verbatim(store):
    talk = conversation((HOSTILE, HOSTILE + " said `I` was here"), ("Bob", "ok"))
    extraction = MessageExtraction(
        message_id="m0", entities=(ExtractedEntity(name=HOSTILE, type=EntityType.THING, mention=HOSTILE),)
    )
    store.write(HOSTILE, build_graph_batch(HOSTILE, talk, talk.messages, [extraction]))
    store.write("other", _batch("other"))
    assert store.messages(HOSTILE)[0].speaker == HOSTILE
    assert store.messages(HOSTILE)[0].text == HOSTILE + " said `I` was here"
    assert store.counts("other").messages == 2
    assert HOSTILE in store.groups()


def test_filters_by_entity(store):
    batch = _batch("g1")
    store.write("g1", batch)
    rex = next(e for e in batch.entities if e.name == "Rex")
    ann = next(e for e in batch.entities if e.name == "Ann")
    assert [e.predicate for e in store.events("g1", rex.id)] == ["adopt"]
    assert [r.predicate for r in store.relations("g1", ann.id)] == ["live in"]
    assert store.relations("g1", rex.id) == []


def test_message_digests_track_content(store):
    batch = _batch("g1")
    store.write("g1", batch)
    digests = store.message_digests("g1", "c1")
    assert set(digests) == {"m0", "m1"}
    assert digests["m0"] == batch.messages[0].digest
    assert store.message_digests("g2", "c1") == {}
