"""Graph ranking: the projection, PPR and spreading activation as pure functions."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from graphmem import Config, ConfigError, Memory, SearchSettings
from graphmem.models import EntityNode, Mention, MessageNode
from graphmem.search.engine import search
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
        hits = memory.search("Who did Ana visit Kyoto with?", k=3, settings=SearchSettings(channels=channels))
    assert hits[0].source_id == "s2-2"
    reasons = [reason for h in hits for reason in h.why]
    assert reasons and all(reason.split()[0] in channels or reason.startswith("question") for reason in reasons)


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
    """Ingest grows a live tenant's index in place; it must agree with a fresh build."""
    import json

    from graphmem.search.engine import GroupIndex

    data = json.loads(SAMPLE.read_text())
    first, second = dict(data, messages=data["messages"][:6]), dict(data, messages=data["messages"][6:])
    (tmp_path / "first.json").write_text(json.dumps(first))
    (tmp_path / "second.json").write_text(json.dumps(second))
    with Memory(Config(path=tmp_path / "m.db")) as memory:
        memory.ingest(tmp_path / "first.json")
        before = memory._index(None)
        memory.ingest(tmp_path / "second.json")
        grown = memory._index(None)
        fresh = GroupIndex.build(memory.store, "default")
        assert grown is not before
        assert grown.projection.graph.vcount() == fresh.projection.graph.vcount()
        assert grown.projection.graph.ecount() == fresh.projection.graph.ecount() > 0
        for question in ("Who did Ana visit Kyoto with?", "Where did Ana move?", "What is Pepper?"):
            assert [h.source_id for h in memory.search(question, k=5)] == [
                h.source_id for h in search(fresh, question, k=5)
            ]


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
        hits = memory.search("a trip to Japan", k=3, settings=SearchSettings(channels=("dense",)))
        assert "s2-2" in {h.source_id for h in hits}
        reasons = [reason for h in hits for reason in h.why]
        assert reasons and all(reason.startswith("dense") or reason.startswith("question") for reason in reasons)


def test_an_unknown_channel_is_refused_by_name(tmp_path):
    with Memory(Config(path=tmp_path / "m.db")) as memory:
        with pytest.raises(ConfigError, match="'pagerank'.*bm25, dense, ppr, activation"):
            memory.search("anything", settings=SearchSettings(channels=("pagerank",)))
