#!/usr/bin/env python3
"""Rounding probes: runs examples/rounding_probe.s through `fp8emu run` and checks
its six results against the numbers of spec section 4 (the program also checks
them itself and halts with status 1 on a mismatch).  Exit status 0 when all match.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# (preset, what the probe computes, the spec's result)
PROBES = [
    ("h100", "c=1 + 1.5*2^-7 x 2^-7", 1.0),
    ("exact", "c=1 + 1.5*2^-7 x 2^-7", 1 + 3 * 2.0**-15),
    ("h100", "c=0 + 1x1 - 1.5*2^-7 x 2^-7", 1.0),
    ("h100", "c=3*2^-14 + 1x1", 1 + 2.0**-13),
    ("h100", "c=0 + 1x1 + 2^-7 x 2^-7", 1.0),
    ("fp32-seq", "c=0 + 1x1 + 2^-7 x 2^-7", 1 + 2.0**-14),
]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.npy")
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        )
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "emu.cli",
                "run",
                str(ROOT / "examples" / "rounding_probe.s"),
                "--out",
                f"R={out}",
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if r.returncode:
            print(f"fp8emu run: status {r.returncode}: {r.stderr.strip()}")
            return 1
        got = np.load(out)
    bad = 0
    print(f"{'preset':9} {'probe':30} {'result':22} spec")
    for (name, what, want), g in zip(PROBES, got.astype(float)):
        ok = g == want
        bad += not ok
        print(f"{name:9} {what:30} {g.hex():22} {want.hex()} {'ok' if ok else 'MISMATCH'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
