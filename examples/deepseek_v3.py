#!/usr/bin/env python3
"""DeepSeek-V3 recipe: runs examples/deepseek_v3.s through `fp8emu run` and checks

* its quantised activations XQ, SX equal emu.quantize(X, e4m3, 1x128, ceil), and
* its D equals emu.gemm(XQ, W, SX, SW) with the deepseek-v3 preset, bit for bit.

Data: X (M x K) random normal activations with a few large outliers; W (K x N)
random normal weights quantised offline per 128x128 (ceil scales, as DeepGEMM's
per_block_cast_to_fp8 with ue8m0).  Exit status 0 when everything matches.
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
    else dict(M=256, N=256, K=1024, MT=128, NT=128, KT=256)
)


def main() -> int:
    M, N, K = SHAPE["M"], SHAPE["N"], SHAPE["K"]
    rng = np.random.default_rng(7)
    x = rng.standard_normal((M, K)).astype(np.float32)
    x[rng.random((M, K)) < 0.002] *= 300  # activation outliers
    w, sw = emu.quantize(
        0.05 * rng.standard_normal((K, N)).astype(np.float32), "e4m3", (128, 128), "ceil"
    )
    status, out, err = run_cli(
        ROOT / "examples" / "deepseek_v3.s", dict(X=x, W=w, SW=sw), ["D", "XQ", "SX"], SHAPE
    )
    if status:
        print(f"fp8emu run failed (status {status}): {err.strip()}")
        return 1
    xq, sx = emu.quantize(x, "e4m3", (1, 128), "ceil")
    want = emu.gemm(xq, w, sa=sx, sb=sw, config=emu.preset("deepseek-v3"))
    checks = {
        "XQ (1x128 e4m3 codes)": np.array_equal(out["XQ"], xq),
        "SX (ceil UE8M0 scales)": np.array_equal(out["SX"], sx),
        "D vs emu.gemm, deepseek-v3": np.array_equal(
            out["D"].view(np.uint32), want.view(np.uint32)
        ),
    }
    print(f"DeepSeek-V3 recipe {M}x{N}x{K} (tiles {SHAPE['MT']}x{SHAPE['NT']}x{SHAPE['KT']})")
    for what, ok in checks.items():
        print(f"  {what}: {'bit-identical' if ok else 'DIFFERENT'}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
