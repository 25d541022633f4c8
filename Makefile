# Two commands for a fresh machine: `make run` and `make test`.
# Both create .venv and install what they need (Python packages, and the Debian packages the
# tests need) when missing, so they work on a clean clone.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint bench system-deps clean

run: $(STAMP)
	$(BIN)/consentry up

test: $(STAMP) system-deps
	$(BIN)/ruff check plugin workers tests bench
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check plugin workers tests bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

# PostgreSQL for the storage and end-to-end tests (the tests start a throwaway cluster).
system-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "installing PostgreSQL (Debian package) for the test suite"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql; \
	fi

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/hashing.py

clean:
	rm -rf $(VENV) var .pytest_cache
