"""Flow `ingest`: take new and changed conversation files from a folder into the memory.

    plan-ingest                    hash every file of the source, compare with the ledger
    load-file (per file)           read and validate; rejected records are logged and counted
    extract-and-write (per file)   spaCy extraction and an idempotent store write, then the
                                   ledger records the file; retried on transient store errors

Unchanged files are skipped by content hash (flows.ledger), and within a changed file the
memory skips messages already stored unchanged, so a changed file writes only what changed.

A file that cannot be read fails its own task with a message naming the file, record and field;
the other files are still ingested and recorded. The run then ends Failed (so that schedules and
notifications surface the bad file) with the full report as its result; otherwise Completed.
A failed file is not recorded, so it is tried again on every run until it is fixed or removed.

Task runner: a thread pool of two (INGEST_WORKERS). Measured on 2 cores, 4 files x 250 LoCoMo
turns: one thread 7.2-8.2 s, two threads 6.2-6.7 s, a process pool of two 17.9 s; 3 files x 10
turns: 1.1 s with threads, 12.1 s with processes. spaCy is CPU-bound and mostly holds the GIL, so
threads gain little CPU, but they overlap one file's load and write with another's extraction at
no start-up cost. A process pool spawns workers that import Prefect and load spaCy afresh on
every run, which costs more than it saves at inbox scale; a single conversation of 800+ messages
is already parsed on two processes by the library (graphmem.extraction.spacy_pipeline).
Files written at once may share entities: node ids are deterministic and each write is one
upsert transaction, so they meet in one node, never two.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import exponential_backoff

from flows import StoreKind, artifact_key, memory_config
from flows.ledger import (
    FailedFile, IngestPlan, IngestRun, Ledger, LedgerEntry, SourceFile, default_ledger_path, source_files,
)
from graphmem import Config, LoadedFile, Memory, StoreError, load_file

INGEST_WORKERS = 2
"""Files extracted and written at once within a flow run (see the module docstring)."""

WRITE_RETRIES = 3
WRITE_RETRY_DELAYS = exponential_backoff(backoff_factor=2)(WRITE_RETRIES)  # 2, 4, 8 seconds, jittered


def is_transient_store_error(exc: BaseException) -> bool:
    """Whether a failed write may succeed if tried again: the store was unreachable or busy.

    Every store raises `StoreError` and says whether it is transient; bad input is never retried:
    it fails the same way every time.
    """
    return isinstance(exc, StoreError) and exc.transient


def _retry_on_transient_store_error(task, task_run, state: State) -> bool:
    return is_transient_store_error(state.result(raise_on_failure=False))


@task(name="plan-ingest", task_run_name="plan {group_id} <- {source}", cache_policy=NO_CACHE)
def plan_ingest(source: str, pattern: str | None, group_id: str, ledger_path: Path) -> IngestPlan:
    """Which files of the source are new or changed since the group last ingested them."""
    with Ledger(ledger_path) as ledger:
        plan = ledger.plan(group_id, source_files(source, pattern))
    get_run_logger().info("%s: %s", source, plan.describe())
    return plan


@task(name="load-file", task_run_name="load {file.path.name}", cache_policy=NO_CACHE)
def load_conversation_file(file: SourceFile, max_message_chars: int) -> LoadedFile:
    """Read and validate one file; raises InputError when the whole file is unreadable."""
    logger = get_run_logger()
    loaded = load_file(file.path, max_message_chars=max_message_chars)
    for problem in loaded.problems:
        logger.warning("rejected record: %s", problem)
    logger.info(
        "%s: %d conversations, %d valid messages, %d records rejected",
        file.path.name, len(loaded.conversations), loaded.message_count, len(loaded.problems),
    )
    return loaded


@task(
    name="extract-and-write",
    task_run_name="extract+write {file.path.name} -> {config.group_id}",
    retries=WRITE_RETRIES,
    retry_delay_seconds=WRITE_RETRY_DELAYS,
    retry_jitter_factor=0.5,
    retry_condition_fn=_retry_on_transient_store_error,
    cache_policy=NO_CACHE,
)
def extract_and_write(file: SourceFile, loaded: LoadedFile, config: Config, ledger_path: Path) -> LedgerEntry:
    """Extract the file's changed messages, write them, and record the file in the ledger."""
    with Memory(config) as memory:
        report = memory.ingest(loaded)  # the file is the truth for its conversations
    with Ledger(ledger_path) as ledger:
        entry = ledger.record(config.group_id, file, report)
    get_run_logger().info("%s -> %s: %s", file.path.name, config.group_id, entry.describe())
    return entry


def _ingest_run_name() -> str:
    """E.g. `ingest inbox -> default`: the source folder and the group."""
    parameters = flow_run.parameters
    return f"ingest {Path(parameters['source']).name} -> {parameters.get('group_id') or memory_config().group_id}"


@flow(name="ingest", flow_run_name=_ingest_run_name, task_runner=ThreadPoolTaskRunner(max_workers=INGEST_WORKERS))
def ingest(
    source: str,
    pattern: str | None = None,
    group_id: str | None = None,
    store: StoreKind | None = None,
    memory_path: str | None = None,
    ledger_path: str | None = None,
) -> State[IngestRun]:
    """Ingest the new and changed conversation files of the folder `source`.

    `pattern` is a glob within it (default: every .json, .jsonl, .ndjson at its top level).
    `group_id`, `store` and `memory_path` override graphmem's configuration (graphmem.toml,
    GRAPHMEM_* variables). The ledger defaults to the file next to the memory file.
    """
    config = memory_config(store=store, memory_path=memory_path, group_id=group_id)
    ledger = Path(ledger_path) if ledger_path else default_ledger_path(config.path)
    plan = plan_ingest(source, pattern, config.group_id, ledger)

    writes: dict[SourceFile, tuple[PrefectFuture[LoadedFile], PrefectFuture[LedgerEntry]]] = {}
    for file in plan.to_ingest:
        loaded = load_conversation_file.submit(file, config.max_message_chars)
        writes[file] = (loaded, extract_and_write.submit(file, loaded, config, ledger))

    ingested, failed = [], []
    for file, (loaded, written) in writes.items():
        written.wait()
        if written.state.is_completed():
            ingested.append(written.result())
        else:
            failed_step = loaded if not loaded.state.is_completed() else written
            failed.append(FailedFile(str(file.path), _error_text(failed_step.state)))
    run = IngestRun(config.group_id, source, tuple(ingested), tuple(plan.unchanged), tuple(failed))

    logger = get_run_logger()
    for failure in run.failed:
        logger.error("failed: %s", failure.error)
    logger.info("%s", run.headline())
    create_markdown_artifact(run.markdown(), key=artifact_key("ingest", config.group_id), description=run.headline())
    if run.failed:
        names = ", ".join(Path(f.path).name for f in run.failed)
        return Failed(message=f"failed: {names}; {run.headline()}", data=run)
    return Completed(message=run.headline(), data=run)


def _error_text(state: State) -> str:
    """The exception a failed task raised, as text (graphmem's errors name file, record and field)."""
    error = state.result(raise_on_failure=False)
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return state.message or state.name
