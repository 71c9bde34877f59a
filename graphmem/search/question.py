"""Question understanding: what a question constrains, before any ranking.

Pure functions of the question text. A time constraint counts only when it is absolute ("in
May 2023", "on October 13, 2023"): a relative one ("last year") would need the moment the
question is asked, which a memory of past conversations does not know.
"""

from __future__ import annotations

import re
from datetime import datetime

from graphmem.models import TimeRange
from graphmem.extraction.temporal import find_time_expressions

# Two references far apart: an expression that resolves the same against both is absolute.
_REFERENCES = (datetime(2001, 6, 15, 12), datetime(2042, 1, 20, 12))


def absolute_time_constraint(question: str) -> TimeRange | None:
    """The span an absolute time expression in the question names (the widest, if several)."""
    first, second = (find_time_expressions(question, reference) for reference in _REFERENCES)
    spans = [a.time for a, b in zip(first, second) if a.time == b.time and a.text == b.text]
    if not spans:
        return None
    return max(spans, key=lambda span: (span.end - span.start, span.start))


# Category nouns a question asks for a list of ("Which cities ...", "What books ..."), by the
# entity type that answers them.
_ASKED_TYPES = {
    "place": "cities city countries country places states towns locations destinations restaurants",
    "work": "books book shows show movies movie films film series songs song albums album novels games",
    "organization": "companies company teams team universities university schools school brands",
}
_ASKED = {word: kind for kind, words in _ASKED_TYPES.items() for word in words.split()}


def asked_entity_type(question: str) -> str | None:
    """The entity type a question asks for ("Which cities has Ana visited?" -> "place"), if any."""
    words = re.findall(r"[a-z]+", question.casefold())
    for word in words[:6]:
        if word in _ASKED:
            return _ASKED[word]
    return None
