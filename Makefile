# The two set-up commands of the README. Both work on a fresh machine with only
# python3 (and, for the WhatsApp parts, node and npm): they create .venv, install
# the core and the plugins editable, and then do their job.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

PACKAGE_FILES := pyproject.toml $(wildcard plugins/*/pyproject.toml)

.PHONY: demo test bench lint clean servers

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Runtime install: the core and every plugin, editable.
$(VENV)/.installed-runtime: $(BIN)/python $(PACKAGE_FILES)
	$(PIP) install -e . -e plugins/broadcastio-dummy -e plugins/broadcastio-whatsapp \
		-e plugins/broadcastio-email -e plugins/broadcastio-telegram \
		-e plugins/broadcastio-webhook -e plugins/broadcastio-apprise \
		-e plugins/broadcastio-opentelemetry
	touch $@

# Test install: the runtime install plus the test tools, and the distributed
# extras (Dramatiq, Redis's client, psycopg) that tests/distributed runs.
$(VENV)/.installed-test: $(VENV)/.installed-runtime
	$(PIP) install -e '.[test,dramatiq,postgres]'
	touch $@

# The servers tests/distributed starts (Debian's redis-server and postgresql),
# installed when this user can: root, or sudo without a password. Otherwise
# those tests are skipped, each with a line saying how to get them, and this
# says so up front; under CI=true they fail instead of skipping.
servers:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else echo "make: NOT INSTALLED:$$missing (needs root or passwordless sudo); the distributed tests will be SKIPPED. Install with: sudo apt-get install$$missing"; exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then echo "make: NOT INSTALLED:$$missing (no apt-get here); the distributed tests will be SKIPPED"; exit 0; fi; \
	echo "make: installing$$missing for the distributed tests"; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null

# Bench install: the test install (aiosmtpd, the local SMTP server) plus what
# the benchmarks compare against (Apprise); never a runtime dependency.
$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(PIP) install -e '.[bench]'
	touch $@

# Demo install: the runtime install plus the local SMTP server (aiosmtpd) the
# demo's email fallback is delivered to.
$(VENV)/.installed-demo: $(VENV)/.installed-runtime
	$(PIP) install -e '.[demo]'
	touch $@

# The node-bridge's dependencies, exactly as locked. Puppeteer must not download
# its own Chromium: the bridge uses the system's (CHROMIUM_PATH), and tests use
# the fake driver, which needs no browser at all.
NODE_MODULES := node-bridge/node_modules/.package-lock.json
$(NODE_MODULES): node-bridge/package.json node-bridge/package-lock.json
	cd node-bridge && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund
	touch $@

# The closing hint: the command is in .venv/bin, which is not on PATH, so the
# README's `broadcastio send ...` would otherwise be "command not found".
demo: $(VENV)/.installed-demo $(NODE_MODULES)
	$(BIN)/python examples/demo.py
	@echo
	@echo "Next: the broadcastio command is in $(BIN), which is not on your PATH. Either"
	@echo "  . $(BIN)/activate && broadcastio send --to +15551234567 --text hi --provider dummy"
	@echo "or, without activating: $(BIN)/broadcastio --help (the same: $(BIN)/python -m broadcastio)."
	@echo "To install it outside this checkout (pipx or pip), see 'Quick start' in README.md."

test: $(VENV)/.installed-test $(NODE_MODULES) servers
	$(BIN)/python -m ruff check core plugins tests bench scripts examples
	$(BIN)/python -m mypy
	cd node-bridge && npm test
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/python -m ruff check core plugins tests bench scripts examples
	$(BIN)/python -m mypy

bench: $(VENV)/.installed-bench $(NODE_MODULES)
	$(BIN)/python bench/bench_send.py
	$(BIN)/python bench/bench_otel.py
	$(BIN)/python bench/bench_send_baseline.py
	$(BIN)/python bench/bench_send_021.py
	$(BIN)/python bench/bench_whatsapp.py
	$(BIN)/python bench/bench_cli.py
	$(BIN)/python bench/bench_broadcast.py
	# 100,000 rows through the CLI; its 1,000,000-row run takes minutes: --million.
	$(BIN)/python bench/bench_cli_broadcast.py
	$(BIN)/python bench/bench_email.py
	$(BIN)/python bench/bench_webhook.py
	$(BIN)/python bench/bench_bridge_store.py
	# Skips itself (one line saying why) when redis-server or the dramatiq extra is missing.
	$(BIN)/python bench/bench_distributed.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .hypothesis node-bridge/node_modules
