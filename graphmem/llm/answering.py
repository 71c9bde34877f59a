"""Answers written by an LLM from retrieved evidence, citing it.

The prompt, the schema and reading the reply are pure functions; `answer_question` is the thin
step that calls the model. The evidence is numbered [1]..[n] with speaker, time and text; the
reply is `{answer, evidence_ids, supported}`. Ids that were not given are dropped, and an answer
the model does not mark as supported, or that cites nothing it was given, becomes "I don't know".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ValidationError

from graphmem.errors import LLMError
from graphmem.llm.usage import LLMUsage
from graphmem.models import Evidence

if TYPE_CHECKING:
    from graphmem.llm.client import LLMClient

SCHEMA_NAME = "cited_answer"
DONT_KNOW = "I don't know"
MAX_ANSWER_TOKENS = 400

INSTRUCTIONS = """\
Answer the question using only the numbered evidence below: messages from past conversations, \
each with its time and speaker. A relative time in a message ("yesterday", "last year") is \
relative to that message's time.

Set evidence_ids to the numbers of the messages your answer rests on. If the evidence does not \
answer the question, set supported to false and answer "{dont_know}".

Evidence:
{evidence}

Question: {question}"""


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer with the evidence it cites (always a subset of what the model was given)."""

    question: str
    text: str
    supported: bool
    cited: tuple[Evidence, ...]
    evidence: tuple[Evidence, ...]  # everything the model was shown
    usage: LLMUsage

    @property
    def cited_ids(self) -> tuple[str, ...]:
        """The message ids of the cited evidence."""
        return tuple(e.message_id for e in self.cited)


def answer_prompt(question: str, evidence: Sequence[Evidence]) -> list[dict[str, str]]:
    """The chat messages asking for a cited answer (one user message: not every template has a system role)."""
    lines = "\n".join(
        f"[{number}] {hit.ts:%Y-%m-%d %H:%M} | {hit.speaker}: {' '.join(hit.text.split())}"
        for number, hit in enumerate(evidence, start=1)
    )
    return [{"role": "user", "content": INSTRUCTIONS.format(dont_know=DONT_KNOW, evidence=lines, question=question)}]


def answer_schema(evidence_count: int) -> dict:
    """The JSON schema of a reply citing among `evidence_count` numbered messages (strict-mode compatible)."""
    return {
        "type": "object",
        "properties": {
            "answer": {"type": "string"},
            "evidence_ids": {
                "type": "array",
                "items": {"type": "integer", "enum": list(range(1, evidence_count + 1))},
                "maxItems": evidence_count,
            },
            "supported": {"type": "boolean"},
        },
        "required": ["answer", "evidence_ids", "supported"],
        "additionalProperties": False,
    }


class _Reply(BaseModel):
    answer: str
    evidence_ids: list[int]
    supported: bool


def parse_answer_reply(
    reply: str, question: str, evidence: Sequence[Evidence], usage: LLMUsage = LLMUsage()
) -> Answer:
    """Read the model's JSON reply into an `Answer`; `ValueError` says how a reply breaks the schema."""
    try:
        parsed = _Reply.model_validate(json.loads(reply))
    except json.JSONDecodeError as exc:
        raise ValueError(f"reply is not valid JSON: {exc}") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(map(str, error["loc"]))
        raise ValueError(f"reply does not match the answer schema: {where}: {error['msg']}") from None
    given = [n for n in dict.fromkeys(parsed.evidence_ids) if 1 <= n <= len(evidence)]
    text = parsed.answer.strip()
    supported = parsed.supported and bool(given) and bool(text)
    return Answer(
        question=question,
        text=text if supported else DONT_KNOW,
        supported=supported,
        cited=tuple(evidence[n - 1] for n in given) if supported else (),
        evidence=tuple(evidence),
        usage=usage,
    )


def answer_question(client: LLMClient, question: str, evidence: Sequence[Evidence]) -> Answer:
    """Ask `client` to answer `question` from `evidence`; no evidence, no call."""
    if not evidence:
        return Answer(question, DONT_KNOW, False, (), (), LLMUsage())
    reply = client.complete_json(
        answer_prompt(question, evidence),
        schema_name=SCHEMA_NAME,
        schema=answer_schema(len(evidence)),
        max_tokens=MAX_ANSWER_TOKENS,
    )
    try:
        return parse_answer_reply(reply.text, question, evidence, reply.usage)
    except ValueError as exc:
        cut_off = " (generation stopped at max_tokens)" if reply.truncated else ""
        raise LLMError(f"LLM endpoint {client.endpoint} (model {client.model!r}): {exc}{cut_off}") from None
