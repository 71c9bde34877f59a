"""Reading conversation files: LoCoMo samples, REALTALK chat exports and graphmem's generic format.

Generic format, one conversation::

    {"conversation_id": "c1", "participants": ["Ann", "Bob"],          # participants optional
     "messages": [{"id": "m1", "speaker": "Ann", "text": "Hi", "timestamp": "2023-05-08T13:56"}]}

A JSON file holds one such object or a list of them; a JSONL file holds one per line, or one
message per line (each then carries its own `conversation_id`). LoCoMo samples are read from
their `conversation` field only; the dataset's annotations (`qa`, `observation`, summaries) are
never memory. A REALTALK chat (`name` with `speaker_1`/`speaker_2`, `session_N` lists of messages
with `clean_text`, `speaker`, `date_time` "DD.MM.YYYY, HH:MM:SS" and `dia_id`) is one conversation
named after its file; each message keeps its own time and photo caption (`blip_caption`), and the
`events_session_N` and `qa` annotations are never memory.

Loading is all-or-nothing per record, never per file: a bad record is reported as a
`RecordProblem` naming file, record and field, and every valid record is still returned. Only a
file that cannot be read at all (not UTF-8, not JSON, empty) raises `InputError`.

Every value a store will hold is checked here, so that a file is wholly validated before any of
it is written: names and ids are capped (`MAX_NAME_CHARS`), strings with a lone surrogate
("\ud800", which no store can encode) are rejected, as are integers no store can hold (a session
number beyond 32 bits, a JSON integer too long for Python) and records nested deeper than Python's
JSON reader goes. JSONL records are separated by "\n" only (a raw U+2028 inside a string is text,
not a line break), and a byte order mark may start any line (files concatenated with `cat`).
"""

from __future__ import annotations

import json
import re
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from graphmem.config import DEFAULT_MAX_MESSAGE_CHARS
from graphmem.errors import InputError, RecordProblem
from graphmem.models import MAX_NAME_CHARS, Conversation, Message, lone_surrogate_problem
from graphmem.extraction.temporal import TimestampError, parse_timestamp

MAX_FILE_BYTES = 512 * 2**20
"""Largest file read (LoCoMo's whole dataset is ~3 MB): a device or a runaway file is refused, not read."""
MAX_SESSION = 2**31 - 1
_LOCOMO_SESSION = re.compile(r"^session_(\d+)$")
BOM = "\ufeff"


@dataclass
class LoadedFile:
    """The conversations a file holds and the records it rejected."""

    path: str
    conversations: list[Conversation] = field(default_factory=list)
    problems: list[RecordProblem] = field(default_factory=list)

    @property
    def message_count(self) -> int:
        return sum(len(c.messages) for c in self.conversations)


@dataclass
class _Record:
    """A top-level record with where it came from, for error messages."""

    value: Any
    label: str
    line: int | None


class _Rejected(Exception):
    def __init__(self, problem: str, field: str | None = None):
        super().__init__(problem)
        self.problem = problem
        self.field = field


def load_file(path: str | Path, *, max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS) -> LoadedFile:
    """Read every conversation in a `.json` or `.jsonl` file (JSONL also when the name ends `.ndjson`)."""
    path = Path(path)
    name = str(path)
    text = _read_utf8(path)
    if not text.strip():
        raise InputError(RecordProblem(name, "file", "the file is empty"))
    jsonl = path.suffix.lower() in {".jsonl", ".ndjson"}
    records = list(_jsonl_records(name, text) if jsonl else _json_records(name, text))
    return _conversations_from_records(name, records, max_message_chars)


def conversation_from_messages(
    conversation_id: str,
    messages: list[dict],
    *,
    participants: tuple[str, ...] = (),
    max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS,
    source: str = "<messages>",
) -> tuple[Conversation | None, list[RecordProblem]]:
    """Validate messages given in the generic format's message shape (as from an API)."""
    try:
        conversation_id = _required_str({"conversation_id": conversation_id}, "conversation_id")
        participants = tuple(_storable(p, f"participants[{i}]", MAX_NAME_CHARS) for i, p in enumerate(participants))
        if not isinstance(messages, (list, tuple)):
            raise _Rejected(f"expected a list of messages, got {_kind(messages)}", "messages")
    except _Rejected as rejected:
        return None, [RecordProblem(source, "call", rejected.problem, rejected.field)]
    builder = _ConversationBuilder(source, conversation_id, max_message_chars)
    builder.add_participants(participants)
    for index, raw in enumerate(messages):
        builder.add_message(raw, f"messages[{index}]", None)
    return builder.build(), builder.problems


def _read_utf8(path: Path) -> str:
    """The file's text. Only a regular file is opened (a FIFO or a device such as /dev/zero would
    block or never end), and at most `MAX_FILE_BYTES` of it is read."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise InputError(RecordProblem(str(path), "file", "not a regular file (a directory, device or pipe)"))
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(RecordProblem(str(path), "file", f"cannot read: {exc.strerror or exc}")) from exc
    if len(data) > MAX_FILE_BYTES:
        raise InputError(RecordProblem(str(path), "file", f"larger than {MAX_FILE_BYTES // 2**20} MiB; split it"))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            RecordProblem(str(path), "file", f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}", line=line)
        ) from exc


@dataclass(frozen=True)
class _LongInteger:
    """A JSON integer with more digits than Python reads (4,300); any field holding one is rejected."""

    digits: int

    def __repr__(self) -> str:
        return f"<an integer of {self.digits:,} digits>"


def _parse_int(text: str) -> int | _LongInteger:
    try:
        return int(text)
    except ValueError:
        return _LongInteger(len(text))


_DECODER = json.JSONDecoder(parse_int=_parse_int)
_TOO_DEEP = f"nested more than about {sys.getrecursionlimit()} levels deep"


def _loads(text: str) -> Any:
    """`json.loads` that reads overlong integers as `_LongInteger` instead of failing the file."""
    value, end = _DECODER.raw_decode(text, len(text) - len(text.lstrip()))
    if text[end:].strip():
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _json_records(name: str, text: str) -> Iterator[_Record]:
    too_deep = False
    try:
        value = _loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            RecordProblem(name, "file", f"malformed JSON: {exc.msg} (column {exc.colno})", line=exc.lineno)
        ) from exc
    except RecursionError:
        too_deep = True  # some record is nested too deep: read the top-level list one element at a time
    if too_deep and text.lstrip().startswith("["):
        for index, element in enumerate(_array_elements(name, text)):
            try:
                item: Any = _loads(element)
            except json.JSONDecodeError as exc:
                item = _Malformed(f"malformed JSON: {exc.msg}")
            except RecursionError:
                item = _Malformed(f"malformed JSON: {_TOO_DEEP}")
            yield _Record(item, f"record [{index}]", None)
    elif too_deep:
        raise InputError(RecordProblem(name, "file", f"malformed JSON: {_TOO_DEEP}"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield _Record(item, f"record [{index}]", None)
    else:
        yield _Record(value, "record", None)


def _array_elements(name: str, text: str) -> Iterator[str]:
    """The texts of a top-level JSON array's elements, found by scanning brackets and strings
    without parsing (iteratively: depth costs nothing). Each is then parsed on its own."""
    depth, in_string, escaped, start = 0, False, False, 0
    for position, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth == 1:
                start = position + 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                if text[start:position].strip():
                    yield text[start:position]
                return
        elif char == "," and depth == 1:
            yield text[start:position]
            start = position + 1
    raise InputError(RecordProblem(name, "file", "malformed JSON: unterminated array"))


def _jsonl_records(name: str, text: str) -> Iterator[_Record]:
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.lstrip(BOM)
        if not line.strip():
            continue
        try:
            yield _Record(_loads(line), f"line {number}", number)
        except json.JSONDecodeError as exc:
            yield _Record(_Malformed(f"malformed JSON: {exc.msg} (column {exc.colno})"), f"line {number}", number)
        except RecursionError:
            yield _Record(_Malformed(f"malformed JSON: {_TOO_DEEP}"), f"line {number}", number)


@dataclass
class _Malformed:
    problem: str


def _conversations_from_records(name: str, records: list[_Record], max_chars: int) -> LoadedFile:
    """Turn top-level records into conversations; loose messages are grouped by conversation id."""
    loaded = LoadedFile(name)
    builders: dict[str, _ConversationBuilder] = {}

    def builder(conversation_id: str, participants: tuple[str, ...] = ()) -> _ConversationBuilder:
        if conversation_id not in builders:
            builders[conversation_id] = _ConversationBuilder(name, conversation_id, max_chars)
        found = builders[conversation_id]
        found.add_participants(participants)
        return found

    for record in records:
        value = record.value
        try:
            if isinstance(value, _Malformed):
                raise _Rejected(value.problem)
            if not isinstance(value, dict):
                raise _Rejected(f"expected a JSON object, got {type(value).__name__}")
            if isinstance(value.get("conversation"), dict):
                _read_locomo_sample(value, record, builder)
            elif is_realtalk_chat(value):
                _read_realtalk_chat(value, record, builder, name)
            elif "messages" in value:
                _read_generic_conversation(value, record, builder)
            elif "speaker" in value or "text" in value:
                conversation_id = _required_str(value, "conversation_id")
                builder(conversation_id).add_message(value, record.label, record.line)
            else:
                raise _Rejected(
                    "unknown record: expected a LoCoMo sample ('conversation'), a conversation "
                    "('conversation_id', 'messages') or a message ('conversation_id', 'speaker', 'text', 'timestamp')"
                )
        except _Rejected as rejected:
            loaded.problems.append(RecordProblem(name, record.label, rejected.problem, rejected.field, record.line))

    for found in builders.values():
        loaded.problems.extend(found.problems)
        conversation = found.build()
        if conversation is not None:
            loaded.conversations.append(conversation)
    return loaded


def _read_generic_conversation(value: dict, record: _Record, builder) -> None:
    conversation_id = _required_str(value, "conversation_id")
    participants = value.get("participants") or []
    if not isinstance(participants, list) or not all(isinstance(p, str) and p.strip() for p in participants):
        raise _Rejected("expected a list of names", "participants")
    names = tuple(_storable(p, f"participants[{index}]", MAX_NAME_CHARS) for index, p in enumerate(participants))
    messages = value["messages"]
    if not isinstance(messages, list):
        raise _Rejected("expected a list of messages", "messages")
    target = builder(conversation_id, names)
    for index, message in enumerate(messages):
        target.add_message(message, f"{record.label} conversation {conversation_id!r} messages[{index}]", record.line)


def _read_locomo_sample(value: dict, record: _Record, builder) -> None:
    conversation_id = _required_str(value, "sample_id")
    body = value["conversation"]
    speakers = tuple(
        _storable(body[key], key, MAX_NAME_CHARS)
        for key in ("speaker_a", "speaker_b") if isinstance(body.get(key), str) and body[key].strip()
    )
    target = builder(conversation_id, speakers)
    _read_sessions(body, target, f"{record.label} sample {conversation_id!r}", record.line, _LOCOMO_FIELDS,
                   session_time=True)


def is_realtalk_chat(value: Any) -> bool:
    """A REALTALK chat export: `name` naming `speaker_1`, and `session_N` message lists."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("name"), dict)
        and "speaker_1" in value["name"]
        and any(_LOCOMO_SESSION.match(key) for key in value)
    )


def realtalk_conversation_id(file: str, record: str) -> str:
    """A REALTALK chat has no id of its own: it is named after its file (and place in a list)."""
    stem = Path(file).stem
    return stem if record == "record" else f"{stem}{record.removeprefix('record ')}"


def _read_realtalk_chat(value: dict, record: _Record, builder, file: str) -> None:
    conversation_id = realtalk_conversation_id(file, record.label)
    names = value["name"]
    speakers = tuple(
        s.strip() for s in (names.get("speaker_1"), names.get("speaker_2")) if isinstance(s, str) and s.strip()
    )
    target = builder(conversation_id, speakers)
    _read_sessions(value, target, f"{record.label} chat {conversation_id!r}", record.line, _REALTALK_FIELDS,
                   session_time=False)


def _read_sessions(
    body: dict, target: _ConversationBuilder, label: str, line: int | None, shape: _MessageFields, *, session_time: bool
) -> None:
    """The turns of each `session_N` list in `body` (LoCoMo and REALTALK), in session order.

    With `session_time` (LoCoMo), every turn of a session takes the session's time
    (`session_N_date_time`); otherwise each turn has its own. A session whose number no store can
    hold, whose time is invalid, or which is not a list is rejected whole.
    """
    sessions = sorted(
        (int(match.group(1)) if len(match.group(1)) <= 10 else MAX_SESSION + 1, key)
        for key in body if (match := _LOCOMO_SESSION.match(key))
    )
    for number, key in sessions:
        where = f"{label} {key}"
        if number > MAX_SESSION:
            problem = f"session number beyond {MAX_SESSION:,}"
            target.problems.append(RecordProblem(target.file, where, problem, key, line))
            continue
        session_ts = None
        if session_time:
            stamp_field = f"{key}_date_time"
            try:
                session_ts = parse_timestamp(body.get(stamp_field, ""))
            except TimestampError as exc:
                target.problems.append(RecordProblem(target.file, where, str(exc), stamp_field, line))
                continue
        turns = body[key]
        if not isinstance(turns, list):
            target.problems.append(RecordProblem(target.file, where, "expected a list of messages", key, line))
            continue
        for index, turn in enumerate(turns):
            target.add_message(turn, f"{where}[{index}]", line, session=number, session_ts=session_ts, shape=shape)


def _required_str(value: dict, key: str, max_chars: int = MAX_NAME_CHARS) -> str:
    """`value[key]` as a stripped, storable string (an integer is taken as its digits)."""
    found = value.get(key)
    if isinstance(found, int) and not isinstance(found, bool):
        found = _digits(found, key)
    if found is None or isinstance(found, str) and not found.strip():
        raise _Rejected("missing or empty", key)
    return _storable(found, key, max_chars)


def _storable(found: Any, field: str, max_chars: int) -> str:
    """A string a store can hold (no lone surrogate, at most `max_chars` once stripped), stripped."""
    if not isinstance(found, str):
        raise _Rejected(f"expected a string, got {_kind(found)}", field)
    found = found.strip()
    if len(found) > max_chars:
        raise _Rejected(f"{len(found):,} characters; the limit is {max_chars:,}", field)
    if problem := lone_surrogate_problem(found):
        raise _Rejected(problem, field)
    return found


def _digits(number: int, field: str) -> str:
    """An integer id as text; one longer than a name may be is rejected (and never converted)."""
    if number.bit_length() > 3 * MAX_NAME_CHARS:  # under MAX_NAME_CHARS decimal digits
        raise _Rejected(f"an integer of {number.bit_length():,} bits; ids are at most {MAX_NAME_CHARS} characters", field)
    return str(number)


def _kind(value: Any) -> str:
    return repr(value) if isinstance(value, _LongInteger) else type(value).__name__


@dataclass(frozen=True)
class _MessageFields:
    """Where a message's text, time and id sit in one input format."""

    text: str = "text"
    timestamp: str = "timestamp"
    id: str = "id"


_GENERIC_FIELDS = _MessageFields()
_LOCOMO_FIELDS = _MessageFields(id="dia_id")
_REALTALK_FIELDS = _MessageFields(text="clean_text", timestamp="date_time", id="dia_id")


class _ConversationBuilder:
    """Collects one conversation's valid messages and the problems of its invalid ones."""

    def __init__(self, file: str, conversation_id: str, max_chars: int):
        self.file = file
        self.conversation_id = conversation_id
        self.max_chars = max_chars
        self.participants: list[str] = []
        self.messages: list[Message] = []
        self.problems: list[RecordProblem] = []
        self._seen_ids: set[str] = set()

    def add_participants(self, names: tuple[str, ...]) -> None:
        for name in names:
            if name not in self.participants:
                self.participants.append(name)

    def add_message(
        self,
        raw: Any,
        label: str,
        line: int | None,
        *,
        session: int | None = None,
        session_ts: datetime | None = None,
        shape: _MessageFields = _GENERIC_FIELDS,
    ) -> None:
        try:
            message = self._validate(raw, session, session_ts, shape)
        except _Rejected as rejected:
            self.problems.append(RecordProblem(self.file, label, rejected.problem, rejected.field, line))
            return
        self._seen_ids.add(message.id)
        self.add_participants((message.speaker,))
        self.messages.append(message)

    def _validate(self, raw: Any, session: int | None, session_ts: datetime | None, shape: _MessageFields) -> Message:
        if not isinstance(raw, dict):
            raise _Rejected(f"expected a JSON object, got {type(raw).__name__}")
        speaker = _required_str(raw, "speaker")
        text = raw.get(shape.text)
        if not isinstance(text, str) or not text.strip():
            raise _Rejected("missing or empty", shape.text)
        text = _storable(text, shape.text, self.max_chars)
        if session_ts is not None:
            ts = session_ts
        else:
            if shape.timestamp not in raw:
                raise _Rejected("missing", shape.timestamp)
            try:
                ts = parse_timestamp(raw[shape.timestamp])
            except TimestampError as exc:
                raise _Rejected(str(exc), shape.timestamp) from None
        id_key = shape.id
        source_id = raw.get(id_key)
        if source_id is None:
            source_id = f"{self.conversation_id}:{len(self.messages) + len(self.problems) + 1}"
        elif isinstance(source_id, int) and not isinstance(source_id, bool):
            source_id = _digits(source_id, id_key)
        elif isinstance(source_id, str) and source_id.strip():
            source_id = _storable(source_id, id_key, MAX_NAME_CHARS)
        else:
            raise _Rejected("expected a non-empty string or integer", id_key)
        if source_id in self._seen_ids:
            raise _Rejected(f"duplicate message id {source_id!r} in conversation {self.conversation_id!r}", id_key)
        caption = raw.get("blip_caption")
        caption = _storable(caption, "blip_caption", self.max_chars) if isinstance(caption, str) else None
        return Message(
            id=source_id,
            conversation_id=self.conversation_id,
            seq=len(self.messages),
            speaker=speaker,
            text=text,
            ts=ts,
            session=session,
            caption=caption or None,
        )

    def build(self) -> Conversation | None:
        if not self.messages:
            return None
        return Conversation(
            id=self.conversation_id,
            participants=tuple(self.participants),
            messages=tuple(self.messages),
        )
