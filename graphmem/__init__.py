"""graphmem: a temporal graph memory for conversational assistants and agents.

This module is the public API: `Memory` and every type its methods take, return or raise.
The command line and the flows use nothing else (an import contract in pyproject.toml checks it).
"""

from graphmem.config import Config
from graphmem.consolidation.pipeline import ConsolidationReport
from graphmem.errors import ConfigError, GraphmemError, GroupIdError, InputError, LLMError, RecordProblem, StoreError
from graphmem.ingest.loaders import LoadedFile, is_realtalk_chat, load_file, realtalk_conversation_id
from graphmem.llm.answering import Answer
from graphmem.llm.usage import LLMUsage
from graphmem.memory import IndexCache, IndexSize, IngestReport, Memory, ProgressCallback, TimelineItem
from graphmem.models import (
    Conversation, EntityNode, Evidence, Facet, Fact, Message, MessageNode, Persona, PersonaFact, Scene, SceneMember,
    WriteCounts,
)
from graphmem.search.engine import GroupIndex, SearchSettings
from graphmem.store.base import Store, StoreCounts
from graphmem.store.sqlite.connection import open_sqlite  # the flows' ledger opens its file the same way

__all__ = [
    "Answer",
    "Config",
    "ConfigError",
    "ConsolidationReport",
    "Conversation",
    "EntityNode",
    "Evidence",
    "Facet",
    "Fact",
    "GraphmemError",
    "GroupIdError",
    "GroupIndex",
    "IndexCache",
    "IndexSize",
    "IngestReport",
    "InputError",
    "LLMError",
    "LLMUsage",
    "LoadedFile",
    "Memory",
    "Message",
    "MessageNode",
    "Persona",
    "PersonaFact",
    "ProgressCallback",
    "RecordProblem",
    "Scene",
    "SceneMember",
    "SearchSettings",
    "Store",
    "StoreCounts",
    "StoreError",
    "TimelineItem",
    "WriteCounts",
    "is_realtalk_chat",
    "load_file",
    "open_sqlite",
    "realtalk_conversation_id",
]
