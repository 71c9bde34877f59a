"""Time-expression resolvers side by side: graphmem, its rules alone, Duckling and dateparser.

    .venv/bin/pip install -e '.[bench]'      # dateparser, for its column
    .venv/bin/python bench/time_expressions.py [--table bench/data/time_expressions.tsv] [--markdown]

The table (bench/data/time_expressions.tsv; its header says where each row comes from) holds
expressions with the span a careful reader expects: Duckling's English corpus (its own expected
values, reference Tue 2013-02-12 04:30) and expressions from LoCoMo and REALTALK messages, labelled
by hand with graphmem's conversation conventions. Per source and resolver:

- right: the resolved start and end are the expected ones (or nothing, where nothing definite is meant);
- different: a span other than the expected one (or one where nothing definite is meant);
- unresolved: nothing, where a span was expected;
- ms: mean milliseconds per row (the whole message is read by graphmem and Duckling, the bare
  expression by dateparser), Duckling's start-up excluded and its cache emptied first.

graphmem, its rules and Duckling read the row's context (the message) when there is one and are
judged by the reading that overlaps the expression most; dateparser reads the expression alone, as it
parses whole strings. Timings on a shared machine: compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from graphmem import temporal
from graphmem.models import TimeRange

DEFAULT_TABLE = Path(__file__).resolve().parent / "data" / "time_expressions.tsv"
Span = tuple[date, date]


@dataclass(frozen=True)
class Row:
    source: str
    reference: datetime
    expression: str
    context: str
    expected: Span | None

    @property
    def text(self) -> str:
        return self.context or self.expression

    @property
    def where(self) -> tuple[int, int]:
        start = self.text.index(self.expression)
        return start, start + len(self.expression)


def load_rows(path: Path) -> list[Row]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    rows = []
    for record in csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE):
        expected = (date.fromisoformat(record["start"]), date.fromisoformat(record["end"])) if record["start"] else None
        rows.append(Row(record["source"], datetime.fromisoformat(record["reference"]), record["expression"],
                        record["context"], expected))  # fmt: skip
    return rows


def _overlapping(readings: list[tuple[int, int, TimeRange]], row: Row) -> Span | None:
    """The reading that overlaps the row's expression most, as a span."""
    start, end = row.where
    best = max(readings, key=lambda reading: min(end, reading[1]) - max(start, reading[0]), default=None)
    if best is None or min(end, best[1]) <= max(start, best[0]):
        return None
    return best[2].start, best[2].end


def graphmem_resolver(row: Row) -> Span | None:
    found = temporal.find_time_expressions(row.text, row.reference)
    return _overlapping([(m.start, m.end, m.time) for m in found], row)


def rules_resolver(row: Row) -> Span | None:
    readings = temporal.rule_readings(row.text, row.reference)
    return _overlapping([(start, end, time) for start, end, time in readings if time is not None], row)


def duckling_resolver(row: Row) -> Span | None:
    found = temporal.duckling_readings(row.text, row.reference)
    return _overlapping([(m.start, m.end, m.time) for m in found], row)


def dateparser_resolver() -> Callable[[Row], Span | None]:
    from dateparser.date import DateDataParser

    def resolve(row: Row) -> Span | None:
        parser = DateDataParser(
            languages=["en"],
            settings={
                "RELATIVE_BASE": row.reference,
                "RETURN_TIME_AS_PERIOD": True,
                "PREFER_DATES_FROM": "current_period",
            },
        )
        data = parser.get_date_data(row.expression)
        if data.date_obj is None:
            return None
        day = data.date_obj.date()
        if data.period == "week":
            monday = day - timedelta(days=day.weekday())
            return monday, monday + timedelta(days=6)
        if data.period == "month":
            month = temporal._month(day.year, day.month)
            return month.start, month.end
        if data.period == "year":
            return date(day.year, 1, 1), date(day.year, 12, 31)
        return day, day

    return resolve


def score(rows: list[Row], resolve: Callable[[Row], Span | None]) -> tuple[dict[str, Counter], dict[str, float]]:
    """Per source: counts of right / different / unresolved, and mean ms per row."""
    counts: dict[str, Counter] = defaultdict(Counter)
    seconds: dict[str, float] = defaultdict(float)
    temporal._duckling_parse.cache_clear()
    for row in rows:
        began = time.perf_counter()
        got = resolve(row)
        seconds[row.source] += time.perf_counter() - began
        if got == row.expected:
            counts[row.source]["right"] += 1
        elif got is None:
            counts[row.source]["unresolved"] += 1
        else:
            counts[row.source]["different"] += 1
    sizes = Counter(row.source for row in rows)
    return counts, {source: 1000 * seconds[source] / sizes[source] for source in sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table (for the README)")
    args = parser.parse_args()
    rows = load_rows(args.table)
    temporal.duckling_readings("warm up", datetime(2013, 2, 12))  # Duckling's start-up is not timed
    resolvers = {"graphmem": graphmem_resolver, "graphmem rules alone": rules_resolver,
                 "Duckling": duckling_resolver, "dateparser": dateparser_resolver()}  # fmt: skip
    results = {name: score(rows, resolve) for name, resolve in resolvers.items()}
    sources = list(dict.fromkeys(row.source for row in rows))
    sizes = Counter(row.source for row in rows)
    header = ["source", "resolver", "right", "different", "unresolved", "ms"]
    lines = []
    for source in [*sources, "all"]:
        for name, (counts, ms) in results.items():
            picked = sources if source == "all" else [source]
            total = sum(sizes[s] for s in picked)
            tally = sum((counts[s] for s in picked), Counter())
            mean_ms = sum(ms[s] * sizes[s] for s in picked) / total
            lines.append([f"{source} ({total})", name, *(f"{100 * tally[k] / total:.1f}%" for k in
                          ("right", "different", "unresolved")), f"{mean_ms:.3f}"])  # fmt: skip
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines:
            print("| " + " | ".join(line) + " |")
        return
    table = Table(*header, title=f"Time expressions ({len(rows)} rows)")
    for line in lines:
        table.add_row(*line)
    Console().print(table)


if __name__ == "__main__":
    main()
