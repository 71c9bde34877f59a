"""Question understanding: what a question constrains, before any ranking.

Pure functions of the question text. A time constraint counts only when it is absolute ("in
May 2023", "on October 13, 2023"): a relative one ("last year") would need the moment the
question is asked, which a memory of past conversations does not know.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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


# Category nouns a question asks about ("What pets does Nate have?", "What are Kate's hobbies?"),
# with the words that name members of the category in any conversation: the turns that answer
# such a question name a member ("this is my dog Max", "I went surfing"), rarely the category.
_CATEGORY_MEMBERS = {
    "pet pets animal animals": "dog cat puppy kitten pup turtle hamster bird rabbit horse",
    "hobby hobbies interests pastimes": "painting drawing hiking camping reading cooking baking gaming swimming "
    "running yoga dancing singing photography gardening knitting pottery surfing skiing fishing biking climbing writing",
    "activities activity outdoor": "hiking camping surfing skiing biking climbing kayaking fishing swimming running "
    "beach trail park mountains",
    "sport sports": "basketball football soccer baseball tennis golf hockey volleyball swimming running gym",
    "instrument instruments": "guitar piano violin drums ukulele flute saxophone cello",
    "music songs song band bands artists artist singer singers": "song band album concert listen singer playlist music",
    "book books novel novels authors author": "book novel read reading author series library",
    "movie movies film films": "movie film watch watched cinema theater documentary",
    "show shows tv series": "show series season episode netflix watch tv",
    "food foods dish dishes meal meals cuisine": "food eat dish cook recipe dinner lunch breakfast restaurant pizza sushi pasta",
    "dessert desserts sweets treats": "cake pie cookies cobbler sundae ice cream brownies cupcakes pastry chocolate",
    "game games": "game play video console board",
    "art artwork": "paint painting draw drawing sketch canvas sculpture pottery",
    "drink drinks beverages": "coffee tea wine beer juice",
    "clothes clothing outfit outfits appearance": "dress shirt shoes outfit hair nails makeup",
    "family relatives": "mom dad mother father sister brother kids son daughter husband wife parents grandma",
}
_MEMBERS = {noun: members.split() for nouns, members in _CATEGORY_MEMBERS.items() for noun in nouns.split()}


def asked_category_members(question: str) -> list[str]:
    """Words naming members of the categories the question asks about, in its first six words
    ("What pets does Nate have?" -> dog, cat, ...), without the question's own words."""
    words = re.findall(r"[a-z]+", question.casefold())
    seen = set(words)
    members: list[str] = []
    for word in words[:6]:
        for member in _MEMBERS.get(word, ()):
            if member not in seen:
                seen.add(member)
                members.append(member)
    return members


_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_WORDY = re.compile(r"\w").search


def only_asks(text: str) -> bool:
    """Whether a chat turn is nothing but questions ("What kind of movies do you like?"): it
    answers nothing itself, its answer is in the turns after it."""
    if "?" not in text:  # most turns: no need to split them (a whole tenant is checked on its first query)
        return False
    sentences = [s.strip() for s in _SENTENCE.findall(text.strip()) if _WORDY(s)]
    return bool(sentences) and all(s.endswith("?") for s in sentences)


def without_names(question: str, names: Iterable[str]) -> str:
    """`question` with each of `names` (and its possessive "'s") taken out: what a sentence model
    is asked to match. Turns are embedded without their speaker's name, so a participant's name in
    the question only pulls its vector away from the turns that answer it (taking them out raised
    held-out recall with MiniLM on both dev sets, README). A question of names alone stays whole."""
    names = sorted({name for name in names if len(name) > 1}, key=len, reverse=True)
    if not names:
        return question
    pattern = r"\b(?:" + "|".join(map(re.escape, names)) + r")(?:['’]s)?\b"
    stripped = " ".join(re.sub(pattern, " ", question, flags=re.IGNORECASE).split())
    return stripped if any(c.isalnum() for c in stripped) else question
