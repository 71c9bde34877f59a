"""Property-based fuzzing of everything that reads user input: the loaders, `Memory.ingest` and
`Memory.add_messages` (on each store), and the CLI.

Files are generated from valid conversations with hostile values swapped in: NaN, infinite,
numeric and out-of-range timestamps, time zones that push a date past year 1 or 9999, lone
surrogates, JSON integers beyond Python's 4,300 digits, nesting 50,000 deep, names of 30,000
characters, emoji floods, ids holding separators, control characters, wrong types, raw U+2028 /
U+2029 / U+0085 in strings, a byte order mark on every JSONL line, CRLF line ends, whole files
that are empty, not UTF-8, or not JSON. Every input must either ingest or be rejected naming
file, record and field, within 5 s; no other tenant's rows and no earlier data may change; every
valid record beside a bad one must be stored. The 5 s are this process's CPU seconds (the work an
input costs, whatever else the machine runs); a wall-clock guard of 60 s catches hangs.

Deterministic and bounded: the `graphmem-fuzz` settings profile derandomizes hypothesis (the same
examples on every run, no example database) and each test caps its examples, so the whole file
runs in well under a minute on 2 cores.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from graphmem import Config, Memory
from graphmem.errors import GroupIdError, InputError
from graphmem.ingest.loaders import load_file
from tests.conftest import SAMPLE

settings.register_profile(
    "graphmem-fuzz",
    derandomize=True,  # a fixed seed: CI sees the same examples every run
    database=None,
    deadline=None,  # the 5 s bound is asserted by the tests themselves
    print_blob=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure reports its example at once, in budget
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large,
                           HealthCheck.large_base_example, HealthCheck.filter_too_much],
)
FUZZ = settings.get_profile("graphmem-fuzz")
SECONDS_PER_INPUT = 5.0  # of this process's CPU: wall time on a shared 2-core CI machine depends on its load
HANG_SECONDS = 60.0  # wall time: a hang (a read that never ends) fails, not a slow neighbour


class Budget:
    """Times one input: its CPU seconds must stay within SECONDS_PER_INPUT, its wall time within HANG_SECONDS."""

    def __enter__(self) -> Budget:
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc_info) -> None:
        cpu, wall = time.process_time() - self.cpu, time.perf_counter() - self.wall
        assert cpu < SECONDS_PER_INPUT and wall < HANG_SECONDS, f"{cpu:.1f} s CPU, {wall:.1f} s wall"
HUGE_INTEGER, DEEP_NESTING = "__huge_integer__", "__deep_nesting__"  # swapped for raw JSON text when written
_SURROGATE = re.compile(r"[\ud800-\udfff]")

# -- what to swap in ------------------------------------------------------------------------------

BAD_TIMESTAMPS = st.sampled_from([
    float("nan"), float("inf"), float("-inf"), 1e300, -1e300, 10**20, -(10**15), True, None, [], {}, "",
    "0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "soon", "2024-02-30T10:00:00", "1:56 pm",
    "9" * 400, HUGE_INTEGER, DEEP_NESTING, "2024-05-02T20:23:00\x00", "\ud800",
])
GOOD_ODD_TIMESTAMPS = st.sampled_from([0, 1_700_000_000, 1_700_000_000.5, "1:56 pm on 8 May, 2023",
                                       "May 8, 2023 1:56 PM", "2023-05-08T13:56:00+14:00"])
HOSTILE_TEXT = st.one_of(
    st.text(st.characters(codec=None, categories=("Cs", "Cc", "Zl", "Zp", "Cf", "So", "Mn")), min_size=1, max_size=40),
    st.sampled_from([
        "\ud800", "a\udfffb", "😀" * 3_000, "😀a" * 1_500, "x" * 5_000, " ", "\n\t", "\u2028\u2029\x85",
        "\ufeffhi", "on 3 May 2021, yesterday; " * 200, "'}) DETACH DELETE n //", "a\x1fb", "\x00",
    ]),
)
HOSTILE_NAME = st.one_of(HOSTILE_TEXT, st.sampled_from(["A" * 30_000, "!" * 30_000 + "a" + "." * 30_000, "Ann\x1fBob"]))
WRONG_TYPES = st.sampled_from([None, 5, -1.5, float("nan"), True, [], {}, ["Ann"], {"a": 1}, HUGE_INTEGER, DEEP_NESTING])
HOSTILE_IDS = st.one_of(
    st.sampled_from(["", " ", "a\x1fb", "\ud800", "x" * 300, 10**30, 2**70, -1, 3.5, True, None, [], HUGE_INTEGER,
                     DEEP_NESTING, "dup"]),
    st.text(st.characters(categories=("Cs", "Cc", "So", "Zs")), min_size=1, max_size=8),
)
FIELD_SWAPS = st.one_of(
    st.tuples(st.just("timestamp"), BAD_TIMESTAMPS | GOOD_ODD_TIMESTAMPS),
    st.tuples(st.just("text"), HOSTILE_TEXT | WRONG_TYPES),
    st.tuples(st.just("speaker"), HOSTILE_NAME | WRONG_TYPES),
    st.tuples(st.just("id"), HOSTILE_IDS),
    st.tuples(st.just("blip_caption"), HOSTILE_TEXT | WRONG_TYPES),
    st.tuples(st.sampled_from(["timestamp", "text", "speaker"]), st.just(DELETED := object())),
)
SENTENCES = [
    "I moved to Porto last month.", "We adopted a dog named Rex yesterday!", "My sister Ana starts at Google next week.",
    "Two years ago I ran the Lisbon marathon.", "ok", "I love painting sunsets with my kids.",
]


@dataclass
class Generated:
    """A generated file and what a correct loader must make of it."""

    layout: str
    conversations: list[dict]
    valid: dict[tuple[str, str], str] = field(default_factory=dict)  # (conversation, id) -> text, must be stored
    poisoned: set[str] = field(default_factory=set)  # conversations a deep value makes unreadable as a record
    total: int = 0


_unique = count()


@st.composite
def generated_files(draw, max_conversations: int = 3, max_messages: int = 6) -> Generated:
    layout = draw(st.sampled_from(["json", "json-object", "jsonl-conversations", "jsonl-messages"]))
    if layout == "json-object":
        max_conversations = 1
    run = next(_unique)
    out = Generated(layout, [])
    for k in range(draw(st.integers(1, max_conversations))):
        conversation_id = f"r{run}-c{k}"
        messages = []
        for i in range(draw(st.integers(1, max_messages))):
            message = {"id": f"v{i}", "speaker": draw(st.sampled_from(["Ann", "Bob"])),
                       "text": draw(st.sampled_from(SENTENCES)), "timestamp": f"2024-05-0{1 + i % 9}T10:0{i % 10}:00"}
            if draw(st.booleans()):
                name, value = draw(FIELD_SWAPS)
                if value is DELETED:
                    del message[name]
                else:
                    message[name] = value
                if name == "id" or DEEP_NESTING in json.dumps(message, default=str):
                    message.setdefault("id", None)
                if DEEP_NESTING == value and layout != "jsonl-messages":
                    out.poisoned.add(conversation_id)
            else:
                out.valid[(conversation_id, f"v{i}")] = message["text"]
            messages.append(message)
        out.total += len(messages)
        out.conversations.append({"conversation_id": conversation_id, "participants": ["Ann", "Bob"],
                                  "messages": messages})
    out.valid = {key: text for key, text in out.valid.items() if key[0] not in out.poisoned}
    return out


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=True, default=str)


def write_generated(generated: Generated, directory: Path, bom_per_line: bool, crlf: bool) -> Path:
    """The file as bytes a user could hand us: raw U+2028 stays raw, lone surrogates become
    escapes, the placeholders become a 5,000-digit integer and nesting 50,000 deep."""
    if generated.layout == "json":
        text, suffix = _json(generated.conversations), ".json"
    elif generated.layout == "json-object":
        text, suffix = _json(generated.conversations[0]), ".json"
    else:
        if generated.layout == "jsonl-conversations":
            records = generated.conversations
        else:
            records = [{"conversation_id": c["conversation_id"], **m} for c in generated.conversations for m in c["messages"]]
        lines = [("\ufeff" if bom_per_line else "") + _json(r) for r in records]
        text, suffix = ("\r\n" if crlf else "\n").join(lines), ".jsonl"
    text = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    text = text.replace(f'"{HUGE_INTEGER}"', "9" * 5_000).replace(f'"{DEEP_NESTING}"', "[" * 50_000 + "]" * 50_000)
    path = directory / f"fuzz-{next(_unique)}{suffix}"
    path.write_bytes(text.encode("utf-8"))
    return path


def assert_named(problem, path: Path) -> None:
    """A rejection names the file, the record and (for a field's fault) the field."""
    assert problem.file == str(path) and problem.record and problem.problem
    assert problem.field is None or problem.field in str(problem)
    assert "Traceback" not in problem.problem


# -- the loaders ----------------------------------------------------------------------------------


@settings(FUZZ, max_examples=120)
@given(generated=generated_files(), bom_per_line=st.booleans(), crlf=st.booleans())
def test_loaders_ingest_or_reject_every_record(tmp_path_factory, generated, bom_per_line, crlf):
    path = write_generated(generated, tmp_path_factory.mktemp("fuzz"), bom_per_line, crlf)
    with Budget():
        loaded = load_file(path)
    stored = {(m.conversation_id, m.id): m for c in loaded.conversations for m in c.messages}
    for key, text in generated.valid.items():
        assert key in stored and stored[key].text == text, (key, loaded.problems)
    for problem in loaded.problems:
        assert_named(problem, path)
    for message in stored.values():  # what was accepted, every store can hold
        for value in (message.id, message.speaker, message.text, message.caption or ""):
            assert not _SURROGATE.search(value) and value == value.strip()
        assert len(message.id) <= 256 and len(message.speaker) <= 256 and 1 <= message.ts.year <= 9999
    readable = generated.total - sum(len(c["messages"]) for c in generated.conversations
                                     if c["conversation_id"] in generated.poisoned)
    assert len(stored) + len(loaded.problems) == readable + len(generated.poisoned)


@pytest.mark.parametrize("content", [b"", b"   \n", b"\xff\xfe not UTF-8", b"{not json", b"[1, 2", b"\xef\xbb\xbf",
                                     b"[" * 50_000, b"9" * 5_000, b"NaN"])
def test_unreadable_files_are_refused_whole_with_a_reason(tmp_path, content):
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    try:
        loaded = load_file(path)
    except InputError as error:
        assert error.problem.file == str(path) and error.problem.record == "file" and error.problem.problem
    else:
        assert loaded.conversations == [] and loaded.problems
        for problem in loaded.problems:
            assert_named(problem, path)


# -- Memory.ingest and add_messages ----------------------------------------------------------------


def _snapshot(memory: Memory, group: str, conversation_id: str | None = None) -> tuple:
    store = memory.store
    return (store.messages(group, conversation_id), store.entities(group), store.mentions(group),
            store.events(group), store.facts(group))


@pytest.fixture(scope="module")
def fuzz_memory(tmp_path_factory):
    """One memory for the module: a bystander tenant and earlier data in the fuzzed tenant."""
    with Memory(Config(path=tmp_path_factory.mktemp("fuzz-memory") / "memory.db", group_id="fuzz")) as memory:
        memory.ingest(SAMPLE, group_id="bystander")
        memory.ingest(SAMPLE)
        yield memory


@settings(FUZZ, max_examples=12)
@given(generated=generated_files(max_conversations=2, max_messages=4), bom_per_line=st.booleans())
def test_memory_ingest_keeps_valid_records_and_touches_nothing_else(nlp, fuzz_memory, tmp_path_factory, generated,
                                                                     bom_per_line):
    memory = fuzz_memory
    bystander, earlier = _snapshot(memory, "bystander"), memory.store.messages("fuzz", "sample-ana-ben")
    path = write_generated(generated, tmp_path_factory.mktemp("fuzz"), bom_per_line, crlf=False)
    with Budget():
        report = memory.ingest([path, SAMPLE])
    for problem in report.rejected:
        assert_named(problem, path)
    stored = {(m.conversation_id, m.source_id): m.text for m in memory.store.messages("fuzz")}
    assert all(stored.get(key) == text for key, text in generated.valid.items())
    assert _snapshot(memory, "bystander") == bystander
    assert memory.store.messages("fuzz", "sample-ana-ben") == earlier


MESSAGE_DICTS = st.fixed_dictionaries(
    {"speaker": st.sampled_from(["Ann", "Bob"]), "text": st.sampled_from(SENTENCES),
     "timestamp": st.just("2024-05-02T20:23:00")},
    optional={"id": HOSTILE_IDS, "blip_caption": HOSTILE_TEXT},
)


@settings(FUZZ, max_examples=10)
@given(
    conversation_id=st.one_of(st.just("chat"), HOSTILE_IDS),
    messages=st.lists(st.one_of(MESSAGE_DICTS, MESSAGE_DICTS.flatmap(
        lambda m: FIELD_SWAPS.map(lambda swap: {**m, swap[0]: swap[1]} if swap[1] is not DELETED else m))),
        max_size=4),
    group_id=st.one_of(st.just("fuzz"), st.sampled_from(["", " ", "x" * 129, "../etc", "\ud800", "tenant\x00"])),
)
def test_add_messages_ingests_or_rejects(store, tmp_path_factory, conversation_id, messages, group_id):
    with Memory(Config(path=tmp_path_factory.mktemp("unused") / "m.db"), store=store) as memory:
        if not store.counts("bystander").messages:
            memory.ingest(SAMPLE, group_id="bystander")
        bystander = _snapshot(memory, "bystander")
        try:
            with Budget():
                report = memory.add_messages(conversation_id, messages, group_id=group_id)
        except GroupIdError:
            assert group_id != "fuzz"
        else:
            assert group_id == "fuzz"
            for problem in report.rejected:
                assert problem.record and problem.problem and problem.file == "<messages>"
            if any(problem.record == "call" for problem in report.rejected):  # the conversation id itself
                assert report.messages_read == 0 and len(report.rejected) == 1
            else:  # each message either ingested or rejected
                assert report.messages_read + len(report.rejected) == len(messages)
        assert _snapshot(memory, "bystander") == bystander


# -- the CLI --------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=6)
@given(generated=generated_files(max_conversations=2, max_messages=3))
def test_cli_ingest_answers_in_one_line_per_problem(nlp, tmp_path_factory, capsys, monkeypatch, generated):
    from graphmem.cli import main as cli

    directory = tmp_path_factory.mktemp("fuzz-cli")
    path = write_generated(generated, directory, bom_per_line=False, crlf=False)
    broken = directory / "broken.json"
    broken.write_bytes(b"\xff")
    monkeypatch.setattr(sys, "argv", ["graphmem", "--path", str(directory / "m.db"), "--group", "fuzz",
                                      "ingest", str(path), str(broken)])
    capsys.readouterr()
    with Budget(), pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1  # the unreadable file; the others were still ingested
    errors = capsys.readouterr().err
    assert "Traceback" not in errors
    lines = [line for line in errors.splitlines() if line.strip()]
    assert f"rejected {broken}:1: file: not UTF-8: byte 0xff at offset 0" in lines
    assert all(line.startswith(("rejected ", "error: ")) for line in lines), lines
    with Memory(Config(path=directory / "m.db", group_id="fuzz")) as memory:
        stored = {(m.conversation_id, m.source_id) for m in memory.store.messages("fuzz")}
    assert set(generated.valid) <= stored
