# Set-up and checks. `make train` and `make test` work on a fresh machine: they create .venv and install into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# PyTorch, installed first. Its build is whatever pip's index holds: the CPU build on this project's
# machines, the multi-GB CUDA build from PyPI on Linux. Override with pip arguments, e.g.
# make install TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch==2.13.0

.PHONY: install train test lint type check-codestyle format docs package clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# What `make train` needs: PyTorch, the package and its `extra` (progress bar, plotting)
$(VENV)/.installed-extra: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[extra]"
	touch $@

# Everything the checks need
$(VENV)/.installed: $(VENV)/.installed-extra
	$(BIN)/pip install --quiet -e ".[extra,tests,docs]"
	touch $@

install: $(VENV)/.installed

train: $(VENV)/.installed-extra
	$(BIN)/python examples/train.py $(ARGS)

test: install
	$(BIN)/python -m pytest -n 2 --durations=10

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

type: install
	$(BIN)/mypy

# The documentation site, every warning an error (broken references and links included)
docs: install
	$(BIN)/sphinx-build -E -b html -n -W --keep-going docs docs/_build/html

# Build the sdist and wheel, check them, and run the README's quickstart from the wheel in a clean venv
package: install
	BIN="$(BIN)" PYTHON="$(PYTHON)" TORCH="$(TORCH)" .ci/package

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) outputs docs/_build .pytest_cache .mypy_cache .ruff_cache
