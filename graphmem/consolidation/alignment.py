"""Global-local alignment (as in Bi-Mem): scenes and facts checked against who they are about.

Two checks, both pure:

- Mis-attribution: a statement (relation or event) about participant A whose source is B's turn,
  where B speaks in the first person and never refers to A (no "you", no name, no mention), is
  what B said about B: the extraction resolved a pronoun to the wrong person. It is moved to B.
- Mixed scenes: a scene holding statements about several participants that share little
  context (entities, words) is two stories told side by side; it is split, one scene per
  participant, each member going to the story it is most strongly linked to.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from graphmem.consolidation.fact_graph import MESSAGE, Features, Item
from graphmem.vocab import FIRST_PERSON_SINGULAR
from graphmem.vocab import SECOND_PERSON as SECOND_PERSON_WORDS

# The pronoun sets (graphmem.vocab) as this module's regex tokens see them: contractions stay one
# token, and chat spellings count. Only the singular "I": "we" may include the other speaker.
FIRST_PERSON = FIRST_PERSON_SINGULAR | frozenset("i'm im i've ive i'd i'll".split())
SECOND_PERSON = SECOND_PERSON_WORDS | frozenset("you're youre you've you'll you'd ya u ur".split())
_TOKEN = re.compile(r"[a-z']+")


@dataclass(frozen=True, slots=True)
class Misattribution:
    """A statement the extraction attributed to `wrong`, said by `right` about themselves."""

    item_id: str
    wrong: str  # entity id
    right: str


@dataclass(frozen=True)
class AlignmentSettings:
    """Thresholds of the alignment checks; tuned on the LoCoMo dev split only."""

    min_statements: int = 3  # statements about a participant a scene needs before it can be split
    shared_context: float = 0.2  # split when cross-person context < this x within-person context


def misattributions(items: Sequence[Item], names: Mapping[str, Sequence[str]]) -> list[Misattribution]:
    """Statements about one participant that another participant said about themselves.

    `names` maps each participant's entity id to their name and aliases.
    """
    messages = {item.id: item for item in items if item.kind == MESSAGE}
    found = []
    for item in items:
        source = messages.get(item.message_id)
        wrong = item.about_id
        if item.kind == MESSAGE or source is None or wrong not in names or wrong == source.speaker_id:
            continue
        if source.speaker_id in names and _speaks_of_self_only(source, wrong, names[wrong]):
            found.append(Misattribution(item.id, wrong, source.speaker_id))
    return found


def in_first_person(text: str) -> bool:
    """Whether a turn says "I", "my", "me", ...: the speaker talks about themselves."""
    return bool(_tokens(text) & FIRST_PERSON)


def _speaks_of_self_only(message: Item, other: str, other_names: Sequence[str]) -> bool:
    """The message is in the first person and never refers to `other`."""
    text = message.text.lower()
    named = any(re.search(rf"\b{re.escape(name.lower())}\b", text) for name in other_names if name)
    tokens = _tokens(text)
    return bool(tokens & FIRST_PERSON) and not tokens & SECOND_PERSON and not named and other not in message.entity_ids


def _tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.lower().replace("’", "'")))


def correct_text(text: str, wrong_names: Sequence[str], right_name: str) -> str:
    """The statement's text with the wrong participant's names replaced by the right one's."""
    for name in sorted((n for n in wrong_names if n), key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(name)}\b", right_name, text)
    return text


def split_mixed(
    features: Features, members: Sequence[int], about: Mapping[int, str], settings: AlignmentSettings
) -> list[list[int]]:
    """The parts a scene (item positions `members`) splits into: one per participant its
    statements are about, when those stories share little context; else the scene whole.

    `about` maps statement positions to the participant each is about (after corrections).
    """
    stories: dict[str, list[int]] = defaultdict(list)
    for position in members:
        if position in about:
            stories[about[position]].append(position)
    people = sorted(person for person, told in stories.items() if len(told) >= settings.min_statements)
    if len(people) < 2:
        return [list(members)]
    told = np.array([p for person in people for p in stories[person]], dtype=np.int64)
    bounds = np.cumsum([0] + [len(stories[person]) for person in people])
    story_slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
    if not _little_shared_context(features.content(told, told), story_slices, settings):
        return [list(members)]
    parts: list[list[int]] = [[] for _ in people]
    rest = []
    for position in members:
        person = about.get(position)
        if person in people:
            parts[people.index(person)].append(position)
        else:
            rest.append(position)
    if rest:
        pull = features.affinity(np.array(rest), told)
        strength = np.stack([pull[:, story].sum(axis=1) for story in story_slices], axis=1)
        for position, choice in zip(rest, strength.argmax(axis=1).tolist()):
            parts[choice].append(position)
    return [sorted(part) for part in parts if part]


def _little_shared_context(content: np.ndarray, stories: Sequence[slice], settings: AlignmentSettings) -> bool:
    """Whether the statements of different stories (`content`: what each pair of statements shares,
    entities and words regardless of time; `stories`: each story's rows) share much less than
    statements of the same story do."""
    within_total, within_pairs, across = 0.0, 0, []
    for i, story in enumerate(stories):
        block = content[story, story]
        within_total += float(block.sum() - np.trace(block))
        within_pairs += block.shape[0] * (block.shape[0] - 1)
        across += [float(content[story, other].mean()) for other in stories[i + 1 :]]
    within = within_total / within_pairs
    return within > 0 and max(across) < settings.shared_context * within
