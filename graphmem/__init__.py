"""graphmem: a temporal graph memory for conversational assistants and agents."""

from graphmem.config import Config
from graphmem.errors import ConfigError, GraphmemError, InputError, RecordProblem, StoreError
from graphmem.memory import IngestReport, Memory, TimelineItem
from graphmem.models import Conversation, EntityNode, Evidence, Fact, Message

__all__ = [
    "Config",
    "ConfigError",
    "Conversation",
    "EntityNode",
    "Evidence",
    "Fact",
    "GraphmemError",
    "IngestReport",
    "InputError",
    "Memory",
    "Message",
    "RecordProblem",
    "StoreError",
    "TimelineItem",
]
