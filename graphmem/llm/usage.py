"""What the LLM path spent: calls, tokens, and how many messages it did not need to send."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class LLMUsage:
    """Counters of LLM work; add two to combine them, subtract to get what happened in between."""

    calls: int = 0  # HTTP requests answered by the endpoint (retries and the structured-output probe count)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_messages: int = 0  # messages served from the extraction cache, without a call
    fallback_messages: int = 0  # messages extracted by spaCy because the LLM's response did not validate

    def __add__(self, other: LLMUsage) -> LLMUsage:
        return LLMUsage(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __sub__(self, other: LLMUsage) -> LLMUsage:
        return LLMUsage(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
