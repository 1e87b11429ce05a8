# fcast: `make run` sets up and runs the demo job; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test test-all lint setup clean bench-accuracy bench-speed bench-halving

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,viz,k8s,sql]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/fcast demo

test: setup
	$(BIN)/python -m pytest -q -rs

test-all: setup
	$(BIN)/python -m pytest -q -rs -m ''

lint: setup
	$(BIN)/ruff check fcast tests benchmarks
	$(BIN)/ruff format --check fcast tests benchmarks
	$(BIN)/lint-imports

clean:
	rm -rf fcast-store .pytest_cache

bench-accuracy: setup
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/accuracy.py

bench-speed: setup
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/speed.py

# successive halving vs the full grid: sample data, then Tourism monthly (6 and 3 CV splits)
bench-halving: setup
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/halving.py
	$(BIN)/python benchmarks/halving.py --dataset tourism-monthly
	$(BIN)/python benchmarks/halving.py --dataset tourism-monthly --splits 3 --step 12
