"""Question understanding: absolute time constraints, and the prior they put on ranking."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest

from graphmem import Config, Memory
from graphmem.search.question import absolute_time_constraint, without_names
from tests.conftest import SAMPLE


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What setback did Melanie face in October 2023?", (date(2023, 10, 1), date(2023, 10, 31), "month")),
        ("What did she show on October 13, 2023?", (date(2023, 10, 13), date(2023, 10, 13), "day")),
        ("What did Maria do last weekend before April 10, 2023?", (date(2023, 4, 10), date(2023, 4, 10), "day")),
        ("How often did they go to the beach in 2023?", (date(2023, 1, 1), date(2023, 12, 31), "year")),
        ("When did Melanie go camping in June?", None),  # the year depends on when it is asked
        ("Where did John go on a road trip last year?", None),
        ("What does Caroline paint?", None),
    ],
)
def test_absolute_time_constraint(question, expected):
    found = absolute_time_constraint(question)
    assert (found.start, found.end, found.precision.value) == expected if expected else found is None


def test_a_dated_question_prefers_what_was_said_or_dated_then(tmp_path):
    messages = [
        {"id": "may", "speaker": "Ann", "text": "I baked a lemon cake for the party.", "timestamp": "2023-05-10T10:00:00"},
        {"id": "may-reply", "speaker": "Bob", "text": "Sounds delicious!", "timestamp": "2023-05-10T10:01:00"},
        {"id": "june", "speaker": "Ann", "text": "I baked a chocolate cake for the party.", "timestamp": "2023-06-12T10:00:00"},
        {"id": "june-reply", "speaker": "Bob", "text": "Yum!", "timestamp": "2023-06-12T10:01:00"},
    ]
    path = tmp_path / "cakes.json"
    path.write_text(json.dumps({"conversation_id": "cakes", "participants": ["Ann", "Bob"], "messages": messages}))
    with Memory(Config(path=tmp_path / "m.db")) as memory:
        memory.ingest(path)
        assert memory.search("What cake did Ann bake in June 2023?", k=1)[0].source_id == "june"
        assert memory.search("What cake did Ann bake in May 2023?", k=1)[0].source_id == "may"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which cities have both Kate and Elise been to?", "place"),
        ("What books has Melanie read?", "work"),
        ("What tv shows did Paola watch?", "work"),
        ("Which companies did John apply to?", "organization"),
        ("What does Caroline paint?", None),
        ("When did Ana move to the city she loves most, after all those years in school?", None),  # too late to be asked for
    ],
)
def test_asked_entity_type(question, expected):
    from graphmem.search.question import asked_entity_type

    assert asked_entity_type(question) == expected


def test_a_question_asking_for_places_seeds_the_places(tmp_path):
    from graphmem.search.engine import SearchSettings, _add_type_seeds, _typed_entities

    with Memory(Config(path=tmp_path / "m.db")) as memory:
        memory.ingest(SAMPLE)
        index = memory.index()
    places = {e.id for e in index.entities.values() if e.type == "place"}
    assert places
    seeds: dict[int, float] = {}
    _add_type_seeds(index, seeds, _typed_entities(index, "place"), SearchSettings())
    assert {index.projection.keys[v] for v in seeds} == places
    assert all(0 < w for w in seeds.values())
    untouched: dict[int, float] = {}
    _add_type_seeds(index, untouched, [], SearchSettings())
    _add_type_seeds(index, untouched, _typed_entities(index, "place"), SearchSettings(type_seed_weight=0.0))
    assert untouched == {}


@pytest.mark.parametrize(
    ("question", "members", "absent"),
    [
        ("What pets does Nate have?", {"dog", "cat", "puppy"}, set()),
        ("What are Kate's hobbies?", {"painting", "hiking", "cooking"}, set()),
        ("What movies did Nebraas watch?", {"film", "cinema"}, {"watch"}),  # the question's own words are left out
        ("What did Ana say about her dog when they talked about pets?", set(), {"dog"}),  # asked too late
        ("Where did Melanie camp?", set(), set()),
    ],
)
def test_asked_category_members(question, members, absent):
    from graphmem.search.question import asked_category_members

    found = asked_category_members(question)
    assert members <= set(found) and not absent & set(found)
    assert bool(found) == bool(members) and len(found) == len(set(found))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What kind of movies do you like?", True),
        ("Really? How was it?? ", True),
        ("I watched Dune last night. Have you seen it?", False),
        ("I love himmm", False),
        ("?!", False),
        ("", False),
    ],
)
def test_only_asks(text, expected):
    from graphmem.search.question import only_asks

    assert only_asks(text) is expected


def _chat(tmp_path, lines: list[tuple[str, str]]):
    messages = [
        {"id": f"t{i}", "speaker": speaker, "text": text, "timestamp": f"2023-05-10T10:{i:02d}:00"}
        for i, (speaker, text) in enumerate(lines)
    ]
    path = tmp_path / "chat.json"
    path.write_text(json.dumps({"conversation_id": "chat", "participants": ["Ann", "Bob"], "messages": messages}))
    return path


def _prior_off_and_on(tmp_path, lines: list[tuple[str, str]], question: str, **off):
    """A chat's turns ranked for `question` with a prior turned off (the `off` settings) and on, both
    without the reranker over them (these tests are about the prior itself); and the chat's index."""
    from graphmem.search.engine import SearchSettings

    path = _chat(tmp_path, lines)
    with Memory(Config(path=tmp_path / "m.db")) as memory:
        memory.ingest(path)
        ranked = lambda settings: [h.source_id for h in memory.search(question, k=len(lines), settings=settings)]
        return ranked(SearchSettings(rerank=False, **off)), ranked(SearchSettings(rerank=False)), memory.index()


def test_a_question_about_a_category_lifts_the_turn_naming_a_member(tmp_path):
    off, on, _ = _prior_off_and_on(tmp_path, [
        ("Ann", "Pets are great but Nate does not have time for pets at the moment."),
        ("Bob", "Nate told me that too, he works a lot."),
        ("Ann", "Nate showed me his new puppy yesterday, so cute."),
        ("Bob", "The weather was lovely at the lake."),
    ], "What pets does Nate have?", category_focus=0.0)
    assert on.index("t2") < off.index("t2")
    assert on[0] == "t2"


def test_a_turn_that_only_asks_ranks_below_its_answer(tmp_path):
    off, on, index = _prior_off_and_on(tmp_path, [
        ("Ann", "Which concert did you go to on Saturday, the jazz concert?"),
        ("Bob", "Yes, the jazz concert downtown, it was loud and fun."),
        ("Ann", "The weather was lovely at the lake."),
    ], "Which jazz concert was on Saturday?", asking_turn=1.0)
    assert index.asking_turns().tolist() == [True, False, False]
    assert off.index("t0") < off.index("t1") and on.index("t1") < on.index("t0")


def test_a_question_asking_for_places_favours_the_turns_mentioning_one(tmp_path):
    from graphmem.search.engine import SearchSettings, _mentioning, _prior, _question_marks, _typed_entities

    with Memory(Config(path=tmp_path / "m.db")) as memory:
        memory.ingest(SAMPLE)
        index = memory.index()
        memory.search("Which cities did they visit?")  # the graph's walk is built by a first query
    places = _typed_entities(index, "place")
    names = [index.entities[p].name.casefold() for p in places]
    mentioning = _mentioning(index, places)
    assert mentioning.any() and not mentioning.all()
    for message, flagged in zip(index.messages, mentioning):
        assert flagged == any(name in message.text.casefold() for name in names), message.text
    settings = SearchSettings(asking_turn=1.0)
    marks = _question_marks(index, [], None, places, [])
    prior = _prior(marks, settings)
    assert prior.tolist() == np.where(mentioning, 1.3, 1.0).tolist()
    assert _prior(marks, SearchSettings(asking_turn=1.0, type_focus=0.0)) is None


def test_participants_names_are_taken_out_of_the_question_a_sentence_model_reads():
    names = ["Emi", "Kate", "elise"]
    assert without_names("What dish did both Kate and Elise cook?", names) == "What dish did both and cook?"
    assert without_names("What is Elise's favorite food?", names) == "What is favorite food?"
    assert without_names("What did Emi’s brother do?", names) == "What did brother do?"
    assert without_names("Who is Katerina?", names) == "Who is Katerina?"  # whole names only
    assert without_names("Kate?", names) == "Kate?"  # nothing left to match: the question stays whole
    assert without_names("Where did Ana go?", []) == "Where did Ana go?"
