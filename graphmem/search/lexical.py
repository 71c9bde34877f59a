"""BM25 over message text: the lexical channel of search."""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import Stemmer

from graphmem.models import MessageNode
from graphmem.search.scores import top_k

_STEMMER = Stemmer.Stemmer("english")


def message_document(message: MessageNode) -> str:
    """The text a message is indexed by: speaker-prefixed, with any shared image's caption."""
    text = f"{message.speaker}: {message.text}"
    return f"{text} [image: {message.caption}]" if message.caption else text


class LexicalIndex:
    """A BM25 index of messages; `search` returns (position in `messages`, score), best first."""

    def __init__(self, messages: Sequence[MessageNode]):
        self.size = len(messages)
        self._bm25 = bm25s.BM25()
        if messages:
            corpus = bm25s.tokenize(
                [message_document(m) for m in messages], stopwords="en", stemmer=_STEMMER, show_progress=False
            )
            self._bm25.index(corpus, show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        if self.size == 0 or k <= 0:
            return []
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=_STEMMER, show_progress=False, return_ids=False)
        if not tokens[0]:
            return []
        return top_k(self._bm25.get_scores(tokens[0]), k)
