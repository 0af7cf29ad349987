# fp8emu: every target sets up its virtual environment first.
#
#   make demo          set up .venv from requirements.lock, run the tiled GEMM program
#   make test          set up .venv from requirements.lock, run the whole suite
#   make test-fast     the suite without the tests marked slow (the inner loop)
#   make lint          ruff check + ruff format --check (CI runs it before the tests)
#   make fmt           ruff format + ruff check --fix
#   make lock          regenerate requirements.lock with uv (pinned, hashed, universal)
#   make test-latest   a separate .venv-latest with the newest releases, unpinned
#   make bench         throughput and start-up times against numpy in the same run
#   make crosscheck    every preset that claims a GPU against MMA-Sim 2.1.1, bit for bit
#   make rtl-test      the RTL example (Icarus Verilog + cocotb) against fp8emu
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LATEST := .venv-latest
UV_VERSION := 0.13.9

.PHONY: setup demo test test-fast test-latest lint fmt lock bench docs crosscheck rtl-setup rtl-test clean

setup: $(STAMP)

# The lock pins every package with its hashes; the project itself goes in editable
# and without dependencies (they all come from the lock).  `python -m emu.warmup`
# compiles every numba kernel into the on-disk cache, so the first real command
# does not pay for it.
$(STAMP): requirements.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/python -m emu.warmup
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo_program.py
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Run `make lock` after changing dependencies in pyproject.toml (and commit the
# result); uv resolves for every platform and Python >= 3.11 in about a second.
lock: $(STAMP)
	$(BIN)/pip install -q uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra test --extra dev --extra dask --universal \
	    --python-version 3.11 --generate-hashes -o requirements.lock

# The newest releases of everything, unpinned: run before `make lock`, and whenever
# a dependency publishes a release, to see what the next lock will bring.
test-latest:
	rm -rf $(LATEST)
	$(PY) -m venv $(LATEST)
	$(LATEST)/bin/pip install -q --upgrade pip
	$(LATEST)/bin/pip install -q --upgrade -e '.[test,dask]'
	$(LATEST)/bin/pip list --format=freeze | grep -iE '^(numpy|numba|llvmlite|ml.dtypes|click|hypothesis|pytest|matplotlib|dask|distributed)=='
	$(LATEST)/bin/python -m emu.warmup
	$(LATEST)/bin/python -m pytest

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

docs: $(STAMP)
	$(BIN)/python -m emu.machine.docgen > docs/isa.md
	$(BIN)/python -m emu.numerics.docgen

# The RTL example (examples/rtl/README.md): Icarus Verilog (apt-get) and the pinned
# cocotb into .venv, then the cocotb bench of fp8_dot4.v against fp8emu (fp32 and
# fp16 accumulators, the planted fault caught): examples/rtl/test_bench.py.
rtl-setup: $(STAMP)
	bash examples/rtl/setup.sh

rtl-test: rtl-setup
	$(BIN)/python -m pytest -q examples/rtl/test_bench.py

CROSS := .venv-crosscheck
CROSS_STAMP := $(CROSS)/.installed

# `make crosscheck`: fp8emu's presets against Microsoft's MMA-Sim 2.1.1 bit for bit, on
# every FP8/FP6/FP4 instruction MMA-Sim models (scripts/crosscheck.py; about 20 s; exit
# 1 while a difference is not a documented decision).
# A separate venv: the lock, then torch 2.13.0 (CPU) + mmasim pinned in
# scripts/crosscheck-requirements.txt, then the project.  Not part of `make test`.
$(CROSS_STAMP): requirements.lock scripts/crosscheck-requirements.txt pyproject.toml
	$(PY) -m venv $(CROSS)
	$(CROSS)/bin/pip install -q --require-hashes -r requirements.lock
	$(CROSS)/bin/pip install -q -r scripts/crosscheck-requirements.txt
	$(CROSS)/bin/pip install -q --no-deps -e .
	touch $(CROSS_STAMP)

# CROSSCHECK_ARGS: e.g. --quick, --preset cdna3, --json FILE (scripts/crosscheck.py --help)
crosscheck: $(CROSS_STAMP)
	$(CROSS)/bin/python scripts/crosscheck.py $(CROSSCHECK_ARGS)

clean:
	rm -rf $(VENV) $(LATEST) $(CROSS) build *.egg-info
