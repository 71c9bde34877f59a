"""The store contract: every backend passes the same tests (see conftest.STORE_KINDS)."""

from __future__ import annotations

import pytest

from datetime import date, datetime

from graphmem.ingest.graph_builder import build_graph_batch
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
    assert (counts.messages, counts.events, counts.facts) == (2, 2, 1)
    assert counts.entities == 4  # Ann, Bob, Lisbon, Rex
    messages = store.messages("g1")
    assert [m.source_id for m in messages] == ["m0", "m1"]
    assert messages[0].speaker == "Ann" and messages[0].ts == datetime(2023, 5, 8, 13, 56)
    assert messages[0].addressee_id == messages[1].speaker_id
    names = {e.name: e.type for e in store.entities("g1")}
    assert names == {"Ann": "person", "Bob": "person", "Lisbon": "place", "Rex": "person"}
    assert {type(t) for t in names.values()} == {EntityType}  # read back as the vocabulary's type, not bare str
    events = store.events("g1")
    assert [e.predicate for e in events] == ["move", "adopt"]
    assert events[0].ts_start == date(2023, 4, 1) and events[0].precision is Precision.MONTH
    assert events[0].place_id is not None
    (relation,) = store.facts("g1")
    assert (relation.predicate, relation.valid_from, relation.valid_to) == ("live in", date(2023, 4, 1), None)
    assert relation.precision is Precision.MONTH
    assert relation.current and relation.expired_at is None
    assert relation.message_id == messages[0].id
    assert store.counts("g1").messages == 2


def test_rewriting_the_same_batch_creates_nothing(store):
    store.write("g1", _batch("g1"))
    before = store.counts("g1")
    again = store.write("g1", _batch("g1"))
    assert (again.messages, again.entities, again.events, again.facts) == (0, 0, 0, 0)
    assert store.counts("g1") == before


def test_changed_message_replaces_what_was_derived_from_it(store):
    store.write("g1", _batch("g1"))
    changed = _batch("g1", text_suffix=" (edited)")
    changed.events = [e for e in changed.events if e.predicate != "move"]
    changed.relations = []
    store.write("g1", changed)
    assert [e.predicate for e in store.events("g1")] == ["adopt"]
    assert store.facts("g1") == []
    assert store.messages("g1")[0].text.endswith("(edited)")


def test_tenants_are_isolated(store):
    store.write("g1", _batch("g1"))
    store.write("g2", _batch("g2"))
    store.forget("g1")
    assert store.messages("g1") == [] and store.entities("g1") == [] and store.events("g1") == []
    assert store.counts("g2").messages == 2
    assert sorted(store.groups()) == ["g2"]
    g2_ids = {m.id for m in store.messages("g2")}
    mentions = store.mentions("g2")
    assert mentions and all(m.message_id in g2_ids for m in mentions)


@pytest.mark.parametrize("bad", ["", "x" * 129, "g 1", "\ud800"])
def test_an_invalid_group_id_is_refused_before_the_store_is_touched(store, bad):
    from graphmem.errors import GroupIdError

    store.write("g1", _batch("g1"))
    for call in (lambda: store.write(bad, _batch("g1")), lambda: store.forget(bad), lambda: store.counts(bad),
                 lambda: store.messages(bad), lambda: store.entities(bad), lambda: store.write_scenes(bad, [])):
        with pytest.raises(GroupIdError):
            call()
    assert store.counts("g1").messages == 2 and store.groups() == ["g1"]


def test_same_input_in_two_tenants_gets_distinct_ids(store):
    store.write("g1", _batch("g1"))
    store.write("g2", _batch("g2"))
    assert {m.id for m in store.messages("g1")}.isdisjoint({m.id for m in store.messages("g2")})


def test_hostile_text_is_stored_verbatim(store):
    talk = conversation((HOSTILE, HOSTILE + " said `I` was here"), ("Bob", "ok"))
    extraction = MessageExtraction(
        message_id="m0", entities=(ExtractedEntity(name=HOSTILE, type=EntityType.THING, mention=HOSTILE),)
    )
    group = "hostile@tenant/1"  # group ids are restricted (check_group_id); hostile text goes everywhere else
    store.write(group, build_graph_batch(group, talk, talk.messages, [extraction]))
    store.write("other", _batch("other"))
    assert store.messages(group)[0].speaker == HOSTILE
    assert store.messages(group)[0].text == HOSTILE + " said `I` was here"
    assert store.counts("other").messages == 2
    assert group in store.groups()


def test_filters_by_entity(store):
    batch = _batch("g1")
    store.write("g1", batch)
    rex = next(e for e in batch.entities if e.name == "Rex")
    ann = next(e for e in batch.entities if e.name == "Ann")
    assert [e.predicate for e in store.events("g1", rex.id)] == ["adopt"]
    assert [r.predicate for r in store.facts("g1", ann.id)] == ["live in"]
    assert store.facts("g1", rex.id) == []


def test_message_digests_track_content(store):
    batch = _batch("g1")
    store.write("g1", batch)
    digests = store.message_digests("g1", "c1")
    assert set(digests) == {"m0", "m1"}
    assert digests["m0"] == batch.messages[0].digest
    assert store.message_digests("g2", "c1") == {}


# -- bi-temporal relations and supersession ----------------------------------------------------


def _statement(group_id: str, message_id: str, when: str, subject: str, predicate: str, obj: str,
               valid_from: date | None = None, conversation_id: str = "c1"):
    """A batch of one message by `subject` stating one relation, observed at `when`."""
    from graphmem.models import Conversation, Message

    ts = datetime.fromisoformat(when)
    message = Message(id=message_id, conversation_id=conversation_id, seq=int(message_id[1:]), speaker=subject,
                      text=f"{subject} {predicate} {obj}", ts=ts)
    talk = Conversation(id=conversation_id, participants=(subject, "Bob"), messages=(message,))
    valid = TimeRange(start=valid_from, end=valid_from, precision=Precision.DAY) if valid_from else None
    extraction = MessageExtraction(
        message_id=message_id,
        relations=(ExtractedRelation(subject=subject, predicate=predicate, object=obj,
                                     fact=f"{subject} {predicate} {obj}", valid=valid),),
    )
    return build_graph_batch(group_id, talk, talk.messages, [extraction])


def _by_object(store, group_id: str) -> dict:
    names = {e.id: e.name for e in store.entities(group_id)}
    return {names[r.object_id]: r for r in store.facts(group_id)}


def test_a_contradicting_statement_closes_the_current_one(store):
    store.write("g", _statement("g", "m1", "2023-01-10T10:00:00", "Ann", "live in", "Lisbon"))
    store.write("g", _statement("g", "m2", "2023-06-01T09:00:00", "Ann", "live in", "Porto", date(2023, 5, 20)))
    facts = _by_object(store, "g")
    lisbon, porto = facts["Lisbon"], facts["Porto"]
    assert not lisbon.current and lisbon.superseded_by == porto.id
    assert lisbon.valid_to == date(2023, 5, 20) and lisbon.expired_at == datetime(2023, 6, 1, 9)
    assert porto.current and porto.valid_to is None and porto.expired_at is None
    assert lisbon.valid_at(date(2023, 3, 1)) and not lisbon.valid_at(date(2023, 7, 1))
    assert lisbon.known_at(datetime(2023, 5, 31)) and not lisbon.known_at(datetime(2023, 6, 2))


def test_an_older_statement_arriving_late_does_not_close_the_newer(store):
    store.write("g", _statement("g", "m2", "2023-06-01T09:00:00", "Ann", "work at", "Acme", date(2023, 5, 1)))
    store.write("g", _statement("g", "m1", "2023-06-02T09:00:00", "Ann", "work at", "Globex", date(2022, 1, 1)))
    facts = _by_object(store, "g")
    assert facts["Acme"].current
    assert facts["Globex"].superseded_by == facts["Acme"].id
    assert facts["Globex"].valid_to == date(2023, 5, 1)
    assert facts["Globex"].expired_at == datetime(2023, 6, 2, 9)  # learned already outdated


def test_multi_valued_predicates_accumulate(store):
    store.write("g", _statement("g", "m1", "2023-01-10T10:00:00", "Ann", "love", "painting"))
    store.write("g", _statement("g", "m2", "2023-02-10T10:00:00", "Ann", "love", "hiking"))
    assert all(r.current for r in store.facts("g")) and len(store.facts("g")) == 2


def test_restating_the_same_object_supersedes_nothing(store):
    store.write("g", _statement("g", "m1", "2023-01-10T10:00:00", "Ann", "live in", "Lisbon"))
    store.write("g", _statement("g", "m2", "2023-03-10T10:00:00", "Ann", "live in", "Lisbon", date(2023, 3, 1)))
    relations = store.facts("g")
    assert relations and all(r.current for r in relations)


def test_withdrawing_the_newer_statement_reopens_the_older(store):
    store.write("g", _statement("g", "m1", "2023-01-10T10:00:00", "Ann", "live in", "Lisbon"))
    store.write("g", _statement("g", "m2", "2023-06-01T09:00:00", "Ann", "live in", "Porto"))
    rewritten = _statement("g", "m2", "2023-06-01T09:00:00", "Ann", "live in", "Porto")
    rewritten.relations = []
    store.write("g", rewritten)
    (lisbon,) = store.facts("g")
    assert lisbon.current and lisbon.valid_to is None and lisbon.expired_at is None


def test_supersession_stays_within_a_tenant(store):
    store.write("g1", _statement("g1", "m1", "2023-01-10T10:00:00", "Ann", "live in", "Lisbon"))
    store.write("g2", _statement("g2", "m2", "2023-06-01T09:00:00", "Ann", "live in", "Porto"))
    relations = store.facts("g1") + store.facts("g2")
    assert len(relations) == 2 and all(r.current for r in relations)


def test_ids_do_not_collide_whatever_separators_the_parts_hold(store):
    from graphmem.models import Conversation, Message

    def talk(conversation_id: str, message_id: str, text: str) -> Conversation:
        message = Message(id=message_id, conversation_id=conversation_id, seq=0, speaker="Ann", text=text,
                          ts=datetime(2023, 5, 8, 13, 56))
        return Conversation(id=conversation_id, participants=("Ann",), messages=(message,))

    first, second = talk("a", "b\x1fc", "first"), talk("a\x1fb", "c", "second")
    for found in (first, second):
        store.write("g1", build_graph_batch("g1", found, found.messages, []))
    assert sorted(m.text for m in store.messages("g1")) == ["first", "second"]


def test_mirror_conversation_removes_messages_and_what_only_they_supported(store):
    batch = _batch("g1")
    store.write("g1", batch)
    store.write("other", _batch("other"))
    other = (store.messages("other"), store.entities("other"), store.facts("other"), store.events("other"))
    first, second = sorted(batch.messages, key=lambda m: m.seq)
    removed = store.mirror_conversation("g1", "c1", {second.source_id: 0})
    assert removed == 1
    assert [(m.source_id, m.seq) for m in store.messages("g1")] == [(second.source_id, 0)]
    assert [e.predicate for e in store.events("g1")] == ["adopt"] and store.facts("g1") == []
    assert {m.message_id for m in store.mentions("g1")} == {second.id}
    names = {e.name for e in store.entities("g1")}
    assert "Lisbon" not in names and {"Ann", "Bob", "Rex"} <= names  # Ann stays a participant
    assert (store.messages("other"), store.entities("other"), store.facts("other"), store.events("other")) == other
    assert store.mirror_conversation("g1", "c1", {second.source_id: 0}) == 0



def _later_turns(group_id: str):
    """Turns 2 and 3 of the conversation `_batch` starts; Ann now lives in Porto."""
    from graphmem.models import Message

    first = conversation(("Ann", "I moved to Lisbon last month"), ("Bob", "Nice!"))
    later = tuple(
        Message(id=f"m{seq}", conversation_id="c1", seq=seq, speaker=speaker, text=text, ts=datetime(2023, 9, 1, 10))
        for seq, speaker, text in ((2, "Ann", "I moved to Porto in August"), (3, "Bob", "Porto is lovely."))
    )
    talk = first.model_copy(update={"messages": later})
    extraction = MessageExtraction(
        message_id="m2",
        entities=(ExtractedEntity(name="Porto", type=EntityType.PLACE, mention="Porto"),),
        relations=(
            ExtractedRelation(
                subject="Ann", predicate="live in", object="Porto", fact="Ann lives in Porto",
                valid=TimeRange(start=date(2023, 8, 1), end=date(2023, 8, 31), precision=Precision.MONTH),
            ),
        ),
    )
    return build_graph_batch(group_id, talk, later, [extraction])


def test_every_write_bumps_the_tenant_version_and_says_whether_it_appended(store):
    from graphmem.store.base import TenantVersion

    assert store.version("g1") == TenantVersion(0, 0)
    store.write("g1", _batch("g1"))
    assert store.version("g1") == TenantVersion(1, 0)  # a first write only appends
    everything = store.changes("g1")
    assert [m.source_id for m in everything.messages] == ["m0", "m1"] and everything.version.version == 1
    store.write("g1", _later_turns("g1"))
    assert store.version("g1") == TenantVersion(2, 0)
    delta = store.changes("g1", since=1)
    assert [m.source_id for m in delta.messages] == ["m2", "m3"]
    assert {e.name for e in delta.entities} >= {"Porto"} and "Lisbon" not in {e.name for e in delta.entities}
    assert {m.message_id for m in delta.mentions} <= {m.id for m in delta.messages}
    by_object = {r.fact: r for r in delta.relations}
    assert set(by_object) == {"Ann lives in Lisbon", "Ann lives in Porto"}  # Lisbon was superseded by the append
    assert not by_object["Ann lives in Lisbon"].current and by_object["Ann lives in Porto"].current
    assert store.changes("g1", since=2).messages == [] and store.version("g2") == TenantVersion(0, 0)

    store.write("g1", _batch("g1", text_suffix=" (edited)"))  # rewrites stored turns: not an append
    assert store.version("g1") == TenantVersion(3, 3)
    store.write_scenes("g1", [])
    assert store.version("g1") == TenantVersion(4, 4)
    store.forget("g1")
    forgotten = store.version("g1")  # one bump, or one before and one after a deletion in batches
    assert forgotten.version > 4 and forgotten.reset == forgotten.version and store.changes("g1").messages == []
    store.write("g1", _batch("g1"))  # written anew: versions keep rising, so old readers rebuild
    assert store.version("g1") == TenantVersion(forgotten.version + 1, forgotten.version)


def test_an_index_snapshot_is_kept_per_tenant_by_key_and_version_and_forgotten_with_the_tenant(store):
    from graphmem.store.base import IndexSnapshot

    store.write("g1", _batch("g1"))
    version = store.version("g1")
    big = bytes(range(256)) * (5 * 2**20 // 256) + b"tail"  # more than one stored piece anywhere
    store.save_index_snapshot("g1", IndexSnapshot("k1", 3, big))
    assert store.version("g1") == version  # a snapshot is derived data: no write of the tenant
    assert store.index_snapshot("g1", "k1", 2) == IndexSnapshot("k1", 3, big)
    assert store.index_snapshot("g1", "k1", 4) is None  # older than what the reader needs
    assert store.index_snapshot("g1", "k2", 0) is None  # built otherwise
    assert store.index_snapshot("g2", "k1", 0) is None  # another tenant sees none

    store.save_index_snapshot("g1", IndexSnapshot("k1", 2, b"older"))
    assert store.index_snapshot("g1", "k1", 0).data == big  # an older save does not replace a newer one
    store.save_index_snapshot("g1", IndexSnapshot("k1", 5, b"newer"))
    assert store.index_snapshot("g1", "k1", 0) == IndexSnapshot("k1", 5, b"newer")
    store.save_index_snapshot("g1", IndexSnapshot("k1", 5, b"rebuilt"))  # as new: replaced (it may be unreadable)
    assert store.index_snapshot("g1", "k1", 0) == IndexSnapshot("k1", 5, b"rebuilt")
    store.save_index_snapshot("g1", IndexSnapshot("k2", 1, b"other settings"))
    assert store.index_snapshot("g1", "k1", 0) is None  # one snapshot per tenant: the new key replaced it
    assert store.index_snapshot("g1", "k2", 0) == IndexSnapshot("k2", 1, b"other settings")

    store.write("g2", _batch("g2"))
    store.save_index_snapshot("g2", IndexSnapshot("k2", 1, b"g2's"))
    store.forget("g1")
    assert store.index_snapshot("g1", "k2", 0) is None
    assert store.index_snapshot("g2", "k2", 0).data == b"g2's"
    store.save_index_snapshot("g1", IndexSnapshot("k2", 1, b"built before the forget, saved after"))
    assert store.index_snapshot("g1", "k2", 0) is None  # the forget's reset came after version 1
    store.save_index_snapshot("never-written", IndexSnapshot("k2", 1, b"no tenant"))
    assert store.index_snapshot("never-written", "k2", 0) is None
