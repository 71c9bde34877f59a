"""Stores: the `Store` interface (`base`) and its two implementations, the embedded `sqlite`
store and the `neo4j` store, which pass one contract test suite. `supersession` is the pure rule
both apply when a newer relation closes an older one."""
