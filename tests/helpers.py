"""Everything the tests share, imported as ``from tests.helpers import ...``.

Running fp8emu: ``cli`` runs the command line in-process (the normal way),
``cli_ok`` the same when it must succeed, ``console`` the real console entry in a
subprocess (for what only a real process shows: environment variables read at
start-up, signals, exit flushing, imports), ``console_process`` the same without
waiting for it, ``python`` any other Python command line in a subprocess.  Then the
shapes every error line must have, and bit-exact comparison of float32 results."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from emu.cli import main as cli_main
from emu.numerics.operands import n_blocks

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "fp8emu: error: "


# ------------------------------------------------------------------ running fp8emu
def cli(*argv, cwd=None):
    """Run ``fp8emu argv`` in-process: (exit status, stdout, stderr).

    Output is captured by redirecting sys.stdout/stderr (works inside hypothesis
    tests, where pytest's function-scoped capsys cannot be used).  A Python
    exception escaping main() is a failure of the test, not an exit status."""
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli_main([str(a) for a in argv])
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


def cli_ok(*argv, cwd=None) -> str:
    """``cli(*argv)`` that must exit 0; returns its stdout."""
    code, out, err = cli(*argv, cwd=cwd)
    assert code == 0, (argv, code, err)
    return out


def subprocess_env(env=None) -> dict:
    """os.environ with the checkout first on PYTHONPATH, updated with ``env``."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), e.get("PYTHONPATH")) if p)
    e.update(env or {})
    return e


def python(*argv, cwd=None, env=None, timeout=120):
    """``python argv`` (this interpreter) in a subprocess: (exit status, stdout, stderr)."""
    p = subprocess.run(
        [sys.executable, *map(str, argv)],
        cwd=cwd,
        env=subprocess_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return p.returncode, p.stdout, p.stderr


def console(*argv, cwd=None, env=None, timeout=120):
    """The real console entry point ``python -m emu.cli`` in a subprocess."""
    return python("-m", "emu.cli", *argv, cwd=cwd, env=env, timeout=timeout)


def console_process(*argv, cwd=None, env=None) -> subprocess.Popen:
    """``console`` started, not waited for: a Popen with binary stdout/stderr pipes
    (for a test that reads part of the output, or signals the process)."""
    return subprocess.Popen(
        [sys.executable, "-m", "emu.cli", *map(str, argv)],
        cwd=cwd,
        env=subprocess_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


# ------------------------------------------------------------------ error lines
def one_error_line(code, err, pattern=None):
    """Status 2, exactly one stderr line ``fp8emu: error: ...`` (matching ``pattern``,
    a regex for the text after the prefix), no traceback.  Returns the text."""
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1, err
    assert lines[0].startswith(PREFIX), lines[0]
    text = lines[0][len(PREFIX) :]
    if pattern is not None:
        assert re.fullmatch(pattern, text), f"{text!r} !~ {pattern!r}"
    return text


def source_error(path) -> str:
    """``file:line:col: error: what`` of an assembly source."""
    return re.escape(str(path)) + r":(\d+):(\d+): error: \S.*"


def byte_error(path) -> str:
    """``file: byte N: what`` of an object file."""
    return re.escape(str(path)) + r": byte (\d+): \S.*"


FAULT = r"pc=0x[0-9a-f]{4,}: (\S.*?): (\S.*)"  # pc, instruction, reason


def temp_files(directory) -> list:
    """Temporary files of an interrupted atomic write (there must be none)."""
    return sorted(p for p in os.listdir(directory) if p.startswith(".fp8emu-"))


# ------------------------------------------------------------------ numbers
def bits(x):
    """float32 array as uint32 bit patterns (for bit-exact comparisons)."""
    return np.asarray(x, dtype=np.float32).view(np.uint32)


def assert_bits_equal(got, want, msg=""):
    g, w = bits(got), bits(want)
    if not np.array_equal(g, w):
        idx = np.argwhere(g != w)[0]
        raise AssertionError(
            f"{msg} first mismatch at {tuple(idx)}: got "
            f"{g[tuple(idx)]:#010x} want {w[tuple(idx)]:#010x}"
        )


def random_scales(rng, cfg, M, N, K, nan_rate=0.0, lo=110, hi=145):
    """Random scales shaped for cfg (None when cfg has no scales): UE8M0 codes in
    [lo, hi); UE4M3: any finite code (zero and subnormals included) with a random
    ignored sign bit; a share ``nan_rate`` of NaN codes."""
    if not cfg.scale_block:
        return None, None
    nkb = n_blocks(K, cfg.scale_block)
    shape = (nkb, n_blocks(N, 128)) if cfg.scale_b_tile else (nkb, N)
    if cfg.scale_format == "ue4m3":
        sa, sb = (
            (rng.integers(0, 0x7F, sh) | (rng.integers(0, 2, sh) << 7)).astype(np.uint8)
            for sh in ((M, nkb), shape)
        )
        nan = 0x7F
    else:
        sa = rng.integers(lo, hi, (M, nkb)).astype(np.uint8)
        sb = rng.integers(lo, hi, shape).astype(np.uint8)
        nan = 0xFF
    if nan_rate:
        sa[rng.random(sa.shape) < nan_rate] = nan
        sb[rng.random(sb.shape) < nan_rate] = nan
    return sa, sb
