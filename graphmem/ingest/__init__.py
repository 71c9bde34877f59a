"""Ingest: conversation files read and checked (`loaders`), extractions turned into graph records
with deterministic ids (`graph_builder`), and short names resolved to the people they stand for
(`resolution`). Pure functions; `Memory.ingest` runs them and writes what they build."""
