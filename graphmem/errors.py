"""Errors graphmem raises, each naming what went wrong and where."""

from __future__ import annotations

from dataclasses import dataclass


class GraphmemError(Exception):
    """Base of every error graphmem raises on purpose."""


@dataclass(frozen=True)
class RecordProblem:
    """One rejected input record: the file, the record, the field and what is wrong with it."""

    file: str
    record: str
    problem: str
    field: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = f", field '{self.field}'" if self.field else ""
        return f"{where}: {self.record}{field}: {self.problem}"


class InputError(GraphmemError):
    """A whole input file cannot be read (not UTF-8, not JSON, empty, or of no known format)."""

    def __init__(self, problem: RecordProblem):
        super().__init__(str(problem))
        self.problem = problem


class StoreError(GraphmemError):
    """The store cannot be reached or used; the message says how to fix it.

    `transient` is True when the same call may succeed later (the server was unreachable or
    busy), False when it will fail the same way again (refused credentials, a value the store
    cannot hold): schedulers retry only the former.
    """

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class ConfigError(GraphmemError):
    """A configuration value is missing or invalid."""


class GroupIdError(ConfigError, ValueError):
    """A tenant id (`group_id`) that is not valid (see `graphmem.models.check_group_id`).

    Also a `ValueError`, so that pydantic reports it as a validation error of `Config.group_id`.
    """


class LLMError(GraphmemError):
    """The LLM endpoint could not be used (unreachable, refusing, failing after retries) or broke its schema."""
