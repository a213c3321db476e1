# Two commands for a newcomer: `make run` and `make test`. Everything lives in .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch==2.13.0 is the CPU wheel on disk here; any other spec pulls a multi-GB CUDA build.
TORCH := torch==2.13.0

.PHONY: run test lint format bench fuzz clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

run: $(BIN)/.installed
	$(BIN)/forest demo

test: $(BIN)/.installed
	$(BIN)/pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(BIN)/.installed
	$(BIN)/python experiments/bench_economies.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache

fuzz: $(BIN)/.installed
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q
