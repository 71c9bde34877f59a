"""Canonical entity names: one spelling per entity, whichever extractor found it.

The canonical key (`entity_key`) is what entity ids are derived from, so two mentions with the
same key are the same node: case, surrounding punctuation, a leading article and a trailing
possessive never make a second entity.
"""

from __future__ import annotations

import re

from graphmem.models import stable_id

_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def clean_name(text: str) -> str:
    """Trim whitespace, edge punctuation, a leading article and a trailing possessive (in linear time)."""
    name = _SPACES.sub(" ", text).strip()
    name = _trim_edges(name)
    name = _POSSESSIVE.sub("", name)
    name = _ARTICLE.sub("", name)
    return _trim_edges(name)


def _trim_edges(name: str) -> str:
    """`name` without the non-alphanumeric characters (punctuation, `_`, spaces) at either end.

    A scan from both ends, not the regex `^[\\W_]+|[\\W_]+$`, which backtracks quadratically
    on a long run of punctuation that does not reach the end.
    """
    start, end = 0, len(name)
    while start < end and not name[start].isalnum():
        start += 1
    while end > start and not name[end - 1].isalnum():
        end -= 1
    return name[start:end]


def entity_key(name: str) -> str:
    """The identity of an entity name: cleaned and case-folded."""
    return clean_name(name).casefold()


def entity_id(group_id: str, name: str) -> str:
    """The id of the entity `name` names in a tenant: from its canonical key, so spellings meet."""
    return stable_id(group_id, "entity", entity_key(name))


def message_id(group_id: str, conversation_id: str, source_id: str) -> str:
    """The id of a conversation's message in a tenant, from the id its input gave it."""
    return stable_id(group_id, "message", conversation_id, source_id)
