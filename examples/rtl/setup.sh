#!/usr/bin/env bash
# Install what the RTL bench needs; idempotent (a second run changes nothing and
# takes about a second):
#   * Icarus Verilog (Debian package iverilog) with apt-get, if `iverilog` is missing;
#   * the pinned Python packages of examples/rtl/requirements.txt (cocotb) into the
#     project's virtual environment (PYTHON, default .venv/bin/python).
# Usage: bash examples/rtl/setup.sh     (from anywhere; run `make setup` first)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

if ! command -v iverilog >/dev/null 2>&1 || ! command -v vvp >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            SUDO="sudo"
        else
            echo "setup.sh: iverilog is missing and this is not root: install the" \
                "Debian/Ubuntu package iverilog (or Icarus Verilog >= 11)" >&2
            exit 2
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup.sh: iverilog is missing and there is no apt-get: install" \
            "Icarus Verilog >= 11 with your package manager" >&2
        exit 2
    fi
    echo "setup.sh: installing iverilog (apt-get)"
    LOG="$(mktemp)"
    if ! { $SUDO apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
            --no-install-recommends iverilog; } >"$LOG" 2>&1; then
        cat "$LOG" >&2
        rm -f "$LOG"
        echo "setup.sh: apt-get could not install iverilog" >&2
        exit 2
    fi
    rm -f "$LOG"
fi
echo "setup.sh: $(iverilog -V 2>/dev/null | head -n 1)"

if [ ! -x "$PYTHON" ]; then
    echo "setup.sh: no Python at $PYTHON: run \`make setup\` first (or set PYTHON)" >&2
    exit 2
fi
# Install only when an installed version differs from the pin.
if ! "$PYTHON" - "$HERE/requirements.txt" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if have != want:
        sys.exit(1)
PY
then
    echo "setup.sh: installing $(grep -v '^#' "$HERE/requirements.txt" | xargs) into $PYTHON"
    "$PYTHON" -m pip install -q --disable-pip-version-check -r "$HERE/requirements.txt"
fi
echo "setup.sh: cocotb $("$PYTHON" -c 'import cocotb; print(cocotb.__version__)')"
