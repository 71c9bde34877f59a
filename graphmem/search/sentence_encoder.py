"""A BERT sentence encoder (all-MiniLM-L6-v2 and its kin), written as an ONNX graph and run by ONNX Runtime.

The model's own runtime, PyTorch, is gigabytes. A six-layer, 384-wide BERT is a few dozen matrix
products, so graphmem writes them down itself (`bert_graph`), from the model's `model.safetensors`,
and runs them with ONNX Runtime on one thread. ONNX Runtime packs each weight matrix for its kernels
once, when the session is made; numpy's BLAS packed the 42 MB of layer weights again for every
question, which made a short question cost 8.6 ms where it now costs 3.6 (the vectors agree to 1e-6).

Wordpieces come from the model's `tokenizer.json` (the `tokenizers` package). The sentence vector
is the attention-masked mean of the last layer, scaled to unit length: what sentence-transformers
computes for all-MiniLM-L6-v2 (mean pooling, then normalisation). Everything stays float32.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from graphmem.errors import ConfigError


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


# ONNX operator set 17 has LayerNormalization; IR version 8 is the one that goes with it, and what
# ONNX Runtime reads (onnx 1.23 writes IR 14 unless told, which ONNX Runtime 1.31 refuses).
_OPSET, _IR_VERSION = 17, 8


class _GraphWriter:
    """Appends ONNX nodes and their constants; each method returns the name of its output.

    Weight matrices and vectors stay numpy arrays (`arrays`), which the graph names as external
    data: the session copies them once into buffers of its own, where a serialised graph holding
    them would be parsed into a second copy and kept (100 MB more in a process). Scalars and shapes
    are written into the graph, where shape inference reads them."""

    def __init__(self, weights: dict[str, np.ndarray]):
        self.weights = weights
        self.nodes: list = []
        self.initializers: list = []
        self.arrays: dict[str, np.ndarray] = {}

    def constant(self, name: str, value) -> str:
        array = np.ascontiguousarray(value)
        if array.ndim == 0 or array.dtype != np.float32:
            self.initializers.append(numpy_helper.from_array(array, name))
            return name
        self.arrays[name] = array
        reference = TensorProto(name=name, dims=array.shape, data_type=TensorProto.FLOAT,
                                data_location=TensorProto.EXTERNAL)
        for key, text in (("location", "memory"), ("length", str(array.nbytes))):
            reference.external_data.add(key=key, value=text)
        self.initializers.append(reference)
        return name

    def op(self, op_type: str, *inputs: str, **attributes) -> str:
        output = f"{op_type.lower()}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], **attributes))
        return output

    def linear(self, x: str, name: str) -> str:
        """x @ W.T + b, with PyTorch's (out, in) weight stored transposed."""
        weight = self.constant(name + ".weight", self.weights[name + ".weight"].T)
        return self.op("Add", self.op("MatMul", x, weight), self.constant(name + ".bias", self.weights[name + ".bias"]))

    def layer_norm(self, x: str, name: str, epsilon: float) -> str:
        scale = self.constant(name + ".weight", self.weights[name + ".weight"])
        return self.op("LayerNormalization", x, scale, self.constant(name + ".bias", self.weights[name + ".bias"]),
                       axis=-1, epsilon=epsilon)


def bert_graph(shape: BertShape, weights: dict[str, np.ndarray]) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """BERT's forward pass as an ONNX model, and the arrays its initializers name as external data.
    Inputs `ids` (int64, batch x length) and `mask` (float32, 1 for a word piece, 0 for padding);
    output `hidden`, the last layer (batch x length x hidden).

    `weights` are the model's safetensors, named without the "bert." prefix."""
    g = _GraphWriter(weights)
    width = shape.hidden // shape.heads
    eps = shape.layer_norm_eps
    one = g.constant("one_f", np.array(1.0, np.float32))
    length = g.op("Slice", g.op("Shape", "ids"), g.constant("one_i", np.array([1])),
                  g.constant("two_i", np.array([2])))
    positions = g.op("Slice", g.constant("positions", weights["embeddings.position_embeddings.weight"]),
                     g.constant("zero_i", np.array([0])), length)
    words = g.op("Gather", g.constant("words", weights["embeddings.word_embeddings.weight"]), "ids", axis=0)
    segment = g.constant("segment", weights["embeddings.token_type_embeddings.weight"][0])
    x = g.layer_norm(g.op("Add", g.op("Add", words, positions), segment), "embeddings.LayerNorm", eps)
    # Padding's scores get -1e9 before the softmax: no attention. Shape (batch, 1, 1, length), as the heads' scores.
    padding = g.op("Mul", g.op("Sub", "mask", one), g.constant("padding_penalty", np.array(1e9, np.float32)))
    padding = g.op("Unsqueeze", padding, g.constant("head_axes", np.array([1, 2])))
    split_heads = g.constant("split_heads", np.array([0, 0, shape.heads, width]))
    join_heads = g.constant("join_heads", np.array([0, 0, shape.hidden]))
    scale = g.constant("scale", np.array(width**-0.5, np.float32))
    half = g.constant("half", np.array(0.5, np.float32))
    root_half = g.constant("root_half", np.array(0.5**0.5, np.float32))
    for layer in range(shape.layers):
        at = f"encoder.layer.{layer}."
        query, key, value = (g.op("Reshape", g.linear(x, at + f"attention.self.{part}"), split_heads)
                             for part in ("query", "key", "value"))
        query, value = (g.op("Transpose", part, perm=[0, 2, 1, 3]) for part in (query, value))
        scores = g.op("MatMul", query, g.op("Transpose", key, perm=[0, 2, 3, 1]))
        attention = g.op("Softmax", g.op("Add", g.op("Mul", scores, scale), padding), axis=-1)
        context = g.op("Reshape", g.op("Transpose", g.op("MatMul", attention, value), perm=[0, 2, 1, 3]), join_heads)
        x = g.layer_norm(g.op("Add", x, g.linear(context, at + "attention.output.dense")),
                         at + "attention.output.LayerNorm", eps)
        hidden = g.linear(x, at + "intermediate.dense")  # exact GELU: h * (1 + erf(h / sqrt 2)) / 2
        hidden = g.op("Mul", hidden, g.op("Mul", half, g.op("Add", one, g.op("Erf", g.op("Mul", hidden, root_half)))))
        x = g.layer_norm(g.op("Add", x, g.linear(hidden, at + "output.dense")), at + "output.LayerNorm", eps)
    g.nodes.append(helper.make_node("Identity", [x], ["hidden"]))
    graph = helper.make_graph(
        g.nodes, "bert", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "length"]),
                          helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", "length"])],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "length", shape.hidden])],
        g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)], ir_version=_IR_VERSION)
    return model, g.arrays


class SentenceEncoder:
    """Unit-length sentence embeddings from a BERT model directory (config.json, model.safetensors,
    tokenizer.json), as sentence-transformers' mean pooling makes them."""

    def __init__(self, shape: BertShape, session, tokenizer, max_tokens: int):
        self.shape = shape
        self.session = session
        self.tokenizer = tokenizer
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding()

    @classmethod
    def load(cls, directory: Path) -> SentenceEncoder:
        """The encoder stored in `directory`. Texts are cut at the model's `max_seq_length`
        (sentence_bert_config.json; 256 word pieces for all-MiniLM-L6-v2), as sentence-transformers
        cuts them. The session runs on the calling thread alone: a question is too small to share
        out, and graphmem's queries must not take cores from the rest of the machine."""
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
        weights = {name.removeprefix("bert."): array.astype(np.float32, copy=False)
                   for name, array in load_file(str(directory / "model.safetensors")).items()}
        model, arrays = bert_graph(shape, weights)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        # No arena: it would keep the largest batch's activations (hundreds of MB for 64 long turns) for good.
        options.enable_cpu_mem_arena = False
        options.log_severity_level = 3  # errors only: its notes on graph rewrites are not the user's business
        options.add_external_initializers(
            list(arrays), [onnxruntime.OrtValue.ortvalue_from_numpy(array) for array in arrays.values()])
        session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        return cls(shape, session, Tokenizer.from_file(str(directory / "tokenizer.json")), max_tokens)

    def encode(self, texts: Sequence[str], batch_size: int = 8) -> np.ndarray:
        """One unit-length row per text. Texts are batched by length, so padding stays short; batches
        of 8 indexed LoCoMo's turns faster than 64 (10.5 against 13.6 ms a turn), in less memory."""
        vectors = np.zeros((len(texts), self.shape.hidden), dtype=np.float32)
        order = np.argsort([len(text) for text in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            batch = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in batch])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
            (hidden,) = self.session.run(["hidden"], {"ids": ids, "mask": mask})
            pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            vectors[batch] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return vectors
