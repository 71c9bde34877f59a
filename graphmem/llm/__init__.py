"""The optional LLM path: extraction and answers through the `openai` client.

Any OpenAI-compatible endpoint works (OpenAI, vLLM, Ollama, llama.cpp). Nothing here is imported
by the default, offline path; with no endpoint configured, every entry point raises `ConfigError`
before anything touches the network.

- `client.py`: the one adapter around `openai.OpenAI` (structured output, retries, token usage).
- `extraction_prompt.py`: the extraction prompt, JSON schema and reply parsing, as pure functions.
- `answering.py`: `Answer`, and the answer prompt, schema and parsing (pure) around one call.
- `extractor.py`: `LLMExtractor`, the `Extractor` that batches turns, caches results
  (`cache.py`) and falls back to spaCy for messages whose response does not validate.
"""
