"""Reading conversation files: LoCoMo samples and graphmem's generic format, as JSON or JSONL.

Generic format, one conversation::

    {"conversation_id": "c1", "participants": ["Ann", "Bob"],          # participants optional
     "messages": [{"id": "m1", "speaker": "Ann", "text": "Hi", "timestamp": "2023-05-08T13:56"}]}

A JSON file holds one such object or a list of them; a JSONL file holds one per line, or one
message per line (each then carries its own `conversation_id`). LoCoMo samples are read from
their `conversation` field only; the dataset's annotations (`qa`, `observation`, summaries) are
never memory.

Loading is all-or-nothing per record, never per file: a bad record is reported as a
`RecordProblem` naming file, record and field, and every valid record is still returned. Only a
file that cannot be read at all (not UTF-8, not JSON, empty) raises `InputError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from graphmem.config import DEFAULT_MAX_MESSAGE_CHARS
from graphmem.errors import InputError, RecordProblem
from graphmem.models import Conversation, Message
from graphmem.extraction.temporal import TimestampError, parse_timestamp

_LOCOMO_SESSION = re.compile(r"^session_(\d+)$")


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
    builder = _ConversationBuilder(source, conversation_id, max_message_chars)
    builder.add_participants(participants)
    for index, raw in enumerate(messages):
        builder.add_message(raw, f"messages[{index}]", None)
    return builder.build(), builder.problems


def _read_utf8(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(RecordProblem(str(path), "file", f"cannot read: {exc.strerror or exc}")) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            RecordProblem(str(path), "file", f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}", line=line)
        ) from exc


def _json_records(name: str, text: str) -> Iterator[_Record]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            RecordProblem(name, "file", f"malformed JSON: {exc.msg} (column {exc.colno})", line=exc.lineno)
        ) from exc
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield _Record(item, f"record [{index}]", None)
    else:
        yield _Record(value, "record", None)


def _jsonl_records(name: str, text: str) -> Iterator[_Record]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield _Record(json.loads(line), f"line {number}", number)
        except json.JSONDecodeError as exc:
            yield _Record(_Malformed(f"malformed JSON: {exc.msg} (column {exc.colno})"), f"line {number}", number)


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
    messages = value["messages"]
    if not isinstance(messages, list):
        raise _Rejected("expected a list of messages", "messages")
    target = builder(conversation_id, tuple(p.strip() for p in participants))
    for index, message in enumerate(messages):
        target.add_message(message, f"{record.label} conversation {conversation_id!r} messages[{index}]", record.line)


def _read_locomo_sample(value: dict, record: _Record, builder) -> None:
    conversation_id = _required_str(value, "sample_id")
    body = value["conversation"]
    speakers = tuple(s.strip() for s in (body.get("speaker_a"), body.get("speaker_b")) if isinstance(s, str) and s.strip())
    target = builder(conversation_id, speakers)
    sessions = sorted(
        (int(match.group(1)), key) for key in body if (match := _LOCOMO_SESSION.match(key))
    )
    for number, key in sessions:
        label = f"{record.label} sample {conversation_id!r} {key}"
        stamp_field = f"{key}_date_time"
        try:
            session_ts = parse_timestamp(body.get(stamp_field, ""))
        except TimestampError as exc:
            target.problems.append(RecordProblem(target.file, label, str(exc), stamp_field, record.line))
            continue
        turns = body[key]
        if not isinstance(turns, list):
            target.problems.append(RecordProblem(target.file, label, "expected a list of turns", key, record.line))
            continue
        for index, turn in enumerate(turns):
            target.add_message(turn, f"{label}[{index}]", record.line, session=number, session_ts=session_ts)


def _required_str(value: dict, key: str) -> str:
    found = value.get(key)
    if isinstance(found, (int, float)) and not isinstance(found, bool):
        found = str(found)
    if not isinstance(found, str) or not found.strip():
        raise _Rejected("missing or empty", key)
    return found.strip()


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
    ) -> None:
        try:
            message = self._validate(raw, session, session_ts)
        except _Rejected as rejected:
            self.problems.append(RecordProblem(self.file, label, rejected.problem, rejected.field, line))
            return
        self._seen_ids.add(message.id)
        self.add_participants((message.speaker,))
        self.messages.append(message)

    def _validate(self, raw: Any, session: int | None, session_ts: datetime | None) -> Message:
        if not isinstance(raw, dict):
            raise _Rejected(f"expected a JSON object, got {type(raw).__name__}")
        speaker = _required_str(raw, "speaker")
        text = raw.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _Rejected("missing or empty", "text")
        if len(text) > self.max_chars:
            raise _Rejected(f"{len(text):,} characters; the limit is {self.max_chars:,}", "text")
        if session_ts is not None:
            ts = session_ts
        else:
            if "timestamp" not in raw:
                raise _Rejected("missing", "timestamp")
            try:
                ts = parse_timestamp(raw["timestamp"])
            except TimestampError as exc:
                raise _Rejected(str(exc), "timestamp") from None
        id_key = "dia_id" if session_ts is not None else "id"
        source_id = raw.get(id_key)
        if source_id is None:
            source_id = f"{self.conversation_id}:{len(self.messages) + len(self.problems) + 1}"
        elif isinstance(source_id, (str, int)) and not isinstance(source_id, bool) and str(source_id).strip():
            source_id = str(source_id).strip()
        else:
            raise _Rejected("expected a non-empty string or integer", id_key)
        if source_id in self._seen_ids:
            raise _Rejected(f"duplicate message id {source_id!r} in conversation {self.conversation_id!r}", id_key)
        caption = raw.get("blip_caption")
        return Message(
            id=source_id,
            conversation_id=self.conversation_id,
            seq=len(self.messages),
            speaker=speaker,
            text=text.strip(),
            ts=ts,
            session=session,
            caption=caption.strip() if isinstance(caption, str) and caption.strip() else None,
        )

    def build(self) -> Conversation | None:
        if not self.messages:
            return None
        return Conversation(
            id=self.conversation_id,
            participants=tuple(self.participants),
            messages=tuple(self.messages),
        )
