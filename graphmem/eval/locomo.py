"""Evidence recall on LoCoMo, as LoCoMo's own evaluation defines it.

For each question with at least one valid evidence id, recall@k is the fraction of its
evidence turns (dia_ids) among the top-k retrieved turns; it is averaged over questions,
overall and per category. An evidence id is valid when it has the form `D<session>:<turn>` and
names a turn of the conversation; ids joined by ';' are read as several. Questions with no
valid evidence are skipped and counted. Only the `conversation` field is ingested.

Each conversation is ingested as its own tenant of a fresh temporary memory, so no question
can retrieve another conversation's turns.
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from graphmem import Config, Memory, SearchSettings, load_file

DIA_ID = re.compile(r"^D\d+:\d+$")
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}


def valid_evidence(evidence: Sequence, known_ids: set[str]) -> list[str]:
    """The usable evidence ids of a question, in order, without duplicates."""
    found: list[str] = []
    for item in evidence or ():
        for part in re.split(r"[;,\s]+", str(item)):
            if DIA_ID.match(part) and part in known_ids and part not in found:
                found.append(part)
    return found


def recall_at_k(evidence: Sequence[str], retrieved: Sequence[str], k: int) -> float:
    """The fraction of `evidence` among the first `k` of `retrieved`."""
    top = set(retrieved[:k])
    return sum(1 for e in evidence if e in top) / len(evidence)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class LocomoResult:
    ks: tuple[int, ...]
    recall: dict[str, dict[int, float]]  # "all" or category number -> k -> mean recall
    counts: dict[str, int]  # questions scored per "all" / category
    questions: int
    skipped: int
    latency_ms: dict[str, float]
    ingest_turns_per_s: float
    turns: int
    store: str = "sqlite"
    per_question: list[dict] = field(default_factory=list, repr=False)

    def to_json(self) -> dict:
        return {
            "recall": {group: {str(k): round(v, 4) for k, v in by_k.items()} for group, by_k in self.recall.items()},
            "questions": self.questions,
            "skipped": self.skipped,
            "latency_ms": {key: round(value, 3) for key, value in self.latency_ms.items()},
            "ingest_turns_per_s": round(self.ingest_turns_per_s, 1),
            "turns": self.turns,
            "store": self.store,
        }


BASELINES: dict[str, tuple[str, ...] | None] = {
    "bm25": ("bm25",),
    "dense (embeddings configured)": ("dense",),
    "ppr only": ("ppr",),
    "activation only": ("activation",),
    "ppr + activation": ("ppr", "activation"),
    "graphmem": None,
}


def run_locomo(
    path: str | Path,
    *,
    ks: Sequence[int] = (5, 10, 20),
    config: Config | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> LocomoResult:
    """Ingest a LoCoMo file into a fresh temporary memory and score every question."""
    return run_locomo_variants(path, {"graphmem": None}, ks=ks, config=config, on_progress=on_progress)["graphmem"]


def run_locomo_variants(
    path: str | Path,
    variants: dict[str, tuple[str, ...] | None],
    *,
    ks: Sequence[int] = (5, 10, 20),
    config: Config | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, LocomoResult]:
    """Score several rankings (name -> search channels, None for the default engine) on one ingest."""
    ks = tuple(sorted(set(ks)))
    samples = json.loads(Path(path).read_text(encoding="utf-8"))
    loaded = load_file(path)
    conversations = {c.id: c for c in loaded.conversations}
    base = config or Config()
    with tempfile.TemporaryDirectory(prefix="graphmem-eval-") as scratch:
        run_config = base.model_copy(update={"path": Path(scratch) / "memory.db"})
        prefix = f"eval-{uuid.uuid4().hex[:8]}-" if base.store != "sqlite" else ""
        with Memory(run_config) as memory:
            try:
                ingest_rate = _ingest(memory, conversations, prefix, on_progress)
                return {
                    name: _evaluate(memory, samples, conversations, ks, prefix, channels, ingest_rate, on_progress)
                    for name, channels in variants.items()
                }
            finally:
                for sample_id in conversations:
                    if prefix:
                        memory.forget(group_id=prefix + sample_id)


def _ingest(memory: Memory, conversations, prefix, on_progress) -> float:
    """Ingest each conversation as its own tenant; return turns per second."""
    turns = sum(len(c.messages) for c in conversations.values())
    ingest_seconds = 0.0
    done = 0
    for conversation in conversations.values():
        report = memory.ingest_conversations([conversation], group_id=prefix + conversation.id)
        ingest_seconds += report.seconds
        done += len(conversation.messages)
        if on_progress:
            on_progress("ingest", done, turns)
    return turns / ingest_seconds if ingest_seconds else 0.0


def _evaluate(memory: Memory, samples, conversations, ks, prefix, channels, ingest_rate, on_progress) -> LocomoResult:
    turns = sum(len(c.messages) for c in conversations.values())

    sums: dict[str, dict[int, float]] = defaultdict(lambda: dict.fromkeys(ks, 0.0))
    counts: dict[str, int] = defaultdict(int)
    latencies: list[float] = []
    questions = skipped = 0
    per_question: list[dict] = []
    settings = SearchSettings(channels=channels) if channels else None
    all_questions = [(s, qa) for s in samples if s.get("sample_id") in conversations for qa in s.get("qa", [])]
    for number, (sample, qa) in enumerate(all_questions, start=1):
        questions += 1
        conversation = conversations[sample["sample_id"]]
        evidence = valid_evidence(qa.get("evidence", []), {m.id for m in conversation.messages})
        if not evidence:
            skipped += 1
            continue
        started = time.perf_counter()
        hits = memory.search(str(qa["question"]), k=max(ks), settings=settings, group_id=prefix + conversation.id)
        latencies.append((time.perf_counter() - started) * 1000)
        retrieved = [h.source_id for h in hits]
        category = str(qa.get("category", "?"))
        for group in ("all", category):
            counts[group] += 1
            for k in ks:
                sums[group][k] += recall_at_k(evidence, retrieved, k)
        per_question.append(
            {"sample": sample["sample_id"], "category": category, "question": qa["question"], "evidence": evidence,
             "retrieved": retrieved}
        )
        if on_progress and number % 20 == 0:
            on_progress("questions", number, len(all_questions))
    recall = {
        group: {k: sums[group][k] / counts[group] for k in ks}
        for group in sorted(counts, key=lambda g: (g != "all", g))
    }
    return LocomoResult(
        ks=ks,
        recall=recall,
        counts=dict(counts),
        questions=questions,
        skipped=skipped,
        latency_ms={"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        ingest_turns_per_s=ingest_rate,
        turns=turns,
        store=memory.config.store,
        per_question=per_question,
    )
