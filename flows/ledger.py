"""The ingest ledger: which version of which conversation file each group has ingested.

Scheduled ingest (flows/ingest.py) reads the same source folder again and again; the ledger
lets it read each version of a file once. It is a small SQLite file of its own (by default next
to the memory file, see `default_ledger_path`) holding one row per (group, file): the SHA-256
of the bytes last ingested, when, and what that ingest counted.

A file is recorded only after its write committed, so a file that failed (unreadable, or the
store was down) is tried again on the next run. The hash is taken before the file is loaded: a
file rewritten in between is seen as changed next time and read again, and the memory skips its
unchanged messages, so that costs a re-parse, never a duplicate.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from graphmem import open_sqlite
from graphmem.errors import InputError, RecordProblem

if TYPE_CHECKING:
    from graphmem.memory import IngestReport

CONVERSATION_FILE_PATTERNS = ("*.json", "*.jsonl", "*.ndjson")
"""What `source_files` picks up when no pattern is given: the formats `load_file` reads."""

FileStatus = Literal["new", "changed", "unchanged", "unreadable"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ingested_files (
    group_id TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL, ingested_at TEXT NOT NULL,
    conversations INTEGER NOT NULL, messages_read INTEGER NOT NULL, messages_unchanged INTEGER NOT NULL,
    messages_written INTEGER NOT NULL, messages_new INTEGER NOT NULL,
    entities INTEGER NOT NULL, events INTEGER NOT NULL, facts INTEGER NOT NULL, rejected INTEGER NOT NULL,
    PRIMARY KEY (group_id, path)) WITHOUT ROWID;
"""


def default_ledger_path(memory_path: Path) -> Path:
    """The ledger that sits next to a memory file: `memory.db` -> `memory.ledger.db`."""
    return memory_path.with_name(f"{memory_path.stem}.ledger.db")


def source_files(directory: str | Path, pattern: str | None = None) -> list[Path]:
    """The conversation files in `directory`, sorted: those matching the glob `pattern`
    (e.g. `"**/*.jsonl"`), or by default every `.json`, `.jsonl` and `.ndjson` file at its top level.

    Hidden files (names starting with a dot, as partial uploads often are) are left out.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise InputError(RecordProblem(str(folder), "source", "not a directory"))
    patterns = (pattern,) if pattern else CONVERSATION_FILE_PATTERNS
    found = {p for glob in patterns for p in folder.glob(glob) if p.is_file() and not p.name.startswith(".")}
    return sorted(p.absolute() for p in found)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class SourceFile:
    """A file of the source and how it compares with the ledger.

    `sha256` is None when the file cannot be read; it is still planned for ingest, so that
    loading it fails with a message naming the file and the reason.
    """

    path: Path
    sha256: str | None
    status: FileStatus


@dataclass(frozen=True)
class IngestPlan:
    """Every file of a source, classified against the ledger."""

    files: tuple[SourceFile, ...]

    @property
    def to_ingest(self) -> list[SourceFile]:
        return [f for f in self.files if f.status != "unchanged"]

    @property
    def unchanged(self) -> list[SourceFile]:
        return [f for f in self.files if f.status == "unchanged"]

    def describe(self) -> str:
        """E.g. `3 files: 1 new, 1 changed, 1 unchanged`."""
        counts = Counter(f.status for f in self.files)
        parts = [f"{counts[s]} {s}" for s in ("new", "changed", "unchanged", "unreadable") if counts[s]]
        return f"{len(self.files)} files" + (": " + ", ".join(parts) if parts else "")


@dataclass(frozen=True)
class LedgerEntry:
    """One ingested version of a file: its hash, when, and what the ingest counted."""

    group_id: str
    path: str
    sha256: str
    ingested_at: datetime
    conversations: int
    messages_read: int
    messages_unchanged: int  # already stored with the same content, so skipped
    messages_written: int  # new or changed: extracted and written
    messages_new: int  # of those, how many the memory did not hold before
    entities: int  # created by this ingest, like the two counts after it
    events: int
    facts: int
    rejected: int  # records of the file the loader rejected (see RecordProblem)

    @classmethod
    def from_report(cls, group_id: str, file: SourceFile, report: IngestReport, at: datetime) -> LedgerEntry:
        if file.sha256 is None:
            raise ValueError(f"{file.path} was not read, so it cannot be recorded")
        return cls(
            group_id=group_id, path=str(file.path), sha256=file.sha256, ingested_at=at,
            conversations=report.conversations, messages_read=report.messages_read,
            messages_unchanged=report.messages_skipped, messages_written=report.messages_read - report.messages_skipped,
            messages_new=report.written.messages,
            entities=report.written.entities, events=report.written.events, facts=report.written.facts,
            rejected=len(report.rejected),
        )

    def describe(self) -> str:
        """The counts in one line, for logs."""
        return (
            f"{self.messages_read} messages read: {self.messages_unchanged} unchanged, {self.messages_written} written "
            f"({self.messages_new} new); {self.entities} entities, {self.events} events, {self.facts} facts "
            f"created; {self.rejected} records rejected"
        )


_COLUMNS = [f.name for f in fields(LedgerEntry)]


class Ledger:
    """The ledger in one SQLite file; open one per thread or process (SQLite serialises writers)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._db = open_sqlite(self.path, _SCHEMA)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def plan(self, group_id: str, paths: list[Path]) -> IngestPlan:
        """Hash each file and compare with what `group_id` last ingested from that path."""
        recorded = {path: sha for path, sha in self._db.execute(
            "SELECT path, sha256 FROM ingested_files WHERE group_id = ?", (group_id,)
        )}
        planned = []
        for path in paths:
            try:
                sha = file_sha256(path)
            except OSError:
                planned.append(SourceFile(path, None, "unreadable"))
                continue
            previous = recorded.get(str(path))
            status: FileStatus = "new" if previous is None else "unchanged" if previous == sha else "changed"
            planned.append(SourceFile(path, sha, status))
        return IngestPlan(tuple(planned))

    def record(self, group_id: str, file: SourceFile, report: IngestReport, at: datetime | None = None) -> LedgerEntry:
        """Record that `file` (at the hash it was planned with) is now ingested into `group_id`."""
        entry = LedgerEntry.from_report(group_id, file, report, at or datetime.now(UTC))
        values = [getattr(entry, name) for name in _COLUMNS]
        values[_COLUMNS.index("ingested_at")] = entry.ingested_at.isoformat()
        self._db.execute(
            f"INSERT OR REPLACE INTO ingested_files ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
            values,
        )
        return entry

    def entries(self, group_id: str) -> list[LedgerEntry]:
        """What `group_id` has ingested, by path."""
        rows = self._db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM ingested_files WHERE group_id = ? ORDER BY path", (group_id,)
        )
        entries = []
        for row in rows:
            values = dict(zip(_COLUMNS, row, strict=True))
            values["ingested_at"] = datetime.fromisoformat(values["ingested_at"])
            entries.append(LedgerEntry(**values))
        return entries

    def forget(self, group_id: str) -> int:
        """Drop a group's records (as when its memory is deleted); returns how many there were."""
        return self._db.execute("DELETE FROM ingested_files WHERE group_id = ?", (group_id,)).rowcount


@dataclass(frozen=True)
class FailedFile:
    """A file an ingest could not take in, and why (naming the record and field where known)."""

    path: str
    error: str


@dataclass(frozen=True)
class IngestRun:
    """What one ingest run did with each file of its source."""

    group_id: str
    source: str
    ingested: tuple[LedgerEntry, ...] = ()
    unchanged: tuple[SourceFile, ...] = ()
    failed: tuple[FailedFile, ...] = ()

    def headline(self) -> str:
        """E.g. `2 files ingested (14 messages written), 1 unchanged, 1 failed`."""
        written = sum(e.messages_written for e in self.ingested)
        return (
            f"{len(self.ingested)} files ingested ({written} messages written), "
            f"{len(self.unchanged)} unchanged, {len(self.failed)} failed"
        )

    def markdown(self) -> str:
        """A report of the run: a table of ingested files with their counts, then failures."""
        lines = [f"# Ingest into `{self.group_id}` from `{self.source}`", "", self.headline(), ""]
        if self.ingested:
            lines += [
                "| file | messages read | unchanged | written | new | entities | events | facts | rejected |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            lines += [
                f"| `{Path(e.path).name}` | {e.messages_read} | {e.messages_unchanged} | {e.messages_written} "
                f"| {e.messages_new} | {e.entities} | {e.events} | {e.facts} | {e.rejected} |"
                for e in self.ingested
            ]
            lines.append("")
        if self.failed:
            lines += ["## Failed", ""] + [f"- `{Path(f.path).name}`: {f.error}" for f in self.failed] + [""]
        if self.unchanged:
            names = ", ".join(f"`{f.path.name}`" for f in self.unchanged)
            lines += [f"Unchanged since last ingested (skipped): {names}"]
        return "\n".join(lines)
