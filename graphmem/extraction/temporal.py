"""Time: parsing message timestamps and resolving temporal expressions against them.

Message timestamps come from files in many shapes (ISO-8601, LoCoMo's "1:56 pm on 8 May, 2023",
"May 8, 2023 13:56"); they must name a full date, or the message is rejected rather than
silently dated today. Timestamps with a zone are converted to UTC and stored naive, so every
timestamp in a memory compares with every other.

Temporal expressions in a message ("last Friday", "two years ago", "from March to June") are
resolved against that message's timestamp into a `TimeRange` whose precision says how exact
the expression is. Two readers: graphmem's rules (the regular expressions below), which encode
the conventions, and Duckling (facebook/duckling, through the `pyduckling-native-phihos` wheel),
the field's standard, for what the rules do not read: holidays ("christmas eve", "thanksgiving"),
ordinals ("the second of march", "last Monday of March"), "friday after next", "wednesday next
week", "2 thursdays ago", "the week of October 11th", quarters. The rules decide wherever they
match; Duckling's reading counts where they do not, or where it understood strictly more
(bench/time_expressions.py measures both against Duckling's corpus and hand-labelled chats).
Conventions, chosen to be simple and predictable:

- weeks are ISO weeks (Monday to Sunday); a weekend is its week's Saturday and Sunday, with
  day precision because both days are exact;
- a bare weekday ("Friday", "on Friday") is, like "last Friday", the most recent such day
  strictly before the reference (conversations mostly report), unless its clause speaks of the
  future ("I'm going on Friday"); "next Friday" is the first one after it and "this Friday" the
  one in the reference's week;
- a holiday or a day of the month named without year or direction ("Christmas", "on the 15th")
  is the last one before the reference in a past-tense clause, else the next one (Duckling's
  reading); a holiday in a sentence about a habit ("every year for Christmas") is no day;
- a date or month without a year takes the reference's year, even if that puts it in the
  future; "last May" / "next May" (and seasons) are the nearest one wholly before / after
  the reference;
- seasons are northern-hemisphere meteorological ones (spring is March to May, summer June
  to August, autumn September to November); a winter belongs to the year of its December,
  so "winter 2022" is December 2022 to February 2023;
- a two-digit decade is the most recent one that has begun ("the 20s" in 2023 is the 2020s);
- "the week before" (month, year) counts back from the reference, as no other anchor is known;
- "early", "mid", "late" and "the end of" keep the precision of what they modify;
- words that only look like times are skipped: a bare "may"/"march" counts as the month only
  when capitalised and not opening a question ("May I ...?") unless a cue such as "in" comes
  first, and a bare four-digit number followed by a lowercase noun ("2022 people") is a count.

Whatever cannot be placed with honest precision resolves to nothing: "recently", "lately",
"soon", "a while ago", "the other day" (some day in the last week or two), "a few years ago",
"two or three years ago", "a decade ago", durations ("for two years"), habits ("every
Tuesday"), rolling spans ("the last year", "the past two weeks"), anaphora ("the next day"),
bare seasons and "the weekend". Numeric dates whose day and month could be either way round
(5/8/2023) are not read; 10/31/2022 and ISO dates are.
"""

from __future__ import annotations

import re
import string
import tempfile
from bisect import bisect_left, bisect_right
from calendar import monthrange
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache, lru_cache
from itertools import pairwise

from dateutil import parser as dateutil_parser

from graphmem.models import Precision, TimeRange

_FILLER = re.compile(r"\b(on|at)\b", re.IGNORECASE)
_DEFAULTS = (datetime(1901, 1, 1), datetime(1902, 2, 2))


class TimestampError(ValueError):
    """A message timestamp that does not name a full calendar date."""


def parse_timestamp(value: str | int | float | datetime) -> datetime:
    """Parse a message timestamp into a naive datetime (UTC if the input had a zone).

    Accepts datetimes, Unix epoch seconds, ISO-8601 and common human forms. Raises
    `TimestampError` when the value does not name a year, month and day.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            parsed = datetime.fromtimestamp(value, tz=timezone.utc)
        except (OverflowError, OSError, ValueError) as exc:
            raise TimestampError(f"{_shown(value)} is no time in years 1 to 9999 as Unix seconds") from exc
    elif isinstance(value, str) and value.strip():
        if len(value) > MAX_TIMESTAMP_CHARS:
            raise TimestampError(f"{len(value):,} characters; a timestamp has at most {MAX_TIMESTAMP_CHARS}")
        parsed = _parse_human(value.strip())
    else:
        raise TimestampError(f"expected a date-time string, got {_shown(value)}")
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError as exc:
            raise TimestampError(f"{_shown(value)} falls outside years 1 to 9999 in UTC") from exc
    return parsed


MAX_TIMESTAMP_CHARS = 100


def _shown(value: object, width: int = 60) -> str:
    """A value for an error message, cut to `width` characters."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _parse_human(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    cleaned = _FILLER.sub(" ", text)
    try:
        first, second = (dateutil_parser.parse(cleaned, default=d) for d in _DEFAULTS)
    except (ValueError, OverflowError) as exc:
        raise TimestampError(f"cannot parse {text!r} as a date-time") from exc
    if first.date() != second.date():
        raise TimestampError(f"{text!r} does not name a full date (year, month and day)")
    return first


# -- temporal expressions --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeMention:
    """A resolvable time expression in a text: as written, where (`text[start:end]`), and when."""

    text: str
    start: int
    end: int
    time: TimeRange


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december")  # fmt: skip
_SEASON_FIRST_MONTH = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}
_COUNTS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
_PRECISION_ORDER = list(Precision)  # finest first
_DIRECTIONS = {"last": -1, "this past": -1, "this": 0, "earlier this": 0, "later this": 0, "this coming": 1, "next": 1}

_WEEKDAY = rf"(?:{'|'.join(_WEEKDAYS)})\b"
_MONTH_NAME = rf"(?:{'|'.join(_MONTHS)})\b"
_MONTH = rf"(?:{_MONTH_NAME}|(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\b\.?)"
_SEASON = r"(?:spring|summer|autumn|fall|winter)\b"
_DAY = r"(?:3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?\b"
_YEAR = r"(?:19\d\d|20\d\d|2100)\b"
_COUNT = rf"(?:\d{{1,3}}|a\s+couple(?:\s+of)?|couple\s+of|an?|{'|'.join(_COUNTS)})"
_TIME_OF_DAY = r"(?:\s+(?:morning|afternoon|evening|night)\b)?"
_UNITS = r"(?:minute|hour|day|night|week|weekend|month|year)s?"
_DATE = rf"""(?:{_WEEKDAY},?\s+)?
    (?:(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH} | {_MONTH}\s+(?:the\s+)?{_DAY})
    (?:,?\s+{_YEAR})?"""
_MONTH_YEAR = rf"{_MONTH},?\s+(?:of\s+)?{_YEAR}"
_RANGE_END = rf"(?:{_DATE}|{_MONTH_YEAR}|{_MONTH_NAME}|{_YEAR})"

# One alternative per kind of expression, each a named group that its resolver is keyed by.
# At a given position the first alternative that matches wins, so longer forms come first;
# "vague" swallows phrases whose tail would otherwise be misread ("the last year").
# Patterns are matched case-sensitively against ASCII-lowercased text: several times faster
# than re.IGNORECASE, and lowercasing only ASCII keeps every offset valid in the original.
_EXPRESSION = re.compile(
    rf"""\b(?:
    (?P<range>(?:from|between)\s+(?P<range_from>{_RANGE_END})\s+(?:to|until|till|through|and)\s+
        (?P<range_to>{_RANGE_END}))
  | (?P<vague>the\s+(?:last|past|next|coming|following|other)\b
      | (?:every|each|a|one|some|any)\s+(?:other\s+|single\s+)?(?:{_WEEKDAY}|{_MONTH_NAME})
      | {_COUNT}\s+(?:or|to)\s+{_COUNT}\b(?!(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH})
      | \d{{1,3}}\s*[-–]\s*\d{{1,3}}\s+{_UNITS}\b
      | (?:a\s+)?(?:few|several|many)\s+(?:more\s+)?{_UNITS}\s+ago\b
      | (?:a\s+(?:while|long\s+time|decade|day\s+or\s+(?:so|two))|decades)\s+ago\b)
  | (?:(?P<part>early|mid|late|the\s+(?:beginning|start|middle|end)\s+of)[\s-]+)?
    (?:
        (?P<iso>\d{{4}}-\d\d-\d\d)(?!\d)
      | (?P<date>{_DATE})
      | (?P<month_year>{_MONTH_YEAR})
      | (?P<season_year>(?:the\s+)?{_SEASON}\s+(?:of\s+)?{_YEAR})
      | (?P<decade>the\s+(?:(?:early|mid|late)[\s-]+)?(?:['’]?\d0|(?:19|20)\d0)['’]?s\b | (?:19|20)\d0['’]?s\b)
      | (?P<day_word>(?:the\s+day\s+before\s+yesterday | the\s+day\s+after\s+tomorrow
            | (?:(?:earlier|later)\s+)?today | tonight | this\s+(?:morning|afternoon|evening) | last\s+night
            | (?:yesterday|tomorrow){_TIME_OF_DAY})\b)
      | (?P<ago>(?P<ago_count>{_COUNT})\s+(?P<ago_unit>minute|hour|day|week|month|year)s?\s+ago\b)
      | (?P<relative>(?P<relative_direction>last|next|this(?:\s+(?:past|coming))?|(?:earlier|later)\s+this)\s+
            (?P<relative_unit>weekend|week|month|year|{_WEEKDAY}|{_MONTH_NAME}|{_SEASON})\b{_TIME_OF_DAY})
      | (?P<before>the\s+(?P<before_unit>week|month|year)\s+before(?P<before_last>\s+last)?\b
            (?!\s+(?:the|a|an|my|your|his|her|its|our|their|that|this|i|we|you|he|she|they|it)\b))
      | (?P<weekday>{_WEEKDAY}{_TIME_OF_DAY})
      | (?P<month>{_MONTH_NAME})
      | (?P<year>(?<![\d$£€.,:/])(?<!\d-){_YEAR}(?!['’]?s\b|%|[.,:/-]\d))
    ))""",
    re.VERBOSE,
)
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# Every expression contains one of these words or a digit; most messages contain none.
_TRIGGER_WORDS = frozenset(
    (*_WEEKDAYS, *_MONTHS, *(month[:3] for month in _MONTHS), "sept", *_SEASON_FIRST_MONTH, *string.digits,
     "today", "tonight", "yesterday", "tomorrow", "night", "morning", "afternoon", "evening", "weekend",
     *(unit + plural for unit in ("minute", "hour", "day", "week", "month", "year") for plural in ("", "s")))
)  # fmt: skip
_WORD = re.compile(r"[a-z]+|\d")

_MONTH_WORD = re.compile(_MONTH)
_SEASON_WORD = re.compile(_SEASON)
_NUMBER = re.compile(r"\d+")
_FOUR_DIGITS = re.compile(r"\d{4}")
_LEADING_PREPOSITION = re.compile(r"(?:back\s+)?(?:in|on|at|during|around)\s+")
# Words before an expression that make a year or month reading likely ("in may", "since 2019").
_CUE_BEFORE = re.compile(
    r"\b(?:in|on|of|at|since|until|till|from|to|and|between|through|during|by|around|before|after|circa|year)\s+$"
)
# A lowercase word after a bare four-digit number is usually what it counts ("2022 people");
# matched against the original text, where case still tells.
_NOUN_AFTER = re.compile(
    r"\s+(?!(?:was|is|has|had|were|will|and|or|when|but|so|to|until|till|through|onwards?)\b)[a-z]"
)
_VERB_AFTER_MODAL = re.compile(
    r"\s+(?:be|have|not|also|well|never|just|still|even|need|want|get|go|come|take|make|see|seem|look|feel|do)\b"
)
_PRONOUN_AFTER = re.compile(r"\s+(?:i|we|you|he|she|they|it)\b")


def resolve_time_expression(expression: str, reference: datetime) -> TimeRange | None:
    """Resolve one time expression (e.g. a spaCy DATE entity) against the datetime it was said at.

    The whole expression must be understood, optionally after "in"/"on"/"at"/"during"/"around";
    otherwise, or when it is too vague to place honestly, the result is None. The rules decide
    first; Duckling's reading counts where no rule understands it ("friday after next", "christmas eve").
    """
    text = expression.strip().rstrip(".,;:!?")
    lowered = text.translate(_ASCII_LOWER)
    preposition = _LEADING_PREPOSITION.match(lowered)
    begin = preposition.end() if preposition else 0
    match = _EXPRESSION.fullmatch(lowered, begin)
    if match:
        return _resolve(match, text, reference)
    if not (_EXPRESSION.search(lowered, begin) or _DUCKLING_CUE.search(lowered) or _NUMBER.search(lowered)):
        return None  # nothing Duckling would add to ("the weekend", "these days"): no parse
    whole = [mention for mention in find_time_expressions(text, reference)
             if mention.start <= begin and mention.end == len(text)]  # fmt: skip
    return whole[0].time if whole else None


def find_time_expressions(text: str, reference: datetime) -> list[TimeMention]:
    """Every resolvable time expression in `text` (a message said at `reference`), left to right.

    The rules' readings (graphmem's conventions) come first. Duckling reads the same text (only
    texts with a time word or a digit, most messages have neither); its reading is kept where
    no rule matched, or where it understood strictly more than the rules it covers ("wednesday next
    week" over "wednesday"); never over a span the rules judged vague or not a time ("the last year").
    """
    lowered = text.translate(_ASCII_LOWER)
    if _TRIGGER_WORDS.isdisjoint(_WORD.findall(lowered)) and not _DUCKLING_CUE.search(lowered):
        return []
    claimed = _with_duckling(rule_readings(text, reference), text, reference)
    return [TimeMention(text[start:end], start, end, time) for start, end, time in claimed if time is not None]


def rule_readings(text: str, reference: datetime) -> list[tuple[int, int, TimeRange | None]]:
    """Every span graphmem's rules match in `text`, with its time, or None where the rules judged it
    vague or not a time at all; the rules alone, as graphmem read times before Duckling was adopted."""
    lowered = text.translate(_ASCII_LOWER)
    return [(match.start(), match.end(), _resolve(match, text, reference)) for match in _EXPRESSION.finditer(lowered)]


def _with_duckling(
    claimed: list[tuple[int, int, TimeRange | None]], text: str, reference: datetime
) -> list[tuple[int, int, TimeRange | None]]:
    """The rules' spans (in order, not overlapping), with Duckling's readings added where they fit
    (see find_time_expressions); linear in the number of spans."""
    starts, ends = [span[0] for span in claimed], [span[1] for span in claimed]
    replaced: set[int] = set()
    added: list[tuple[int, int, TimeRange | None]] = []
    for start, end, time in sorted(_duckling_readings(text, reference), key=lambda reading: reading[0]):
        if added and start < added[-1][1]:
            continue  # overlaps a reading already taken
        first, last = bisect_right(ends, start), bisect_left(starts, end)
        overlapped = claimed[first:last]
        if [span[2] for span in overlapped] == [time]:
            continue  # the same time over more words: the rules' span stays
        if _understood_more(start, end, overlapped, text):
            replaced.update(range(first, last))
            added.append((start, end, time))
    kept = [span for index, span in enumerate(claimed) if index not in replaced]
    return sorted(kept + added, key=lambda span: span[0])


def _understood_more(start: int, end: int, overlapped: list[tuple[int, int, TimeRange | None]], text: str) -> bool:
    """Whether a reading of `text[start:end]` takes in every rule span it overlaps, each resolved and
    shorter, without running across a clause break between them ("from March to June, mid-May")."""
    if any(time is None or first < start or end < last or last - first >= end - start
           for first, last, time in overlapped):  # fmt: skip
        return False
    return not any(_CLAUSE_BREAK.search(text, left[1], right[0]) for left, right in pairwise(overlapped))


def _resolve(match: re.Match[str], text: str, reference: datetime) -> TimeRange | None:
    """Resolve a match made in the lowercased `text`; None when it is vague or not a time after all."""
    kind = match.lastgroup
    if kind == "vague" or _is_false_friend(match, text):
        return None
    if kind == "range":
        return _resolve_range(match, text, reference)
    if kind == "weekday" and _clause_tense(match.string, *match.span()) == "future":
        weekday = _WEEKDAYS.index(match.group("weekday").split()[0])
        return _days(_next_weekday(reference.date(), weekday))
    return _RESOLVERS[kind](match, reference)


def _is_false_friend(match: re.Match[str], text: str) -> bool:
    """Whether the match only looks like a time: the verb "may" ("I may go"), a count ("2022 people")."""
    kind, lowered, (start, end) = match.lastgroup, match.string, match.span()
    cued = match.group("part") is not None or _CUE_BEFORE.search(lowered, max(0, start - 12), start) is not None
    if kind == "year":
        return not cued and _NOUN_AFTER.match(text, end) is not None
    last_word = text[start:end].rsplit(None, 1)[-1]
    if last_word.lower() not in ("may", "march"):
        return False
    if _VERB_AFTER_MODAL.match(lowered, end):
        return True
    # A bare month that is also a verb counts only when capitalised and not opening a question ("May I").
    return kind == "month" and not cued and (last_word.islower() or _PRONOUN_AFTER.match(lowered, end) is not None)


# -- resolvers, one per kind of expression ---------------------------------------------------


def _days(first: date, last: date | None = None) -> TimeRange:
    return TimeRange(start=first, end=last or first, precision=Precision.DAY)


def _week(day: date, weeks_later: int = 0) -> TimeRange:
    monday = day - timedelta(days=day.weekday()) + timedelta(weeks=weeks_later)
    return TimeRange(start=monday, end=monday + timedelta(days=6), precision=Precision.WEEK)


def _weekend(day: date, weeks_later: int) -> TimeRange:
    saturday = _week(day, weeks_later).start + timedelta(days=5)
    return _days(saturday, saturday + timedelta(days=1))


def _month(year: int, month: int) -> TimeRange:
    """The calendar month; `month` may run past 1..12 and carries into the year."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return TimeRange(
        start=date(year, month, 1), end=date(year, month, monthrange(year, month)[1]), precision=Precision.MONTH
    )


def _season(name: str, year: int) -> TimeRange:
    first_month = _SEASON_FIRST_MONTH[name]
    return TimeRange(
        start=date(year, first_month, 1), end=_month(year, first_month + 2).end, precision=Precision.SEASON
    )


def _year(year: int) -> TimeRange:
    return TimeRange(start=date(year, 1, 1), end=date(year, 12, 31), precision=Precision.YEAR)


def _month_number(word: str) -> int:
    return [name[:3] for name in _MONTHS].index(word[:3]) + 1


def _count(words: str) -> int:
    if words.isdigit():
        return int(words)
    if "couple" in words:
        return 2
    return 1 if words in ("a", "an") else _COUNTS.index(words) + 1


def _previous_weekday(reference: date, weekday: int) -> date:
    """The most recent given weekday strictly before `reference`."""
    return reference - timedelta(days=(reference.weekday() - weekday - 1) % 7 + 1)


def _next_weekday(reference: date, weekday: int) -> date:
    """The first given weekday strictly after `reference`."""
    return reference + timedelta(days=(weekday - reference.weekday() - 1) % 7 + 1)


def _resolve_iso(match: re.Match[str], reference: datetime) -> TimeRange | None:
    try:
        return _days(date.fromisoformat(match.group("iso")))
    except ValueError:
        return None


def _resolve_date(match: re.Match[str], reference: datetime) -> TimeRange | None:
    text = match.group("date")
    numbers = _NUMBER.findall(text)  # the day, then the year if stated
    year = int(numbers[1]) if len(numbers) > 1 else reference.year
    try:
        return _days(date(year, _month_number(_MONTH_WORD.search(text).group()), int(numbers[0])))
    except ValueError:  # 31 February
        return None


def _resolve_month_year(match: re.Match[str], reference: datetime) -> TimeRange:
    text = match.group("month_year")
    return _month(int(_FOUR_DIGITS.search(text).group()), _month_number(_MONTH_WORD.search(text).group()))


def _resolve_season_year(match: re.Match[str], reference: datetime) -> TimeRange:
    text = match.group("season_year")
    return _season(_SEASON_WORD.search(text).group(), int(_FOUR_DIGITS.search(text).group()))


def _resolve_decade(match: re.Match[str], reference: datetime) -> TimeRange:
    digits = _NUMBER.search(match.group("decade")).group()
    if len(digits) == 4:
        first_year = int(digits)
    else:  # the most recent decade with these digits that has begun
        first_year = 2000 + int(digits) if 2000 + int(digits) <= reference.year else 1900 + int(digits)
    return TimeRange(start=date(first_year, 1, 1), end=date(first_year + 9, 12, 31), precision=Precision.DECADE)


def _resolve_day_word(match: re.Match[str], reference: datetime) -> TimeRange:
    words = match.group("day_word")
    if words.startswith("the day"):
        offset = -2 if "before" in words else 2
    elif words.startswith(("yesterday", "last")):
        offset = -1
    else:
        offset = 1 if words.startswith("tomorrow") else 0
    return _days(reference.date() + timedelta(days=offset))


def _resolve_ago(match: re.Match[str], reference: datetime) -> TimeRange:
    count, unit = _count(match.group("ago_count")), match.group("ago_unit")
    if unit in ("minute", "hour"):
        return _days((reference - timedelta(**{unit + "s": count})).date())
    if unit == "day":
        return _days(reference.date() - timedelta(days=count))
    if unit == "week":
        return _week(reference.date(), -count)
    if unit == "month":
        return _month(reference.year, reference.month - count)
    return _year(reference.year - count)


def _resolve_relative(match: re.Match[str], reference: datetime) -> TimeRange:
    """last/this/next + week, weekend, month, year, a weekday, a month name or a season."""
    direction = _DIRECTIONS[" ".join(match.group("relative_direction").split())]
    unit = match.group("relative_unit")
    today = reference.date()
    if unit == "week":
        return _week(today, direction)
    if unit == "weekend":
        return _weekend(today, direction)
    if unit == "month":
        return _month(reference.year, reference.month + direction)
    if unit == "year":
        return _year(reference.year + direction)
    if unit in _WEEKDAYS:
        weekday = _WEEKDAYS.index(unit)
        if direction < 0:
            return _days(_previous_weekday(today, weekday))
        if direction > 0:
            return _days(_next_weekday(today, weekday))
        return _days(_week(today).start + timedelta(days=weekday))
    if unit in _MONTHS:
        month = _MONTHS.index(unit) + 1
        if direction < 0:
            return _month(reference.year if month < reference.month else reference.year - 1, month)
        if direction > 0:
            return _month(reference.year if month > reference.month else reference.year + 1, month)
        return _month(reference.year, month)
    if direction == 0:  # this winter: the one running in January/February, else the one ahead
        began_last_year = unit == "winter" and reference.month <= 2
        return _season(unit, reference.year - 1 if began_last_year else reference.year)
    seasons = [_season(unit, year) for year in range(reference.year - 2, reference.year + 2)]
    if direction < 0:
        return [season for season in seasons if season.end < today][-1]
    return next(season for season in seasons if season.start > today)


def _resolve_before(match: re.Match[str], reference: datetime) -> TimeRange:
    back = 2 if match.group("before_last") else 1
    unit = match.group("before_unit")
    if unit == "week":
        return _week(reference.date(), -back)
    if unit == "month":
        return _month(reference.year, reference.month - back)
    return _year(reference.year - back)


def _resolve_weekday(match: re.Match[str], reference: datetime) -> TimeRange:
    weekday = _WEEKDAYS.index(match.group("weekday").split()[0])
    return _days(_previous_weekday(reference.date(), weekday))


def _resolve_month(match: re.Match[str], reference: datetime) -> TimeRange:
    return _month(reference.year, _month_number(match.group("month")))


def _resolve_year(match: re.Match[str], reference: datetime) -> TimeRange:
    return _year(int(match.group("year")))


def _resolve_range(match: re.Match[str], text: str, reference: datetime) -> TimeRange | None:
    """from X to Y / between X and Y: X's start to Y's end, at the coarser of their precisions."""

    def endpoint(group: str, at: datetime) -> TimeRange | None:
        inner = _EXPRESSION.fullmatch(match.string, *match.span(group))
        return _resolve(inner, text, at) if inner else None

    first, last = endpoint("range_from", reference), endpoint("range_to", reference)
    if first and last and last.start < first.start and not _FOUR_DIGITS.search(match.group("range_to")):
        # a yearless end before the start is in the next year: "from November to February"
        last = endpoint("range_to", datetime(reference.year + 1, 1, 1))
    if not first or not last or last.start < first.start:
        return None
    precision = max(first.precision, last.precision, key=_PRECISION_ORDER.index)
    return TimeRange(start=first.start, end=last.end, precision=precision)


_RESOLVERS: dict[str, Callable[[re.Match[str], datetime], TimeRange | None]] = {
    "iso": _resolve_iso,
    "date": _resolve_date,
    "month_year": _resolve_month_year,
    "season_year": _resolve_season_year,
    "decade": _resolve_decade,
    "day_word": _resolve_day_word,
    "ago": _resolve_ago,
    "relative": _resolve_relative,
    "before": _resolve_before,
    "weekday": _resolve_weekday,
    "month": _resolve_month,
    "year": _resolve_year,
}


# -- Duckling: what the rules do not cover, read by the field's standard parser --------------------

_HOLIDAY = (
    r"christmas|xmas|thanksgiving|hallowe.?en|easter|valentine|new\s+year|hanukk?ah|chanukah|passover|ramadan"
    r"|diwali|eid\b|mardi\s+gras|patrick|paddy|memorial\s+day|labou?r\s+day|independence\s+day|mother.?s\s+day"
    r"|father.?s\s+day|mlk|luther\s+king|black\s+friday|boss.?s\s+day|vegan\s+day|pentecost|lent\b|purim"
    r"|kippur|rosh\s+hash|holi\b|vesak|pongal|onam\b|navaratri|dussehra|koningsdag|king.?s\s+day|jayanti"
)
# Words of times only Duckling reads; a text with none of them and none of the rules' trigger words
# is not parsed at all.
_DUCKLING_CUE = re.compile(
    rf"{_HOLIDAY}|\b(?:yrs?|qtr|quarter|hence|fortnight|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|first|second"
    r"|third|ides|eom|bom|eoy|boy)\b"
)
_LEADING_HEDGE = re.compile(
    r"(?:(?:back\s+)?(?:in|on|at|during|around|about|approximately|roughly|like|almost|nearly|just|over)\s+)+"
)
_TRAILING = " ,.;:!?-–"
_DUCKLING_PRECISION = {
    "day": Precision.DAY, "week": Precision.WEEK, "month": Precision.MONTH, "quarter": Precision.QUARTER,
    "year": Precision.YEAR,
}  # fmt: skip
# Duckling readings graphmem does not take: a bare unit ("the week"), a habit ("Sundays"), seasons
# (Duckling's are astronomical, graphmem's meteorological: the rules read them), and numeric dates
# whose day and month could be either way round ("5/8/2023").
_NOT_TAKEN = re.compile(rf"(?:the\s+)?(?:day|week|weekend|month|year|season)s?|(?:{_WEEKDAY[:-2]})s")
_NUMERIC_DAY_MONTH = re.compile(r"(?<![\d])(\d{1,2})\s*[/.-]\s*(\d{1,2})(?![\d])")
_DIRECTION = re.compile(
    r"\b(?:last|next|this|past|previous|coming|following|ago|back|after|before|from|hence|in)\b|\d{4}"
)
_DAY_OF_MONTH = re.compile(r"(?:(?:on|at)\s+)?(?:the\s+)?(?:\d{1,2}(?:st|nd|rd|th)?|first|second|third)")
_BARE_WEEKDAY = re.compile(rf"(?:(?:on|at)\s+)?(?:{_WEEKDAY[:-2]}|mon|tues?|wed|thu|thurs?|fri|sat|sun)\.?")
_SENTENCE_MARKS = ".!?;\n"
_CHUNK_BOUNDARY = re.compile(r"(?<=[!?;])\s+|(?<=\.)\s+(?=[A-Z\"'“‘(])|\n+")
_CHUNK_CHARS = 400
_WEEK_OF = re.compile(r"\bweek\s+of\s+")
_CLAUSE_BREAK = re.compile(r"[,.!?;:\n]")
_FUTURE_CUE = re.compile(
    r"\b(?:will|won't|gonna|going|plan|plans|planning|can't\s+wait|looking\s+forward|hope|hoping|let's|shall"
    r"|upcoming|tomorrow|soon)\b|['’]ll\b"
)
_PAST_CUE = re.compile(
    r"\b(?:was|were|had|did|went|got|came|made|took|saw|met|spent|told|said|bought|found|won|ran|gave|felt"
    r"|left|ate|drank|wrote|began|sent|kept|yesterday|ago|last)\b"
    r"|\b(?:i|we|he|she|they|you|it|who)\s+(?:\w+\s+)?[a-z]{2,}ed\b"  # "we celebrated", "i really liked"
)
_HABIT_CUE = re.compile(r"\b(?:every|each|always|usually|often|favou?rite|traditions?|decorations?|decor|season)\b")


def duckling_readings(text: str, reference: datetime) -> list[TimeMention]:
    """Duckling's own reading of the times in `text` at day grain or coarser, without graphmem's conventions
    (the whole text in one parse: the resolver itself parses only the sentences with a time word).

    Spans leave out a leading "on"/"in"/"about"/... and trailing punctuation (so they line up with
    the rules'); an interval's end is made inclusive. The resolver puts graphmem's conventions on
    top; the benchmark compares resolvers with it.
    """
    return [mention for mention, _, _ in _duckling_entities(text, reference, [(0, text)])]


def _duckling_entities(
    text: str, reference: datetime, pieces: Iterable[tuple[int, str]]
) -> list[tuple[TimeMention, str, bool]]:
    """Duckling's readings of the `pieces` of `text` (offset, piece), each with its words as Duckling
    matched them (lowercased) and whether it is a holiday."""
    entities = []
    for offset, chunk in pieces:
        for entity in _duckling_parse(chunk, reference):
            start, end = offset + entity["start"], offset + entity["end"]
            end -= len(text[start:end]) - len(text[start:end].rstrip(_TRAILING))
            words = text[start:end].translate(_ASCII_LOWER)
            lead = _LEADING_HEDGE.match(words)
            time = _duckling_time(entity["value"])
            if time is not None:
                begin = start + (lead.end() if lead else 0)
                mention = TimeMention(text[begin:end], begin, end, time)
                entities.append((mention, words, "holidayBeta" in entity["value"]))
    return entities


def _duckling_readings(text: str, reference: datetime) -> list[tuple[int, int, TimeRange]]:
    """Duckling's readings with graphmem's conventions on top (see find_time_expressions)."""
    readings = []
    for mention, words, holiday in _duckling_entities(text, reference, _time_chunks(text)):
        bare = _NOT_TAKEN.fullmatch(mention.text.translate(_ASCII_LOWER))
        if bare or _SEASON_WORD.search(words) or _is_ambiguous_numeric_date(words):
            continue
        time = _conventions(mention, words, holiday, text, reference)
        if time is not None:
            readings.append((mention.start, mention.end, time))
    return readings


def _conventions(mention: TimeMention, words: str, holiday: bool, text: str, reference: datetime) -> TimeRange | None:
    """graphmem's conventions over a Duckling reading; None when it names no particular time.

    "The week of October 11th" is the week that holds it. A date without a year is in the
    message's year, as the rules read them. A recurring day named without year or direction
    ("christmas", "the 15th", "fri") is placed by its clause: Duckling picks the next one; in a
    past-tense clause it is the last one before the message, and a bare weekday is the past one
    unless the clause speaks of the future (as the rules read "Friday"). A holiday in a sentence
    about a habit ("every year ... halloween") names no day.
    """
    time = mention.time
    week_of = _WEEK_OF.search(words)
    if week_of and time.precision is Precision.WEEK:  # the week that holds the day (Duckling: the next to start)
        day = resolve_time_expression(words[week_of.end() :], reference)
        return _week(day.start) if day and day.precision is Precision.DAY else time
    if _DIRECTION.search(words) or time.precision != Precision.DAY or time.start != time.end:
        return time
    if holiday and _HABIT_CUE.search(_sentence(text, mention.start, mention.end)):
        return None
    if not holiday and _MONTH_WORD.search(words) and time.start.year != reference.year:
        try:  # a date without a year is in the message's year, as the rules read "3rd of March"
            return _days(time.start.replace(year=reference.year))
        except ValueError:  # 29 February
            return None
    tense = _clause_tense(text, mention.start, mention.end)
    weekday = _BARE_WEEKDAY.fullmatch(words) is not None
    today = reference.date()
    if tense == "future" or time.start <= today or (tense is None and not weekday):
        return time
    if weekday:
        return _days(_previous_weekday(today, time.start.weekday()))
    if _DAY_OF_MONTH.fullmatch(words):  # monthly: the same day a month earlier
        previous = _month(time.start.year, time.start.month - 1)
        return _days(previous.start.replace(day=time.start.day)) if time.start.day <= previous.end.day else None
    earlier = [m.time for m in duckling_readings(mention.text, reference - timedelta(days=365))]  # yearly
    return earlier[0] if earlier and earlier[0].start <= today else None


def _is_ambiguous_numeric_date(lowered: str) -> bool:
    if _MONTH_WORD.search(lowered):
        return False
    return any(first != second and int(first) <= 12 and int(second) <= 12
               for first, second in _NUMERIC_DAY_MONTH.findall(lowered))  # fmt: skip


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence around `text[start:end]`, lowercased, with the expression blanked out."""
    begin = max(text.rfind(mark, 0, start) for mark in _SENTENCE_MARKS) + 1
    stops = [stop for stop in (text.find(mark, end) for mark in _SENTENCE_MARKS) if stop >= 0]
    sentence = text[begin : min(stops, default=len(text))].translate(_ASCII_LOWER)
    return sentence[: start - begin] + " " * (end - start) + sentence[end - begin :]


def _clause_tense(text: str, start: int, end: int) -> str | None:
    """The clause's tense, "past" or "future", by the cue nearest the expression in its sentence; None without one."""
    sentence = _sentence(text, start, end)
    begin = start - max(text.rfind(mark, 0, start) for mark in _SENTENCE_MARKS) - 1  # the expression, in it
    length = end - start
    cues = [(min(abs(m.start() - begin - length), abs(begin - m.end())), tense)
            for tense, cue in (("past", _PAST_CUE), ("future", _FUTURE_CUE))
            for m in cue.finditer(sentence) if m.end() <= begin or m.start() >= begin + length]  # fmt: skip
    return min(cues)[1] if cues else None


def _duckling_time(value: dict) -> TimeRange | None:
    """A Duckling time value as a TimeRange; None for finer grains than a day and open intervals."""
    try:
        if value["type"] == "value":
            precision = _DUCKLING_PRECISION.get(value["grain"])
            first = date.fromisoformat(value["value"][:10])
            if precision is Precision.WEEK:
                return _week(first)
            if precision is Precision.QUARTER:
                return TimeRange(start=first, end=_month(first.year, first.month + 2).end, precision=precision)
            spans = {Precision.DAY: _days, Precision.MONTH: lambda d: _month(d.year, d.month),
                     Precision.YEAR: lambda d: _year(d.year)}  # fmt: skip
            return spans[precision](first) if precision in spans else None
        if value["type"] == "interval" and "from" in value and "to" in value:
            precision = _DUCKLING_PRECISION.get(value["from"]["grain"])
            first = date.fromisoformat(value["from"]["value"][:10])
            last = date.fromisoformat(value["to"]["value"][:10]) - timedelta(days=1)
            return TimeRange(start=first, end=last, precision=precision) if precision and last >= first else None
    except ValueError:  # a year Python cannot hold (BC)
        return None
    return None


def _time_chunks(text: str) -> Iterator[tuple[int, str]]:
    """The sentences of `text` that hold a time word or digit, with their offsets, at most
    `_CHUNK_CHARS` long: Duckling's parse time grows faster than the text (a 7,000-character
    message takes seconds), and most sentences of a message name no time."""
    start = 0
    for boundary in [*_CHUNK_BOUNDARY.finditer(text), None]:
        end = boundary.start() if boundary else len(text)
        while start < end:
            if end - start <= _CHUNK_CHARS:
                stop = end
            else:  # cut after the last space that keeps the piece short enough, or hard
                stop = text.rfind(" ", start + 1, start + _CHUNK_CHARS) + 1 or start + _CHUNK_CHARS
            chunk = text[start:stop]
            lowered = chunk.translate(_ASCII_LOWER)
            if not _TRIGGER_WORDS.isdisjoint(_WORD.findall(lowered)) or _DUCKLING_CUE.search(lowered):
                yield start, chunk
            start = stop
        start = boundary.end() if boundary else end


@lru_cache(maxsize=4096)
def _duckling_parse(text: str, reference: datetime) -> tuple[dict, ...]:
    """Duckling's time entities in `text` (a sentence) said at `reference` (naive, taken as UTC);
    cached, as the rules and the extractor ask about the same message."""
    duckling, zones, locale, dimensions = _duckling()
    seconds = int(reference.replace(tzinfo=timezone.utc).timestamp())
    context = duckling.Context(duckling.parse_ref_time(zones, "UTC", seconds), locale)
    return tuple(duckling.parse(text, context, dimensions, False))


@cache
def _duckling():
    """The Duckling bindings, loaded on first use (starting the Haskell runtime takes a moment).

    Every time is in UTC, so no time-zone database is needed: Duckling gets an empty one (it
    exits the process if the directory it is given does not exist).
    """
    import duckling

    with tempfile.TemporaryDirectory() as empty:
        zones = duckling.load_time_zones(empty)
    locale = duckling.parse_locale("EN_US", duckling.default_locale_lang(duckling.parse_lang("EN")))
    return duckling, zones, locale, duckling.parse_dimensions(["time"])
