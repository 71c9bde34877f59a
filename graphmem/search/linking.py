"""Entity linking for queries: which stored entities a question names.

A dictionary match of the question's word n-grams against entity names and aliases (the
same canonical keys the graph uses), longest match first. It costs microseconds, so it runs
on every query without a parser.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from graphmem.extraction.canonical import entity_key
from graphmem.models import EntityNode

_WORD = re.compile(r"[\w'’-]+")
MAX_NGRAM = 5
_STOP = frozenset(
    """a an the i you he she it we they me my your his her its our their what when where who whom which
    why how did do does is was were are be been has have had of in on at to for with from by about
    and or not this that these those there any some""".split()
)


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


class EntityLinker:
    """Links question text to entities by exact canonical-key match of n-grams."""

    def __init__(self, entities: Sequence[EntityNode] = ()):
        self._by_key: dict[str, dict[str, EntityNode]] = {}
        self.add(entities)

    def add(self, entities: Sequence[EntityNode]) -> None:
        """Link to these entities too; an entity already known is replaced (its aliases only grow)."""
        for entity in entities:
            for name in (entity.name, *entity.aliases):
                key = entity_key(name)
                if key and key not in _STOP:
                    self._by_key.setdefault(key, {})[entity.id] = entity

    def link(self, text: str) -> list[EntityNode]:
        words = [w.casefold().strip("'’") for w in _WORD.findall(text)]
        words = [w[:-2] if w.endswith(("'s", "’s")) else w for w in words]
        found: dict[str, EntityNode] = {}
        i = 0
        while i < len(words):
            for size in range(min(MAX_NGRAM, len(words) - i), 0, -1):
                gram = words[i : i + size]
                if size == 1 and gram[0] in _STOP:
                    continue
                matches = self._lookup(" ".join(gram)) or self._lookup(" ".join([*gram[:-1], _singular(gram[-1])]))
                if matches:
                    for entity in matches:
                        found.setdefault(entity.id, entity)
                    i += size
                    break
            else:
                i += 1
        return list(found.values())

    def _lookup(self, key: str) -> list[EntityNode]:
        """Entities under `key`, by name then id (the order a fresh build from the store gives)."""
        found = self._by_key.get(key)
        if not found:
            return []
        return sorted(found.values(), key=lambda e: (e.name, e.id)) if len(found) > 1 else list(found.values())
