"""The query side: question understanding, the per-tenant index and the ranking channels.

- `question`, `linking`: time constraints and entity mentions in a question.
- `lexical`, `dense`: BM25 over messages and the optional embedding channel.
- `projection`: the typed, weighted graph, personalized PageRank and spreading activation (pure).
- `engine`: `GroupIndex` (a tenant's index, built from the store) and `search`, which fuses the channels.
"""
