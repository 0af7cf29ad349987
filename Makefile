# fp8emu: `make demo` and `make test` both set up a virtual environment first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench docs clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m emu.demo_program
	$(BIN)/python -m emu.demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

docs: $(STAMP)
	$(BIN)/python -m isa.docgen > docs/isa.md

clean:
	rm -rf $(VENV) build *.egg-info
