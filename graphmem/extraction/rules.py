"""Rule-based extraction from a spaCy parse: entities, events and timestamped relations.

`extract_from_doc` is a pure function of a parsed message and who said it to whom. It reads
only the parse (entities, noun chunks, dependencies, lemmas), so it is fast enough to run on
every message, and its output is the same `MessageExtraction` that the LLM extractor returns.

Conventions:
- "I/me/my/myself" (and "we/us/our", of which the speaker is part) resolve to the speaker;
  "you/your" to the addressee when the conversation has two participants.
- Named entities keep their written form; common nouns are keyed by compound modifiers plus
  the head's lemma ("adoption agencies" -> "adoption agency"). Relational nouns that belong to
  someone ("my sister", "your kids") are scoped to their owner ("Melanie's kid"), so one
  person's sister never merges with another's.
- Dynamic verbs with a resolved participant become events; stative verbs (love, live in, work
  as, own...) and copular statements ("I'm a nurse", "my favourite book is X") become
  relations. Both carry the time expressed in their clause, resolved against the message time.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime

from spacy.tokens import Doc, Span, Token

from graphmem.extraction.canonical import clean_name
from graphmem.extraction.temporal import find_time_expressions, resolve_time_expression
from graphmem.models import (
    EntityType,
    ExtractedEntity,
    ExtractedEvent,
    ExtractedRelation,
    MessageExtraction,
    Participant,
    TimeRange,
)
from graphmem.vocab import FIRST_PERSON, SECOND_PERSON

# Words spaCy's NER takes for (part of) a name, mostly at the start of a turn ("Hey Caroline",
# "Yep Jon", "Wanna"): stripped from the front of a PERSON entity.
INTERJECTIONS = frozenset(
    """hey hi hello bye goodbye yo yep yup yeah yes no nah oh ooh wow woah whoa aw aww awww congrats
    congratulations thanks thank glad great nice cool awesome absolutely definitely sure ok okay
    well hmm haha lol omg dear morning evening night love wanna gonna gotta lemme gimme kinda sorta
    dunno ya""".split()
)
WEEKDAY_ABBREVIATIONS = frozenset("mon tue tues wed thu thur thurs fri sat sun".split())
NER_TYPES = {
    "PERSON": EntityType.PERSON,
    "GPE": EntityType.PLACE,
    "LOC": EntityType.PLACE,
    "FAC": EntityType.PLACE,
    "ORG": EntityType.ORGANIZATION,
    "NORP": EntityType.CONCEPT,
    "LANGUAGE": EntityType.CONCEPT,
    "PRODUCT": EntityType.THING,
    "WORK_OF_ART": EntityType.WORK,
    "EVENT": EntityType.EVENT,
    "LAW": EntityType.WORK,
}
TIME_LABELS = {"DATE", "TIME"}
NON_ENTITY_LABELS = TIME_LABELS | {"CARDINAL", "ORDINAL", "MONEY", "QUANTITY", "PERCENT"}

# Nouns too general to be worth a node of their own.
GENERIC_NOUNS = frozenset(
    """thing things lot lots time times way ways day days week weeks month months year years today
    tonight tomorrow yesterday something anything everything nothing someone anyone everyone
    somebody anybody everybody one ones bit kind sort stuff part while moment point idea thanks
    thank yes no yeah hey hi hello wow kinda gonna"""
    .split()
)

# Nouns that name a relation to their owner; "my X" is scoped to the owner.
RELATIONAL_NOUNS = frozenset(
    """mom mother mum dad father parent sister brother sibling wife husband spouse partner
    boyfriend girlfriend fiance fiancee son daughter kid child baby grandma grandmother grandpa
    grandfather grandparent grandchild aunt uncle cousin niece nephew family friend bestie
    roommate neighbor neighbour boss coworker colleague mentor teacher student dog cat pet puppy
    kitten team""".split()
)
NON_PERSON_RELATIONAL = frozenset({"dog", "cat", "pet", "puppy", "kitten", "team"})

# Verbs that state how things are rather than report something happening.
STATIVE_VERBS = frozenset(
    """love like enjoy adore hate dislike prefer want need own have live work study miss admire
    support believe collect teach volunteer""".split()
)
# Verbs too light or too mental to make an event of their own.
NON_EVENT_VERBS = frozenset(
    """be do get let make seem sound look think know guess mean hope feel wish say tell ask thank
    see hear bet wonder imagine remember forget understand agree appreciate glad can could will
    would shall should may might must keep""".split()
)
# Moving somewhere states where one lives from then on (a single-valued fact that supersedes).
RELOCATION_VERBS = frozenset({"move", "relocate"})
PREPOSITION_ROLES = {
    "with": "companion",
    "to": "destination",
    "at": "location",
    "in": "location",
    "from": "source",
    "for": "beneficiary",
    "about": "topic",
    "on": "topic",
}
MAX_SUMMARY_CHARS = 160
# Contractions that cannot follow a name: "I'm" -> "Ana is", "we've" -> "Ana has".
CONTRACTIONS = {"'m": "is", "’m": "is", "'re": "is", "’re": "is", "'ve": "has", "’ve": "has", "'d": "had",
                "’d": "had", "'ll": "will", "’ll": "will"}


@dataclass(frozen=True, slots=True)
class SpeakerContext:
    """Who is speaking, to whom, and when: what pronouns and relative dates resolve against."""

    speaker: str
    addressee: str | None
    participants: tuple[str, ...]
    reference: datetime


def extract_from_doc(doc: Doc, message_id: str, context: SpeakerContext) -> MessageExtraction:
    """Extract entities, events and relations from one parsed message."""
    mentions = _EntityMentions(doc, context)
    times = _TimeIndex(doc, context.reference)
    events: list[ExtractedEvent] = []
    relations: list[ExtractedRelation] = []
    for token in doc:
        if token.pos_ == "VERB" or (token.pos_ == "AUX" and any(c.dep_ in {"attr", "acomp"} for c in token.children)):
            _read_clause(token, mentions, times, context, events, relations)
    relations.extend(mentions.ownership_relations)
    return MessageExtraction(
        message_id=message_id,
        entities=tuple(mentions.unique()),
        events=tuple(events),
        relations=tuple(_dedupe(relations)),
    )


class _EntityMentions:
    """Entity mentions in a doc, indexed by token so clauses can look their arguments up."""

    def __init__(self, doc: Doc, context: SpeakerContext):
        self.context = context
        self.by_token: dict[int, ExtractedEntity] = {}
        self.ordered: list[ExtractedEntity] = []
        self.ownership_relations: list[ExtractedRelation] = []
        for ent in doc.ents:
            entity_type = NER_TYPES.get(ent.label_)
            if entity_type is not None:
                self._add_named(ent, entity_type)
        for chunk in doc.noun_chunks:
            if chunk.root.i not in self.by_token:
                self._add_noun_chunk(chunk)
        for token in doc:
            if token.i not in self.by_token and token.pos_ == "NOUN" and token.dep_ != "compound":
                self._add_noun_chunk(_bare_noun_phrase(token))

    def _add_named(self, ent: Span, entity_type: EntityType) -> None:
        if entity_type is EntityType.PERSON:
            ent = _person_name_span(ent)
            if ent is None:
                return
        name = clean_name(ent.text)
        if not name or name.lower() in FIRST_PERSON | SECOND_PERSON:
            return
        if entity_type is EntityType.PERSON:
            name = self._participant_named(name) or name
        self._add(ExtractedEntity(name=name, type=entity_type, mention=clean_name(ent.text)), ent)

    def _participant_named(self, name: str) -> str | None:
        """The participant a name refers to: full name, first name, or a unique short form ("Mel")."""
        folded = name.casefold()
        first_names = {p: p.split()[0].casefold() for p in self.context.participants}
        for participant, first in first_names.items():
            if participant.casefold() == folded or first == folded:
                return participant
        if " " not in folded and len(folded) >= 2:
            short_for = [p for p, first in first_names.items() if first.startswith(folded)]
            if len(short_for) == 1:
                return short_for[0]
        return None

    def _add_noun_chunk(self, chunk: Span) -> None:
        root = chunk.root
        if root.pos_ not in {"NOUN", "PROPN"} or root.lower_ in GENERIC_NOUNS | INTERJECTIONS or root.is_stop:
            return
        if root.ent_type_ in NON_ENTITY_LABELS:
            return
        words = [t for t in chunk if t.i >= chunk.start and t.dep_ == "compound" and t.head.i >= root.i and not t.is_stop]
        while words and words[0].lower_ in INTERJECTIONS:  # "Congrats Ana": a greeting, not part of a name
            words.pop(0)
        if not words and root.pos_ == "PROPN" and (participant := self._participant_named(root.text)):
            self._add(ExtractedEntity(name=participant, type=EntityType.PERSON, mention=root.text), chunk)
            return
        head = root.lemma_.lower() if root.pos_ == "NOUN" else root.text
        name = " ".join([*(t.text if t.pos_ == "PROPN" else t.lower_ for t in words), head])
        name = clean_name(name)
        if not name or len(name) < 2:
            return
        owner = self._owner_of(chunk)
        if owner is not None and root.lemma_.lower() in RELATIONAL_NOUNS:
            named = self._named_by_apposition(root)
            if named is not None:
                self._add(named, chunk)
                self.ownership_relations.append(ExtractedRelation(
                    subject=owner, predicate=f"has {root.lemma_.lower()}", object=named.name,
                    fact=_summary([*chunk, *(t for t in root.subtree if t.i >= chunk.end)], self),
                ))
                return
            owned = f"{owner}'s {name}"
            entity_type = EntityType.THING if root.lemma_.lower() in NON_PERSON_RELATIONAL else EntityType.PERSON
            self._add(ExtractedEntity(name=owned, type=entity_type, mention=chunk.text), chunk)
            relation = ExtractedRelation(
                subject=owner, predicate=f"has {root.lemma_.lower()}", object=owned, fact=_summary(list(chunk), self)
            )
            self.ownership_relations.append(relation)
            return
        self._add(ExtractedEntity(name=name, type=EntityType.THING, mention=chunk.text), chunk)

    def _named_by_apposition(self, root: Token) -> ExtractedEntity | None:
        """'my sister Jane' / 'my friend, Tom,': the relational noun is the named person.

        A participant's name is a vocative ("your kids, John"), never the noun's name.
        """
        for child in root.children:
            if child.dep_ in {"appos", "compound", "npadvmod"} and child.i in self.by_token:
                entity = self.by_token[child.i]
                if entity.type is EntityType.PERSON and entity.name not in self.context.participants:
                    return entity
        return None

    def _owner_of(self, chunk: Span) -> str | None:
        for token in chunk:
            if token.dep_ == "poss" and token.head.i == chunk.root.i:
                return self.resolve_pronoun(token) or (self.by_token[token.i].name if token.i in self.by_token else None)
        return None

    def resolve_pronoun(self, token: Token) -> str | None:
        lower = token.lower_
        if lower in FIRST_PERSON:
            return self.context.speaker
        if lower in SECOND_PERSON:
            return self.context.addressee
        return None

    def _add(self, entity: ExtractedEntity, span: Span) -> None:
        for token in span:
            self.by_token[token.i] = entity
        self.ordered.append(entity)

    def name_of(self, token: Token) -> str | None:
        """The entity a token stands for: a mention, or a pronoun resolved to a participant."""
        return self.resolve_pronoun(token) or (self.by_token[token.i].name if token.i in self.by_token else None)

    def unique(self) -> list[ExtractedEntity]:
        seen: dict[str, ExtractedEntity] = {}
        for entity in self.ordered:
            seen.setdefault(entity.name.casefold(), entity)
        return list(seen.values())


class _TimeIndex:
    """Resolved time expressions of a doc, found by regex and by spaCy's DATE/TIME entities."""

    def __init__(self, doc: Doc, reference: datetime):
        self.spans: list[tuple[int, int, TimeRange, str]] = []
        for found in find_time_expressions(doc.text, reference):
            self.spans.append((found.start, found.end, found.time, found.text))
        for ent in doc.ents:
            if ent.label_ in TIME_LABELS and not self._covers(ent.start_char, ent.end_char):
                resolved = resolve_time_expression(ent.text, reference)
                if resolved is not None:
                    self.spans.append((ent.start_char, ent.end_char, resolved, ent.text))
        self._order = sorted(range(len(self.spans)), key=lambda i: self.spans[i][0])  # span indexes by start
        self._starts = [self.spans[i][0] for i in self._order]

    def _covers(self, start: int, end: int) -> bool:
        return any(s < end and start < e for s, e, _, _ in self.spans)

    def only_one_in(self, sentence: Span) -> tuple[TimeRange, str] | None:
        """The sentence's time when it states exactly one: it then dates all its clauses."""
        inside = [(time, text) for start, end, time, text in self.spans
                  if sentence.start_char <= start and end <= sentence.end_char]
        return inside[0] if len(inside) == 1 else None

    def within(self, tokens: list[Token]) -> tuple[TimeRange, str] | None:
        """The first span (in found order) holding one of the tokens; spans never overlap, so each
        token is looked up by bisection: O(tokens log spans), not O(tokens x spans)."""
        best = None
        for token in tokens:
            at = bisect_right(self._starts, token.idx) - 1
            if at >= 0 and token.idx < self.spans[self._order[at]][1]:
                best = self._order[at] if best is None else min(best, self._order[at])
        return None if best is None else self.spans[best][2:]


def _read_clause(
    verb: Token,
    mentions: _EntityMentions,
    times: _TimeIndex,
    context: SpeakerContext,
    events: list[ExtractedEvent],
    relations: list[ExtractedRelation],
) -> None:
    subject = _subject_of(verb)
    subject_name = mentions.name_of(subject) if subject is not None else None
    clause = _clause_tokens(verb)
    found_time = times.within(clause) or times.only_one_in(verb.sent)
    time, time_text = found_time if found_time else (None, None)
    lemma = verb.lemma_.lower()

    if lemma == "be" or verb.pos_ == "AUX":
        _read_copula(verb, subject, subject_name, mentions, time, relations, clause)
        return

    participants: list[Participant] = []
    if subject_name:
        participants.append(Participant(name=subject_name, role="patient" if subject.dep_ == "nsubjpass" else "agent"))
    objects: list[str] = []
    place: str | None = None
    for child in verb.children:
        if child.dep_ in {"dobj", "attr", "oprd"}:
            name = mentions.name_of(child)
            if name:
                participants.append(Participant(name=name, role="patient"))
                objects.append(name)
        elif child.dep_ == "dative":
            name = mentions.name_of(child) or _pobj_name(child, mentions)
            if name:
                participants.append(Participant(name=name, role="recipient"))
        elif child.dep_ == "prep":
            name = _pobj_name(child, mentions)
            if name:
                role = PREPOSITION_ROLES.get(child.lower_, "related")
                participants.append(Participant(name=name, role=role))
                pobj_entity = mentions.by_token.get(_pobj(child).i) if _pobj(child) is not None else None
                if role in {"location", "destination"} and pobj_entity is not None and pobj_entity.type is EntityType.PLACE:
                    place = name
                if not objects and role in {"destination", "location", "topic", "related"}:
                    objects.append(name)
                    predicate_prep = child.lower_
                    if lemma in STATIVE_VERBS and subject_name:
                        relations.append(_relation(subject_name, f"{lemma} {predicate_prep}", name, clause, mentions, time))
        elif child.dep_ == "xcomp" and lemma in STATIVE_VERBS and subject_name:
            complement = _complement_phrase(child, mentions)
            if complement:
                relations.append(_relation(subject_name, lemma, complement, clause, mentions, time))

    if lemma in STATIVE_VERBS:
        if subject_name:
            for obj in objects[:1] if any(p.role == "patient" for p in participants) else []:
                relations.append(_relation(subject_name, lemma, obj, clause, mentions, time))
        return
    destination = next((p.name for p in participants if p.role == "destination"), None)
    if lemma in RELOCATION_VERBS and subject_name and destination:
        relations.append(_relation(subject_name, "live in", destination, clause, mentions, time))
    if lemma in NON_EVENT_VERBS or not participants or _told_by_head_event(verb):
        return
    if subject_name is None and time is None:
        return
    events.append(
        ExtractedEvent(
            predicate=_predicate(verb),
            summary=_summary(clause, mentions),
            participants=tuple(_dedupe(participants)),
            time=time,
            time_text=time_text,
            place=place,
        )
    )


def _read_copula(verb, subject, subject_name, mentions, time, relations, clause) -> None:
    """'I am a nurse' -> is a; 'My favourite book is Dune' -> favourite book."""
    if subject is None:
        return
    for child in verb.children:
        if child.dep_ not in {"attr", "acomp"}:
            continue
        attribute = mentions.name_of(child) or (child.lemma_.lower() if child.pos_ in {"NOUN", "ADJ"} else None)
        if not attribute:
            continue
        owner = _possessor(subject, mentions)
        if owner and subject.pos_ == "NOUN":
            modifiers = [t.lower_ for t in subject.lefts if t.dep_ in {"amod", "compound"}]
            predicate = " ".join([*modifiers, subject.lemma_.lower()])
            relations.append(_relation(owner, predicate, attribute, clause, mentions, time))
        elif subject_name and child.dep_ == "attr":
            predicate = "was a" if verb.tag_ == "VBD" else "is a"  # "when I was a kid" is no present role
            relations.append(_relation(subject_name, predicate, attribute, clause, mentions, time))


def _relation(subject: str, predicate: str, obj: str, clause, mentions, time: TimeRange | None) -> ExtractedRelation:
    return ExtractedRelation(subject=subject, predicate=predicate, object=obj, fact=_summary(clause, mentions), valid=time)


def _bare_noun_phrase(noun: Token) -> Span:
    """A noun spaCy left out of its noun chunks (a possessor such as "my kids'" in "my kids'
    faces", or an object the chunker missed), with its determiners, possessors and compounds."""
    start = noun.i
    for child in noun.lefts:
        if child.dep_ in {"det", "poss", "compound", "amod", "nummod"}:
            start = min(start, child.left_edge.i if child.dep_ == "compound" else child.i)
    return noun.doc[start : noun.i + 1]


def _person_name_span(ent: Span) -> Span | None:
    """A PERSON entity without the greeting spaCy often fuses in ("Hey Caroline" -> "Caroline"),
    or None when what is left is not a proper name ("Glad", "Wanna", "Fri")."""
    tokens = [t for t in ent]
    while tokens and (tokens[0].lower_ in INTERJECTIONS or tokens[0].is_punct):
        tokens.pop(0)
    if not tokens or tokens[0].lower_ in WEEKDAY_ABBREVIATIONS:
        return None
    if not all(t.pos_ == "PROPN" or t.is_punct or t.text[0].isupper() and t.pos_ == "NOUN" for t in tokens):
        return None
    return ent.doc[tokens[0].i : tokens[-1].i + 1]


def _subject_of(verb: Token) -> Token | None:
    """The verb's subject, inherited through coordination and control ('I want to go')."""
    current = verb
    for _ in range(4):
        for child in current.children:
            if child.dep_ in {"nsubj", "nsubjpass"}:
                return child
        if current.dep_ in {"conj", "xcomp", "advcl"} and current.head is not current:
            current = current.head
        else:
            return None
    return None


def _possessor(token: Token, mentions: _EntityMentions) -> str | None:
    for child in token.children:
        if child.dep_ == "poss":
            return mentions.name_of(child)
    return None


def _pobj(prep: Token) -> Token | None:
    for child in prep.children:
        if child.dep_ == "pobj":
            return child
    return None


def _pobj_name(prep: Token, mentions: _EntityMentions) -> str | None:
    pobj = _pobj(prep)
    return mentions.name_of(pobj) if pobj is not None else None


def _complement_phrase(xcomp: Token, mentions: _EntityMentions) -> str | None:
    """'love to paint landscapes' -> 'paint landscape'; 'enjoy running' -> 'run'."""
    parts = [xcomp.lemma_.lower()]
    for child in xcomp.children:
        if child.dep_ in {"dobj", "prt"}:
            parts.append(child.lemma_.lower() if child.pos_ != "PROPN" else child.text)
    return " ".join(parts) if xcomp.pos_ == "VERB" else mentions.name_of(xcomp)


def _told_by_head_event(verb: Token) -> bool:
    """'started playing guitar' is one event, told by 'start', whose clause holds 'playing'."""
    head = verb.head
    return (
        verb.dep_ == "xcomp"
        and head.pos_ == "VERB"
        and head.lemma_.lower() not in NON_EVENT_VERBS | STATIVE_VERBS
    )


def _predicate(verb: Token) -> str:
    particles = [c.lower_ for c in verb.children if c.dep_ == "prt"]
    return " ".join([verb.lemma_.lower(), *particles])


def _clause_tokens(verb: Token) -> list[Token]:
    """The verb's own clause: its subtree without coordinated or subordinate clauses."""
    excluded: set[int] = set()
    for child in verb.children:
        if child.dep_ in {"conj", "cc", "advcl", "ccomp", "parataxis", "relcl"} or (
            child.dep_ == "xcomp" and child.lemma_.lower() in STATIVE_VERBS
        ):
            excluded.update(t.i for t in child.subtree)
    tokens = [t for t in verb.subtree if t.i not in excluded]
    subject = _subject_of(verb)
    if subject is not None and all(t.i != subject.i for t in tokens):
        tokens = sorted([*subject.subtree, *tokens], key=lambda t: t.i)
    while tokens and tokens[-1].is_punct:
        tokens.pop()
    return tokens


def _summary(tokens: list[Token], mentions: _EntityMentions) -> str:
    """The clause as text with first- and second-person pronouns replaced by names."""
    words: list[str] = []
    after_name = False
    for token in tokens:
        name = mentions.resolve_pronoun(token)
        if name is None:
            expanded = CONTRACTIONS.get(token.lower_) if after_name else None
            words.append(f" {expanded}{token.whitespace_}" if expanded else token.text_with_ws)
            after_name = False
            continue
        after_name = not token.whitespace_
        possessive = token.lower_ in {"my", "our", "your", "mine", "ours", "yours"}
        words.append(f"{name}'s" + token.whitespace_ if possessive else name + token.whitespace_)
    return "".join(words).strip(" ,;:-")[:MAX_SUMMARY_CHARS]


def _dedupe(items: list) -> list:
    return list(dict.fromkeys(items))
