"""Named Cypher statements: every statement the Neo4j store runs is a `.cypher` file.

The files live in the repository's top-level `cypher/` folder, one statement per file, named by
their path without the suffix (`load("write/upsert_messages")`). The package reaches them through
`graphmem/cypher`, a link to that folder, so a checkout, an editable install and a built wheel
(which copies the files in as package data) all find them at the same place.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

CYPHER_DIR = Path(__file__).resolve().parents[2] / "cypher"
SUFFIX = ".cypher"


@cache
def load(name: str) -> str:
    """The statement called `name` (e.g. "read/messages"), read once."""
    return (CYPHER_DIR / f"{name}{SUFFIX}").read_text(encoding="utf-8")


def names(folder: str) -> list[str]:
    """The names of every statement in `folder` (e.g. "schema"), sorted."""
    return sorted(f"{folder}/{path.stem}" for path in (CYPHER_DIR / folder).glob(f"*{SUFFIX}"))
