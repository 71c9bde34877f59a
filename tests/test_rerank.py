"""The learned reranker: graphmem's tree walk against LightGBM's, the model file, the turn context,
the features the engine hands it, and the leave-one-conversation-out protocol."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest

from graphmem import Config, Memory
from graphmem.errors import ConfigError
from graphmem.models import MessageNode
from graphmem.search.engine import SearchSettings, rerank_features
from graphmem.search.lexical import LexicalIndex
from graphmem.search.rerank import DENSE_FEATURES, FEATURES, MODEL_PATHS, TreeEnsemble, TurnContext, bundled_model
from graphmem.search.rerank_training import (
    RankingExamples, from_lightgbm, leave_one_conversation_out, recall_at_10, train_reranker,
)
from tests.conftest import SAMPLE


def _examples(questions: int = 60, candidates: int = 20, seed: int = 0) -> RankingExamples:
    """Synthetic candidates whose relevance depends on two features (one through a threshold)."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(questions * candidates, len(FEATURES)))
    relevant = (features[:, 3] + (features[:, 6] > 0.5) + 0.3 * rng.normal(size=len(features))) > 1.2
    return RankingExamples(
        features, relevant, np.repeat(np.arange(questions), candidates),
        tuple(f"set/conv-{q % 3}" for q in range(questions)), tuple("1" if q % 2 else "4" for q in range(questions)),
        np.maximum(relevant.reshape(questions, candidates).sum(axis=1), 1),
    )


@pytest.mark.parametrize("leaves", [7, 31, 64])
def test_the_numpy_trees_score_exactly_as_lightgbm(leaves):
    """The shipped models have 7 leaves a tree; the exit-leaf scoring holds up to 64."""
    lightgbm = pytest.importorskip("lightgbm")
    examples = _examples(questions=200)
    _, sizes = np.unique(examples.question, return_counts=True)
    data = lightgbm.Dataset(examples.features, examples.relevant.astype(float), group=sizes,
                            feature_name=list(FEATURES))
    booster = lightgbm.train({"objective": "lambdarank", "num_leaves": leaves, "min_data_in_leaf": 5, "verbose": -1,
                              "num_threads": 1}, data, 40)
    model = from_lightgbm(booster.dump_model())
    assert model.leaf_value.shape[1] == leaves  # some tree grew all its leaves: the deep case is exercised
    unseen = np.random.default_rng(1).normal(size=(500, len(FEATURES)))
    assert np.allclose(model.predict(unseen), booster.predict(unseen), atol=1e-9)
    assert np.ptp(model.predict(unseen)) > 0  # the trees split: a model of constant leaves would pass trivially


def test_a_model_with_trees_of_more_leaves_than_are_scored_is_refused():
    tree = {"split_feature": [0] * 64, "threshold": [0.0] * 64, "left": [~0] * 64, "right": [~1] * 64,
            "leaf_value": [0.0] * 65}
    with pytest.raises(ConfigError, match="a tree has 65 leaves; at most 64"):
        TreeEnsemble.from_json(json.dumps({"features": list(FEATURES), "trees": [tree]}), "big.json")


def test_a_model_survives_its_json_and_a_model_over_other_features_is_refused(tmp_path):
    model = train_reranker(_examples(), rounds=20, params={"min_data_in_leaf": 5, "num_threads": 1})
    rows = np.random.default_rng(2).normal(size=(50, len(FEATURES)))
    again = TreeEnsemble.from_json(model.to_json(note="test"))
    assert np.array_equal(again.predict(rows), model.predict(rows))
    assert again.candidates == model.candidates == 20  # what each question of the examples had
    document = json.loads(model.to_json())
    document["features"] = document["features"][::-1]
    with pytest.raises(ConfigError, match=r"ranker\.json: the model's features"):
        TreeEnsemble.from_json(json.dumps(document), "ranker.json")
    with pytest.raises(ConfigError, match="not a reranking model"):
        TreeEnsemble.from_json('{"features": []}', "broken.json")
    document = json.loads(model.to_json())
    document["candidates"] = 0
    with pytest.raises(ConfigError, match=r"ranker\.json: candidates is 0"):
        TreeEnsemble.from_json(json.dumps(document), "ranker.json")


def test_a_tree_of_one_leaf_adds_its_value():
    model = TreeEnsemble.from_trees(FEATURES, [
        {"split_feature": [], "threshold": [], "left": [], "right": [], "leaf_value": [0.25]},
        {"split_feature": [3], "threshold": [0.5], "left": [~0], "right": [~1], "leaf_value": [-1.0, 1.0]},
    ])
    rows = np.zeros((2, len(FEATURES)))
    rows[1, 3] = 0.9
    assert model.predict(rows).tolist() == [-0.75, 1.25]
    assert model.predict(rows[:0]).shape == (0,)


@pytest.mark.parametrize("embeddings", ["none", "wordllama", "minilm"])
def test_the_bundled_models_are_over_their_engines_features(embeddings):
    dense = embeddings != "none"
    document = json.loads(MODEL_PATHS[embeddings].read_text())
    assert document["features"] == list(FEATURES + DENSE_FEATURES if dense else FEATURES)
    assert document["engine"].endswith(f"({embeddings})") if dense else document["engine"] == "without embeddings"
    assert len(bundled_model(embeddings).leaf_value) == document["rounds"]
    with pytest.raises(ConfigError, match="are not graphmem's"):  # each file is read for its own engine only
        TreeEnsemble.from_json(MODEL_PATHS[embeddings].read_text(), "ranker", FEATURES if dense else FEATURES + DENSE_FEATURES)


def _message(i: int, conversation: str, session: int, text: str = "hello there", caption: str | None = None):
    return MessageNode(
        id=f"{conversation}-{i}", source_id=str(i), conversation_id=conversation, seq=i, speaker="A",
        speaker_id="a", text=text, ts=datetime(2023, 5, 1, 10, i), session=session, caption=caption,
    )


def test_turn_context_links_turns_within_a_session_and_grows_as_one_build():
    messages = [_message(0, "c", 1), _message(1, "c", 1, "I'm sure my dog likes me"), _message(0, "d", 1),
                _message(2, "c", 2, caption="a dog"), _message(3, "c", 1), _message(1, "d", 1)]
    whole = TurnContext()
    whole.extend(messages)
    assert whole.previous.tolist() == [-1, 0, -1, -1, 1, 2]
    assert whole.following.tolist() == [1, 4, 5, -1, -1, -1]
    assert whole.session.tolist() == [0, 0, 1, 2, 0, 1]
    assert whole.words.tolist() == [2, 6, 2, 2, 2, 2]
    assert whole.has_photo.tolist() == [False, False, False, True, False, False]
    assert whole.first_person.tolist() == [0, 3, 0, 0, 0, 0]  # I'm, my, me
    grown = TurnContext()
    for start, end in ((0, 2), (2, 5), (5, 6)):
        grown.extend(messages[start:end])
    for name in ("previous", "following", "session", "words", "has_photo", "first_person"):
        assert getattr(grown, name).tolist() == getattr(whole, name).tolist(), name


def test_coverage_is_the_idf_weighted_share_of_the_query_terms_a_turn_holds():
    messages = [_message(0, "c", 1, "red apples and green pears"), _message(1, "c", 1, "red cars"),
                _message(2, "c", 1, "nothing here"), _message(3, "c", 1, "pears pears pears")]
    coverage = LexicalIndex(messages).coverage("red pears")
    assert coverage[0] == pytest.approx(1.0)
    assert coverage[2] == 0.0
    assert 0 < coverage[1] < 1 and 0 < coverage[3] < 1
    assert coverage[1] + coverage[3] == pytest.approx(1.0)  # each holds one of the two terms, repeats aside
    assert LexicalIndex(messages).coverage("zebra") is None


@pytest.mark.parametrize("embeddings", ["none", "wordllama", "minilm"])
def test_search_orders_the_graphs_candidates_by_the_model_and_keeps_the_rest_below(tmp_path, embeddings):
    """Without embeddings by `ranker.json`; with them by the embeddings model's own (`ranker-wordllama.json`,
    `ranker-minilm.json`), which also reads the cosines."""
    if embeddings == "wordllama":
        pytest.importorskip("wordllama")
    dense = embeddings != "none"
    question = "Which musical instrument is Ben studying?"
    with Memory(Config(path=tmp_path / "m.db", embeddings=embeddings)) as memory:
        memory.ingest(SAMPLE)
        index = memory.index()
        # the graph the reranker reorders: with embeddings, the cosines enter through the reranker only
        unreranked = SearchSettings(rerank=False, dense_seeds=0, dense_boost=0.0)
        graph = [h.source_id for h in memory.search(question, k=50, settings=unreranked)]
        hits = memory.search(question, k=50)
    candidates, features = rerank_features(index, question)
    assert features.shape == (len(candidates), len(FEATURES) + (len(DENSE_FEATURES) if dense else 0))
    assert [index.messages[i].source_id for i in candidates] == graph[: len(candidates)]
    assert (index.dense.model if dense else "none") == embeddings
    scores = bundled_model(embeddings).predict(features)
    expected = [index.messages[candidates[j]].source_id for j in np.argsort(-scores, kind="stable")]
    assert [h.source_id for h in hits][: len(candidates)] == expected
    assert expected != graph[: len(candidates)]  # the model did reorder
    scores = [h.score for h in hits]
    assert scores[0] == 1.0 and scores == sorted(scores, reverse=True)


def test_the_engine_reranks_as_many_candidates_as_the_model_was_trained_on_unless_told(tmp_path, monkeypatch):
    import graphmem.search.engine as engine

    question = "Which musical instrument is Ben studying?"
    with Memory(Config(path=tmp_path / "m.db")) as memory:
        memory.ingest(SAMPLE)
        index = memory.index()
        shipped = bundled_model("none")
        assert len(rerank_features(index, question)[0]) == min(shipped.candidates, len(index.messages))
        monkeypatch.setattr(engine, "bundled_model", lambda embeddings: replace(shipped, candidates=4))
        assert len(rerank_features(index, question)[0]) == 4
        assert len(rerank_features(index, question, SearchSettings(rerank_candidates=6))[0]) == 6
        hits = [h.source_id for h in memory.search(question, k=10)]
        candidates = rerank_features(index, question)[0]
        graph = [h.source_id for h in memory.search(question, k=10, settings=SearchSettings(rerank=False))]
        assert hits[4:] == graph[4:]  # below the 4 reranked, the graph's order
        assert set(hits[:4]) == {index.messages[i].source_id for i in candidates}
    with pytest.raises(ConfigError, match="rerank_candidates is 0"):
        SearchSettings(rerank_candidates=0)


def test_with_embeddings_a_question_sharing_no_word_with_the_tenant_is_answered_by_its_nearest_turns(tmp_path):
    """With the reranker the cosines enter through its features, not the graph's seeds; a question no
    BM25 term or entity of which is in the tenant still seeds the graph with its nearest turns."""
    pytest.importorskip("wordllama")
    question = "xylophone harmonica?"
    with Memory(Config(path=tmp_path / "m.db", embeddings="wordllama")) as memory:
        memory.ingest(SAMPLE)
        assert memory.index().lexical.scores(question) is None and not memory.index().linker.link(question)
        hits = memory.search(question, k=5)
    assert len(hits) == 5


def test_the_index_size_estimate_counts_the_embeddings_and_the_turn_context(tmp_path):
    """The cache budget reads `estimated_bytes`: the embeddings (1 KB a turn) and the arrays the
    first query adds must be in it, or a budget of embedded tenants holds far more than it says."""
    pytest.importorskip("wordllama")
    sizes = {}
    for embeddings in ("none", "wordllama"):
        with Memory(Config(path=tmp_path / f"{embeddings}.db", embeddings=embeddings)) as memory:
            memory.ingest(SAMPLE)
            index = memory.index()
            before_query = index.estimated_bytes()
            memory.search("Porto")
            assert index.turn_context().nbytes > 0
            assert index.estimated_bytes() == before_query + index.turn_context().nbytes + index.asking.nbytes
            sizes[embeddings] = (index.estimated_bytes(), index)
    (plain, _), (embedded, index) = sizes["none"], sizes["wordllama"]
    assert index.dense.vectors.nbytes >= 256 * 4 * len(index.messages)
    assert embedded == plain + index.dense.vectors.nbytes


def test_the_features_see_turns_appended_after_the_first_query(tmp_path):
    with Memory(Config(path=tmp_path / "m.db")) as memory:
        memory.ingest(SAMPLE)
        memory.search("Porto")
        index = memory.index()
        before = len(index.turn_context())
        chat = tmp_path / "more.json"
        chat.write_text(json.dumps({"conversation_id": "later", "participants": ["Ana", "Ben"], "messages": [
            {"id": f"x{i}", "speaker": "Ana", "text": f"Porto trip number {i} was sunny", "timestamp": f"2024-01-0{i + 1}T10:00:00"}
            for i in range(3)
        ]}))
        memory.ingest(chat)
        hits = memory.search("sunny Porto trip", k=3)
        index = memory.index()
    turns = index.turn_context()
    assert len(turns) == before + 3 == len(index.messages)
    new = [index.positions[m.id] for m in index.messages if m.conversation_id == "later"]
    assert turns.previous[new].tolist() == [-1, new[0], new[1]]
    assert {h.source_id for h in hits} <= {"x0", "x1", "x2"} and len(hits) == 3


def test_recall_at_10_reads_each_questions_best_ten_by_score():
    examples = _examples(questions=4, candidates=12)
    scores = examples.relevant.astype(float)  # an oracle puts every relevant candidate first
    oracle = recall_at_10(examples, scores)
    found = np.minimum(examples.relevant.reshape(4, 12).sum(axis=1), 10) / examples.evidence
    assert oracle["all"] == pytest.approx(found.mean())
    assert recall_at_10(examples, -scores)["all"] <= oracle["all"]


def test_leave_one_conversation_out_never_trains_on_the_conversation_it_scores():
    examples = _examples()
    seen: list[set[str]] = []

    def train(subset: RankingExamples) -> TreeEnsemble:
        trained_on = {subset.conversation[q] for q in np.unique(subset.question)}
        seen.append(trained_on)
        return train_reranker(subset, rounds=10, params={"min_data_in_leaf": 5})

    scores = leave_one_conversation_out(examples, train)
    conversations = set(examples.conversation)
    assert len(seen) == len(conversations)
    assert all(len(s) == len(conversations) - 1 for s in seen)
    assert set.union(*seen) == conversations
    assert recall_at_10(examples, scores)["all"] > recall_at_10(examples, -scores)["all"]
