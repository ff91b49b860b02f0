# Set-up and checks. `make train` and `make test` work on a fresh machine: they create .venv and install into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# PyTorch's CPU build; a bare torch requirement would pull a multi-GB CUDA build
TORCH ?= torch==2.13.0

.PHONY: install train test lint type check-codestyle format package clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[extra,tests]"
	touch $@

install: $(VENV)/.installed

train: install
	$(BIN)/python examples/train.py $(ARGS)

test: install
	$(BIN)/python -m pytest -n 2 --durations=10

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

type: install
	$(BIN)/mypy

# Build the sdist and wheel, check them, and run the README's quickstart from the wheel in a clean venv
package: install
	BIN="$(BIN)" PYTHON="$(PYTHON)" TORCH="$(TORCH)" .ci/package

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) outputs .pytest_cache .mypy_cache .ruff_cache
