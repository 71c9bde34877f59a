"""What one hostile message or name costs: the worst inputs within today's limits, one at a time.

    .venv/bin/python bench/hostile.py

Prints a table: each input, its size, and the wall and CPU seconds of cleaning the name or
extracting the message (spaCy). Target: <= 1 s of CPU per accepted message or name. On a shared
machine read the CPU column (wall time includes waiting for a core).
"""

from __future__ import annotations

import time
from datetime import datetime

from rich.console import Console
from rich.table import Table

from graphmem.extraction.canonical import clean_name
from graphmem.extraction.spacy_pipeline import SpacyExtractor, load_spacy_model
from graphmem.ingest.loaders import DEFAULT_MAX_MESSAGE_CHARS
from graphmem.models import Conversation, Message

TEXTS = {
    "30,000 emoji": "😀" * 30_000,
    "emoji and letters, 100k": "😀a" * (DEFAULT_MAX_MESSAGE_CHARS // 2),
    "time expressions, 100k": ("on 3 May 2021, next week, yesterday, two years ago; " * 2_000)[:DEFAULT_MAX_MESSAGE_CHARS],
    "English prose, 100k": ("I moved to Porto last month and adopted a cat yesterday. " * 2_000)[:DEFAULT_MAX_MESSAGE_CHARS],
    "one 100k word": "x" * DEFAULT_MAX_MESSAGE_CHARS,
}
NAMES = {
    "punctuation run, 100k": "!" * 50_000 + "a" + "." * 50_000 + "b",
    "spaces and marks, 100k": " ." * 50_000 + "Ana",
}


def _timed(run) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    load_spacy_model(SpacyExtractor().model)("warm up")
    extractor = SpacyExtractor(n_process=1)
    table = Table("input", "characters", "wall s", "CPU s", title="cost of one hostile input")
    for label, name in NAMES.items():
        wall, cpu = _timed(lambda: clean_name(name))
        table.add_row(f"name: {label}", f"{len(name):,}", f"{wall:.3f}", f"{cpu:.3f}")
    for label, text in TEXTS.items():
        message = Message(id="m1", conversation_id="c", seq=0, speaker="Ann", text=text, ts=datetime(2024, 5, 2))
        talk = Conversation(id="c", participants=("Ann", "Ben"), messages=(message,))
        wall, cpu = _timed(lambda: list(extractor.extract(talk, talk.messages)))
        table.add_row(f"message: {label}", f"{len(text):,}", f"{wall:.3f}", f"{cpu:.3f}")
    Console().print(table)


if __name__ == "__main__":
    main()
