"""BM25 over message text: the lexical channel of search, grown by appends.

Scores are bm25s's Lucene variant with its defaults (k1 1.5, b 0.75) and bm25s's tokenization
(its word pattern, English stopwords, Snowball stemming), computed at query time from postings rather than
precomputed per document: adding documents changes the corpus size, the mean length and every
term's idf, and computing them per query lets an append touch only the new documents' postings.

Postings sit in two segments: a compact one (arrays sorted by term, CSC-like) and a tail of
recent appends; the tail is merged into the compact segment once it holds a quarter as many
postings, so an append costs time in proportion to its batch (amortised) and a query reads only
its terms' postings plus the tail's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from graphmem.models import MessageNode
from graphmem.search.scores import top_k

_STEMMER = Stemmer.Stemmer("english")
_SPLIT = re.compile(r"(?u)\b\w\w+\b").findall  # bm25s.tokenize's default token pattern
_STOPWORDS = frozenset(STOPWORDS_EN)  # what bm25s.tokenize drops for stopwords="en"
K1 = 1.5
B = 0.75
TAIL_SHARE = 0.25  # merge the tail into the compact segment when it holds this share of postings
TAIL_MIN = 4096  # ... but never for fewer postings than this


def message_document(message: MessageNode) -> str:
    """The text a message is indexed by: speaker-prefixed, with any shared image's caption."""
    text = f"{message.speaker}: {message.text}"
    return f"{text} [image: {message.caption}]" if message.caption else text


# A question's scaffold (interrogatives, auxiliaries, pronouns) says nothing about which turn
# answers it, yet bm25s's English list (Lucene's 33 words) keeps it, so "Where has Melanie
# camped?" ranked turns for "where" and "has". Queries drop these words too; documents keep them.
QUERY_STOPWORDS = sorted(
    set(STOPWORDS_EN)
    | set(
        """what when where which who whom whose why how did do does has have had were would could should can may
        might i me my you your he him his she her we us our them its been being am many much any some kind""".split()
    )
)


class LexicalIndex:
    """A BM25 index of messages; `search` returns (position in `messages`, score), best first."""

    def __init__(self, messages: Sequence[MessageNode] = ()):
        self.vocab: dict[str, int] = {}
        self._lengths = np.zeros(0, dtype=np.float64)  # tokens per document, in position order
        self._indptr = np.zeros(1, dtype=np.int64)  # compact segment: postings of term t at [indptr[t], indptr[t+1])
        self._docs = np.zeros(0, dtype=np.int64)
        self._tfs = np.zeros(0, dtype=np.float64)
        self._tail: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (terms, docs, tfs) per append
        self._tail_size = 0
        self._term_of: dict[str, int] = {}  # a lower-cased word -> the term id of its stem; -1: a stopword
        self.add(messages)

    @classmethod
    def from_compacted(
        cls, vocab: list[str], lengths: np.ndarray, indptr: np.ndarray, docs: np.ndarray, tfs: np.ndarray
    ) -> LexicalIndex:
        """The index `compacted` described: `vocab` lists the stems in term-id order."""
        index = cls()
        index.vocab = dict(zip(vocab, range(len(vocab))))
        index._lengths, index._indptr, index._docs, index._tfs = lengths, indptr, docs, tfs
        return index

    def compacted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Document lengths and the postings in one compact segment (indptr, docs, tfs), the
        tail merged first: with `vocab`, all the index is (its word -> stem cache aside)."""
        if self._tail:
            self._compact()
        return self._lengths, self._indptr, self._docs, self._tfs

    @property
    def size(self) -> int:
        return len(self._lengths)

    @property
    def postings(self) -> int:
        return len(self._docs) + self._tail_size

    def add(self, messages: Sequence[MessageNode]) -> None:
        """Index `messages` as the next documents (positions `size`, `size + 1`, ...)."""
        if not messages:
            return
        terms, docs = self._term_ids([message_document(m) for m in messages])
        width = len(messages)
        lengths = np.bincount(docs, minlength=width)
        keys, tfs = np.unique(terms * width + docs, return_counts=True)  # one (term, doc) pair each
        self._tail.append((keys // width, keys % width + self.size, tfs.astype(np.float64)))
        self._lengths = np.concatenate([self._lengths, lengths.astype(np.float64)])
        self._tail_size += len(keys)
        if self._tail_size > max(TAIL_MIN, TAIL_SHARE * len(self._docs)):
            self._compact()

    def _term_ids(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The term id of every kept token of `texts`, flat, and the text (0-based) each comes from.

        The tokens `bm25s.tokenize(texts, stopwords="en", stemmer=...)` gives (lower-cased, its
        word pattern, stopwords dropped, Snowball stems), computed in bulk: each distinct word is
        stemmed once for the life of the index, and the per-token work is one dict lookup.
        """
        words = [_SPLIT(text.lower()) for text in texts]
        flat = list(chain.from_iterable(words))
        term_of = self._term_of
        unseen = [word for word in dict.fromkeys(flat) if word not in term_of]
        for word, stem in zip(unseen, _STEMMER.stemWords(unseen)):
            term_of[word] = -1 if word in _STOPWORDS else self.vocab.setdefault(stem, len(self.vocab))
        terms = np.fromiter(map(term_of.__getitem__, flat), dtype=np.int64, count=len(flat))
        docs = np.repeat(np.arange(len(texts), dtype=np.int64), [len(w) for w in words])
        kept = terms >= 0
        return terms[kept], docs[kept]

    def _compact(self) -> None:
        """Merge the tail into the compact segment (time in proportion to the whole index).

        Each segment is sorted by (term, document) and holds later documents than the one before
        it, so a stable sort by term alone (a merge of sorted runs) leaves documents in order."""
        terms = np.repeat(np.arange(len(self._indptr) - 1, dtype=np.int64), np.diff(self._indptr))
        terms = np.concatenate([terms, *(t for t, _, _ in self._tail)])
        docs = np.concatenate([self._docs, *(d for _, d, _ in self._tail)])
        tfs = np.concatenate([self._tfs, *(f for _, _, f in self._tail)])
        order = np.argsort(terms, kind="stable")
        self._docs, self._tfs = docs[order], tfs[order]
        self._indptr = np.concatenate([[0], np.cumsum(np.bincount(terms, minlength=len(self.vocab)))]).astype(np.int64)
        self._tail, self._tail_size = [], 0

    def _term_postings(self, term_ids: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Documents and term frequencies of each term, from both segments."""
        found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        tail = self._tail
        if tail:
            terms = np.concatenate([t for t, _, _ in tail])
            keep = np.isin(terms, term_ids)
            tail_terms = terms[keep]
            tail_docs = np.concatenate([d for _, d, _ in tail])[keep]
            tail_tfs = np.concatenate([f for _, _, f in tail])[keep]
        for term in term_ids.tolist():
            docs, tfs = np.zeros(0, dtype=np.int64), np.zeros(0)
            if term < len(self._indptr) - 1:
                start, end = self._indptr[term], self._indptr[term + 1]
                docs, tfs = self._docs[start:end], self._tfs[start:end]
            if tail:
                mine = tail_terms == term
                docs, tfs = np.concatenate([docs, tail_docs[mine]]), np.concatenate([tfs, tail_tfs[mine]])
            found[term] = (docs, tfs)
        return found

    def _query_terms(self, query: str) -> list[int]:
        """The indexed term ids of a query, as bm25s tokenizes it (repeats kept)."""
        words = bm25s.tokenize(
            [query], stopwords=QUERY_STOPWORDS, stemmer=_STEMMER, show_progress=False, return_ids=False
        )[0]
        return [self.vocab[w] for w in words if w in self.vocab]

    def _idf(self, df: int) -> float:
        return float(np.log(1 + (self.size - df + 0.5) / (df + 0.5)))

    def scores(self, query: str) -> np.ndarray | None:
        """BM25 score of every document for `query`; None when no query term is indexed."""
        ids = self._query_terms(query)  # repeated terms count again, as in bm25s
        if self.size == 0 or not ids:
            return None
        size = self.size
        mean_length = self._lengths.sum() / size
        postings = self._term_postings(np.unique(np.array(ids, dtype=np.int64)))
        scores = np.zeros(size)
        for term in ids:
            docs, tfs = postings[term]
            norm = K1 * ((1 - B) + B * self._lengths[docs] / mean_length) if mean_length > 0 else K1
            scores[docs] += self._idf(len(docs)) * tfs / (norm + tfs)
        return scores

    def coverage(self, query: str) -> np.ndarray | None:
        """Per document, the share of the query's distinct terms it holds, each weighed by its idf
        (1.0: every term); None when no query term is indexed. Unlike BM25, repeating one term
        does not add up: it tells a turn holding all of a question from one holding a part of it."""
        ids = np.unique(np.array(self._query_terms(query), dtype=np.int64))
        if self.size == 0 or not len(ids):
            return None
        held = np.zeros(self.size)
        total = 0.0
        for docs, _tfs in self._term_postings(ids).values():
            idf = self._idf(len(docs))
            held[docs] += idf
            total += idf
        return held / total if total > 0 else held

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        if k <= 0:
            return []
        scores = self.scores(query)
        if scores is None:
            return []
        return top_k(scores, k)
