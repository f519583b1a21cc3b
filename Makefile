# The README's two set-up commands: `make run` (install + main job) and `make test` (install + tests).
# Python 3.12: gdsfactory >= 9.46 and the CORNERSTONE PDK (cspdk 2.1) need it.
# The first interpreter that runs and is >= 3.12: python3.13, python3.12, python3, then pyenv's.
PY ?= $(shell for p in python3.13 python3.12 python3 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python 2>/dev/null); do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
# Extra arguments for the main job, e.g. `make run ARGS="b8n8 -o /tmp/out"`.
ARGS ?=
# What the tests need beyond the main job: torch (training), sax (netlist cross-check), cspdk (the CORNERSTONE
# PDK option and its submission check, tests/test_cornerstone.py), test tools.
TEST_EXTRAS ?= dev,torch,sax,cornerstone

.PHONY: install install-dev run test clean

$(BIN)/python:
	@test -n "$(PY)" || { echo "optinc needs Python >= 3.12: none found (set PY=/path/to/python3.12)" >&2; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The main job's install: numpy, scipy, gdsfactory, klayout and the CLI stack; no torch, no jax.
install: $(BIN)/python
	$(BIN)/python -m pip install -q -e .

install-dev: $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[$(TEST_EXTRAS)]"

run: install
	$(BIN)/optinc build $(ARGS)

# ruff and the import layers are checked inside the suite (tests/test_architecture.py);
# the suite on TEST_WORKERS processes (pytest-xdist), one test file per process so a file's module-scoped
# builds run once; TEST_WORKERS=0 runs it in this process
TEST_WORKERS ?= 2
test: install-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

clean:
	rm -rf $(VENV) build *.egg-info
