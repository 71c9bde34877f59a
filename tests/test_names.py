"""The names participants go by: found from the conversation, stored as aliases, used by queries."""

from __future__ import annotations

from graphmem import Config, Memory
from graphmem.ingest.resolution import names_people_go_by
from tests.conftest import ROOT

PAIR = ("Emi", "elise")


def test_introduction_confirmed_by_being_addressed():
    talk = [
        ("elise", "What's your name by the way?"),
        ("Emi", "Haha, totally forgot to introduce myself, I'm Kate. What's your name?"),
        ("elise", "That's so cool Kate! How long have you been skiing?"),
        ("elise", "Thank you Kate, I really appreciate it"),
        ("elise", "What about you Kate?"),
    ]
    assert names_people_go_by(talk, PAIR) == {"Emi": ("Kate",)}


def test_being_addressed_twice_is_enough_and_signatures_count():
    talk = [("elise", "Hey Jo! How was it?"), ("elise", "Sounds great, Jo."),
            ("Emi", "Had a great week, talk soon and take care of yourself\n- Em"),
            ("Emi", "Back home now, the flight was long but fine really\n- Em")]
    assert names_people_go_by(talk, PAIR) == {"Emi": ("Em", "Jo")}


def test_one_mention_interjections_places_and_lowercase_words_are_not_names():
    talk = [
        ("Emi", "I'm Kate."),  # never confirmed
        ("elise", "Absolutely! Agreed!"),
        ("elise", "Absolutely! I went to Miami!"),
        ("Emi", "I love Miami!"),
        ("elise", "Wow Sunny! That's sunny"),
        ("elise", "Hey Sunny!"),
    ]
    assert names_people_go_by(talk, PAIR) == {}


def test_a_name_used_for_both_participants_links_neither():
    talk = [("elise", "Thanks Sam!"), ("elise", "Hey Sam!"), ("Emi", "Thanks Sam!"), ("Emi", "Hi Sam!")]
    assert names_people_go_by(talk, PAIR) == {}


def test_only_two_party_conversations():
    talk = [("a", "Thanks Kate!"), ("b", "Hey Kate!")]
    assert names_people_go_by(talk, ("a", "b", "c")) == {}


def test_ingest_stores_the_name_as_an_alias_and_questions_reach_the_speaker(tmp_path):
    chat = ROOT / "tests" / "data" / "realtalk" / "Chat_9_Ann_Bo.json"
    with Memory(Config(path=tmp_path / "memory.db", group_id="chat")) as memory:
        memory.ingest(chat)
        ann = memory.entity("Kate")
        assert ann is not None and ann.name == "Ann" and "Kate" in ann.aliases
        hits = memory.search("What pet does Kate have?", k=3)
    assert hits and hits[0].speaker == "Ann"


def test_names_found_over_several_add_messages_batches_link_to_the_speaker(tmp_path):
    """A conversation streamed one turn at a time: the name is claimed in different batches (an
    introduction, then an address): the name becomes the speaker's alias all the same."""
    turns = [
        ("Ann", "Hi! I'm Kate, by the way."),
        ("Bo", "Nice to meet you."),
        ("Bo", "How was the trip, Kate?"),
        ("Ann", "Great, I saw the lighthouse."),
        ("Bo", "Kate told me she has a parrot named Pico."),
    ]
    with Memory(Config(path=tmp_path / "memory.db", group_id="chat")) as memory:
        for i, (speaker, text) in enumerate(turns):
            memory.add_messages("c1", [{"speaker": speaker, "text": text, "timestamp": f"2024-01-0{i + 1}T10:00:00"}])
        (ann,) = [e for e in memory.entities() if e.name == "Ann"]
    assert "Kate" in ann.aliases
