"""A BERT sentence encoder (all-MiniLM-L6-v2 and its kin) as a plain numpy forward pass.

The model's own runtime, PyTorch, is gigabytes; a six-layer, 384-wide BERT is a few dozen matrix
products per batch, which numpy's BLAS does at the same speed. Weights are read from the model's
`model.safetensors`, wordpieces from its `tokenizer.json` (the `tokenizers` package), and the
sentence vector is the attention-masked mean of the last layer, scaled to unit length: what
sentence-transformers computes for all-MiniLM-L6-v2 (mean pooling, then normalisation).

Everything stays float32: one float64 scalar in the arithmetic would promote the activations and
triple the cost of every matrix product after it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import erf

from graphmem.errors import ConfigError

_SQRT_HALF = 0.7071067811865476


@dataclass(frozen=True)
class BertShape:
    """What the forward pass needs from a model's `config.json`."""

    layers: int
    heads: int
    hidden: int
    layer_norm_eps: float

    @staticmethod
    def read(path: Path) -> BertShape:
        """The shape in `path`, or a `ConfigError` naming the file and the field that does not fit."""
        config = json.loads(path.read_text())
        expected = {"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute"}
        for field, value in expected.items():
            if config.get(field, value) != value:
                raise ConfigError(f"{path}: {field} is {config.get(field)!r}; the sentence encoder runs {value!r} only")
        if config["hidden_size"] % config["num_attention_heads"]:
            raise ConfigError(f"{path}: hidden_size is not a multiple of num_attention_heads")
        return BertShape(config["num_hidden_layers"], config["num_attention_heads"], config["hidden_size"],
                         float(config.get("layer_norm_eps", 1e-12)))


class SentenceEncoder:
    """Unit-length sentence embeddings from a BERT model directory (config.json, model.safetensors,
    tokenizer.json), as sentence-transformers' mean pooling makes them."""

    def __init__(self, shape: BertShape, weights: dict[str, np.ndarray], tokenizer, max_tokens: int):
        self.shape = shape
        self.weights = weights
        self.tokenizer = tokenizer
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding()

    @classmethod
    def load(cls, directory: Path) -> SentenceEncoder:
        """The encoder stored in `directory`. Texts are cut at the model's `max_seq_length`
        (sentence_bert_config.json; 256 word pieces for all-MiniLM-L6-v2), as sentence-transformers
        cuts them. Linear layers' weights are kept transposed and contiguous, ready to multiply
        activations from the right."""
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        needed = ("config.json", "model.safetensors", "tokenizer.json")
        missing = [name for name in needed if not (directory / name).is_file()]
        if missing:
            raise ConfigError(f"{directory}: not a sentence-transformers BERT model (missing {', '.join(missing)})")
        shape = BertShape.read(directory / "config.json")
        settings = directory / "sentence_bert_config.json"
        max_tokens = json.loads(settings.read_text()).get("max_seq_length", 512) if settings.is_file() else 512
        pooling = directory / "1_Pooling" / "config.json"
        if pooling.is_file() and not json.loads(pooling.read_text()).get("pooling_mode_mean_tokens"):
            raise ConfigError(f"{pooling}: pooling_mode_mean_tokens is not set; the encoder pools by mean only")
        weights = {}
        for name, array in load_file(str(directory / "model.safetensors")).items():
            name = name.removeprefix("bert.")
            linear = array.ndim == 2 and name.startswith("encoder.")
            weights[name] = np.ascontiguousarray(array.T if linear else array, dtype=np.float32)
        return cls(shape, weights, Tokenizer.from_file(str(directory / "tokenizer.json")), max_tokens)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """One unit-length row per text. Texts are batched by length, so padding stays short."""
        vectors = np.zeros((len(texts), self.shape.hidden), dtype=np.float32)
        order = np.argsort([len(text) for text in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            batch = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in batch])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
            vectors[batch] = self._pooled(ids, mask)
        return vectors

    def _pooled(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w, shape = self.weights, self.shape
        batch, length = ids.shape
        width = shape.hidden // shape.heads
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._normalised(x, "embeddings.LayerNorm")
        padding = ((mask - 1.0) * np.float32(1e9))[:, None, None, :]
        scale = np.float32(width**-0.5)
        for layer in range(shape.layers):
            at = f"encoder.layer.{layer}."
            query, key, value = (self._heads(x, at + f"attention.self.{part}") for part in ("query", "key", "value"))
            attention = query @ key.swapaxes(-1, -2) * scale + padding
            attention = np.exp(attention - attention.max(axis=-1, keepdims=True))
            attention /= attention.sum(axis=-1, keepdims=True)
            context = (attention @ value).transpose(0, 2, 1, 3).reshape(batch, length, shape.hidden)
            attended = x + self._linear(context, at + "attention.output.dense")
            x = self._normalised(attended, at + "attention.output.LayerNorm")
            hidden = self._linear(x, at + "intermediate.dense")
            hidden = hidden * (0.5 * (1.0 + erf(hidden * np.float32(_SQRT_HALF))))
            x = self._normalised(x + self._linear(hidden, at + "output.dense"), at + "output.LayerNorm")
        pooled = (x * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    def _heads(self, x: np.ndarray, name: str) -> np.ndarray:
        """A linear projection of `x` split into attention heads: (batch, heads, length, width)."""
        batch, length, _ = x.shape
        heads = self.shape.heads
        return self._linear(x, name).reshape(batch, length, heads, -1).transpose(0, 2, 1, 3)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        weight = self.weights[name + ".weight"]
        flat = x.reshape(-1, x.shape[-1]) @ weight + self.weights[name + ".bias"]
        return flat.reshape(*x.shape[:-1], weight.shape[1])

    def _normalised(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        scaled = centred / np.sqrt(variance + np.float32(self.shape.layer_norm_eps))
        return scaled * self.weights[name + ".weight"] + self.weights[name + ".bias"]
