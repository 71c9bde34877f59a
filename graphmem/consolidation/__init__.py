"""Consolidation: scenes and personas from a tenant's stored records, as pure functions.

- `fact_graph`: the fact-level graph (items, features, affinities) both clusterings run on.
- `scenes`: thematic, time-bounded clusters (Leiden), found anew or updated incrementally.
- `alignment`: statements about one participant made in another's turns, and mixed scenes split.
- `personas`: per participant, facets of what they say about themselves.
- `pipeline`: the steps above in order, with the report of what changed.
"""
