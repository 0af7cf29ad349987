"""Run an example program through the real command line (``python -m emu.cli run``),
with numpy arrays as ``--in`` files: what the example scripts use to check
themselves."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def run_cli(program, inputs=None, outputs=(), defines=None, extra=()):
    """Run ``python -m emu.cli run program`` with arrays as ``--in`` files.

    Returns ``(exit status, {name: output array}, stderr)``; outputs are read only
    when the program ran to a halt (status 0 or 1)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "emu.cli", "run", str(program), *extra]
        for name, arr in (inputs or {}).items():
            path = os.path.join(tmp, f"in_{name}.npy")
            np.save(path, arr)
            cmd += ["--in", f"{name}={path}"]
        for name in outputs:
            cmd += ["--out", f"{name}={os.path.join(tmp, f'out_{name}.npy')}"]
        for k, v in (defines or {}).items():
            cmd += ["-D", f"{k}={v}"]
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        )
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        outs = {}
        if r.returncode in (0, 1):
            outs = {n: np.load(os.path.join(tmp, f"out_{n}.npy")) for n in outputs}
        return r.returncode, outs, r.stderr
