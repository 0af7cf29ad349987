#!/usr/bin/env python3
"""Tiled GEMM example: runs examples/tiled_gemm.s through `fp8emu run` and checks
that its D equals emu.gemm on the same data bit for bit.

Data: A (M x K) and B (K x N) are random normal values quantised to E4M3 with
``floor`` UE8M0 scales, per 1x128 for A (activations) and per 128x128 for B
(weights).  Exit status 0 when D matches, 1 otherwise.
FP8EMU_EXAMPLE_QUICK=1 shrinks the problem (M=32, N=256, K=256).
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
    dict(M=32, N=256, K=256, MT=16, NT=128, KT=128)
    if QUICK
    else dict(M=256, N=256, K=1024, MT=256, NT=256, KT=256)
)


def main() -> int:
    M, N, K = SHAPE["M"], SHAPE["N"], SHAPE["K"]
    rng = np.random.default_rng(2024)
    a, sa = emu.quantize(rng.standard_normal((M, K)).astype(np.float32), "e4m3", (1, 128))
    b, sb = emu.quantize(rng.standard_normal((K, N)).astype(np.float32), "e4m3", (128, 128))
    status, out, err = run_cli(
        ROOT / "examples" / "tiled_gemm.s", dict(A=a, B=b, SA=sa, SB=sb), ["D"], SHAPE
    )
    if status:
        print(f"fp8emu run failed (status {status}): {err.strip()}")
        return 1
    d = out["D"]
    want = emu.gemm(a, b, sa=sa, sb=sb, config=emu.preset("default").replace(scale_b_tile=128))
    bad = int(np.count_nonzero(d.view(np.uint32) != want.view(np.uint32)))
    print(
        f"tiled GEMM {M}x{N}x{K} (tiles {SHAPE['MT']}x{SHAPE['NT']}x{SHAPE['KT']}), "
        "default machine, 1x128 / 128x128 UE8M0 scales"
    )
    print(
        f"  machine vs emu.gemm: {f'{bad} elements differ' if bad else 'bit-identical'} "
        f"({d.size} elements)"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
