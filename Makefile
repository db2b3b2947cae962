# smsgw: the two commands a new machine needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the tests need: gammu (an independent real client of the simulator), chromium
# (the status page test drives it headless through Playwright), systemd-analyze and udevadm
# (the unit file and udev rules are checked with the real tools).
APT_PACKAGES := gammu chromium systemd udev
APT_COMMANDS := gammu chromium systemd-analyze udevadm

.PHONY: run test lint typecheck pytest bench system-deps install clean help

help:
	@echo "make run    start the gateway (simulated modem pool unless real modems are configured)"
	@echo "make test   set up everything and run ruff, mypy --strict and the whole pytest suite"
	@echo "make bench  print throughput, latency and memory figures"
	@echo "sudo make install [INSTALL_ARGS=\"--enable --start\"]  install under /opt/smsgw with the systemd unit"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

# Installs the Debian tools the tests need when they are missing (CI runs as root).
system-deps:
	@missing=""; for c in $(APT_COMMANDS); do command -v $$c >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages: $(APT_PACKAGES)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	  else \
	    echo "missing: $(APT_COMMANDS); run: sudo apt-get install $(APT_PACKAGES)"; exit 1; \
	  fi; \
	fi

# Real modems configured ([[modems]] in /etc/smsgw/smsgw.toml, $$SMSGW_CONFIG or SMSGW_MODEMS):
# run on them; otherwise on four simulated modems with the simulator's control API on :8025.
HAS_MODEMS := import sys; from gateway.config import load_config; sys.exit(0 if load_config().modems else 1)
run: $(STAMP)
	@if $(BIN)/python -c '$(HAS_MODEMS)' 2>/dev/null; then \
	  echo "real modems are configured: starting without the simulator"; \
	  exec $(BIN)/smsgw run; \
	else \
	  exec $(BIN)/smsgw run --sim 4 --sim-control 127.0.0.1:8025; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) system-deps
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# Puts the gateway under /opt/smsgw with its unit, udev rules and example config (see README).
install: $(STAMP)
	$(BIN)/smsgw install $(INSTALL_ARGS)

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache .hypothesis
