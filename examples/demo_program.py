"""`make demo`: the tiled GEMM example run through ``fp8emu run``, compared with
emu.gemm (bit for bit) and with the exact result (one rounding of the exact sum).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from runner import run_cli

ROOT = Path(__file__).resolve().parents[1]


def compare_exact(d, exact) -> str:
    """Max abs / rel error and ulp distance of fp32 results d against exact."""
    d64, e64 = d.astype(np.float64), exact.astype(np.float64)
    err = np.abs(d64 - e64)
    rel = err / np.maximum(np.abs(e64), np.finfo(np.float32).tiny)
    ulp = np.abs(d.view(np.int32).astype(np.int64) - exact.view(np.int32).astype(np.int64))
    differ = int(np.count_nonzero(ulp))
    return (
        f"max abs error {err.max():.3e}, max rel error {rel.max():.3e}, "
        f"{differ} of {d.size} elements differ (at most {int(ulp.max())} ulp)"
    )


def main() -> int:
    import emu

    M, N, K = 256, 256, 1024
    rng = np.random.default_rng(2024)
    a, sa = emu.quantize(rng.standard_normal((M, K)).astype(np.float32), "e4m3", (1, 128))
    b, sb = emu.quantize(rng.standard_normal((K, N)).astype(np.float32), "e4m3", (128, 128))
    prog = ROOT / "examples" / "tiled_gemm.s"
    print(
        f"fp8emu run {prog.relative_to(ROOT)}: D = A.B, {M}x{N}x{K}, E4M3, 1x128 "
        "activation and 128x128 weight UE8M0 scales, default machine"
    )
    t = time.perf_counter()
    status, out, err = run_cli(prog, dict(A=a, B=b, SA=sa, SB=sb), ["D"])
    if status:
        print(f"fp8emu run failed (status {status}): {err.strip()}")
        return 1
    print(f"  ran in {time.perf_counter() - t:.2f} s (including start-up)")
    d = out["D"]
    cfg = emu.preset("default").replace(scale_b_tile=128)
    same = np.array_equal(
        d.view(np.uint32), emu.gemm(a, b, sa=sa, sb=sb, config=cfg).view(np.uint32)
    )
    print(f"  vs emu.gemm (same config): {'bit-identical' if same else 'DIFFERENT'}")
    exact = emu.gemm(
        a, b, sa=sa, sb=sb, config=emu.preset("exact").replace(scale_block=128, scale_b_tile=128)
    )
    print(f"  vs exact (one fp32 rounding of the exact sum): {compare_exact(d, exact)}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
