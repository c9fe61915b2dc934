# The README's two commands: `make demo` (the main job) and `make test` (every suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint demo clean

# make demo DEMO_ARGS="--workers 4" (see botify experiment run -h); the spec is experiments/demo.toml
DEMO_ARGS ?=

$(BIN)/botify: pyproject.toml requirements.txt requirements-dev.txt requirements-spark.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/botify

test: install
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff format --check botify sim tests bench
	$(BIN)/ruff check botify sim tests bench
	$(BIN)/lint-imports

demo: install
	$(BIN)/botify experiment run experiments/demo.toml --out demo-output $(DEMO_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
