"""Graph ranking: the projection, PPR and spreading activation as pure functions."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from graphmem import Config, ConfigError, Memory, SearchSettings
from graphmem.models import EntityNode, Facet, Mention, MessageNode, Persona, RelationEdge
from graphmem.search.dense import DenseIndex, boosted
from graphmem.search.engine import search
from graphmem.search.lexical import LexicalIndex
from graphmem.search.projection import (
    appended_rows,
    build_projection,
    exact_personalized_pagerank,
    personalized_pagerank,
    spread_activation,
    strongest_path,
)
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


def chats(seed: int, conversations: int = 6, turns: int = 400, topics: int = 300):
    """Conversations shaped like the dev sets: two speakers each, every turn mentioning a few
    topics drawn from a skewed (Zipf) distribution, so a few topics are hubs and most are rare;
    plus one entity nobody mentions (a vertex without links)."""
    rng = np.random.default_rng(seed)
    messages, mentions = [], []
    entities = [EntityNode(f"t{i}", f"topic {i}", "thing") for i in range(topics)] + [EntityNode("lonely", "x", "thing")]
    for c in range(conversations):
        speakers = (f"a{c}", f"b{c}")
        entities += [EntityNode(s, s, "person") for s in speakers]
        for i in range(turns):
            speaker = speakers[i % 2]
            message = MessageNode(f"c{c}m{i}", f"c{c}m{i}", f"c{c}", i, speaker, speaker, "", datetime(2024, 1, 1),
                                  session=i // 20, addressee_id=speakers[(i + 1) % 2])
            messages.append(message)
            for topic in set(np.minimum(rng.zipf(1.6, size=rng.integers(1, 4)), topics) - 1):
                mentions.append(Mention(message.id, f"t{topic}"))
    return build_projection(messages, entities, mentions, [], []), rng


def top(scores: np.ndarray, k: int) -> set[int]:
    return set(np.argsort(-scores, kind="stable")[:k].tolist())


@pytest.mark.parametrize("graph_seed", [1, 2, 3])
def test_push_ppr_ranks_messages_like_exact_ppr(graph_seed):
    projection, rng = chats(graph_seed)
    messages = projection.message_vertices
    overlaps = {10: [], 50: [], 200: []}
    for _ in range(20):
        seeds = {int(v): float(w) for v, w in zip(rng.choice(messages, 30, replace=False), rng.random(30) + 0.1)}
        seeds[projection.entity_vertices[f"t{rng.integers(300)}"]] = 2.0
        if rng.random() < 0.3:
            seeds[projection.entity_vertices["lonely"]] = 1.0  # its mass must restart at the seeds
        exact = exact_personalized_pagerank(projection, seeds, 0.9)[messages]
        pushed = personalized_pagerank(projection, seeds, 0.9, tolerance=3e-6)[messages]
        for k, found in overlaps.items():
            found.append(len(top(exact, k) & top(pushed, k)) / k)
    assert min(overlaps[10]) >= 0.8
    assert np.mean(overlaps[10]) >= 0.97 and np.mean(overlaps[50]) >= 0.97 and np.mean(overlaps[200]) >= 0.97
    loose = personalized_pagerank(projection, seeds, 0.9, tolerance=1e-3)[messages]
    assert len(top(exact, 200) & top(loose, 200)) < len(top(exact, 200) & top(pushed, 200))  # tolerance matters


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
    assert plain and [h.source_id for h in hits] == [h.source_id for h in plain] and all(h.path == () for h in plain)
    for hit in hits:
        assert hit.path[0].startswith(("BM25 hit ", "question names "))
        last = hit.path[-1].removeprefix("BM25 hit ")
        assert last.startswith(f"{hit.source_id} {hit.speaker}:")


def test_parallel_links_merge_into_one_with_their_weights_summed():
    """A turn that mentions its own speaker, and a fact about its subject itself, make parallel
    links: the projection holds each pair once (lower vertex first, sorted), weights summed."""
    messages = [MessageNode("m0", "m0", "c", 0, "Ann", "ann", "I, Ann, moved", datetime(2024, 1, 1), session=1),
                MessageNode("m1", "m1", "c", 1, "Bo", "bo", "ok", datetime(2024, 1, 1), session=1, addressee_id="ann")]
    entities = [EntityNode("ann", "Ann", "person"), EntityNode("bo", "Bo", "person")]
    fact = RelationEdge("r0", "ann", "ann", "is", "Ann is Ann", "m0", datetime(2024, 1, 1))
    projection = build_projection(messages, entities, [Mention("m0", "ann")], [], [fact])
    v = projection.vertex
    pairs = [tuple(pair) for pair in projection.links.tolist()]
    weight = dict(zip(pairs, projection.link_weights.tolist()))
    assert pairs == sorted(set(pairs)) and all(a < b for a, b in pairs)
    assert weight[(v["ann"], v["m0"])] == pytest.approx(0.15 + 1.0)  # speaker and mention
    assert weight[(v["ann"], v["fact:r0"])] == pytest.approx(0.3 + 0.3)  # subject and object
    assert weight[(v["m0"], v["m1"])] == 2.0 and weight[(v["ann"], v["m1"])] == 0.05
    assert projection.graph.ecount() == len(pairs) and projection.graph.vcount() == projection.size == 5


def test_bm25_scores_are_bm25s_scores():
    """The index tokenizes in bulk and scores from postings; both must agree with bm25s itself
    (its tokenizer, Lucene BM25), punctuation, case, accents and stopwords included."""
    import bm25s

    from graphmem.search.lexical import LexicalIndex, message_document

    texts = ["Caroline's LGBTQ support-group met at 3pm!", "Naïve café in Zürich; the CAFÉ was naïve",
             "I went to a pottery class with the kids", "pottery, pottery and more POTTERY", "a b c", "",
             "Straße 2024_05 co-op e-mail x", "Melanie paints sunsets; she painted a lake"]
    messages = [MessageNode(f"m{i}", f"m{i}", "c", i, "Ann", "ann", text, datetime(2024, 1, 1))
                for i, text in enumerate(texts)]
    index = LexicalIndex(messages[:3])
    index.add(messages[3:])  # grown by an append
    stemmer = __import__("Stemmer").Stemmer("english")
    reference = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    reference.index(bm25s.tokenize([message_document(m) for m in messages], stopwords="en", stemmer=stemmer,
                                   show_progress=False), show_progress=False)
    for query in ("pottery class", "naive cafe", "café naïve", "Caroline support group", "painting lakes", "co-op 2024_05"):
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=stemmer, show_progress=False, return_ids=False)[0]
        expected = reference.get_scores(tokens)
        found = index.scores(query)  # None when no query term is indexed
        assert np.allclose(np.zeros(len(texts)) if found is None else found, expected, rtol=1e-5, atol=1e-6), query
        assert (found is None) == (query == "naive cafe")


def test_postings_compacted_across_appends_equal_those_of_one_build():
    """Compaction merges the compact segment with the appends' tails by a stable sort on the term
    alone: each segment is sorted by (term, document) and holds later documents than the one
    before, so the result must be the postings a single build makes."""
    words = "pottery lake cafe sunset group class kids paint".split()
    texts = [" ".join(words[j % len(words)] for j in range(i, i + 1 + i % 5)) for i in range(40)]
    messages = [MessageNode(f"m{i}", f"m{i}", "c", i, "Ann", "ann", text, datetime(2024, 1, 1))
                for i, text in enumerate(texts)]
    grown = LexicalIndex(messages[:7])
    grown.compacted()  # a compact segment, then tails after it
    for start, end in ((7, 15), (15, 16), (16, 40)):
        grown.add(messages[start:end])
    for mine, built in zip(grown.compacted(), LexicalIndex(messages).compacted(), strict=True):
        assert np.array_equal(mine, built)
    assert grown.vocab == LexicalIndex(messages).vocab


def test_appended_rows_fill_the_room_behind_them_and_leave_earlier_rows_alone():
    """Links and their weights grow by appends into spare room: the result equals a concatenation,
    an append within the room copies nothing already there, and views taken before still read
    what they did."""
    links = np.arange(20, dtype=np.int64).reshape(10, 2)
    grown = appended_rows(links, np.array([[20, 21]]))
    assert np.array_equal(grown, np.concatenate([links, [[20, 21]]])) and grown.dtype == np.int64
    room = grown.base
    assert room is not None and len(room) > len(grown)  # room for later appends
    before = grown
    again = appended_rows(grown, np.array([[22, 23], [24, 25]]))
    assert again.base is room  # written into the room: the rows before were not copied again
    assert np.array_equal(again, np.concatenate([links, [[20, 21], [22, 23], [24, 25]]]))
    assert np.array_equal(before, np.concatenate([links, [[20, 21]]]))
    full = again
    while full.base is room:
        full = appended_rows(full, np.array([[0, 1]]))
    assert np.array_equal(full[: len(again)], again) and len(full) > len(room) - 1  # outgrew it: moved, intact
    weights = appended_rows(np.ones(3), np.array([2.0]))
    assert weights.tolist() == [1.0, 1.0, 1.0, 2.0]


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
        before = memory.index()
        version = before.version
        memory.ingest(SAMPLE)  # the longer export: its first six turns are stored unchanged
        memory.add_messages(data["conversation_id"], [
            {"speaker": "Ben", "text": "Did Pepper come with you to Kyoto?", "timestamp": "2024-05-20T10:00:00"},
            {"speaker": "Ana", "text": "No, Pepper stayed with my sister Jane in Porto.", "timestamp": "2024-05-20T10:01:00"},
        ])
        grown = memory.index()
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
            assert [h.source_id for h in memory.search(question, k=5, settings=SearchSettings(channels=("bm25",)))] == [
                h.source_id for h in search(fresh, question, k=5, settings=SearchSettings(channels=("bm25",)))
            ]
        conversation = data["conversation_id"]
        assert [m.source_id for m in grown.messages[-2:]] == [f"{conversation}:13", f"{conversation}:14"]
        assert f"{conversation}:14" in {h.source_id for h in memory.search("Did Pepper stay with Jane?", k=3)}


@pytest.mark.parametrize("embeddings", ["wordllama", "minilm"])
def test_optional_dense_channel_embeds_incrementally(tmp_path, embeddings):
    """Each model from its installed package, nothing downloaded; appended turns are embedded as a
    build embeds them."""
    import json

    if embeddings == "wordllama":
        pytest.importorskip("wordllama")
    data = json.loads(SAMPLE.read_text())
    (tmp_path / "first.json").write_text(json.dumps(dict(data, messages=data["messages"][:6])))
    (tmp_path / "second.json").write_text(json.dumps(data))  # the conversation's file, grown
    with Memory(Config(path=tmp_path / "m.db", embeddings=embeddings)) as memory:
        memory.ingest(tmp_path / "first.json")
        memory.search("warm the index", k=1)
        memory.ingest(tmp_path / "second.json")
        index = memory.index()
        assert index.dense is not None and index.dense.vectors.shape[0] == len(index.messages) == 12
        norms = np.linalg.norm(index.dense.vectors, axis=1)
        assert np.allclose(norms, 1.0, atol=1e-4)
        assert np.allclose(index.dense.vectors, DenseIndex.build(index.messages, embeddings).vectors, atol=1e-5)
        hits = memory.search("a trip to Japan", k=3, settings=SearchSettings(channels=("dense",)))
        assert "s2-2" in {h.source_id for h in hits}
        reasons = [reason for h in hits for reason in h.why]
        assert reasons and all(reason.startswith("dense") or reason.startswith("question") for reason in reasons)


def test_a_rebuild_after_consolidation_embeds_no_turn_the_replaced_index_held(tmp_path, monkeypatch):
    """Consolidation is not an append, so the next query rebuilds the index; MiniLM spends about
    10 ms a turn, so the texts the replaced index embedded are taken from it, not embedded again."""
    import graphmem.search.dense as dense

    embedded: list[str] = []
    embed = dense.embed
    monkeypatch.setattr(dense, "embed", lambda texts, model: embedded.extend(texts) or embed(texts, model))
    with Memory(Config(path=tmp_path / "m.db", embeddings="minilm")) as memory:
        memory.ingest(SAMPLE)
        memory.search("Who adopted a beagle?", k=3)
        assert len(embedded) == len(memory.index().messages) + 1  # every turn, then the question
        memory.consolidate()
        embedded.clear()
        hits = memory.search("Who adopted a beagle?", k=3)
        index = memory.index()
        assert embedded == ["Who adopted a beagle?"]
        assert len(index.projection.consolidated_vertices) > 0  # the rebuilt index, with the scenes
        assert np.allclose(index.dense.vectors, DenseIndex.build(index.messages, "minilm").vectors, atol=1e-5)
        assert hits


def test_the_question_is_encoded_beside_the_graph_work_and_ranks_as_if_encoded_first(tmp_path, monkeypatch):
    """MiniLM's 4 ms a question runs on a worker thread while the graph is walked; the ranking is
    the one the cosines computed up front give."""
    import threading
    from concurrent.futures import Future

    import graphmem.search.dense as dense

    threads: list[threading.Thread] = []
    embed = dense.embed
    monkeypatch.setattr(dense, "embed", lambda texts, model: threads.append(threading.current_thread()) or embed(texts, model))
    questions = ["Who adopted a beagle?", "Where did Ana move?", "What did they cook together?"]
    with Memory(Config(path=tmp_path / "m.db", embeddings="minilm")) as memory:
        memory.ingest(SAMPLE)
        memory.search("warm the index", k=1)
        threads.clear()
        overlapped = [[h.source_id for h in memory.search(q, k=10)] for q in questions]
        assert len(threads) == len(questions) and threading.current_thread() not in threads

        def computed_now(self, question):
            done = Future()
            done.set_result(self.similarities(question))
            return done

        monkeypatch.setattr(dense.DenseIndex, "similarities_soon", computed_now)
        assert [[h.source_id for h in memory.search(q, k=10)] for q in questions] == overlapped


_FORKING_APPLICATION = """
import json, os, sys
from pathlib import Path
from graphmem import Config, Memory

with Memory(Config(path=Path(sys.argv[1]), embeddings="minilm")) as memory:
    before = [h.source_id for h in memory.search("Who adopted a beagle?", k=5)]
    reader, writer = os.pipe()
    if os.fork() == 0:
        try:
            os.write(writer, json.dumps([h.source_id for h in memory.search("Who adopted a beagle?", k=5)]).encode())
        finally:
            os._exit(0)
    os.close(writer)
    answer = b""
    while chunk := os.read(reader, 65536):
        answer += chunk
    print(json.dumps({"parent": before, "child": json.loads(answer)}))
"""


def test_a_process_forked_after_a_query_encodes_its_own_questions(tmp_path):
    """A child forked from a process that has queried (a pre-forking server, a multiprocessing
    pool) has no question-encoding thread of its parent's; its queries still run. In a process of
    its own, so that nothing else of the test run's is forked along."""
    import contextlib
    import json
    import os
    import signal
    import subprocess
    import sys

    with Memory(Config(path=tmp_path / "m.db", embeddings="minilm")) as memory:
        memory.ingest(SAMPLE)
    application = subprocess.Popen([sys.executable, "-c", _FORKING_APPLICATION, str(tmp_path / "m.db")],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:  # a deadlocked child never answers, and its parent waits on the pipe until the timeout
        out, err = application.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(application.pid, signal.SIGKILL)  # whatever of it is left: the application, a child it forked
    assert application.returncode == 0, err
    answers = json.loads(out.splitlines()[-1])
    assert answers["child"] == answers["parent"] and len(answers["parent"]) == 5


def test_the_dense_boost_lifts_messages_near_the_question_and_keeps_the_graph_order_among_equals():
    graph = np.array([1.0, 0.9, 0.5, 0.0])
    cosine = np.array([0.1, 0.8, 0.1, 0.9])
    lifted = boosted(graph, cosine, 0.3)
    assert lifted[1] > lifted[0] > lifted[2]  # a close message passes one the graph scored a little higher
    assert lifted[3] == 0.0  # the boost multiplies: what the graph never reached stays unreached
    assert np.array_equal(boosted(graph, np.array([-0.2, -0.1, -0.3, -0.5]), 0.3), graph)
    assert np.array_equal(boosted(graph, cosine, 0.0), graph)


def test_with_embeddings_a_turn_sharing_no_word_with_the_question_is_lifted_and_off_is_the_default_engine(tmp_path):
    """The dense seeds and boost bring "learning to play the piano" to the top for a question about a
    musical instrument; with both set to zero, an embeddings memory ranks exactly as one without.
    (The category prior, which names instruments too, and the reranker are off throughout: the embeddings
    alone lift it.)"""
    pytest.importorskip("wordllama")
    question = "Which musical instrument is Ben studying?"
    no_category = SearchSettings(category_focus=0.0, rerank=False)
    off = SearchSettings(dense_seeds=0, dense_boost=0.0, category_focus=0.0, rerank=False)
    with Memory(Config(path=tmp_path / "plain.db")) as plain:
        plain.ingest(SAMPLE)
        default_engine = [h.source_id for h in plain.search(question, k=5, settings=no_category)]
    with Memory(Config(path=tmp_path / "dense.db", embeddings="wordllama")) as memory:
        memory.ingest(SAMPLE)
        assert [h.source_id for h in memory.search(question, k=5, settings=off)] == default_engine
        assert default_engine[0] != "s2-3"
        assert memory.search(question, k=1, settings=no_category)[0].source_id == "s2-3"


def test_an_unknown_channel_is_refused_by_name(tmp_path):
    with Memory(Config(path=tmp_path / "m.db")) as memory:
        with pytest.raises(ConfigError, match="'pagerank'.*bm25, dense, ppr, activation"):
            memory.search("anything", settings=SearchSettings(channels=("pagerank",)))



@pytest.mark.parametrize("threads", [1, 2])
def test_a_query_runs_with_the_configured_native_threads(tmp_path, monkeypatch, threads):
    """OpenMP (igraph) and BLAS (numpy) pools hold `query_threads` while a query runs, and what
    the application had set before is restored after it."""
    import graphmem.memory
    from threadpoolctl import threadpool_info

    before = {pool["filepath"]: pool["num_threads"] for pool in threadpool_info()}
    seen: list[dict[str, int]] = []
    engine_search = graphmem.memory.search

    def observed_search(*args, **kwargs):
        seen.append({pool["internal_api"]: pool["num_threads"] for pool in threadpool_info()})
        return engine_search(*args, **kwargs)

    monkeypatch.setattr(graphmem.memory, "search", observed_search)
    with Memory(Config(path=tmp_path / "m.db", query_threads=threads)) as memory:
        memory.ingest(SAMPLE)
        assert memory.search("Who did Ana visit Kyoto with?", k=3)[0].source_id == "s2-2"
    assert seen and {"openmp", "openblas"} <= set(seen[0])  # igraph's libgomp and numpy's OpenBLAS are loaded
    assert set(seen[0].values()) == {threads}
    assert {pool["filepath"]: pool["num_threads"] for pool in threadpool_info()} == before


def test_activation_enters_ppr_through_the_scenes_and_facets_it_reaches():
    from graphmem.models import RelationEdge, Scene, SceneMember
    from graphmem.search.engine import SearchSettings, with_activated

    messages = [
        MessageNode(f"m{i}", f"m{i}", "c", i, "Ann", "ann", f"text {i}", datetime(2024, 1, 1), session=1)
        for i in range(4)
    ]
    entities = [EntityNode("ann", "Ann", "person"), EntityNode("kyoto", "Kyoto", "place")]
    fact = RelationEdge("r1", "ann", "kyoto", "visited", "Ann visited Kyoto", "m0", datetime(2024, 1, 1))
    scene = Scene("s1", "Kyoto", datetime(2024, 1, 1), datetime(2024, 1, 1),
                  (SceneMember("m0", "message", 1.0), SceneMember("m3", "message", 1.0)))
    persona = Persona("p1", "ann", "Ann", "Ann: travel", (Facet("f1", "travel", (), ("m0", "m2")),))
    projection = build_projection(
        messages, entities, [Mention("m0", "kyoto")], [], [fact], scenes=[scene], personas=[persona]
    )
    seeds = {int(projection.message_vertices[0]): 2.0}
    activation = spread_activation(projection, seeds, decay=0.8, hops=3, keep=1000, threshold=0.0)
    assert activation[projection.vertex["fact:r1"]] > 0  # activation reaches the fact ...
    settings = SearchSettings(channels=("ppr", "activation"), activation_seeds=5, activation_seed_weight=0.2)
    restart = with_activated(projection, seeds, activation, settings)
    added = {projection.keys[v]: w for v, w in restart.items() if v not in seeds}
    assert set(added) == {"scene:s1", "facet:f1"}  # ... but only scenes and facets join the restart
    assert max(added.values()) == pytest.approx(0.2 * 2.0) and restart[next(iter(seeds))] == 2.0
    scores = personalized_pagerank(projection, restart, damping=0.9)[projection.message_vertices]
    plain = personalized_pagerank(projection, seeds, damping=0.9)[projection.message_vertices]
    assert scores[3] > plain[3]  # the scene pulls in its other member
    assert scores[2] > plain[2]  # and the facet its own


def test_activation_into_ppr_is_ppr_alone_before_consolidation(tmp_path):
    """Without scenes or facets activation has nothing to add to PPR: the ranking is PPR's."""
    with Memory(Config(path=tmp_path / "memory.db", group_id="t")) as memory:
        memory.ingest(SAMPLE)
        question = "Where does Ana work?"
        full = memory.search(question, k=10, settings=SearchSettings(channels=("ppr", "activation")))
        alone = memory.search(question, k=10, settings=SearchSettings(channels=("ppr",)))
    assert full and [(h.source_id, h.score) for h in full] == [(h.source_id, h.score) for h in alone]


def test_a_question_s_scaffold_does_not_rank_turns():
    """Interrogatives, auxiliaries and pronouns in a question match no turn: only its content does."""
    said = ["Where did you find it?", "It has been a long week.", "We camped by the lake with the kids."]
    messages = [
        MessageNode(f"m{i}", f"m{i}", "c", i, "Mel", "mel", text, datetime(2024, 1, 1), session=1)
        for i, text in enumerate(said)
    ]
    index = LexicalIndex(messages)
    assert [i for i, _ in index.search("Where has she camped?", 3)] == [2]
    assert index.search("What did you do?", 3) == []


def test_a_persona_facet_carries_a_turn_to_the_other_turns_behind_it_in_other_sessions():
    """Two sessions with nothing in common but the speaker; a facet whose evidence is a turn of
    each makes the one reachable from the other, ahead of its session neighbours."""
    said = [(1, "We hiked with the kids."), (1, "Nice!"), (2, "How was work?"), (2, "We roasted marshmallows."),
            (2, "Fun.")]
    messages = [
        MessageNode(f"m{i}", f"m{i}", "c", i, "Mel", "mel", text, datetime(2024, 1, 1 + session), session=session)
        for i, (session, text) in enumerate(said)
    ]
    entities = [EntityNode("mel", "Mel", "person")]
    facet = Facet("f1", "family", (), ("m0", "m3"))
    persona = Persona("p1", "mel", "Mel", "Mel: family", (facet,))
    plain = build_projection(messages, entities, [], [], [])
    with_facet = build_projection(messages, entities, [], [], [], personas=[persona])
    seeds = {plain.message_vertices[0]: 1.0}
    before = personalized_pagerank(plain, seeds, damping=0.85)[plain.message_vertices]
    after = personalized_pagerank(with_facet, seeds, damping=0.85)[with_facet.message_vertices]
    assert after[3] > before[3]
    assert after[3] > after[2] and after[3] > after[4]
    assert "facet:f1" in with_facet.vertex
