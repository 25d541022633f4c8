# Two commands for a fresh machine: `make run` and `make test`.
# Both create .venv and install what they need (Python packages, and the Debian packages the
# tests need) when missing, so they work on a clean clone.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint bench audit system-deps ffmpeg-deps clean

run: $(STAMP)
	$(BIN)/consentry up

test: $(STAMP) system-deps
	$(BIN)/ruff check plugin workers tests bench
	$(MAKE) --no-print-directory audit
	$(BIN)/pytest

# Known advisories in our dependencies. Reported, not fatal: an advisory without a fixed
# release cannot be acted on by a version bump (docs/reliability.md says what it found).
audit: $(STAMP)
	-timeout 300 $(BIN)/pip-audit --skip-editable --progress-spinner off --desc off

lint: $(STAMP)
	$(BIN)/ruff check plugin workers tests bench

$(STAMP): pyproject.toml | ffmpeg-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

# PostgreSQL for the storage and end-to-end tests (the tests start a throwaway cluster).
system-deps: ffmpeg-deps
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "installing PostgreSQL (Debian package) for the test suite"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql; \
	fi
	@if ! test -x /usr/bin/chromium || ! test -x /usr/sbin/nginx; then \
	  echo "installing Chromium and nginx (Debian packages) for the review and gate tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium nginx-light; \
	fi

# FFmpeg: ffmpeg/ffprobe for video scanning, and the libav* headers the `vpdq` wheel builds on.
FFMPEG_PKGS := ffmpeg libavcodec-dev libavformat-dev libavutil-dev libswscale-dev \
  libavdevice-dev libavfilter-dev pkg-config
ffmpeg-deps:
	@if ! command -v ffprobe >/dev/null 2>&1 || ! pkg-config --exists libavcodec libavformat \
	    libswscale libavdevice 2>/dev/null; then \
	  echo "installing FFmpeg (Debian packages) for video scanning"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(FFMPEG_PKGS); \
	fi

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/hashing.py

clean:
	rm -rf $(VENV) var .pytest_cache
