"""The Prefect flows, run for real against a temporary Prefect server and each store.

`prefect_test_harness` starts one local server for the session (~10-15 s). The slow test starts
a full `prefect server start` of its own, because only a full server runs the scheduler that
turns a served deployment's interval into flow runs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from flows import memory_config
from graphmem.errors import InputError, RecordProblem, StoreError
from flows.ledger import IngestRun, Ledger, default_ledger_path, source_files
from graphmem.memory import IngestReport, Memory
from graphmem.models import WriteCounts
from tests.conftest import STORE_KINDS

GROUP = "flows"
CONVERSATION = [
    ("m1", "Ann", "I adopted a puppy named Max in Boston last week."),
    ("m2", "Bob", "That's great! How is Max doing?"),
    ("m3", "Ann", "He loves the park near my office."),
]


def write_conversation(path: Path, turns=CONVERSATION, conversation_id: str = "c1", extra_records=()) -> Path:
    """A conversation file in the generic format; `extra_records` are appended to its messages raw."""
    messages = [
        {"id": mid, "speaker": speaker, "text": text, "timestamp": f"2023-05-08T13:5{i}:00"}
        for i, (mid, speaker, text) in enumerate(turns)
    ]
    body = {"conversation_id": conversation_id, "participants": ["Ann", "Bob"],
            "messages": messages + list(extra_records)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body))
    return path


# -- the ledger (flows.ledger), without Prefect ---------------------------------------------


def test_source_files_are_the_visible_conversation_files(tmp_path):
    for name in ("a.json", "b.jsonl", "c.ndjson", "notes.txt", ".partial.json", "sub/d.jsonl"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("{}")

    assert [p.name for p in source_files(tmp_path)] == ["a.json", "b.jsonl", "c.ndjson"]
    assert [p.name for p in source_files(tmp_path, "**/*.jsonl")] == ["b.jsonl", "d.jsonl"]
    with pytest.raises(InputError, match="not a directory"):
        source_files(tmp_path / "missing")


def test_the_ledger_plans_new_changed_unchanged_and_unreadable_files(tmp_path):
    same, edited, fresh = (write_conversation(tmp_path / f"{n}.json") for n in ("same", "edited", "fresh"))
    report = IngestReport(conversations=1, messages_read=3, written=WriteCounts(messages=3, entities=2))
    with Ledger(default_ledger_path(tmp_path / "memory.db")) as ledger:
        for file in ledger.plan(GROUP, [same, edited]).files:
            ledger.record(GROUP, file, report)
        edited.write_text(edited.read_text().replace("puppy", "kitten"))

        plan = ledger.plan(GROUP, [same, edited, fresh, tmp_path / "gone.json"])

        assert [(f.path.name, f.status) for f in plan.files] == [
            ("same.json", "unchanged"), ("edited.json", "changed"), ("fresh.json", "new"), ("gone.json", "unreadable"),
        ]
        assert [f.path.name for f in plan.to_ingest] == ["edited.json", "fresh.json", "gone.json"]
        assert plan.describe() == "4 files: 1 new, 1 changed, 1 unchanged, 1 unreadable"
        assert ledger.plan("another group", [same]).files[0].status == "new"  # groups keep separate ledgers
        [entry, _] = ledger.entries(GROUP)
        assert (entry.messages_written, entry.messages_new, entry.entities) == (3, 3, 2)

        assert ledger.forget(GROUP) == 2
        assert ledger.entries(GROUP) == []
    assert (tmp_path / "memory.ledger.db").exists()


# -- flows, against a temporary Prefect server ---------------------------------------------------


@pytest.fixture(scope="session")
def prefect_server():
    """A temporary Prefect server and database for the session's flow runs."""
    from prefect.testing.utilities import prefect_test_harness

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry calls from tests
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(params=STORE_KINDS)
def memory_settings(request, tmp_path, prefect_server) -> dict[str, str]:
    """The flow parameters that put a memory of each store kind (empty) and its ledger in tmp_path."""
    if request.param == "neo4j":
        request.getfixturevalue("neo4j_store")  # skips without a server; wipes its database
    return {"store": request.param, "memory_path": str(tmp_path / "memory.db"), "group_id": GROUP,
            "ledger_path": str(tmp_path / "ledger.db")}


def open_memory(settings: dict[str, str]) -> Memory:
    return Memory(memory_config(store=settings["store"], memory_path=settings["memory_path"], group_id=GROUP))


def run_ingest(inbox: Path, settings: dict[str, str]):
    """Run the ingest flow; returns its final state and its report (a Failed run has one too)."""
    from flows.ingest import ingest

    state = ingest(source=str(inbox), **settings, return_state=True)
    run = state.result(raise_on_failure=False)
    assert isinstance(run, IngestRun), state
    return state, run


def test_a_new_file_is_ingested_once(memory_settings, tmp_path):
    inbox = tmp_path / "inbox"
    write_conversation(inbox / "a.json")

    state, first = run_ingest(inbox, memory_settings)
    assert state.is_completed(), state.message
    [entry] = first.ingested
    assert Path(entry.path).name == "a.json"
    assert (entry.messages_read, entry.messages_written, entry.messages_new) == (3, 3, 3)
    with open_memory(memory_settings) as memory:
        stored = memory.counts()
    assert stored.messages == 3 and stored.entities > 0

    state, second = run_ingest(inbox, memory_settings)
    assert state.is_completed(), state.message
    assert second.ingested == () and [f.path.name for f in second.unchanged] == ["a.json"]
    with open_memory(memory_settings) as memory:
        assert memory.counts() == stored
    with Ledger(memory_settings["ledger_path"]) as ledger:
        assert ledger.entries(GROUP) == [entry]


def test_a_changed_file_writes_only_what_changed(memory_settings, tmp_path):
    inbox = tmp_path / "inbox"
    write_conversation(inbox / "a.json")
    run_ingest(inbox, memory_settings)

    edited = [CONVERSATION[0], ("m2", "Bob", "That's great! Is Max sleeping well?"), CONVERSATION[2],
              ("m4", "Bob", "Say hi to Max from me.")]
    write_conversation(inbox / "a.json", edited)
    state, run = run_ingest(inbox, memory_settings)

    assert state.is_completed(), state.message
    [entry] = run.ingested
    assert (entry.messages_read, entry.messages_unchanged, entry.messages_written, entry.messages_new) == (4, 2, 2, 1)
    with open_memory(memory_settings) as memory:
        texts = {m.source_id: m.text for m in memory.store.messages(GROUP)}
    assert texts == {mid: text for mid, _, text in edited}


def test_a_bad_file_fails_alone_with_a_clear_message(memory_settings, tmp_path):
    inbox = tmp_path / "inbox"
    no_text = {"id": "m9", "speaker": "Bob", "timestamp": "2023-05-08T14:00:00"}
    write_conversation(inbox / "good.json", extra_records=[no_text])
    (inbox / "bad.json").write_text('{"conversation_id": "c2", "messages": [\n')

    state, run = run_ingest(inbox, memory_settings)

    assert state.is_failed() and "bad.json" in state.message
    [failure] = run.failed
    assert Path(failure.path).name == "bad.json"
    assert "InputError" in failure.error and "bad.json:2: file: malformed JSON" in failure.error
    [entry] = run.ingested  # the good file, its one bad record rejected but not fatal
    assert (Path(entry.path).name, entry.messages_written, entry.rejected) == ("good.json", 3, 1)
    with open_memory(memory_settings) as memory:
        assert memory.counts().messages == 3
    with Ledger(memory_settings["ledger_path"]) as ledger:
        assert [Path(e.path).name for e in ledger.entries(GROUP)] == ["good.json"]  # bad.json is retried next run
    assert "bad.json" in (report := latest_artifact("ingest-flows")) and "good.json" in report


def latest_artifact(key: str) -> str:
    """The text of the newest artifact under `key`, read from the API directly: Prefect 3.8.8's own
    readers (Artifact.get, read_artifacts) send null fields that its server rejects (HTTP 422)."""
    from prefect.settings import PREFECT_API_URL

    body = {"artifacts": {"key": {"any_": [key]}}, "sort": "UPDATED_DESC", "limit": 1}
    [artifact] = httpx.post(f"{PREFECT_API_URL.value()}/artifacts/filter", json=body).raise_for_status().json()
    return artifact["data"]


def test_forget_group_empties_the_memory_and_the_ledger(memory_settings, tmp_path):
    from flows.maintenance import forget_group

    inbox = tmp_path / "inbox"
    write_conversation(inbox / "a.json")
    run_ingest(inbox, memory_settings)

    held = forget_group(**memory_settings)

    assert held.messages == 3
    with open_memory(memory_settings) as memory:
        assert memory.counts().messages == 0
    _, again = run_ingest(inbox, memory_settings)  # the ledger forgot too, so the file comes back
    assert [e.messages_new for e in again.ingested] == [3]


def test_consolidate_finds_scenes_and_personas_then_rebuilds_the_search_index(memory_settings, tmp_path):
    from flows.consolidate import consolidate

    inbox = tmp_path / "inbox"
    write_conversation(inbox / "a.json")
    run_ingest(inbox, memory_settings)

    report = consolidate(GROUP, store=memory_settings["store"], memory_path=memory_settings["memory_path"])

    with open_memory(memory_settings) as memory:
        assert (report.index.messages, report.index.entities) == (3, len(memory.entities()))
        assert report.consolidation.scenes == len(memory.scenes()) > 0
    again = consolidate(GROUP, store=memory_settings["store"], memory_path=memory_settings["memory_path"])
    assert (again.consolidation.full, again.consolidation.new_items) == (False, 0)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (StoreError("cannot reach the store", transient=True), True),
        (StoreError("the server refused user 'neo4j'"), False),
        (InputError(RecordProblem("a.json", "file", "malformed JSON")), False),
        (ValueError("bug"), False),
    ],
)
def test_writes_are_retried_on_transient_store_errors_only(error, transient):
    from flows.ingest import is_transient_store_error

    assert is_transient_store_error(error) is transient


# -- serving on a schedule ----------------------------------------------------------------------

SERVE_INTERVAL_SECONDS = 5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout: float, what: str, poll: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(poll)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def stop(process: subprocess.Popen, sig: int, timeout: float) -> int | None:
    """Send `sig`, wait up to `timeout` s; kill if still alive. Returns the exit code after `sig`."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


@pytest.mark.slow
def test_graphmem_serve_ingests_what_lands_in_the_inbox(tmp_path):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": api,
        "PREFECT_UI_ENABLED": "false", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",  # the runner looks for due runs every second, not 10
    }
    inbox, memory_path = tmp_path / "inbox", tmp_path / "memory.db"
    inbox.mkdir()
    bin_dir = Path(sys.executable).parent
    server = subprocess.Popen(
        [bin_dir / "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    serve, serve_log = None, tmp_path / "serve.log"
    try:
        wait_until(lambda: _answers(f"{api}/health"), 60, "the Prefect server")
        with serve_log.open("w") as log:
            serve = subprocess.Popen(
                [bin_dir / "graphmem", "--path", str(memory_path), "--group", GROUP,
                 "serve", "--inbox", str(inbox), "--interval", str(SERVE_INTERVAL_SECONDS)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        wait_until(lambda: serve.poll() is not None or _answers(f"{api}/deployments/name/ingest/graphmem"), 60,
                   "the served deployments")
        assert serve.poll() is None, serve_log.read_text()

        write_conversation(inbox / "a.json")
        dropped = time.monotonic()
        wait_until(lambda: _stored_messages(memory_path) == 3, SERVE_INTERVAL_SECONDS + 40,
                   f"the file's messages; serve's log:\n{serve_log}")
        print(f"ingested {time.monotonic() - dropped:.1f} s after the file landed")

        assert stop(serve, signal.SIGINT, timeout=5) == 0  # Ctrl-C (SIGTERM too: see the test below)
    finally:
        if serve is not None:
            stop(serve, signal.SIGTERM, timeout=20)
        stop(server, signal.SIGTERM, timeout=15)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _stored_messages(memory_path: Path) -> int:
    if not memory_path.exists():
        return 0
    with Memory(memory_config(memory_path=str(memory_path), group_id=GROUP)) as memory:
        return memory.counts().messages


# -- stopping `graphmem serve` -------------------------------------------------------------------


class OutputLines:
    """A process's merged stdout and stderr, line by line, read by a thread: tests wait for a line
    (an event), never for a guessed number of seconds."""

    def __init__(self, process: subprocess.Popen):
        import queue
        import threading

        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._reader.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float) -> str:
        import queue

        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"the process ended before printing {text!r}:\n{''.join(self.lines)}")
            self.lines.append(line)
            if text in line:
                return line
        pytest.fail(f"no line with {text!r} within {timeout:.0f} s:\n{''.join(self.lines)}")

    def rest(self) -> str:
        self._reader.join(timeout=10)
        while (line := self._queue.get_nowait() if not self._queue.empty() else None) is not None:
            self.lines.append(line)
        return "".join(self.lines)


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["while starting", "while serving", "as a flow run finishes"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_graphmem_serve_stops_cleanly_whenever_the_signal_lands(prefect_server, tmp_path, sig, moment):
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_RUNNER_POLL_FREQUENCY": "1",
           "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [Path(sys.executable).parent / "graphmem", "--path", str(tmp_path / "m.db"), "--group", GROUP, "serve",
         "--name", f"stop-{sig.name.lower()}-{moment.split()[-1]}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = OutputLines(process)
    try:
        output.wait_for("graphmem serve: starting Prefect", 60)  # the child imports Prefect from here on
        if moment != "while starting":
            output.wait_for("graphmem serve: serving", 120)
            output.wait_for("deployments are being served", 120)  # Prefect registered them
        if moment == "as a flow run finishes":
            from prefect.deployments import run_deployment

            run_deployment(f"rebuild-index/stop-{sig.name.lower()}-finishes", timeout=0)
            output.wait_for("Finished in state", 120)
        process.send_signal(sig)
        code = process.wait(timeout=60)  # a serve that does not stop on the signal fails here
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = output.rest()
    assert code == 0, text
    assert "Traceback" not in text and "graphmem serve: stopped" in text, text
