"""The LLM path without a server: prompts, schemas and parsing of recorded replies; retries, fallback, cache.

Replies in tests/llm_replies/ were recorded from llama-cpp-python's server (0.3.36, Gemma 3 270M
Q4_K_M, `--chat_format gemma`, forced tool call) on the bundled sample conversation: a valid reply
for its first turn, a reply for its first three turns cut off at max_tokens (invalid JSON, turn m1
given twice), the server's refusal of `response_format` json_schema, and an answer. Replies for
several turns are built from the one-turn recording (`reply_for_turns`), and malformed ones are
those with one thing broken. The only fake here is
`FakeOpenAIEndpoint`, an `httpx2.MockTransport` standing for a paid OpenAI-compatible API; the
real-server tests are in tests/test_llm_server.py.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import httpx2
import pytest

from graphmem import Config, ConfigError, Memory
from graphmem.errors import LLMError
from graphmem.extraction.spacy_pipeline import SpacyExtractor
from graphmem.llm import client as client_module
from graphmem.llm.answering import DONT_KNOW, answer_schema, parse_answer_reply
from graphmem.llm.cache import ExtractionCache, extraction_cache_key
from graphmem.llm.client import LLMClient, LLMSettings, backoff_delay, reply_text
from graphmem.llm.extraction_prompt import extraction_prompt, extraction_schema, parse_extraction_reply, turn_ids
from graphmem.llm.extractor import LLMExtractor
from graphmem.ingest.loaders import load_file
from graphmem.models import Evidence
from tests.conftest import SAMPLE

REPLIES = Path(__file__).parent / "llm_replies"
LLM_ENV = ("OPENAI_BASE_URL", "OPENAI_API_KEY", "GRAPHMEM_LLM_BASE_URL", "GRAPHMEM_LLM_API_KEY", "GRAPHMEM_LLM_MODEL",
           "GRAPHMEM_EXTRACTOR")


@pytest.fixture(autouse=True)
def no_llm_environment(monkeypatch):
    """Whatever the developer's shell says, these tests configure the LLM themselves."""
    for name in LLM_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def sample():
    return load_file(SAMPLE).conversations[0]


@pytest.fixture(scope="module")
def first_turns(sample):
    return sample.messages[:3]


def recorded(name: str) -> dict:
    return json.loads((REPLIES / name).read_text())


def reply_for_turns(*turn_ids: str) -> dict:
    """The recorded one-turn completion, its turn item repeated under each of `turn_ids`."""
    completion = recorded("extraction_one_turn.json")
    [item] = arguments_of(completion)["messages"]
    return with_arguments(completion, json.dumps({"messages": [{**item, "id": i} for i in turn_ids]}))


def with_arguments(completion: dict, arguments: str) -> dict:
    """A recorded tool-call completion whose arguments (the model's JSON) are replaced."""
    changed = copy.deepcopy(completion)
    changed["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = arguments
    return changed


def arguments_of(completion: dict) -> dict:
    return json.loads(completion["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])


class FakeOpenAIEndpoint:
    """A fake of a paid OpenAI-compatible API (an httpx2.MockTransport): answers each request in turn
    with the next scripted (status, body), and keeps the requests it got."""

    def __init__(self, *replies: tuple[int, dict] | Callable[[dict], tuple[int, dict]]):
        self.replies = list(replies)
        self.requests: list[dict] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        if not self.replies:
            raise AssertionError(f"unexpected request #{len(self.requests)} to {request.url}")
        reply = self.replies.pop(0)
        status, payload = reply(body) if callable(reply) else reply
        return httpx2.Response(status, json=payload)

    def client(self, delays: list[float] | None = None) -> LLMClient:
        http_client = httpx2.Client(transport=httpx2.MockTransport(self.handle))
        sleep = delays.append if delays is not None else (lambda seconds: None)
        settings = LLMSettings("http://llm.test/v1", "test-key", "gemma-3-270m")
        return LLMClient(settings, http_client=http_client, sleep=sleep)


REFUSED = (500, recorded("json_schema_refused.json"))  # llama-cpp-python's answer to response_format json_schema


# -- prompt and schema -----------------------------------------------------------------------


def test_prompt_shows_each_turn_with_id_time_and_speaker(sample, first_turns):
    [message] = extraction_prompt(sample, first_turns)
    assert message["role"] == "user"
    assert "m1 | 2024-03-11 18:02 (Mon) | Ana: Hi Ben! I started a new job at Lumen Labs" in message["content"]
    assert "m3 | 2024-03-11 18:05 (Mon) | Ana: She did!" in message["content"]
    assert '"you/your" is the other one (Ana or Ben)' in message["content"]


def test_schema_is_strict_mode_compatible_and_lists_the_batch_ids():
    schema = extraction_schema(["m1", "m2"])

    def objects(node):
        if isinstance(node, dict):
            if node.get("type") == "object":
                yield node
            for value in node.values():
                yield from objects(value)

    for node in objects(schema):
        assert node["additionalProperties"] is False and node["required"] == list(node["properties"])
    turns = schema["properties"]["messages"]
    assert (turns["minItems"], turns["maxItems"]) == (2, 2)
    assert turns["items"]["properties"]["id"]["enum"] == ["m1", "m2"]


# -- parsing recorded extraction replies -------------------------------------------------------


def test_recorded_reply_parses_into_the_extraction_contract(sample):
    first_turn = sample.messages[:1]
    reply = recorded("extraction_one_turn.json")
    parsed = parse_extraction_reply(reply_text_of(reply), sample, first_turn)
    assert parsed.failures == {} and parsed.ignored == ()
    extraction = parsed.extractions["s1-1"]
    assert extraction.message_id == "s1-1"
    assert [e.name for e in extraction.entities][:2] == ["Ana", "Ben"] and len(extraction.events) == 4
    # the model wrote "yesterday" and "last May"; the turn says neither, so no time is kept
    assert {e.time_text for e in extraction.events} == {None} and {e.time for e in extraction.events} == {None}


def test_recorded_reply_cut_off_at_max_tokens_fails_every_turn(sample, first_turns):
    parsed = parse_extraction_reply(reply_text_of(recorded("extraction_three_turns_cut_off.json")), sample, first_turns)
    assert parsed.extractions == {}
    assert set(parsed.failures) == {"s1-1", "s1-2", "s1-3"}
    assert all(why.startswith("reply is not valid JSON: Unterminated string") for why in parsed.failures.values())


def reply_text_of(completion: dict) -> str:
    return completion["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]


def test_times_are_resolved_by_graphmem_not_the_model_and_pronouns_by_speaker(sample, first_turns):
    reply = {"messages": [
        {"id": "m1", "entities": [{"name": "Lumen Labs", "type": "organization", "mention": "Lumen Labs"}],
         "events": [{"predicate": "Start", "summary": "Ana started a new job at Lumen Labs.",
                     "participants": [{"name": "I", "role": "agent"}, {"name": "Lumen Labs", "role": "destination"}],
                     "time_text": "last week", "place": None}],
         "relations": [{"subject": "me", "predicate": "works as", "object": "data engineer",
                        "fact": "Ana works as a data engineer.", "time_text": "in 1999"}]},
        {"id": "m2", "entities": [{"name": "your sister", "type": "person", "mention": "your sister"}],
         "events": [], "relations": []},
        {"id": "m3", "entities": [], "events": [], "relations": []},
    ]}
    parsed = parse_extraction_reply(json.dumps(reply), sample, first_turns)
    first = parsed.extractions["s1-1"]
    [event] = first.events
    assert event.predicate == "start" and [(p.name, p.role) for p in event.participants] == [
        ("Ana", "agent"), ("Lumen Labs", "destination")]
    assert (event.time.start, event.time.end) == (date(2024, 3, 4), date(2024, 3, 10))
    assert event.time.precision.value == "week"
    [relation] = first.relations
    assert relation.subject == "Ana" and relation.valid is None  # "in 1999" is not in the turn: ignored
    assert [e.name for e in parsed.extractions["s1-2"].entities] == ["Ana's sister"]  # Ben speaks to Ana


@pytest.mark.parametrize(
    ("arguments", "why"),
    [
        ('{"messages": [{"id": "m1", "entities": [', "reply is not valid JSON"),
        ('{"turns": []}', 'reply is not an object with a "messages" list'),
        ("", "reply is not valid JSON"),
    ],
)
def test_unreadable_reply_fails_every_turn(sample, first_turns, arguments, why):
    parsed = parse_extraction_reply(arguments, sample, first_turns)
    assert parsed.extractions == {}
    assert set(parsed.failures) == {"s1-1", "s1-2", "s1-3"}
    assert all(reason.startswith(why) for reason in parsed.failures.values())


def test_schema_violations_unknown_ids_and_missing_turns_fail_only_those_turns(sample, first_turns):
    reply = arguments_of(reply_for_turns("m1", "m2", "m3"))
    turns = reply["messages"]
    turns[0]["entities"] = [{"name": "Lumen Labs", "type": "company", "mention": "Lumen Labs"}]  # not an entity type
    del turns[1]["events"]  # a required field missing
    turns[2]["id"] = "m7"  # no such turn: ignored, so m3 is missing
    parsed = parse_extraction_reply(json.dumps(reply), sample, first_turns)
    assert parsed.extractions == {}
    assert parsed.failures["s1-1"].startswith("turn m1 does not match the schema: entities.0.type")
    assert parsed.failures["s1-2"] == "turn m2 does not match the schema: events: Field required"
    assert parsed.failures["s1-3"] == "turn m3 is missing from the reply"
    assert parsed.ignored == ("messages[2]: id 'm7' is not a turn of this batch",)


# -- the extractor: fallback, cache, usage ------------------------------------------------------


def extractor_for(endpoint: FakeOpenAIEndpoint, tmp_path: Path, batch_size: int = 3) -> LLMExtractor:
    return LLMExtractor(
        endpoint.client(), fallback=SpacyExtractor(), cache=ExtractionCache(tmp_path / "llm-cache.db"),
        batch_size=batch_size, concurrency=2,
    )


def test_invalid_turns_fall_back_to_spacy_and_are_not_cached(sample, first_turns, tmp_path, caplog):
    reply = reply_for_turns("m1", "m2", "m3")
    broken = arguments_of(reply)
    broken["messages"][1]["entities"] = "Maya"  # schema-violating: not a list
    endpoint = FakeOpenAIEndpoint(REFUSED, (200, with_arguments(reply, json.dumps(broken))))
    extractor = extractor_for(endpoint, tmp_path)
    with caplog.at_level("WARNING", logger="graphmem.llm.extractor"):
        results = list(extractor.extract(sample, first_turns))
    spacy = list(SpacyExtractor().extract(sample, first_turns))
    assert [r.message_id for r in results] == ["s1-1", "s1-2", "s1-3"]
    assert results[1] == spacy[1]
    assert "fell back to spaCy for 1 turn(s) of conversation sample-ana-ben: s1-2: turn m2 does not" in caplog.text
    usage = extractor.usage
    assert (usage.calls, usage.fallback_messages, usage.cached_messages) == (2, 1, 0)
    assert usage.prompt_tokens == reply["usage"]["prompt_tokens"]
    assert usage.completion_tokens == reply["usage"]["completion_tokens"]
    # the two valid turns were cached, the fallen-back one is asked again (alone)
    again = FakeOpenAIEndpoint(REFUSED, (200, reply_for_turns("m1", "m2")))
    second = extractor_for(again, tmp_path)
    list(second.extract(sample, first_turns))
    assert second.usage.cached_messages == 2
    asked = again.requests[-1]["messages"][0]["content"]
    assert "m1 | 2024-03-11 18:04 (Mon) | Ben:" in asked and "m2 |" not in asked  # s1-2 alone


def test_cache_hit_makes_no_call_and_keeps_message_ids(sample, first_turns, tmp_path):
    first = extractor_for(FakeOpenAIEndpoint(REFUSED, (200, reply_for_turns("m1", "m2", "m3"))), tmp_path)
    fresh = list(first.extract(sample, first_turns))
    silent = FakeOpenAIEndpoint()  # any request fails the test
    cached = extractor_for(silent, tmp_path)
    assert list(cached.extract(sample, first_turns)) == fresh
    assert silent.requests == [] and cached.usage.cached_messages == 3 and cached.usage.calls == 0



def test_cache_keys_of_turns_differ_whatever_characters_their_text_holds(sample):
    """Participants, speaker and text are hashed as distinct fields: no text can pass for another
    split of them (a separator character inside a name or text makes no collision)."""
    turn = sample.messages[0]
    ann_bob = sample.model_copy(update={"participants": ("Ann", "Bob")})
    merged = sample.model_copy(update={"participants": ("Ann\x1fBob",)})
    assert extraction_cache_key("v", "m", ann_bob, turn) != extraction_cache_key("v", "m", merged, turn)
    split = turn.model_copy(update={"speaker": "Ann\x1f" + turn.ts.isoformat(), "text": "x"})
    joined = turn.model_copy(update={"speaker": "Ann", "text": turn.ts.isoformat() + "\x1fx"})
    assert extraction_cache_key("v", "m", sample, split) != extraction_cache_key("v", "m", sample, joined)
    assert extraction_cache_key("v", "m", sample, turn) == extraction_cache_key("v", "m", sample, turn.model_copy())

def test_batches_come_back_in_turn_order(sample, tmp_path):
    def reply_for(request: dict) -> tuple[int, dict]:
        prompt = request["messages"][0]["content"]
        ids = [line.split(" |")[0] for line in prompt.splitlines() if line.startswith("m") and " | " in line]
        empty = {"messages": [{"id": i, "entities": [], "events": [], "relations": []} for i in ids]}
        return 200, with_arguments(recorded("extraction_one_turn.json"), json.dumps(empty))

    messages = sample.messages
    endpoint = FakeOpenAIEndpoint(REFUSED, *[reply_for] * 4)
    extractor = extractor_for(endpoint, tmp_path, batch_size=4)
    results = list(extractor.extract(sample, messages))
    assert [r.message_id for r in results] == [m.id for m in messages]
    assert extractor.usage.calls == 4 and extractor.usage.fallback_messages == 0  # 12 turns, 3 batches, 1 probe


# -- the client: structured output, retries ----------------------------------------------------


OPENAI_STYLE_REFUSAL = (400, {"error": {"message": "Invalid schema for response_format 'x'",
                                         "type": "invalid_request_error"}})


@pytest.mark.parametrize("refusal", [REFUSED, OPENAI_STYLE_REFUSAL], ids=["llama-cpp-python 500", "400"])
def test_json_schema_first_then_tool_calls_when_refused(sample, first_turns, refusal):
    endpoint = FakeOpenAIEndpoint(refusal, (200, reply_for_turns("m1", "m2", "m3")),
                                  (200, reply_for_turns("m1", "m2", "m3")))
    client = endpoint.client()
    for _ in range(2):
        reply = client.complete_json(extraction_prompt(sample, first_turns), schema_name="x",
                                     schema=extraction_schema(turn_ids(first_turns)), max_tokens=100)
    first, second, third = endpoint.requests
    assert first["response_format"]["type"] == "json_schema" and first["response_format"]["json_schema"]["strict"]
    assert "tools" not in first and second["tool_choice"] == {"type": "function", "function": {"name": "x"}}
    assert "response_format" not in third and third["tools"][0]["function"]["parameters"]["type"] == "object"
    assert reply.usage.calls == 1 and not reply.truncated


def test_json_schema_content_is_read_when_the_endpoint_supports_it():
    completion = recorded("answer.json")
    message = completion["choices"][0]["message"]
    content = {**completion, "choices": [{**completion["choices"][0], "message": {
        "role": "assistant", "content": message["tool_calls"][0]["function"]["arguments"]}}]}
    endpoint = FakeOpenAIEndpoint((200, content))
    reply = endpoint.client().complete_json([{"role": "user", "content": "q"}], schema_name="a", schema={},
                                            max_tokens=9)
    assert json.loads(reply.text) == arguments_of(completion) and len(endpoint.requests) == 1


def test_rate_limits_and_server_errors_are_retried_with_backoff():
    delays: list[float] = []
    endpoint = FakeOpenAIEndpoint((429, {"error": {"message": "slow down"}}), (503, {"error": {"message": "busy"}}),
                                  (200, recorded("answer.json")))
    reply = endpoint.client(delays).complete_json([{"role": "user", "content": "q"}], schema_name="a", schema={},
                                                  max_tokens=9)
    assert reply.usage.calls == 3 and len(delays) == 2
    assert 0 <= delays[0] <= 0.5 and 0 <= delays[1] <= 1.0


def test_retries_give_up_with_a_clear_error():
    endpoint = FakeOpenAIEndpoint(*[(500, {"error": {"message": "boom"}})] * 5)
    failure = r"LLM endpoint http://llm.test/v1 \(model 'gemma-3-270m'\): still failing after 5 attempts"
    with pytest.raises(LLMError, match=failure):
        endpoint.client().complete_json([{"role": "user", "content": "q"}], schema_name="a", schema={}, max_tokens=9)
    assert len(endpoint.requests) == 5


def test_other_refusals_are_not_retried():
    endpoint = FakeOpenAIEndpoint((401, {"error": {"message": "bad key"}}))
    with pytest.raises(LLMError, match="request refused: HTTP 401"):
        endpoint.client().complete_json([{"role": "user", "content": "q"}], schema_name="a", schema={}, max_tokens=9)


def test_backoff_grows_exponentially_and_is_capped():
    class Top:
        def uniform(self, low, high):
            return high

    assert [backoff_delay(n, Top()) for n in (1, 2, 3, 8, 20)] == [0.5, 1.0, 2.0, 30.0, 30.0]


def test_reply_text_reads_the_tool_call_arguments():
    from openai.types.chat import ChatCompletion

    parsed = ChatCompletion.model_validate(recorded("extraction_one_turn.json"))
    assert json.loads(reply_text(parsed)) == arguments_of(recorded("extraction_one_turn.json"))


# -- answers ----------------------------------------------------------------------------------


def evidence(n: int) -> list[Evidence]:
    from datetime import datetime

    return [Evidence(f"id{i}", f"s{i}", "c1", "Ana", f"text {i}", datetime(2024, 3, 11, 18, i), 1.0 / i)
            for i in range(1, n + 1)]


def test_answer_cites_only_evidence_it_was_given():
    given = evidence(3)
    answer = parse_answer_reply(json.dumps({"answer": "Porto", "evidence_ids": [2, 9, 2, 0], "supported": True}),
                                "where?", given)
    assert answer.supported and answer.text == "Porto"
    assert answer.cited_ids == ("id2",) and answer.evidence == tuple(given)


@pytest.mark.parametrize(
    "reply",
    [{"answer": "Porto", "evidence_ids": [1], "supported": False},
     {"answer": "Porto", "evidence_ids": [7], "supported": True},  # cites only invented ids
     {"answer": " ", "evidence_ids": [1], "supported": True}],
)
def test_unsupported_answers_say_they_do_not_know(reply):
    answer = parse_answer_reply(json.dumps(reply), "where?", evidence(3))
    assert (answer.text, answer.supported, answer.cited) == (DONT_KNOW, False, ())


def test_answer_schema_enumerates_the_evidence_numbers():
    assert answer_schema(3)["properties"]["evidence_ids"]["items"]["enum"] == [1, 2, 3]


def test_memory_ask_through_the_client(tmp_path):
    recorded_answer = recorded("answer.json")  # the model said: not supported
    cites_two_and_nine = with_arguments(
        recorded_answer, '{"answer": "In May 2024.", "evidence_ids": [2, 9], "supported": true}')
    endpoint = FakeOpenAIEndpoint(REFUSED, (200, recorded_answer), (200, cites_two_and_nine))
    question = "When did Ana move to Porto?"
    with Memory(Config(path=tmp_path / "memory.db"), llm=endpoint.client()) as memory:
        memory.ingest(SAMPLE)
        given = memory.search(question, k=5)
        unsupported = memory.ask(question, k=5)
        supported = memory.ask(question, k=5)
    assert (unsupported.text, unsupported.supported, unsupported.cited) == (DONT_KNOW, False, ())
    assert unsupported.evidence == tuple(given) and unsupported.usage.prompt_tokens == 316
    assert supported.supported and supported.text == "In May 2024." and supported.cited == (given[1],)
    prompt = endpoint.requests[-1]["messages"][0]["content"]
    assert f"[1] {given[0].ts:%Y-%m-%d %H:%M} | {given[0].speaker}: " in prompt and prompt.endswith(question)


def test_an_answer_off_the_schema_is_a_clear_error(tmp_path):
    broken = with_arguments(recorded("answer.json"), '{"answer": "Porto"}')
    endpoint = FakeOpenAIEndpoint(REFUSED, (200, broken))
    with Memory(Config(path=tmp_path / "memory.db"), llm=endpoint.client()) as memory:
        memory.ingest(SAMPLE)
        with pytest.raises(LLMError, match="reply does not match the answer schema: evidence_ids: Field required"):
            memory.ask("When did Ana move to Porto?")


# -- configuration: no endpoint, no network ----------------------------------------------------


def test_without_an_endpoint_every_llm_entry_point_raises_config_error(tmp_path):
    config = Config(path=tmp_path / "memory.db", extractor="llm")
    for attempt in (lambda: LLMExtractor.from_config(config), lambda: Memory(config).ingest(SAMPLE),
                    lambda: Memory(config).ask("anything")):
        with pytest.raises(ConfigError, match="OPENAI_BASE_URL .*OPENAI_API_KEY.*GRAPHMEM_LLM_MODEL"):
            attempt()
    with pytest.raises(ConfigError, match="GRAPHMEM_LLM_MODEL"):
        LLMClient.from_config(Config(llm_base_url="http://127.0.0.1:9/v1"))


def test_environment_configures_the_llm(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1")
    monkeypatch.setenv("GRAPHMEM_LLM_MODEL", "gemma-3-270m")
    monkeypatch.setenv("GRAPHMEM_EXTRACTOR", "llm")
    config = Config(path=tmp_path / "memory.db")
    client = LLMClient.from_config(config)
    assert (client.endpoint, client.model, config.extractor) == ("http://127.0.0.1:8080/v1", "gemma-3-270m", "llm")
    assert "not-needed" not in repr(client.settings) and "sk-" not in repr(Config(llm_api_key="sk-secret"))


def test_default_path_never_makes_an_openai_client_or_a_connection(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the default path tried to use the network / an LLM")

    monkeypatch.setattr(client_module.openai, "OpenAI", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    with Memory(Config(path=tmp_path / "memory.db")) as memory:
        report = memory.ingest(SAMPLE)
        assert memory.search("When did Ana move to Porto?", k=3)
    assert report.llm is None and report.written.messages == 12


def test_cli_ask_without_an_endpoint_names_the_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in LLM_ENV}
    result = subprocess.run([sys.executable, "-m", "graphmem", "--path", str(tmp_path / "m.db"), "ask", "Where?"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no LLM endpoint configured: set OPENAI_BASE_URL" in " ".join(result.stderr.split())


def test_closing_memory_closes_the_llm_client_and_cache_it_made(tmp_path):
    import sqlite3

    from graphmem import Config, Memory

    config = Config(path=tmp_path / "m.db", extractor="llm", llm_base_url="http://127.0.0.1:9/v1", llm_model="m")
    memory = Memory(config)
    extractor = memory.extractor  # made by the Memory: no request is sent to build it
    memory.close()
    with pytest.raises(sqlite3.ProgrammingError):
        extractor.cache.get_many(["anything"])
    assert memory.llm.closed


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("0.5", 0.5), ("3600", 60.0), ("Wed, 21 Oct 2026 07:28:00 GMT", None), (None, None)],
)
def test_retry_after_header_is_honoured_within_a_cap(header, expected):
    import httpx2
    import openai

    from graphmem.llm.client import retry_after_seconds

    headers = {"retry-after": header} if header is not None else {}
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    response = httpx2.Response(429, headers=headers, request=request)
    assert retry_after_seconds(openai.RateLimitError("slow down", response=response, body=None)) == expected
