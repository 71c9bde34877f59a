"""Entity resolution across messages and sessions: one node per person, however they are named.

Within a message the extractor already maps participants' first names and short forms to the
participant ("Mel" -> "Melanie"). Across sessions a person outside the conversation is often
introduced in full once ("my coworker Jennifer Lopez") and named briefly later ("Jennifer",
"Jen"): a short form resolves to a known person when exactly one known person fits it. Forms
that fit several people stay separate (precision before recall), and "my sister" stays its
own entity unless the text links it to a name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

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


# -- the names participants go by -------------------------------------------------------------

_NAME = r"([A-Z][a-z]{1,14})"
# "I'm Kate", "it's Kate here", "my name is Kate", "call me Kate", "Kate here"
_INTRODUCTION = re.compile(
    rf"(?:\b(?:i'?m|i am|it'?s|this is)\s+{_NAME}(?=\s*(?:[,.!?]|$|here\b|by the way\b|btw\b|and\b))"
    rf"|\b(?:my name is|my name'?s|name'?s|call me|they call me)\s+([A-Za-z][a-z]{{1,14}})\b"
    rf"|^{_NAME}\s+here\b)",
    re.IGNORECASE,
)
# "- Kate" or a lone name on the message's last line: a signature
_SIGNATURE = re.compile(rf"(?:^|\n)\s*(?:-|—|–|~)?\s*{_NAME}\s*$")
# Words that put a name right after them in address: greetings, thanks, exclamations, "you".
_ADDRESS_BEFORE = re.compile(
    r"\b(?:hi|hey|hello|hiya|heya|yo|morning|night|evening|bye|goodbye|thanks|thank you|thank you so much|"
    r"thanks so much|congrats|congratulations|wow|oh|aw+|haha|lol|yes|yeah|no|ok|okay|sorry|dear|you|too|"
    r"though)[,!]?\s+$",
    re.IGNORECASE,
)
# A name ending a sentence after a plain word ("that's so cool Kate!"), unless that word makes it
# an object or a place ("went to Miami!", "I met Tom.").
_ENDS_SENTENCE = re.compile(r"^\s*(?:[!?.]|$)")
_AFTER_WORD = re.compile(r"(?:^|\s)([a-z]+),?\s+$")
_NOT_BEFORE_ADDRESS = frozenset(
    """to in at from of for with by about into onto near visit visiting visited like called named and or
    is was are were be see saw seen meet met love loved miss missed tell told ask asked call the a an my
    your his her our their this that""".split()
)
_CAPITALISED = re.compile(_NAME)
_NOT_ADDRESS = frozenset(
    """i i'm im a the my your our his her their this that these those what when where who why how which
    yes no ok okay oh wow hi hey hello thanks thank haha lol omg yay aw awesome great good nice cool sure
    happy merry good morning night bye love congrats sorry please well so and but or also just really
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december christmas easter today tomorrow yesterday tonight god""".split()
)


def names_people_go_by(messages: Sequence[tuple[str, str]], participants: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The names each participant of a two-party conversation goes by, beyond their speaker name.

    `messages` are (speaker, text) in order. A name counts for participant A when A introduces
    themselves with it ("I'm Kate", "my name is Kate", "Kate here"), signs with it, or the other
    participant addresses A by it ("thanks Kate", "Hey Kate!", "what about you Kate?"). A
    capitalised word is only a name if the conversation never writes it in lower case (so not
    "Wow" or "Girl"), and it must be claimed at least twice (an introduction confirmed by
    address, or two addresses), at least 80% of the time for the same participant. Pure: a
    function of the text.
    """
    if len(participants) != 2:
        return {}
    lower_words = {w for _, text in messages for w in re.findall(r"\b[a-z][a-z']+\b", text)}
    taken = {entity_key(p) for p in participants}
    votes: dict[str, dict[str, int]] = {}

    def vote(name: str, participant: str, weight: int) -> None:
        key = name.casefold()
        if key in _NOT_ADDRESS or key in taken or key in lower_words:
            return
        votes.setdefault(name.capitalize(), {}).setdefault(participant, 0)
        votes[name.capitalize()][participant] += weight

    for speaker, text in messages:
        if speaker not in participants:
            continue
        other = participants[1] if speaker == participants[0] else participants[0]
        for match in _INTRODUCTION.finditer(text):
            name = next(group for group in match.groups() if group)
            vote(name, speaker, 1)
        signature = _SIGNATURE.search(text)
        if signature and len(text) > len(signature.group(0)) + 20:
            vote(signature.group(1), speaker, 1)
        for match in _CAPITALISED.finditer(text):
            before, after = text[: match.start()], text[match.end():]
            addressed = _ADDRESS_BEFORE.search(before) and re.match(r"^\s*(?:[!?.,:)]|$)", after)
            if not addressed and _ENDS_SENTENCE.match(after):
                word = _AFTER_WORD.search(before)
                addressed = word is not None and word.group(1) not in _NOT_BEFORE_ADDRESS
            if addressed:
                vote(match.group(1), other, 1)
    names: dict[str, list[str]] = {p: [] for p in participants}
    for name, by_participant in sorted(votes.items()):
        participant, count = max(by_participant.items(), key=lambda item: (item[1], item[0]))
        if count >= 2 and count >= 0.8 * sum(by_participant.values()):
            names[participant].append(name)
    return {p: tuple(found) for p, found in names.items() if found}
