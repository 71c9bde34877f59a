"""Training the learned reranker (`graphmem.search.rerank`) on labelled questions.

The examples are, per question, the graph's best candidates with their features
(`engine.rerank_features`) and whether each is an evidence turn; `bench/train_ranker.py` collects
them from the dev sets. LightGBM's LambdaRank fits the trees (an optional package: the `train` extra);
the model is then exported to graphmem's own tree format, which queries evaluate with numpy.
`leave_one_conversation_out` scores each conversation with a model trained on all the others: how
the reranker does on conversations it never saw.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from graphmem.errors import ConfigError
from graphmem.search.rerank import DENSE_FEATURES, FEATURES, TreeEnsemble, features

# Small trees, many rounds, bagged: on both dev sets these held up best on held-out conversations.
LAMBDARANK = {
    "objective": "lambdarank", "lambdarank_truncation_level": 20, "learning_rate": 0.05, "num_leaves": 7,
    "min_data_in_leaf": 50, "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1,
    "seed": 1, "deterministic": True, "num_threads": 1, "verbose": -1,
}
ROUNDS = 300


@dataclass(frozen=True)
class RankingExamples:
    """Candidates of labelled questions: row r is a candidate of question `question[r]`. A question's
    rows are contiguous and in graph-rank order, and questions come in ascending number (LightGBM's
    query groups are read off that order)."""

    features: np.ndarray  # (rows, columns of `rerank.features`, with or without the dense ones)
    relevant: np.ndarray  # (rows,) whether the candidate is an evidence turn
    question: np.ndarray  # (rows,) the question's number in `conversation`, `category`, `evidence`
    conversation: tuple[str, ...]  # per question: "dataset/conversation id"
    category: tuple[str, ...]
    evidence: np.ndarray  # per question: how many evidence turns it has (recall's denominator)

    @staticmethod
    def joined(parts: Sequence[RankingExamples]) -> RankingExamples:
        offsets = np.cumsum([0, *(len(p.conversation) for p in parts)])
        return RankingExamples(
            np.vstack([p.features for p in parts]), np.concatenate([p.relevant for p in parts]),
            np.concatenate([p.question + offset for p, offset in zip(parts, offsets)]),
            tuple(c for p in parts for c in p.conversation), tuple(c for p in parts for c in p.category),
            np.concatenate([p.evidence for p in parts]),
        )


def train_reranker(
    examples: RankingExamples, rounds: int = ROUNDS, params: dict[str, Any] | None = None
) -> TreeEnsemble:
    """Fit LambdaRank trees on the examples and return them in graphmem's format."""
    try:
        import lightgbm
    except ImportError as error:
        raise ConfigError("training the reranker needs LightGBM: pip install 'graphmem[train]'") from error
    _, group_sizes = np.unique(examples.question, return_counts=True)  # rows are grouped by question
    width = examples.features.shape[1]
    if width not in (len(FEATURES), len(FEATURES) + len(DENSE_FEATURES)):
        raise ConfigError(f"examples have {width} feature columns; the reranker reads {len(FEATURES)} or "
                          f"{len(FEATURES) + len(DENSE_FEATURES)} (with embeddings)")
    data = lightgbm.Dataset(examples.features, examples.relevant.astype(float), group=group_sizes,
                            feature_name=list(features(dense=width > len(FEATURES))))
    booster = lightgbm.train({**LAMBDARANK, **(params or {})}, data, rounds)
    return replace(from_lightgbm(booster.dump_model()), candidates=int(group_sizes.max()))


def from_lightgbm(dump: dict[str, Any]) -> TreeEnsemble:
    """A LightGBM model (`Booster.dump_model()`) as a TreeEnsemble; only numerical `<=` splits."""
    trees = []
    for info in dump["tree_info"]:
        nodes: dict[str, list] = {"split_feature": [], "threshold": [], "left": [], "right": []}
        leaves: dict[int, float] = {}

        def number(node: dict[str, Any]) -> int:
            if "split_index" not in node:
                leaves[node.get("leaf_index", 0)] = node["leaf_value"]
                return ~node.get("leaf_index", 0)
            if node["decision_type"] != "<=":
                raise ConfigError(f"LightGBM split {node['decision_type']!r}: only numerical '<=' splits are supported")
            return node["split_index"]

        def walk(node: dict[str, Any]) -> None:
            if "split_index" not in node:
                number(node)
                return
            at = node["split_index"]
            for key in nodes:
                while len(nodes[key]) <= at:
                    nodes[key].append(0)
            nodes["split_feature"][at] = node["split_feature"]
            nodes["threshold"][at] = node["threshold"]
            nodes["left"][at] = number(node["left_child"])
            nodes["right"][at] = number(node["right_child"])
            walk(node["left_child"])
            walk(node["right_child"])

        walk(info["tree_structure"])
        trees.append({**nodes, "leaf_value": [leaves[i] for i in range(len(leaves))]})
    return TreeEnsemble.from_trees(dump["feature_names"], trees)


def recall_at_10(examples: RankingExamples, scores: np.ndarray) -> dict[str, float]:
    """Mean recall@10 over the questions when each question's candidates are ordered by `scores`
    (higher first, ties by graph rank), overall ("all") and per category."""
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    order = np.lexsort((np.arange(len(scores)), -scores, examples.question))
    kept = np.zeros(len(examples.conversation))
    for number, rows in _groups(examples.question[order]):
        kept[number] = examples.relevant[order[rows]][:10].sum()
    for number, found in enumerate(kept):
        recall = found / examples.evidence[number]
        for group in ("all", examples.category[number]):
            sums[group] += recall
            counts[group] += 1
    return {group: sums[group] / counts[group] for group in counts}


def _groups(question: np.ndarray) -> list[tuple[int, slice]]:
    """(question, its rows) of rows sorted by question."""
    starts = np.flatnonzero(np.r_[True, question[1:] != question[:-1]]) if len(question) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(question)]
    return [(int(question[s]), slice(s, e)) for s, e in zip(starts, ends)]


def leave_one_conversation_out(
    examples: RankingExamples, train: Callable[[RankingExamples], TreeEnsemble] = train_reranker
) -> np.ndarray:
    """Each question's candidate scores from a model trained on every other conversation."""
    scores = np.zeros(len(examples.features))
    per_row = np.array(examples.conversation)[examples.question] if len(examples.question) else np.zeros(0, str)
    for conversation in sorted(set(examples.conversation)):
        held = per_row == conversation
        model = train(_subset(examples, ~held))
        scores[held] = model.predict(examples.features[held])
    return scores


def _subset(examples: RankingExamples, rows: np.ndarray) -> RankingExamples:
    """The examples of some rows (whole questions), numbering unchanged."""
    return RankingExamples(examples.features[rows], examples.relevant[rows], examples.question[rows],
                           examples.conversation, examples.category, examples.evidence)
