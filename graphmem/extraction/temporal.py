"""Time: parsing message timestamps and resolving temporal expressions against them.

Message timestamps come from files in many shapes (ISO-8601, LoCoMo's "1:56 pm on 8 May, 2023",
"May 8, 2023 13:56"); they must name a full date, or the message is rejected rather than
silently dated today. Timestamps with a zone are converted to UTC and stored naive, so every
timestamp in a memory compares with every other.

Temporal expressions in a message ("last Friday", "two years ago", "from March to June") are
resolved against that message's timestamp into a `TimeRange` whose precision says how exact
the expression is. Conventions, chosen to be simple and predictable:

- weeks are ISO weeks (Monday to Sunday); a weekend is its week's Saturday and Sunday, with
  day precision because both days are exact;
- a bare weekday ("Friday", "on Friday") is, like "last Friday", the most recent such day
  strictly before the reference (conversations mostly report); "next Friday" is the first
  one after it and "this Friday" the one in the reference's week;
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
bare seasons and "the weekend". Numeric dates other than ISO (5/8/2023) are ambiguous between
US and European order and are not read.
"""

from __future__ import annotations

import re
import string
from calendar import monthrange
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

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
        parsed = datetime.fromtimestamp(value, tz=timezone.utc)
    elif isinstance(value, str) and value.strip():
        parsed = _parse_human(value.strip())
    else:
        raise TimestampError(f"expected a date-time string, got {value!r}")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


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
      | {_COUNT}\s+(?:or|to)\s+{_COUNT}\b)
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
    otherwise, or when it is too vague to place honestly, the result is None.
    """
    text = expression.strip().rstrip(".,;:!?")
    lowered = text.translate(_ASCII_LOWER)
    preposition = _LEADING_PREPOSITION.match(lowered)
    match = _EXPRESSION.fullmatch(lowered, preposition.end() if preposition else 0)
    return _resolve(match, text, reference) if match else None


def find_time_expressions(text: str, reference: datetime) -> list[TimeMention]:
    """Every resolvable time expression in `text` (a message said at `reference`), left to right."""
    lowered = text.translate(_ASCII_LOWER)
    if _TRIGGER_WORDS.isdisjoint(_WORD.findall(lowered)):
        return []
    mentions = []
    for match in _EXPRESSION.finditer(lowered):
        time = _resolve(match, text, reference)
        if time is not None:
            start, end = match.span()
            mentions.append(TimeMention(text[start:end], start, end, time))
    return mentions


def _resolve(match: re.Match[str], text: str, reference: datetime) -> TimeRange | None:
    """Resolve a match made in the lowercased `text`; None when it is vague or not a time after all."""
    kind = match.lastgroup
    if kind == "vague" or _is_false_friend(match, text):
        return None
    if kind == "range":
        return _resolve_range(match, text, reference)
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
            return _days(today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1))
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
