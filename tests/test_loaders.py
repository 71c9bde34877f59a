"""Reading conversation files: formats, and clear errors for bad input."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from graphmem.errors import InputError
from graphmem.ingest.loaders import load_file
from tests.conftest import LOCOMO_DEV, SAMPLE


def write(tmp_path, name: str, content) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


def message(i: int, **overrides) -> dict:
    return {"id": f"m{i}", "speaker": "Ann" if i % 2 else "Bob", "text": f"hello {i}",
            "timestamp": "2023-05-08T13:56:00", **overrides}


def test_locomo_reads_only_the_conversation():
    loaded = load_file(LOCOMO_DEV)
    assert [c.id for c in loaded.conversations] == ["conv-26", "conv-30", "conv-41", "conv-42", "conv-43"]
    assert loaded.message_count == 2760 and loaded.problems == []
    first = loaded.conversations[0]
    assert first.participants == ("Caroline", "Melanie")
    assert (first.messages[0].id, first.messages[0].ts) == ("D1:1", datetime(2023, 5, 8, 13, 56))
    assert first.messages[4].caption == "a photo of a dog walking past a wall with a painting of a woman"
    texts = {m.text for c in loaded.conversations for m in c.messages}
    sample = json.loads(LOCOMO_DEV.read_text())[0]
    observation = next(iter(sample["observation"].values()))["Caroline"][0][0]
    assert observation not in texts


def test_generic_format_with_human_timestamps():
    loaded = load_file(SAMPLE)
    (talk,) = loaded.conversations
    assert talk.participants == ("Ana", "Ben")
    assert talk.messages[6].ts == datetime(2024, 5, 2, 20, 15)
    assert [m.seq for m in talk.messages] == list(range(12))


def test_jsonl_of_loose_messages_groups_by_conversation(tmp_path):
    lines = [
        json.dumps({"conversation_id": "a", **message(1)}),
        json.dumps({"conversation_id": "b", **message(2)}),
        json.dumps({"conversation_id": "a", **message(3)}),
    ]
    loaded = load_file(write(tmp_path, "talk.jsonl", "\n".join(lines)))
    assert {c.id: [m.id for m in c.messages] for c in loaded.conversations} == {"a": ["m1", "m3"], "b": ["m2"]}


def test_bad_records_are_rejected_one_by_one_and_named(tmp_path):
    big = "x" * 1_048_576
    convo = {"conversation_id": "c1", "messages": [
        message(1), {"id": "m2", "text": "no speaker", "timestamp": "2023-05-08"}, message(3, text=""),
        message(4, timestamp="sometime last spring"), message(5, text=big), message(1, text="dup"), message(6),
    ]}
    path = write(tmp_path, "bad.json", convo)
    loaded = load_file(path)
    assert [m.id for m in loaded.conversations[0].messages] == ["m1", "m6"]
    problems = {(p.record.split()[-1], p.field): p for p in loaded.problems}
    assert set(problems) == {("messages[1]", "speaker"), ("messages[2]", "text"), ("messages[3]", "timestamp"),
                             ("messages[4]", "text"), ("messages[5]", "id")}
    assert "1,048,576 characters" in problems[("messages[4]", "text")].problem
    assert "duplicate message id 'm1'" in problems[("messages[5]", "id")].problem
    text = str(problems[("messages[3]", "timestamp")])
    assert text.startswith(path) and "conversation 'c1' messages[3]" in text and "field 'timestamp'" in text


def test_jsonl_names_the_line_of_a_malformed_record(tmp_path):
    path = write(tmp_path, "t.jsonl", json.dumps({"conversation_id": "a", **message(1)}) + "\n{not json\n")
    loaded = load_file(path)
    assert loaded.message_count == 1
    (problem,) = loaded.problems
    assert problem.line == 2 and "malformed JSON" in problem.problem and str(problem).startswith(f"{path}:2:")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "the file is empty"),
        ("   \n", "the file is empty"),
        ('{"conversation_id": "c1", "messages": [', "malformed JSON"),
        (b"\xff\xfe\x00broken", "not UTF-8"),
    ],
)
def test_unreadable_files_raise_with_the_file_named(tmp_path, content, expected):
    path = write(tmp_path, "broken.json", content)
    with pytest.raises(InputError) as raised:
        load_file(path)
    assert expected in str(raised.value) and path in str(raised.value)


def test_malformed_json_names_the_line(tmp_path):
    path = write(tmp_path, "broken.json", '{\n"conversation_id": "c1",\n"messages": [}\n')
    with pytest.raises(InputError) as raised:
        load_file(path)
    assert raised.value.problem.line == 3


def test_unknown_record_shape(tmp_path):
    loaded = load_file(write(tmp_path, "x.json", [{"hello": 1}]))
    (problem,) = loaded.problems
    assert problem.record == "record [0]" and "unknown record" in problem.problem


def test_locomo_session_with_a_bad_date_rejects_its_turns_only(tmp_path):
    sample = json.loads(LOCOMO_DEV.read_text())[0]
    sample["conversation"]["session_2_date_time"] = "soon"
    loaded = load_file(write(tmp_path, "l.json", [sample]))
    (problem,) = loaded.problems
    assert problem.field == "session_2_date_time" and "session_2" in problem.record
    messages = loaded.conversations[0].messages
    assert messages and all(m.session != 2 for m in messages)
    assert any(m.session == 3 for m in loaded.conversations[0].messages)


# -- hostile input: each bad value is one record's rejection, never the file's ---------------------


def test_jsonl_splits_records_on_newline_only_and_tolerates_a_bom_per_line(tmp_path):
    lines = [json.dumps({"conversation_id": "c", **message(1)}, ensure_ascii=False),
             json.dumps({"conversation_id": "c", **message(2, text="one\u2028two\u2029three\x85four")},
                        ensure_ascii=False),
             "\ufeff" + json.dumps({"conversation_id": "c", **message(3)}),  # a second file appended with cat
             "{broken"]
    loaded = load_file(write(tmp_path, "c.jsonl", "\r\n".join(lines)))
    assert [m.id for m in loaded.conversations[0].messages] == ["m1", "m2", "m3"]
    assert loaded.conversations[0].messages[1].text == "one\u2028two\u2029three\x85four"
    assert [(p.record, p.line) for p in loaded.problems] == [("line 4", 4)]


@pytest.mark.parametrize(
    ("overrides", "field", "problem"),
    [
        ({"timestamp": float("nan")}, "timestamp", "no time in years 1 to 9999"),
        ({"timestamp": float("inf")}, "timestamp", "no time in years 1 to 9999"),
        ({"timestamp": 10**20}, "timestamp", "no time in years 1 to 9999"),
        ({"timestamp": "0001-01-01T00:30:00+01:00"}, "timestamp", "outside years 1 to 9999"),
        ({"timestamp": "9999-12-31T23:30:00-01:00"}, "timestamp", "outside years 1 to 9999"),
        ({"text": "bad \ud800 text"}, "text", "lone surrogate \\ud800"),
        ({"speaker": "\udfff"}, "speaker", "lone surrogate"),
        ({"id": "x\udc80"}, "id", "lone surrogate"),
        ({"speaker": "A" * 300}, "speaker", "the limit is 256"),
        ({"id": 10**1000}, "id", "ids are at most 256 characters"),
        ({"blip_caption": "\ud83d"}, "blip_caption", "lone surrogate"),
    ],
)
def test_a_bad_value_rejects_its_record_only(tmp_path, overrides, field, problem):
    data = {"conversation_id": "c", "messages": [message(1), message(2, **overrides), message(3)]}
    raw = json.dumps(data, allow_nan=True)
    loaded = load_file(write(tmp_path, "c.json", raw))
    assert [m.id for m in loaded.conversations[0].messages] == ["m1", "m3"]
    (rejected,) = loaded.problems
    assert (rejected.record, rejected.field) == ("record conversation 'c' messages[1]", field)
    assert problem in rejected.problem


def test_overlong_integers_and_deep_nesting_reject_their_record_only(tmp_path):
    huge = "9" * 5000
    deep = "[" * 100_000 + "]" * 100_000
    good = json.dumps({"conversation_id": "ok", "messages": [message(1)]})
    raw = (f'[{{"conversation_id": "c", "messages": [{{"id": "m1", "speaker": "Ann", "text": "hi", '
           f'"timestamp": {huge}}}]}}, {deep}, {good}, {{"conversation_id": {huge}, "messages": []}}]')
    loaded = load_file(write(tmp_path, "c.json", raw))
    assert [c.id for c in loaded.conversations] == ["ok"]
    problems = {(p.record, p.field): p.problem for p in loaded.problems}
    assert "5,000 digits" in problems[("record [0] conversation 'c' messages[0]", "timestamp")]
    assert "nested more than" in problems[("record [1]", None)]
    assert "5,000 digits" in problems[("record [3]", "conversation_id")]
    jsonl = load_file(write(tmp_path, "c.jsonl", "\n".join([deep, json.dumps({"conversation_id": "c", **message(1)})])))
    assert [p.record for p in jsonl.problems] == ["line 1"] and jsonl.message_count == 1


def test_a_session_number_beyond_32_bits_rejects_that_session_only(tmp_path):
    sample = {"sample_id": "s", "conversation": {
        "speaker_a": "Ann", "speaker_b": "Bob",
        "session_1": [{"speaker": "Ann", "dia_id": "D1:1", "text": "hi"}], "session_1_date_time": "1:56 pm on 8 May, 2023",
        f"session_{2**64}": [{"speaker": "Bob", "dia_id": "D2:1", "text": "yo"}],
        f"session_{2**64}_date_time": "1:56 pm on 9 May, 2023",
    }}
    loaded = load_file(write(tmp_path, "s.json", [sample]))
    assert [m.id for m in loaded.conversations[0].messages] == ["D1:1"]
    assert [p.field for p in loaded.problems] == [f"session_{2**64}"]


def test_a_realtalk_session_number_beyond_32_bits_rejects_that_session_only(tmp_path):
    turn = {"speaker": "Ann", "clean_text": "hi", "date_time": "08.05.2023, 13:56:00", "dia_id": "D1:1"}
    chat = {"name": {"speaker_1": "Ann", "speaker_2": "Bob"}, "session_1": [turn],
            f"session_{2**64}": [dict(turn, speaker="Bob", dia_id="D2:1")]}
    loaded = load_file(write(tmp_path, "chat.json", chat))
    assert [m.id for m in loaded.conversations[0].messages] == ["D1:1"]
    assert [(p.field, p.problem) for p in loaded.problems] == [(f"session_{2**64}", "session number beyond 2,147,483,647")]
