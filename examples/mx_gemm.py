#!/usr/bin/env python3
"""MX GEMM: runs examples/mx_gemm.s through `fp8emu run` and checks that D equals
emu.gemm with the mxfp8 preset (and b_format = e5m2) bit for bit.

Data: A (M x K) quantised to E4M3 per 1x32 and B (K x N) to E5M2 per 32x1, both with
OCP MX ``floor`` scales.  Exit status 0 when D matches.
FP8EMU_EXAMPLE_QUICK=1 shrinks the problem (M=32, N=64, K=128).
"""

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from runner import run_cli  # noqa: E402

import emu  # noqa: E402

QUICK = os.environ.get("FP8EMU_EXAMPLE_QUICK") == "1"
SHAPE = (
    dict(M=32, N=64, K=128, MT=16, NT=32, KT=64)
    if QUICK
    else dict(M=256, N=256, K=1024, MT=128, NT=128, KT=256)
)


def main() -> int:
    M, N, K = SHAPE["M"], SHAPE["N"], SHAPE["K"]
    rng = np.random.default_rng(32)
    a, sa = emu.quantize(rng.standard_normal((M, K)).astype(np.float32), "e4m3", (1, 32))
    b, sb = emu.quantize(rng.standard_normal((K, N)).astype(np.float32), "e5m2", (32, 1))
    status, out, err = run_cli(
        ROOT / "examples" / "mx_gemm.s", dict(A=a, B=b, SA=sa, SB=sb), ["D"], SHAPE
    )
    if status:
        print(f"fp8emu run failed (status {status}): {err.strip()}")
        return 1
    want = emu.gemm(a, b, sa=sa, sb=sb, config=emu.preset("mxfp8").replace(b_format="e5m2"))
    bad = int(np.count_nonzero(out["D"].view(np.uint32) != want.view(np.uint32)))
    print(
        f"MX GEMM {M}x{N}x{K}, E4M3 x E5M2, block 32 (tiles "
        f"{SHAPE['MT']}x{SHAPE['NT']}x{SHAPE['KT']})"
    )
    print(f"  machine vs emu.gemm, mxfp8: {f'{bad} elements differ' if bad else 'bit-identical'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
