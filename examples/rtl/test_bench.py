"""The RTL example against fp8emu in the simulator: `make rtl-test` runs this file
(after examples/rtl/setup.sh installed Icarus Verilog and cocotb); `make test` runs
the parts that need no simulator (tests/test_rtl.py)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RTL = ROOT / "examples" / "rtl"
SETUP = "bash examples/rtl/setup.sh"


def _require_tools():
    missing = [t for t in ("iverilog", "vvp") if shutil.which(t) is None]
    if importlib.util.find_spec("cocotb") is None:
        missing.append(f"cocotb (in {sys.executable})")
    if missing:
        pytest.fail(f"the RTL bench needs {', '.join(missing)}: run `{SETUP}` first")


def run_bench(*args, env=None, timeout=300):
    """examples/rtl/run.py in a subprocess: (exit status, stdout, stderr)."""
    e = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    e.update(env or {})
    p = subprocess.run(
        [sys.executable, str(RTL / "run.py"), *map(str, args)],
        cwd=ROOT,
        env=e,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return p.returncode, p.stdout, p.stderr


# ------------------------------------------------------------------ the simulator
def test_the_rtl_equals_fp8emu_and_validate_passes_on_its_dumps(tmp_path):
    _require_tools()
    code, out, err = run_bench("--random", "800", "--vec-random", "100", "--build", tmp_path)
    assert code == 0, out + err
    for pair in ("e4m3_e4m3", "e5m2_e5m2", "e4m3_e5m2", "e5m2_e4m3"):
        m = re.search(rf"vec_{pair}: (\d+) cases, (\d+) pass", out)
        assert m and m.group(1) == m.group(2) and int(m.group(1)) > 100, out
        assert re.search(rf"vec_{pair}: PASS: all \d+ cases match \(result format fp32\)", out)
        assert re.search(rf"random/{pair}: PASS: all \d+ cases match", out), out
    assert "random: 800 cases, 800 pass" in out
    assert "PASS: RTL bench" in out and "fp8emu validate passes" in out


def test_the_bench_catches_the_planted_fault_and_names_the_case(tmp_path):
    _require_tools()
    code, out, err = run_bench(
        "--fault", "1", "--pairs", "e4m3_e4m3", "--random", "300", "--vec-random", "50",
        "--build", tmp_path,
    )  # fmt: skip
    assert code == 1, out + err
    assert re.search(r"FAIL: \d+ of \d+ cases differ from fp8emu", out), out
    # the directed case just above an fp32 tie: C = 2^14 (ulp 2^-9) plus the
    # products 2^-10 (half an ulp) and 2^-12 rounds up; without the sticky bit, to even
    m = re.search(r"case (\d+) \(vec_e4m3_e4m3 a\.txt:\d+ near_tie_acc_above\): (.*)\n(.*)", out)
    assert m, out
    assert "c=0x46800000" in m.group(2)
    assert "expected 0x46800001 (16384.002)  got 0x46800000 (16384)" in m.group(3)
    assert re.search(r"vec_e4m3_e4m3: FAIL: \d+ of \d+ cases differ", out)  # validate too
    assert "FAIL: RTL bench" in out and "fp8emu validate fails" in out


def test_the_fp16_accumulator_variant_equals_fp8emu(tmp_path):
    _require_tools()
    code, out, err = run_bench(
        "--acc16", "--pairs", "e5m2_e5m2,e4m3_e5m2", "--random", "600", "--vec-random", "50",
        "--build", tmp_path,
    )  # fmt: skip
    assert code == 0, out + err
    assert "random: 600 cases, 600 pass" in out
    assert out.count("PASS: all") == 1 + 4 and out.count("(result format fp16)") == 4
    assert "PASS: RTL bench" in out
