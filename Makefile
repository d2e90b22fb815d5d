# The two set-up commands of the README. Both work on a fresh machine with only
# python3 (and, for the WhatsApp parts, node and npm): they create .venv, install
# the core and the plugins editable, and then do their job.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

PACKAGE_FILES := pyproject.toml $(wildcard plugins/*/pyproject.toml)

.PHONY: demo test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Runtime install: the core and every plugin, editable.
$(VENV)/.installed-runtime: $(BIN)/python $(PACKAGE_FILES)
	$(PIP) install -e . -e plugins/broadcastio-dummy -e plugins/broadcastio-whatsapp
	touch $@

# Test install: the runtime install plus the test tools.
$(VENV)/.installed-test: $(VENV)/.installed-runtime
	$(PIP) install -e '.[test]'
	touch $@

demo: $(VENV)/.installed-runtime
	$(BIN)/python examples/demo.py

test: $(VENV)/.installed-test
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/python -m mypy

bench: $(VENV)/.installed-runtime
	$(BIN)/python bench/bench_send.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .hypothesis
