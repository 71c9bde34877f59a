"""The words graphmem's rules share: which pronouns point at the speaker and which at the addressee.

Defined once here so that the spaCy rules, the LLM extraction prompt and consolidation's
alignment read the same lists.
"""

from __future__ import annotations

FIRST_PERSON_SINGULAR = frozenset({"i", "me", "my", "mine", "myself"})
FIRST_PERSON = FIRST_PERSON_SINGULAR | {"we", "us", "our", "ours", "ourselves"}
"""Words that stand for the speaker (with the group they speak for)."""

SECOND_PERSON = frozenset({"you", "your", "yours", "yourself", "yourselves"})
"""Words that stand for the addressee."""
