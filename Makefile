# Two commands on a fresh machine:  `make run` starts Borderless, `make test` runs the test suite.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= data

.PHONY: install system-deps run test lint bench

$(BIN)/borderless: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU build of torch first: an unpinned torch would pull several GB of CUDA wheels.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/borderless

# Chromium drives the browser tests; PostgreSQL runs the database tests beside SQLite; redis-server runs
# the shared login-throttle test and, with nginx, the multi-node test (tests/test_multinode.py). Tests start their own instances on free loopback ports.
system-deps:
	@if ! command -v chromium >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	    || ! command -v redis-server >/dev/null || ! test -x /usr/sbin/nginx; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium postgresql redis-server \
	    nginx >/dev/null; fi

run: install
	$(BIN)/borderless serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR) --demo

test: install system-deps
	$(BIN)/ruff check bot bench tests
	$(BIN)/pytest -q

bench: install
	$(BIN)/python bench/run_all.py
