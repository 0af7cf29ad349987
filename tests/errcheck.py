"""Helpers for the error tests: run the CLI in-process or as the real console entry,
and the shapes every error line must have."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

from emu.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "fp8emu: error: "


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


def console(*argv, cwd=None, env=None, timeout=120):
    """The real console entry point ``python -m emu.cli`` in a subprocess."""
    e = dict(os.environ, PYTHONPATH=str(ROOT))
    e.update(env or {})
    p = subprocess.run(
        [sys.executable, "-m", "emu.cli", *map(str, argv)],
        cwd=cwd,
        env=e,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return p.returncode, p.stdout, p.stderr


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
