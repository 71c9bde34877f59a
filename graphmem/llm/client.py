"""The one adapter around `openai.OpenAI`: a structured-output chat call with retries and token counts.

Structured output is asked for as `response_format={"type": "json_schema", ...}` (OpenAI, vLLM,
Ollama, llama.cpp's `llama-server`). An endpoint that refuses that request (llama-cpp-python's
server does) is asked again with the schema as a forced tool call, and the client keeps using
tool calls from then on. Rate limits (429), server errors (5xx), timeouts and
connection errors are retried with exponential backoff and full jitter; the openai client's own
retries are off so that there is one retry policy, this one.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import openai

from graphmem.config import Config
from graphmem.errors import ConfigError, LLMError
from graphmem.llm.usage import LLMUsage

log = logging.getLogger(__name__)

StructuredOutputMode = Literal["json_schema", "tools"]

# A local server ignores the key, but the openai client insists on one.
PLACEHOLDER_API_KEY = "not-needed"
DEFAULT_TIMEOUT_SECONDS = 300.0
MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class LLMSettings:
    """Where the LLM is: an OpenAI-compatible base URL (None means OpenAI's), a key and a model."""

    base_url: str | None
    api_key: str = field(repr=False)
    model: str


def llm_settings(config: Config) -> LLMSettings:
    """The configured endpoint, or `ConfigError` naming the settings to set: never a guess."""
    if not config.llm_base_url and not config.llm_api_key:
        raise ConfigError(
            "no LLM endpoint configured: set OPENAI_BASE_URL (or GRAPHMEM_LLM_BASE_URL) to an OpenAI-compatible "
            "server, or OPENAI_API_KEY for OpenAI itself, and GRAPHMEM_LLM_MODEL "
            "(or llm_base_url / llm_api_key / llm_model in graphmem.toml)"
        )
    if not config.llm_model:
        raise ConfigError("no LLM model configured: set GRAPHMEM_LLM_MODEL (or llm_model in graphmem.toml)")
    api_key = config.llm_api_key.get_secret_value() if config.llm_api_key else PLACEHOLDER_API_KEY
    return LLMSettings(config.llm_base_url, api_key, config.llm_model)


@dataclass(frozen=True, slots=True)
class StructuredReply:
    """What a structured-output call returned: the JSON text the model wrote, and what it cost."""

    text: str
    truncated: bool  # generation stopped at max_tokens, so the JSON is likely cut off
    usage: LLMUsage


# -- pure request/response shaping ----------------------------------------------------------


def structured_output_options(mode: StructuredOutputMode, name: str, schema: dict) -> dict[str, Any]:
    """The request arguments that ask for output matching `schema`, as a response format or a forced tool."""
    if mode == "json_schema":
        json_schema = {"name": name, "schema": schema, "strict": True}
        return {"response_format": {"type": "json_schema", "json_schema": json_schema}}
    function = {"name": name, "description": f"Record the {name}.", "parameters": schema}
    return {
        "tools": [{"type": "function", "function": function}],
        "tool_choice": {"type": "function", "function": {"name": name}},
    }


def reply_text(completion: Any) -> str:
    """The JSON text of a chat completion: a tool call's arguments if it made one, else the message content."""
    message = completion.choices[0].message
    if message.tool_calls:
        return message.tool_calls[0].function.arguments or ""
    return message.content or ""


RETRY_AFTER_CAP_SECONDS = 60.0  # never wait longer than this on a server's say-so


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry `attempt` (1, 2, ...): exponential with full jitter, capped."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return (rng or random).uniform(0, ceiling)


def retry_after_seconds(exc: openai.OpenAIError) -> float | None:
    """The wait a rate-limited endpoint asked for in its `Retry-After` header (seconds), if any."""
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return min(max(float(value), 0.0), RETRY_AFTER_CAP_SECONDS) if value is not None else None
    except ValueError:  # an HTTP date: rare from these servers, and the backoff still applies
        return None


def _is_retryable(exc: openai.OpenAIError) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code == 429 or exc.status_code >= 500)


def _refuses_json_schema(exc: openai.OpenAIError) -> bool:
    """The endpoint rejected the request's shape: a 400/422, or any error naming `response_format`
    (llama-cpp-python's server answers its own validation error with a 500)."""
    return isinstance(exc, openai.APIStatusError) and (exc.status_code in (400, 422) or "response_format" in str(exc))


# -- the adapter -----------------------------------------------------------------------------


class LLMClient:
    """One OpenAI-compatible endpoint and model; safe to share between threads."""

    def __init__(
        self,
        settings: LLMSettings,
        *,
        http_client: Any = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_attempts: int = MAX_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self.max_attempts = max_attempts
        self._sleep = sleep
        self._openai = openai.OpenAI(
            base_url=settings.base_url, api_key=settings.api_key, timeout=timeout, max_retries=0,
            http_client=http_client,
        )
        self._mode: StructuredOutputMode = "json_schema"
        self._mode_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Config, **options: Any) -> LLMClient:
        """The client for the configured endpoint; `ConfigError` (and no network) when there is none."""
        return cls(llm_settings(config), **options)

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def closed(self) -> bool:
        return self._openai.is_closed()

    def close(self) -> None:
        """Release the HTTP connections."""
        self._openai.close()

    @property
    def endpoint(self) -> str:
        return self.settings.base_url or "https://api.openai.com/v1"

    def complete_json(
        self, messages: Sequence[dict[str, str]], *, schema_name: str, schema: dict, max_tokens: int
    ) -> StructuredReply:
        """Send `messages`, asking for JSON matching `schema`.

        Retries what a retry can fix; raises `LLMError` otherwise.
        """
        calls = 0
        attempt = 0
        while True:
            mode = self._mode
            calls += 1
            try:
                completion = self._openai.chat.completions.create(
                    model=self.model, messages=list(messages), temperature=0, max_tokens=max_tokens,
                    **structured_output_options(mode, schema_name, schema),
                )
            except openai.OpenAIError as exc:
                if mode == "json_schema" and _refuses_json_schema(exc):
                    self._use_tool_calls(exc)
                    continue
                attempt += 1
                if not _is_retryable(exc) or attempt >= self.max_attempts:
                    raise LLMError(self._describe_failure(exc, attempt)) from exc
                delay = max(backoff_delay(attempt), retry_after_seconds(exc) or 0.0)
                log.warning("LLM call to %s failed (%s); retry %d in %.1f s",
                            self.endpoint, _short(exc), attempt, delay)
                self._sleep(delay)
                continue
            usage = completion.usage
            return StructuredReply(
                text=reply_text(completion),
                truncated=completion.choices[0].finish_reason == "length",
                usage=LLMUsage(
                    calls=calls,
                    prompt_tokens=usage.prompt_tokens if usage else 0,
                    completion_tokens=usage.completion_tokens if usage else 0,
                ),
            )

    def _use_tool_calls(self, exc: openai.OpenAIError) -> None:
        with self._mode_lock:
            if self._mode == "json_schema":
                log.info("%s refused response_format json_schema (%s); using a forced tool call",
                         self.endpoint, _short(exc))
                self._mode = "tools"

    def _describe_failure(self, exc: openai.OpenAIError, attempts: int) -> str:
        where = f"LLM endpoint {self.endpoint} (model {self.model!r})"
        if isinstance(exc, openai.APIConnectionError):
            return f"{where}: cannot connect after {attempts} attempt(s): {_short(exc)}"
        if isinstance(exc, openai.APIStatusError) and _is_retryable(exc):
            return f"{where}: still failing after {attempts} attempts: {_short(exc)}"
        return f"{where}: request refused: {_short(exc)}"


def _short(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    text = str(exc).strip().replace("\n", " ")
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"HTTP {status}: {text}" if status else f"{type(exc).__name__}: {text}"
