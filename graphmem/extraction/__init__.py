"""Extraction: from messages to entities, events and timestamped relations.

Every extractor turns messages into `MessageExtraction`s (graphmem.models); the graph builder
never knows which extractor ran.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from graphmem.models import Conversation, Message, MessageExtraction


class Extractor(Protocol):
    def extract(self, conversation: Conversation, messages: Sequence[Message]) -> Iterator[MessageExtraction]:
        """Extract from `messages` (all from `conversation`), one result per message, in order."""
        ...
