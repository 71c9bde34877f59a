"""Tests for graphmem.extraction.temporal: timestamps, and time expressions resolved against a message's time.

Every expected value was worked out by hand from a calendar, not by running the code.
Main reference: Monday 8 May 2023, 13:56 (its ISO week runs Monday 1 May .. Sunday 7 May
before it and Monday 8 .. Sunday 14 May itself).
"""

from datetime import date, datetime

import pytest

from graphmem.models import Precision, TimeRange
from graphmem.extraction.temporal import (
    TimeMention,
    TimestampError,
    find_time_expressions,
    parse_timestamp,
    resolve_time_expression,
)

MON_8_MAY_2023 = datetime(2023, 5, 8, 13, 56)
SAT_6_JAN_2024 = datetime(2024, 1, 6, 9, 30)
THU_14_SEP_2023 = datetime(2023, 9, 14, 18, 0)

DAY, WEEK, MONTH, SEASON, QUARTER, YEAR, DECADE = (
    Precision.DAY,
    Precision.WEEK,
    Precision.MONTH,
    Precision.SEASON,
    Precision.QUARTER,
    Precision.YEAR,
    Precision.DECADE,
)

R = MON_8_MAY_2023
RESOLVED = [
    # days
    ("today", R, date(2023, 5, 8), date(2023, 5, 8), DAY),
    ("tonight", R, date(2023, 5, 8), date(2023, 5, 8), DAY),
    ("this morning", R, date(2023, 5, 8), date(2023, 5, 8), DAY),
    ("earlier today", R, date(2023, 5, 8), date(2023, 5, 8), DAY),
    ("yesterday", R, date(2023, 5, 7), date(2023, 5, 7), DAY),
    ("Yesterday afternoon", R, date(2023, 5, 7), date(2023, 5, 7), DAY),
    ("last night", R, date(2023, 5, 7), date(2023, 5, 7), DAY),
    ("the day before yesterday", R, date(2023, 5, 6), date(2023, 5, 6), DAY),
    ("tomorrow", R, date(2023, 5, 9), date(2023, 5, 9), DAY),
    ("the day after tomorrow", R, date(2023, 5, 10), date(2023, 5, 10), DAY),
    ("last Friday", R, date(2023, 5, 5), date(2023, 5, 5), DAY),
    ("on Friday", R, date(2023, 5, 5), date(2023, 5, 5), DAY),
    ("Friday", R, date(2023, 5, 5), date(2023, 5, 5), DAY),
    ("on Monday", R, date(2023, 5, 1), date(2023, 5, 1), DAY),  # strictly before: not today
    ("Sunday night", R, date(2023, 5, 7), date(2023, 5, 7), DAY),
    ("next Friday", R, date(2023, 5, 12), date(2023, 5, 12), DAY),
    ("next Monday", R, date(2023, 5, 15), date(2023, 5, 15), DAY),
    ("this Friday", R, date(2023, 5, 12), date(2023, 5, 12), DAY),
    ("this past Saturday", R, date(2023, 5, 6), date(2023, 5, 6), DAY),
    ("3 days ago", R, date(2023, 5, 5), date(2023, 5, 5), DAY),
    ("two days ago", R, date(2023, 5, 6), date(2023, 5, 6), DAY),
    ("5 hours ago", R, date(2023, 5, 8), date(2023, 5, 8), DAY),
    ("20 hours ago", R, date(2023, 5, 7), date(2023, 5, 7), DAY),  # 17:56 the day before
    ("8 May 2023", R, date(2023, 5, 8), date(2023, 5, 8), DAY),
    ("May 8, 2023", R, date(2023, 5, 8), date(2023, 5, 8), DAY),
    ("May 8th", R, date(2023, 5, 8), date(2023, 5, 8), DAY),
    ("the 8th of May", R, date(2023, 5, 8), date(2023, 5, 8), DAY),
    ("3rd of March", R, date(2023, 3, 3), date(2023, 3, 3), DAY),
    ("Friday, 21 April 2023", R, date(2023, 4, 21), date(2023, 4, 21), DAY),
    ("2023-04-21", R, date(2023, 4, 21), date(2023, 4, 21), DAY),
    ("Dec. 25", R, date(2023, 12, 25), date(2023, 12, 25), DAY),  # no year: the reference's
    # weeks and weekends
    ("last week", R, date(2023, 5, 1), date(2023, 5, 7), WEEK),
    ("LAST WEEK", R, date(2023, 5, 1), date(2023, 5, 7), WEEK),
    ("this week", R, date(2023, 5, 8), date(2023, 5, 14), WEEK),
    ("next week", R, date(2023, 5, 15), date(2023, 5, 21), WEEK),
    ("the week before", R, date(2023, 5, 1), date(2023, 5, 7), WEEK),
    ("the week before last", R, date(2023, 4, 24), date(2023, 4, 30), WEEK),
    ("two weeks ago", R, date(2023, 4, 24), date(2023, 4, 30), WEEK),
    ("a couple of weeks ago", R, date(2023, 4, 24), date(2023, 4, 30), WEEK),
    ("this weekend", R, date(2023, 5, 13), date(2023, 5, 14), DAY),
    ("last weekend", R, date(2023, 5, 6), date(2023, 5, 7), DAY),
    ("this past weekend", R, date(2023, 5, 6), date(2023, 5, 7), DAY),
    ("next weekend", R, date(2023, 5, 20), date(2023, 5, 21), DAY),
    # months
    ("last month", R, date(2023, 4, 1), date(2023, 4, 30), MONTH),
    ("this month", R, date(2023, 5, 1), date(2023, 5, 31), MONTH),
    ("Next Month", R, date(2023, 6, 1), date(2023, 6, 30), MONTH),
    ("two months ago", R, date(2023, 3, 1), date(2023, 3, 31), MONTH),
    ("eleven months ago", R, date(2022, 6, 1), date(2022, 6, 30), MONTH),
    ("in May", R, date(2023, 5, 1), date(2023, 5, 31), MONTH),
    ("May", R, date(2023, 5, 1), date(2023, 5, 31), MONTH),
    ("last May", R, date(2022, 5, 1), date(2022, 5, 31), MONTH),
    ("next May", R, date(2024, 5, 1), date(2024, 5, 31), MONTH),
    ("last March", R, date(2023, 3, 1), date(2023, 3, 31), MONTH),
    ("next March", R, date(2024, 3, 1), date(2024, 3, 31), MONTH),
    ("this June", R, date(2023, 6, 1), date(2023, 6, 30), MONTH),
    ("May 2023", R, date(2023, 5, 1), date(2023, 5, 31), MONTH),
    ("September of 2021", R, date(2021, 9, 1), date(2021, 9, 30), MONTH),
    ("early May", R, date(2023, 5, 1), date(2023, 5, 31), MONTH),
    ("mid-June", R, date(2023, 6, 1), date(2023, 6, 30), MONTH),
    ("late February", R, date(2023, 2, 1), date(2023, 2, 28), MONTH),
    ("the end of January", R, date(2023, 1, 1), date(2023, 1, 31), MONTH),
    # seasons (northern hemisphere, meteorological)
    ("last summer", R, date(2022, 6, 1), date(2022, 8, 31), SEASON),
    ("this spring", R, date(2023, 3, 1), date(2023, 5, 31), SEASON),
    ("last spring", R, date(2022, 3, 1), date(2022, 5, 31), SEASON),  # this one has not ended yet
    ("next summer", R, date(2023, 6, 1), date(2023, 8, 31), SEASON),
    ("last winter", R, date(2022, 12, 1), date(2023, 2, 28), SEASON),
    ("next winter", R, date(2023, 12, 1), date(2024, 2, 29), SEASON),
    ("summer 2022", R, date(2022, 6, 1), date(2022, 8, 31), SEASON),
    ("the winter of 2019", R, date(2019, 12, 1), date(2020, 2, 29), SEASON),
    ("autumn 2021", R, date(2021, 9, 1), date(2021, 11, 30), SEASON),
    # years
    ("last year", R, date(2022, 1, 1), date(2022, 12, 31), YEAR),
    ("this year", R, date(2023, 1, 1), date(2023, 12, 31), YEAR),
    ("next year", R, date(2024, 1, 1), date(2024, 12, 31), YEAR),
    ("two years ago", R, date(2021, 1, 1), date(2021, 12, 31), YEAR),
    ("a year ago", R, date(2022, 1, 1), date(2022, 12, 31), YEAR),
    ("in 2022", R, date(2022, 1, 1), date(2022, 12, 31), YEAR),
    ("2022", R, date(2022, 1, 1), date(2022, 12, 31), YEAR),
    ("early 2019", R, date(2019, 1, 1), date(2019, 12, 31), YEAR),
    ("mid-2020", R, date(2020, 1, 1), date(2020, 12, 31), YEAR),
    ("the year before last", R, date(2021, 1, 1), date(2021, 12, 31), YEAR),
    # decades
    ("the 90s", R, date(1990, 1, 1), date(1999, 12, 31), DECADE),
    ("in the 1990s", R, date(1990, 1, 1), date(1999, 12, 31), DECADE),
    ("the early 2000s", R, date(2000, 1, 1), date(2009, 12, 31), DECADE),
    ("the 20s", R, date(2020, 1, 1), date(2029, 12, 31), DECADE),  # the most recent 20s to have begun
    ("the '80s", R, date(1980, 1, 1), date(1989, 12, 31), DECADE),
    # ranges
    ("from March to June", R, date(2023, 3, 1), date(2023, 6, 30), MONTH),
    ("between 2019 and 2021", R, date(2019, 1, 1), date(2021, 12, 31), YEAR),
    ("from November to February", R, date(2023, 11, 1), date(2024, 2, 29), MONTH),
    ("from 3 May to 6 May 2023", R, date(2023, 5, 3), date(2023, 5, 6), DAY),
    ("from May 2022 to March 2023", R, date(2022, 5, 1), date(2023, 3, 31), MONTH),
    # other references: Saturday 6 January 2024 (week Mon 1 .. Sun 7 Jan) ...
    ("last week", SAT_6_JAN_2024, date(2023, 12, 25), date(2023, 12, 31), WEEK),
    ("last month", SAT_6_JAN_2024, date(2023, 12, 1), date(2023, 12, 31), MONTH),
    ("this winter", SAT_6_JAN_2024, date(2023, 12, 1), date(2024, 2, 29), SEASON),
    ("last winter", SAT_6_JAN_2024, date(2022, 12, 1), date(2023, 2, 28), SEASON),
    ("on Saturday", SAT_6_JAN_2024, date(2023, 12, 30), date(2023, 12, 30), DAY),
    ("this weekend", SAT_6_JAN_2024, date(2024, 1, 6), date(2024, 1, 7), DAY),
    ("last December", SAT_6_JAN_2024, date(2023, 12, 1), date(2023, 12, 31), MONTH),
    ("next December", SAT_6_JAN_2024, date(2024, 12, 1), date(2024, 12, 31), MONTH),
    ("12 hours ago", SAT_6_JAN_2024, date(2024, 1, 5), date(2024, 1, 5), DAY),
    # ... and Thursday 14 September 2023 (week Mon 11 .. Sun 17 Sep)
    ("this summer", THU_14_SEP_2023, date(2023, 6, 1), date(2023, 8, 31), SEASON),
    ("last summer", THU_14_SEP_2023, date(2023, 6, 1), date(2023, 8, 31), SEASON),  # ended before the 14th
    ("last May", THU_14_SEP_2023, date(2023, 5, 1), date(2023, 5, 31), MONTH),
    ("on Thursday", THU_14_SEP_2023, date(2023, 9, 7), date(2023, 9, 7), DAY),
    ("next Thursday", THU_14_SEP_2023, date(2023, 9, 21), date(2023, 9, 21), DAY),
    ("this Monday", THU_14_SEP_2023, date(2023, 9, 11), date(2023, 9, 11), DAY),
    ("the week before", THU_14_SEP_2023, date(2023, 9, 4), date(2023, 9, 10), WEEK),
    # forms the rules leave to Duckling, with graphmem's conventions on top (Monday 8 May 2023 ...)
    ("friday after next", R, date(2023, 5, 19), date(2023, 5, 19), DAY),  # the Friday after next Friday (12th)
    ("wednesday next week", R, date(2023, 5, 17), date(2023, 5, 17), DAY),
    ("2 thursdays ago", R, date(2023, 4, 27), date(2023, 4, 27), DAY),  # Thursdays before: 4 May, 27 April
    ("last yr", R, date(2022, 1, 1), date(2022, 12, 31), YEAR),
    ("the week of october 11th", R, date(2023, 10, 9), date(2023, 10, 15), WEEK),  # the ISO week holding it
    ("the second of march", R, date(2023, 3, 2), date(2023, 3, 2), DAY),  # no year: the reference's, as "3rd of March"
    ("this quarter", R, date(2023, 4, 1), date(2023, 6, 30), QUARTER),
    ("the third quarter of 2022", R, date(2022, 7, 1), date(2022, 9, 30), QUARTER),
    ("10/31/2022", R, date(2022, 10, 31), date(2022, 10, 31), DAY),  # no 31st month: only one order reads
    ("Christmas Eve", SAT_6_JAN_2024, date(2024, 12, 24), date(2024, 12, 24), DAY),  # no tense: the next one
    ("last Monday of March", SAT_6_JAN_2024, date(2024, 3, 25), date(2024, 3, 25), DAY),  # Mondays 4 .. 25 March 2024
    ("on the 15th", THU_14_SEP_2023, date(2023, 9, 15), date(2023, 9, 15), DAY),
]

UNRESOLVED = [
    "a while ago",
    "someday",
    "recently",
    "the other day",
    "soon",
    "lately",
    "nowadays",
    "one day",
    "for two years",  # a duration
    "every Tuesday",  # a habit
    "a few years ago",
    "several months ago",
    "two or three years ago",
    "a decade ago",
    "the last year",  # a rolling twelve months, not last calendar year
    "the past two weeks",
    "over the weekend",
    "in the summer",
    "may",  # the verb
    "31 February 2023",
    "between 2021 and 2019",
    "2022 people",
    "the week before the wedding",  # anchored to something else
    "5/8/2023",  # US or European order?
]


@pytest.mark.parametrize(("expression", "reference", "start", "end", "precision"), RESOLVED)
def test_resolve_time_expression(expression, reference, start, end, precision):
    assert resolve_time_expression(expression, reference) == TimeRange(start=start, end=end, precision=precision)


@pytest.mark.parametrize("expression", UNRESOLVED)
def test_vague_or_unknown_expressions_stay_unresolved(expression):
    assert resolve_time_expression(expression, MON_8_MAY_2023) is None


@pytest.mark.parametrize(("expression", "reference", "start", "end", "precision"), RESOLVED)
def test_every_resolvable_expression_is_found_in_a_sentence(expression, reference, start, end, precision):
    found = find_time_expressions(f"So, {expression}.", reference)
    assert [mention.time for mention in found] == [TimeRange(start=start, end=end, precision=precision)]


@pytest.mark.parametrize(
    ("text", "reference", "expected"),
    [
        # a holiday or a recurring day in a past-tense clause is the last one before the message
        ("We baked cookies on Christmas Eve.", SAT_6_JAN_2024, ("Christmas Eve", date(2023, 12, 24))),
        ("What did you do on New Year's Eve?", SAT_6_JAN_2024, ("New Year's Eve", date(2023, 12, 31))),
        ("We went to my aunt's for Thanksgiving.", MON_8_MAY_2023, ("Thanksgiving", date(2022, 11, 24))),
        ("I met my team on the 15th.", THU_14_SEP_2023, ("the 15th", date(2023, 8, 15))),
        ("We went to the beach on Saturday.", MON_8_MAY_2023, ("Saturday", date(2023, 5, 6))),
        # ... otherwise the next one: a bare weekday only when the clause speaks of the future
        ("We're hosting a party on New Year's Eve!", THU_14_SEP_2023, ("New Year's Eve", date(2023, 12, 31))),
        ("I'm going to the beach on Saturday.", MON_8_MAY_2023, ("Saturday", date(2023, 5, 13))),
        ("We'll meet on Fri.", MON_8_MAY_2023, ("Fri", date(2023, 5, 12))),
        ("We met on Fri.", MON_8_MAY_2023, ("Fri", date(2023, 5, 5))),
    ],
)
def test_recurring_days_are_placed_by_the_tense_of_their_clause(text, reference, expected):
    found = find_time_expressions(text, reference)
    assert [(m.text, m.time.start) for m in found] == [expected]
    assert found[0].time.start == found[0].time.end and found[0].time.precision is DAY


@pytest.mark.parametrize(
    "text",
    [
        "I go to my parents' every year for Christmas.",  # a habit, not a day
        "Brunch on Sundays is the best.",
        "Halloween is my favorite, every year I carve pumpkins.",
        "I watched it like 4-5 months ago.",
        "In the summer we swim a lot.",
    ],
)
def test_habits_and_vague_spans_stay_unresolved_with_duckling(text):
    assert find_time_expressions(text, SAT_6_JAN_2024) == []


def test_a_longer_duckling_reading_replaces_the_rules_only_when_it_understood_more():
    text = "My sister visited from March to June, mid-May was great, and we meet again wednesday next week."
    found = [(m.text, m.time.start, m.time.end) for m in find_time_expressions(text, MON_8_MAY_2023)]
    assert found == [
        ("from March to June", date(2023, 3, 1), date(2023, 6, 30)),
        ("mid-May", date(2023, 5, 1), date(2023, 5, 31)),
        ("wednesday next week", date(2023, 5, 17), date(2023, 5, 17)),
    ]


def test_duckling_readings_keep_their_place_in_a_long_message():
    """Duckling reads a message sentence by sentence; what it finds keeps its offset in the whole text."""
    filler = "We talked about nothing in particular for a long while. " * 10  # no time word
    text = filler + "Then we baked cookies on Christmas Eve, " + "and more " * 60 + "the friday after next."
    found = find_time_expressions(text, SAT_6_JAN_2024)
    assert [(m.text, text[m.start : m.end], m.time.start) for m in found] == [
        ("Christmas Eve", "Christmas Eve", date(2023, 12, 24)),
        ("friday after next", "friday after next", date(2024, 1, 19)),  # next Friday is the 12th
    ]


def mention(text, start, end, first, last, precision):
    return TimeMention(text, start, end, TimeRange(start=first, end=last, precision=precision))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "I went to a support group yesterday and we're going camping next month",
            [
                mention("yesterday", 26, 35, date(2023, 5, 7), date(2023, 5, 7), DAY),
                mention("next month", 60, 70, date(2023, 6, 1), date(2023, 6, 30), MONTH),
            ],
        ),
        ("May I join you in May?", [mention("May", 18, 21, date(2023, 5, 1), date(2023, 5, 31), MONTH)]),
        (
            "We met on 8 May, 2023 and again in the summer of 2022.",
            [
                mention("8 May, 2023", 10, 21, date(2023, 5, 8), date(2023, 5, 8), DAY),
                mention("the summer of 2022", 35, 53, date(2022, 6, 1), date(2022, 8, 31), SEASON),
            ],
        ),
        (
            "I go running every Tuesday, but last Tuesday I skipped it.",
            [mention("last Tuesday", 32, 44, date(2023, 5, 2), date(2023, 5, 2), DAY)],
        ),
        (
            "Back in 2019 we moved, and two years ago I started painting.",
            [
                mention("2019", 8, 12, date(2019, 1, 1), date(2019, 12, 31), YEAR),
                mention("two years ago", 27, 40, date(2021, 1, 1), date(2021, 12, 31), YEAR),
            ],
        ),
        (
            "My sister visited from March to June, mid-May was the best part.",
            [
                mention("from March to June", 18, 36, date(2023, 3, 1), date(2023, 6, 30), MONTH),
                mention("mid-May", 38, 45, date(2023, 5, 1), date(2023, 5, 31), MONTH),
            ],
        ),
        (
            "Today's the day! See you next Friday.",
            [
                mention("Today", 0, 5, date(2023, 5, 8), date(2023, 5, 8), DAY),
                mention("next Friday", 25, 36, date(2023, 5, 12), date(2023, 5, 12), DAY),
            ],
        ),
    ],
)
def test_find_time_expressions(text, expected):
    assert find_time_expressions(text, MON_8_MAY_2023) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I may go to the gym, I have 2022 reasons to.",
        "This may be the best weekend ever.",
        "We march on, no matter what.",
        "A few years ago I adopted a dog; the other day she learned a trick.",
        "In the last year I read 30 books, every Sunday.",
        "It cost $2022 and took 3 hours.",
        "I've been really into painting lately, it helps me relax and express myself.",
    ],
)
def test_find_time_expressions_ignores_what_only_looks_like_time(text):
    assert find_time_expressions(text, MON_8_MAY_2023) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-05-08T13:56:00+02:00", datetime(2023, 5, 8, 11, 56)),  # zone -> naive UTC
        ("2023-05-08T13:56:00Z", datetime(2023, 5, 8, 13, 56)),
        ("1:56 pm on 8 May, 2023", datetime(2023, 5, 8, 13, 56)),  # LoCoMo
        ("May 8, 2023 13:56", datetime(2023, 5, 8, 13, 56)),
        (0, datetime(1970, 1, 1)),
        (datetime(2023, 5, 8, 13, 56), datetime(2023, 5, 8, 13, 56)),
    ],
)
def test_parse_timestamp(value, expected):
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize("value", ["May 2023", "2023", "", "   ", "not a date", None])
def test_parse_timestamp_rejects_what_is_not_a_full_date(value):
    with pytest.raises(TimestampError):
        parse_timestamp(value)
