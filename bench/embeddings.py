"""What each embeddings model costs: loading it, embedding turns (index builds and appends) and
embedding a question (every query), on the dev sets' own texts.

    .venv/bin/python bench/embeddings.py [--locomo FILE] [--realtalk DIR] [--questions N] [--threads N]

Runs with `--threads` BLAS threads for numpy (default 1: what a query gets, `Config.query_threads`);
MiniLM's ONNX Runtime session always runs on the calling thread alone. Prints
one row per model that is installed (wordllama: graphmem[embeddings]; MiniLM: graphmem[minilm] and
its model's files, README "With embeddings").
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from graphmem.errors import ConfigError
from graphmem.eval.locomo import locomo_set, realtalk_set
from graphmem.search.dense import EMBEDDINGS, embed, embedded_text, load_minilm, load_wordllama

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
LOADERS = {"wordllama": load_wordllama, "minilm": load_minilm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locomo", type=Path, default=SHARED / "locomo" / "locomo_dev.json")
    parser.add_argument("--realtalk", type=Path, default=SHARED / "realtalk")
    parser.add_argument("--questions", type=int, default=300, help="questions timed one at a time, per dev set")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    datasets = {"LoCoMo": locomo_set(args.locomo), "REALTALK": realtalk_set([args.realtalk])}
    table = Table(title=f"embeddings: cost on the dev sets' texts, {args.threads} thread(s)")
    for column in ("model", "load s", "dev set", "turns", "ms / turn", "question p50 / p95 ms", "bytes / turn"):
        table.add_column(column, justify="left" if column in ("model", "dev set") else "right")
    with threadpool_limits(limits=args.threads):
        for model in EMBEDDINGS:
            started = time.perf_counter()
            try:
                LOADERS[model]()
            except ConfigError as exc:
                Console().print(f"[yellow]{model}: not installed ({exc})")
                continue
            loaded = time.perf_counter() - started
            for name, dataset in datasets.items():
                texts = [embedded_text(m) for c in dataset.conversations.values() for m in c.messages]
                started = time.perf_counter()
                vectors = embed(texts, model)
                per_turn = (time.perf_counter() - started) / len(texts)
                times = []
                for question in [q.question for q in dataset.questions][: args.questions]:
                    started = time.perf_counter()
                    embed([question], model)
                    times.append(time.perf_counter() - started)
                p50, p95 = np.percentile(np.array(times) * 1000, [50, 95])
                table.add_row(model, f"{loaded:.2f}", name, f"{len(texts):,}", f"{per_turn * 1000:.2f}",
                              f"{p50:.2f} / {p95:.2f}", f"{vectors.shape[1] * vectors.itemsize:,}")
                loaded = 0.0
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
