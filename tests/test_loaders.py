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
