"""Evidence recall on LoCoMo and REALTALK, as LoCoMo's own evaluation defines it.

For each question with at least one valid evidence id, recall@k is the fraction of its
evidence turns (dia_ids) among the top-k retrieved turns; it is averaged over questions,
overall and per category. An evidence id is valid when it has the form `D<session>:<turn>` and
names a turn of the conversation; ids joined by ';', ',' or spaces are read as several. Invalid
ids are dropped and counted; questions left with no valid evidence are skipped and counted.
Only the conversations are ingested, never the annotations.

The harness is one for both datasets: a reader turns a file (LoCoMo) or a folder of chats
(REALTALK) into an `EvalSet` of conversations and questions, and `run_variants` scores rankings
on it. Each conversation is ingested as its own tenant of a fresh temporary memory, so no
question can retrieve another conversation's turns. With consolidation, variants that use
scenes are scored after `Memory.consolidate` and the others before it, on the same ingest.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from graphmem import Config, Memory, SearchSettings, is_realtalk_chat, load_file, realtalk_conversation_id
from graphmem.models import Conversation

DIA_ID = re.compile(r"^D\d+:\d+$")
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
REALTALK_CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "commonsense"}


def valid_evidence(evidence: Sequence, known_ids: set[str]) -> list[str]:
    """The usable evidence ids of a question, in order, without duplicates."""
    return _split_evidence(evidence, known_ids)[0]


def _split_evidence(evidence: Sequence, known_ids: set[str]) -> tuple[list[str], int]:
    """The usable evidence ids of a question, and how many given items were malformed or named no message."""
    found: list[str] = []
    dropped = 0
    for item in evidence or ():
        parts = [part for part in re.split(r"[;,\s]+", str(item)) if part]
        usable = [part for part in parts if DIA_ID.match(part) and part in known_ids]
        dropped += len(usable) < len(parts) or not parts
        found.extend(part for part in usable if part not in found)
    return found, dropped


@dataclass(frozen=True)
class EvalQuestion:
    conversation_id: str
    question: str
    evidence: tuple  # as given: possibly malformed, checked when scored
    category: str


@dataclass
class EvalSet:
    """Conversations (each becomes a tenant) and the questions asked of them."""

    name: str
    conversations: dict[str, Conversation]
    questions: list[EvalQuestion]
    categories: dict[int, str]


def locomo_set(path: str | Path) -> EvalSet:
    """A LoCoMo file: samples with `conversation` and `qa`."""
    samples = json.loads(Path(path).read_text(encoding="utf-8"))
    conversations = {c.id: c for c in load_file(path).conversations}
    questions = [
        EvalQuestion(str(s["sample_id"]), str(qa["question"]), tuple(qa.get("evidence") or ()), str(qa.get("category", "?")))
        for s in samples if str(s.get("sample_id")) in conversations for qa in s.get("qa", [])
    ]
    return EvalSet(f"LoCoMo ({Path(path).name})", conversations, questions, CATEGORIES)


def realtalk_set(paths: Sequence[str | Path]) -> EvalSet:
    """REALTALK chats: `.json` files, or folders of them; each chat is a conversation with its `qa`."""
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    conversations: dict[str, Conversation] = {}
    questions: list[EvalQuestion] = []
    for file in files:
        chat = json.loads(file.read_text(encoding="utf-8"))
        if not is_realtalk_chat(chat):
            continue
        for conversation in load_file(file).conversations:
            conversations[conversation.id] = conversation
        conversation_id = realtalk_conversation_id(str(file), "record")
        questions.extend(
            EvalQuestion(conversation_id, str(qa.get("question", "")), tuple(qa.get("evidence") or ()),
                         str(qa.get("category", "?")))
            for qa in chat.get("qa", []) if isinstance(qa, dict)
        )
    names = ", ".join(str(p) for p in paths)
    return EvalSet(f"REALTALK ({names})", conversations, questions, REALTALK_CATEGORIES)


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
class EvalResult:
    ks: tuple[int, ...]
    recall: dict[str, dict[int, float]]  # "all" or category number -> k -> mean recall
    counts: dict[str, int]  # questions scored per "all" / category
    questions: int
    skipped: int  # questions with no valid evidence id
    dropped_evidence: int  # evidence ids that were malformed or named no message
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
            "dropped_evidence": self.dropped_evidence,
            "latency_ms": {key: round(value, 3) for key, value in self.latency_ms.items()},
            "ingest_turns_per_s": round(self.ingest_turns_per_s, 1),
            "turns": self.turns,
            "store": self.store,
        }


@dataclass(frozen=True)
class Variant:
    """A ranking to score: search channels (None: the default engine), with or without consolidation
    (`scenes`: the tenant's scenes and persona facets in the graph) and the learned reranker."""

    channels: tuple[str, ...] | None = None
    scenes: bool = False
    rerank: bool = True


BASELINES: dict[str, Variant] = {
    "bm25": Variant(("bm25",)),
    "dense (embeddings configured)": Variant(("dense",)),
    "ppr only": Variant(("ppr",)),
    "activation only": Variant(("activation",)),
    "graphmem": Variant(),
}


ABLATION: dict[str, Variant] = {
    "full engine (PPR + activation, scenes and facets)": Variant(("ppr", "activation"), scenes=True),
    "full engine without the reranker": Variant(("ppr", "activation"), scenes=True, rerank=False),
    "without scenes and facets (not consolidated)": Variant(("ppr", "activation")),
    "without activation (PPR, scenes and facets)": Variant(("ppr",), scenes=True),
    "PPR alone": Variant(("ppr",)),
}


def variants_to_score(*, baselines: bool, consolidate: bool, dense: bool) -> dict[str, Variant]:
    """The rankings an eval run scores; "graphmem" (the default engine) is always among them.

    With `consolidate`, the default engine runs on scenes; with both flags, the ablation too.
    """
    chosen = {
        name: variant for name, variant in BASELINES.items() if dense or variant.channels != ("dense",)
    } if baselines else {}
    if baselines and consolidate:
        chosen.update(ABLATION)
    chosen["graphmem"] = Variant(scenes=consolidate)
    return chosen


def run_locomo(
    path: str | Path,
    *,
    ks: Sequence[int] = (5, 10, 20),
    config: Config | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> EvalResult:
    """Ingest a LoCoMo file into a fresh temporary memory and score every question."""
    return run_variants(locomo_set(path), {"graphmem": Variant()}, ks=ks, config=config, on_progress=on_progress)[
        "graphmem"
    ]


def run_variants(
    dataset: EvalSet,
    variants: dict[str, Variant],
    *,
    ks: Sequence[int] = (5, 10, 20),
    config: Config | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, EvalResult]:
    """Score several rankings on one ingest; those with scenes after consolidating each tenant."""
    ks = tuple(sorted(set(ks)))
    conversations = dataset.conversations
    base = config or Config()
    results: dict[str, EvalResult] = {}
    with tempfile.TemporaryDirectory(prefix="graphmem-eval-") as scratch:
        run_config = base.model_copy(update={"path": Path(scratch) / "memory.db"})
        prefix = f"eval-{uuid.uuid4().hex[:8]}-" if base.store != "sqlite" else ""
        with Memory(run_config) as memory:
            try:
                ingest_rate = _ingest(memory, conversations, prefix, on_progress)
                for scenes in (False, True):
                    chosen = {name: v for name, v in variants.items() if v.scenes == scenes}
                    if not chosen:
                        continue
                    if scenes:
                        for number, conversation_id in enumerate(conversations, start=1):
                            memory.consolidate(group_id=prefix + conversation_id)
                            if on_progress:
                                on_progress("consolidate", number, len(conversations))
                    for name, variant in chosen.items():
                        results[name] = _evaluate(memory, dataset, ks, prefix, variant, ingest_rate, on_progress)
            finally:
                for conversation_id in conversations:
                    if prefix:
                        memory.forget(group_id=prefix + conversation_id)
    return {name: results[name] for name in variants}


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


def _evaluate(memory: Memory, dataset: EvalSet, ks, prefix, variant: Variant, ingest_rate, on_progress) -> EvalResult:
    conversations = dataset.conversations
    turns = sum(len(c.messages) for c in conversations.values())
    known = {cid: {m.id for m in c.messages} for cid, c in conversations.items()}
    sums: dict[str, dict[int, float]] = defaultdict(lambda: dict.fromkeys(ks, 0.0))
    counts: dict[str, int] = defaultdict(int)
    latencies: list[float] = []
    questions = skipped = dropped = 0
    per_question: list[dict] = []
    settings = SearchSettings(**({"channels": variant.channels} if variant.channels else {}), rerank=variant.rerank)
    asked = [q for q in dataset.questions if q.conversation_id in conversations]
    for number, qa in enumerate(asked, start=1):
        questions += 1
        evidence, bad = _split_evidence(qa.evidence, known[qa.conversation_id])
        dropped += bad
        if not evidence or not qa.question.strip():
            skipped += 1
            continue
        started = time.perf_counter()
        hits = memory.search(qa.question, k=max(ks), settings=settings, group_id=prefix + qa.conversation_id)
        latencies.append((time.perf_counter() - started) * 1000)
        retrieved = [h.source_id for h in hits]
        for group in ("all", qa.category):
            counts[group] += 1
            for k in ks:
                sums[group][k] += recall_at_k(evidence, retrieved, k)
        per_question.append(
            {"sample": qa.conversation_id, "category": qa.category, "question": qa.question, "evidence": evidence,
             "retrieved": retrieved}
        )
        if on_progress and number % 20 == 0:
            on_progress("questions", number, len(asked))
    recall = {
        group: {k: sums[group][k] / counts[group] for k in ks}
        for group in sorted(counts, key=lambda g: (g != "all", g))
    }
    return EvalResult(
        ks=ks,
        recall=recall,
        counts=dict(counts),
        questions=questions,
        skipped=skipped,
        dropped_evidence=dropped,
        latency_ms={"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        ingest_turns_per_s=ingest_rate,
        turns=turns,
        store=memory.config.store,
        per_question=per_question,
    )
