"""Index snapshots: a process's first query loads the tenant's index from the store instead of
building it, and only when the snapshot stands for what the store holds now (or for a state the
appends since extend)."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest

from graphmem import Config, GroupIndex, Memory
from graphmem.search.engine import search
from graphmem.search.projection import EdgeWeights
from graphmem.search.rerank import TurnContext
from graphmem.search.snapshot import SnapshotError, index_from_bytes, index_to_bytes, snapshot_key
from graphmem.store.base import IndexSnapshot
from tests.conftest import SAMPLE

QUESTIONS = ("Who adopted a beagle?", "Who did Ana visit Kyoto with?", "Where does Ana live?", "What did Ben start?")
CELLO = {"speaker": "Ana", "text": "Big news: I started playing the cello yesterday!", "timestamp": "2024-05-20T10:00:00"}


def _config(tmp_path, **overrides) -> Config:
    return Config(**{"path": tmp_path / "memory.db", "group_id": "snap", "index_snapshot_min_messages": 1, **overrides})


def _ranked(memory: Memory) -> list[list[tuple[str, float]]]:
    return [[(h.source_id, h.score) for h in memory.search(q, k=12)] for q in QUESTIONS]


def test_a_restored_index_holds_and_ranks_exactly_what_the_built_one_does(tmp_path):
    with Memory(_config(tmp_path)) as memory:
        memory.ingest(SAMPLE)
        memory.consolidate()
        built = memory.index()
        restored = index_from_bytes(index_to_bytes(built), EdgeWeights(), "none")
        for name in ("group_id", "version", "messages", "relations", "entities", "source_ids", "positions",
                     "speaker_ids", "stated_days", "captions", "text_bytes", "relations_by_message"):
            assert getattr(restored, name) == getattr(built, name), name
        for name in ("keys", "vertex", "entity_vertices", "entity_degree", "last_turns"):
            assert getattr(restored.projection, name) == getattr(built.projection, name), name
        for name in ("links", "link_weights", "message_vertices"):
            assert np.array_equal(getattr(restored.projection, name), getattr(built.projection, name)), name
        assert np.array_equal(restored.asking_turns(), built.asking_turns())
        assert len(restored.turns) == len(restored.messages)  # loaded with the snapshot, not worked out again
        turns, again = built.turn_context(), restored.turns
        for name in TurnContext.ARRAYS:
            assert np.array_equal(getattr(again, name), getattr(turns, name)) and getattr(again, name).dtype == getattr(turns, name).dtype, name
        assert again.last_turn == turns.last_turn and again.sessions == turns.sessions
        assert len(restored.projection.consolidated_vertices) > 0  # scenes and facets came along
        for question in QUESTIONS:
            assert np.array_equal(restored.lexical.scores(question), built.lexical.scores(question))
            assert search(restored, question, k=12, explain=True) == search(built, question, k=12, explain=True)


def test_an_embedded_snapshot_restores_its_vectors_and_serves_only_its_own_model(tmp_path):
    """Each model's cosines differ (and so do the reranking models): a snapshot kept with one
    embeddings model is never loaded by a memory configured with another, which builds instead."""
    pytest.importorskip("wordllama")
    with Memory(_config(tmp_path, embeddings="minilm")) as memory:
        memory.ingest(SAMPLE)
        built = memory.index()
        restored = index_from_bytes(index_to_bytes(built), EdgeWeights(), "minilm")
        assert restored.dense.model == "minilm" and np.array_equal(restored.dense.vectors, built.dense.vectors)
        assert search(restored, QUESTIONS[0], k=12) == search(built, QUESTIONS[0], k=12)
    with Memory(_config(tmp_path, embeddings="wordllama")) as other:
        index = other.index()
        assert index.dense.model == "wordllama" and index.dense.vectors.shape == (len(index.messages), 256)


def test_a_process_rebuilding_after_a_consolidation_takes_the_embeddings_from_the_outdated_snapshot(tmp_path, monkeypatch):
    """A consolidation outdates every snapshot; a process that then builds the index embeds none of
    the turns the old snapshot holds (MiniLM: about 10 ms each), only what is new."""
    import graphmem.search.dense as dense

    embedded: list[str] = []
    embed = dense.embed
    monkeypatch.setattr(dense, "embed", lambda texts, model: embedded.extend(texts) or embed(texts, model))
    with Memory(_config(tmp_path, embeddings="minilm")) as worker:
        worker.ingest(SAMPLE)
        worker.rebuild_index()  # keeps the snapshot
        worker.consolidate()
        worker.add_messages("sample-ana-ben", [CELLO])
    embedded.clear()
    with Memory(_config(tmp_path, embeddings="minilm")) as reader:
        hits = reader.search("Who plays the cello?", k=3)
        index = reader.index()
    assert embedded == [CELLO["text"], "Who plays the cello?"]
    assert len(index.projection.consolidated_vertices) > 0  # built after the consolidation, not restored before it
    assert np.allclose(index.dense.vectors, dense.DenseIndex.build(index.messages, "minilm").vectors, atol=1e-5)
    assert hits[0].text == CELLO["text"]


def test_bytes_that_are_not_a_snapshot_are_refused_with_a_clear_error(tmp_path):
    with pytest.raises(SnapshotError, match="not a readable index snapshot"):
        index_from_bytes(b"PK\x03\x04 truncated", EdgeWeights(), "none")
    with Memory(_config(tmp_path)) as memory:
        memory.ingest(SAMPLE)
        data = index_to_bytes(memory.index())
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:  # a well-formed archive, a wrong document
        arrays = {name: archive[name] for name in archive.files}
    arrays["document"] = np.frombuffer(b'{"messages": []}', dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with pytest.raises(SnapshotError, match="not a readable index snapshot"):
        index_from_bytes(buffer.getvalue(), EdgeWeights(), "none")
    with pytest.raises(SnapshotError, match="embeddings do not match"):
        index_from_bytes(data, EdgeWeights(), "wordllama")
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:  # a per-turn array one turn short
        arrays = {name: archive[name] for name in archive.files}
    arrays["first_person"] = arrays["first_person"][:-1]
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with pytest.raises(SnapshotError, match="per-turn arrays do not match its messages"):
        index_from_bytes(buffer.getvalue(), EdgeWeights(), "none")


def test_a_new_memory_answers_from_the_snapshot_the_first_one_kept(tmp_path, store, monkeypatch):
    with Memory(_config(tmp_path), store=store) as first:
        first.ingest(SAMPLE)
        expected = _ranked(first)
        version = store.version("snap").version
    assert store.index_snapshot("snap", snapshot_key(EdgeWeights(), "none"), version) is not None

    monkeypatch.setattr(GroupIndex, "build", classmethod(lambda *a, **k: pytest.fail("built, not restored")))
    with Memory(_config(tmp_path), store=store) as second:
        assert _ranked(second) == expected


def test_a_snapshot_is_extended_by_later_appends_and_never_stands_in_after_a_rewrite(tmp_path, store, monkeypatch):
    with Memory(_config(tmp_path), store=store) as writer:
        writer.ingest(SAMPLE)
        writer.search("Who adopted a beagle?")  # the index is built and kept as the snapshot
        writer.add_messages("sample-ana-ben", [CELLO])  # an append after the snapshot's version

    refused = classmethod(lambda *a, **k: pytest.fail("built, not restored"))
    with monkeypatch.context() as patched:
        patched.setattr(GroupIndex, "build", refused)
        with Memory(_config(tmp_path), store=store) as reader:
            assert "cello" in reader.search("When did Ana start the cello?", k=1)[0].text
            extended = reader.index().turn_context()
    built = GroupIndex.build(store, "snap").turn_context()  # the appended turn follows its session's last
    assert np.array_equal(extended.previous, built.previous) and np.array_equal(extended.following, built.following)
    assert extended.last_turn == built.last_turn

    with Memory(_config(tmp_path), store=store) as writer:
        writer.consolidate()  # not an append: no snapshot older than it may stand in
    key = snapshot_key(EdgeWeights(), "none")
    assert store.index_snapshot("snap", key, store.version("snap").reset) is None
    with Memory(_config(tmp_path), store=store) as reader:
        assert len(reader.index().projection.consolidated_vertices) > 0  # built: the scenes are in it
    assert store.index_snapshot("snap", key, store.version("snap").version) is not None  # and kept anew


def test_an_unreadable_snapshot_is_reported_and_the_index_built_instead(tmp_path, caplog):
    config = _config(tmp_path)
    with Memory(config) as memory:
        memory.ingest(SAMPLE)
        expected = _ranked(memory)
        version = memory.store.version("snap").version
        memory.store.save_index_snapshot("snap", IndexSnapshot(snapshot_key(EdgeWeights(), "none"), version + 1, b"junk"))
    with caplog.at_level(logging.WARNING, logger="graphmem.memory"), Memory(config) as memory:
        assert _ranked(memory) == expected
    assert "index snapshot of tenant snap is unreadable" in caplog.text


def test_small_tenants_and_memories_with_snapshots_off_keep_none(tmp_path):
    key = snapshot_key(EdgeWeights(), "none")
    with Memory(_config(tmp_path, index_snapshot_min_messages=13)) as memory:
        memory.ingest(SAMPLE)  # 12 messages
        memory.search("Who adopted a beagle?")
        assert memory.store.index_snapshot("snap", key, 0) is None
    with Memory(_config(tmp_path, index_snapshots=False)) as memory:
        memory.search("Who adopted a beagle?")
        assert memory.store.index_snapshot("snap", key, 0) is None
    with Memory(_config(tmp_path)) as memory:
        memory.search("Who adopted a beagle?")
        assert memory.store.index_snapshot("snap", key, 0) is not None


def test_rebuilding_the_index_after_consolidation_keeps_the_snapshot_query_processes_then_load(tmp_path, monkeypatch):
    key = snapshot_key(EdgeWeights(), "none")
    with Memory(_config(tmp_path)) as memory:
        memory.ingest(SAMPLE)
        memory.search("Who adopted a beagle?")
        memory.consolidate()
        assert memory.store.index_snapshot("snap", key, memory.store.version("snap").reset) is None
        memory.rebuild_index()  # what the consolidate flow runs after consolidating
        assert memory.store.index_snapshot("snap", key, memory.store.version("snap").version) is not None
        expected = _ranked(memory)
    monkeypatch.setattr(GroupIndex, "build", classmethod(lambda *a, **k: pytest.fail("built, not restored")))
    with Memory(_config(tmp_path)) as reader:
        assert len(reader.index().projection.consolidated_vertices) > 0
        assert _ranked(reader) == expected


def test_with_a_sentence_model_smaller_tenants_keep_snapshots_and_an_explicit_threshold_wins(tmp_path):
    """MiniLM's builds embed every turn, so snapshots pay off far below the default 10,000 messages."""
    plain, minilm = Config(path=tmp_path / "m.db"), Config(path=tmp_path / "m.db", embeddings="minilm")
    assert minilm.snapshot_min_messages < plain.snapshot_min_messages == 10_000
    assert Config(path=tmp_path / "m.db", embeddings="minilm", index_snapshot_min_messages=5_000).snapshot_min_messages == 5_000
