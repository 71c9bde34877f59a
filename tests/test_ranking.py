"""Graph ranking: the projection, PPR and spreading activation as pure functions."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from graphmem import Config, Memory
from graphmem.models import EntityNode, Mention, MessageNode
from graphmem.search.engine import SearchSettings, search
from graphmem.search.projection import build_projection, personalized_pagerank, spread_activation, strongest_path
from tests.conftest import SAMPLE


def chain(n: int):
    """n messages in one session, each mentioning its own entity: a path through turn adjacency."""
    messages = [
        MessageNode(f"m{i}", f"m{i}", "c", i, "Ann", "ann", f"text {i}", datetime(2024, 1, 1), session=1)
        for i in range(n)
    ]
    entities = [EntityNode("ann", "Ann", "person")] + [EntityNode(f"e{i}", f"thing {i}", "thing") for i in range(n)]
    mentions = [Mention(f"m{i}", f"e{i}") for i in range(n)]
    return build_projection(messages, entities, mentions, [], [])


def test_activation_decays_with_distance_and_inhibition_prunes():
    projection = chain(5)
    seed = {projection.entity_vertices["e0"]: 1.0}
    reached = spread_activation(projection, seed, decay=0.8, hops=4, keep=1000, threshold=0.0)
    by_message = reached[projection.message_vertices]
    assert by_message[0] > by_message[1] > by_message[2] > 0
    pruned = spread_activation(projection, seed, decay=0.8, hops=4, keep=1, threshold=0.0)
    assert np.count_nonzero(pruned) < np.count_nonzero(reached)


def test_ppr_ranks_the_seeded_neighbourhood_first():
    projection = chain(6)
    scores = personalized_pagerank(projection, {projection.entity_vertices["e5"]: 1.0}, damping=0.85)
    by_message = scores[projection.message_vertices]
    assert int(np.argmax(by_message)) == 5
    assert by_message[5] > by_message[4] > by_message[0]
    assert personalized_pagerank(projection, {}, damping=0.85).sum() == 0


@pytest.mark.parametrize("channels", [("bm25",), ("ppr",), ("activation",), ("ppr", "activation")])
def test_every_channel_finds_the_obvious_answer(tmp_path, channels):
    with Memory(Config(path=tmp_path / "m.db")) as memory:
        memory.ingest(SAMPLE)
        hits = memory.search("Who did Ana visit Kyoto with?", k=3, channels=channels)
    assert hits[0].source_id == "s2-2"
    assert all(reason.split()[0] in channels or reason.startswith("question") for h in hits for reason in h.why)


def test_explain_gives_the_path_from_a_seed_to_each_hit(tmp_path):
    with Memory(Config(path=tmp_path / "m.db")) as memory:
        memory.ingest(SAMPLE)
        hits = memory.search("Who did Ana visit Kyoto with?", k=3, explain=True)
        plain = memory.search("Who did Ana visit Kyoto with?", k=3)
    assert [h.source_id for h in hits] == [h.source_id for h in plain] and all(h.path == () for h in plain)
    for hit in hits:
        assert hit.path[0].startswith(("BM25 hit ", "question names "))
        last = hit.path[-1].removeprefix("BM25 hit ")
        assert last.startswith(f"{hit.source_id} {hit.speaker}:")


def test_strongest_path_prefers_strong_links():
    projection = chain(4)
    start, end = projection.entity_vertices["e0"], int(projection.message_vertices[3])
    path = [projection.keys[v] for v in strongest_path(projection, [start], end)]
    assert path == ["e0", "m0", "m1", "m2", "m3"]
    assert strongest_path(projection, [], end) == []


def test_an_index_extended_by_ingest_ranks_like_one_built_from_scratch(tmp_path):
    """A longer export of the same chat, then add_messages, are appends: the live index grows in
    place (not rebuilt) and must agree with a fresh build, edge for edge and hit for hit."""
    import json

    from graphmem.search.engine import GroupIndex

    data = json.loads(SAMPLE.read_text())
    (tmp_path / "first.json").write_text(json.dumps(dict(data, messages=data["messages"][:6])))
    with Memory(Config(path=tmp_path / "m.db")) as memory:
        memory.ingest(tmp_path / "first.json")
        before = memory._index(None)
        version = before.version
        memory.ingest(SAMPLE)  # the longer export: its first six turns are stored unchanged
        memory.add_messages(data["conversation_id"], [
            {"speaker": "Ben", "text": "Did Pepper come with you to Kyoto?", "timestamp": "2024-05-20T10:00:00"},
            {"speaker": "Ana", "text": "No, Pepper stayed with my sister Jane in Porto.", "timestamp": "2024-05-20T10:01:00"},
        ])
        grown = memory._index(None)
        fresh = GroupIndex.build(memory.store, "default")
        assert grown is before and grown.version == fresh.version > version
        assert len(grown.messages) == len(fresh.messages) == 14
        assert [m.id for m in grown.messages] == [m.id for m in fresh.messages]
        assert grown.projection.graph.vcount() == fresh.projection.graph.vcount()
        assert grown.projection.graph.ecount() == fresh.projection.graph.ecount() > 0
        assert grown.lexical.postings == fresh.lexical.postings
        for question in ("Who did Ana visit Kyoto with?", "Where did Ana move?", "What is Pepper?", "Where is Pepper?"):
            assert [h.source_id for h in memory.search(question, k=5)] == [
                h.source_id for h in search(fresh, question, k=5)
            ]
            assert [h.source_id for h in memory.search(question, k=5, channels=("bm25",))] == [
                h.source_id for h in search(fresh, question, k=5, settings=SearchSettings(channels=("bm25",)))
            ]
        conversation = data["conversation_id"]
        assert [m.source_id for m in grown.messages[-2:]] == [f"{conversation}:13", f"{conversation}:14"]
        assert f"{conversation}:14" in {h.source_id for h in memory.search("Did Pepper stay with Jane?", k=3)}


def test_optional_dense_channel_embeds_incrementally(tmp_path):
    """With embeddings = "wordllama" (model inside the installed wheel, nothing downloaded)."""
    import json

    pytest.importorskip("wordllama")
    data = json.loads(SAMPLE.read_text())
    (tmp_path / "first.json").write_text(json.dumps(dict(data, messages=data["messages"][:6])))
    (tmp_path / "second.json").write_text(json.dumps(dict(data, messages=data["messages"][6:])))
    with Memory(Config(path=tmp_path / "m.db", embeddings="wordllama")) as memory:
        memory.ingest(tmp_path / "first.json")
        memory.search("warm the index", k=1)
        memory.ingest(tmp_path / "second.json")
        index = memory._index(None)
        assert index.dense is not None and index.dense.vectors.shape[0] == len(index.messages) == 12
        norms = np.linalg.norm(index.dense.vectors, axis=1)
        assert np.allclose(norms, 1.0, atol=1e-4)
        hits = memory.search("a trip to Japan", k=3, channels=("dense",))
        assert "s2-2" in {h.source_id for h in hits}
        assert all(reason.startswith("dense") or reason.startswith("question") for h in hits for reason in h.why)


def test_an_unknown_channel_is_refused_by_name(tmp_path):
    with Memory(Config(path=tmp_path / "m.db")) as memory:
        with pytest.raises(ValueError, match="'pagerank'.*bm25, dense, ppr, activation"):
            memory.search("anything", channels=("pagerank",))
