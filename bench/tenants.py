"""Many tenants: one Memory queries 1,000 tenants round-robin and its index cache stays within budget.

    .venv/bin/python bench/tenants.py [--tenants 1000] [--turns 60] [--budgets 16,64,default] [--rounds 2]

Every tenant holds the first `--turns` turns of one LoCoMo dev conversation: parsed by spaCy once,
then written to each tenant with that extraction (ids are per tenant, as for any ingest). For each
cache budget (`index_cache_mb`; "default" is the configuration's default, `index_cache_tenants`
included), a fresh process keeps one `Memory` open and asks every tenant in turn one of that
conversation's dev questions, `--rounds` times. With fewer tenants held than asked, every query
after the first round finds its tenant evicted and rebuilds its index: the cold path of a small
tenant, what a process serving many tenants pays.

Printed per budget: queries; the most tenants and megabytes the cache held after any query (by
`GroupIndex.estimated_bytes`, what the budget counts) against the budget; the process's RSS growth
over the run (what the estimate stands for); query p50 / p95 / p99.
Target (issue 12): 1,000 tenants queried round-robin stay within the configured cache budget.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from graphmem import Config, Memory
from graphmem.ingest.graph_builder import build_graph_batch
from graphmem.ingest.loaders import load_file

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"

CHILD = """
import json, sys, time
import numpy as np
from graphmem import Config, Memory
config, questions, rounds = Config.model_validate_json(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024
with Memory(config) as memory:
    memory.search(questions[0][1], k=10, group_id=questions[0][0])  # spaCy and numpy loaded, one tenant built
    before = rss_mb()
    latencies, most_tenants, most_bytes = [], 0, 0
    for _ in range(rounds):
        for group, question in questions:
            started = time.perf_counter()
            memory.search(question, k=10, group_id=group)
            latencies.append(1000 * (time.perf_counter() - started))
            most_tenants = max(most_tenants, len(memory.index_cache))
            most_bytes = max(most_bytes, memory.index_cache.bytes)
    print(json.dumps({"queries": len(latencies), "p": list(np.percentile(latencies, [50, 95, 99])),
                      "tenants": most_tenants, "mb": most_bytes / 2**20, "rss": rss_mb() - before}))
"""


def write_tenants(path: Path, tenants: int, turns: int) -> tuple[list[str], list[str]]:
    """Write the tenants; return their group ids and the dev questions of the conversation."""
    sample = json.loads(DEV.read_text())[0]
    conversation = load_file(DEV).conversations[0]
    conversation = conversation.model_copy(update={"messages": conversation.messages[:turns]})
    groups = [f"tenant-{i:04d}" for i in range(tenants)]
    with Memory(Config(path=path)) as memory:
        extractions = list(memory.extractor.extract(conversation, conversation.messages))
        for group in groups:
            batch = build_graph_batch(group, conversation, conversation.messages, extractions, conversation.participants)
            memory.store.write(group, batch)
    return groups, [qa["question"] for qa in sample["qa"]]


def run(path: Path, budget: str, groups: list[str], questions: list[str], rounds: int) -> dict:
    config = Config(path=path) if budget == "default" else Config(path=path, index_cache_mb=float(budget))
    asked = [(group, questions[i % len(questions)]) for i, group in enumerate(groups)]
    done = subprocess.run([sys.executable, "-c", CHILD, config.model_dump_json(), json.dumps(asked), str(rounds)],
                          capture_output=True, text=True, check=True)
    row = json.loads(done.stdout.strip().splitlines()[-1])
    return dict(row, budget_mb=config.index_cache_mb, budget_tenants=config.index_cache_tenants)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--turns", type=int, default=60, help="turns per tenant")
    parser.add_argument("--budgets", default="16,64,default", help="index_cache_mb values, or 'default'")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "tenants.db"
        started = time.perf_counter()
        groups, questions = write_tenants(path, args.tenants, args.turns)
        console.print(f"{args.tenants} tenants of {args.turns} turns written in {time.perf_counter() - started:.0f} s")
        table = Table(title=f"{args.tenants} tenants of {args.turns} turns, queried round-robin x{args.rounds}")
        for column in ("budget", "queries", "tenants held (max)", "MB held (max, estimate)", "RSS growth MB",
                       "p50 / p95 / p99 ms", "within budget"):
            table.add_column(column)
        for budget in args.budgets.split(","):
            row = run(path, budget, groups, questions, args.rounds)
            within = row["tenants"] <= row["budget_tenants"] and row["mb"] <= row["budget_mb"]
            table.add_row(f"{row['budget_mb']:g} MB / {row['budget_tenants']}", str(row["queries"]),
                          str(row["tenants"]), f"{row['mb']:.1f}", f"{row['rss']:.0f}",
                          " / ".join(f"{p:.1f}" for p in row["p"]), "yes" if within else "NO")
        console.print(table)


if __name__ == "__main__":
    main()
