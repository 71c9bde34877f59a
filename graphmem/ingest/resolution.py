"""Entity resolution across messages and sessions: one node per person, however they are named.

Within a message the extractor already maps participants' first names and short forms to the
participant ("Mel" -> "Melanie"). Across sessions a person outside the conversation is often
introduced in full once ("my coworker Jennifer Lopez") and named briefly later ("Jennifer",
"Jen"): a short form resolves to a known person when exactly one known person fits it. Forms
that fit several people stay separate (precision before recall), and "my sister" stays its
own entity unless the text links it to a name.
"""

from __future__ import annotations

from collections.abc import Iterable

from graphmem.extraction.canonical import entity_key

MIN_SHORT_FORM = 3  # "Jen" for Jennifer; two letters fit too many names outside a conversation's participants


def short_form_targets(names: Iterable[str], known_people: Iterable[str]) -> dict[str, str]:
    """Map each single-word name to the one known person it is a short form of, where unique.

    A name is a short form of a person when it is that person's first name and the person has
    a longer name ("Jennifer" -> "Jennifer Lopez"), or a prefix of at least three letters of the
    first name ("Jen" -> "Jennifer Lopez"). A name that is already a known person keeps its own
    node, so ids never move between ingests.
    """
    people = {entity_key(p): p for p in known_people if p.strip() and "'" not in p}
    targets: dict[str, str] = {}
    for name in names:
        key = entity_key(name)
        if " " in key or len(key) < MIN_SHORT_FORM or key in people:
            continue
        fits = [full for full_key, full in people.items() if full_key.split()[0].startswith(key)]
        if len(fits) == 1:
            targets[name] = fits[0]
    return targets
