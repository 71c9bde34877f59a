"""Canonical entity names: one spelling per entity, whichever extractor found it.

The canonical key (`entity_key`) is what entity ids are derived from, so two mentions with the
same key are the same node: case, surrounding punctuation, a leading article and a trailing
possessive never make a second entity.
"""

from __future__ import annotations

import re

_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")
_SPACES = re.compile(r"\s+")


def clean_name(text: str) -> str:
    """Trim whitespace, edge punctuation, a leading article and a trailing possessive."""
    name = _SPACES.sub(" ", text).strip()
    name = _EDGE_PUNCT.sub("", name)
    name = _POSSESSIVE.sub("", name)
    name = _ARTICLE.sub("", name)
    return _EDGE_PUNCT.sub("", name)


def entity_key(name: str) -> str:
    """The identity of an entity name: cleaned and case-folded."""
    return clean_name(name).casefold()
