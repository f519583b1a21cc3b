# The README's two set-up commands: `make run` (install + main job) and `make test` (install + tests).
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Extra arguments for the main job, e.g. `make run ARGS="b8n8 -o /tmp/out"`.
ARGS ?=

.PHONY: install install-dev run test bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first and pinned: 2.13.0 is the CPU wheel; any other spec pulls gigabytes of CUDA packages.
install: $(BIN)/python
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e .

install-dev: $(BIN)/python
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]"

run: install
	$(BIN)/optinc build $(ARGS)

test: install-dev
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build *.egg-info
