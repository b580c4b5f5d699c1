# The two commands: `make demo` (the main job) and `make test` (the whole suite).
# Both make .venv and install what they need on first use.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

LOCK := requirements.lock

.PHONY: demo test lint types unit install lock clean

# The venv gets exactly the versions in the lock (hashes checked), then the project itself,
# built with the lock's setuptools. A change to pyproject.toml or the lock reinstalls.
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Backroom needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

# Regenerate the lock from pyproject.toml (all extras, hashes, build requirements). Pins that
# still satisfy pyproject.toml stay; `make lock LOCK_ARGS=--upgrade` (or
# `LOCK_ARGS='--upgrade-package kombu'`) moves them. Then `make install` installs the result.
lock: $(STAMP)
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
		--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
		--build-deps-for editable --extra test --extra dev $(LOCK_ARGS) -o $(LOCK) pyproject.toml

demo: $(STAMP)
	$(BIN)/backroom demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

test: lint types
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
