"""The public GEMM entry point: checks operands, then emu.kernels.run (the kernel is
chosen by emu.kernels.select from the declarations in emu/kernels/dispatch.py)."""

from __future__ import annotations

import numpy as np

from emu.numerics.operands import batched, check


@batched
def gemm(a, b, *, c=None, sa=None, sb=None, config=None) -> np.ndarray:
    """D = C + A.B on the emulated tensor core, bit-identical to emu.numerics.reference.gemm.

    a: (M, K) uint8 codes or ml_dtypes float8 of config.a_format; b: (K, N) likewise;
    c: float32 (M, N) or None (+0); sa: (M, ceil(K/scale_block)) UE8M0 codes;
    sb: (ceil(K/scale_block), N), or (ceil(K/128), ceil(N/128)) with scale_b_tile=128.
    Returns float32 (M, N) with the values of the result format, NaN as 0x7FFFFFFF.
    Stacked operands (..., M, K) x (..., K, N) give (..., M, N): see
    :func:`emu.numerics.operands.batched`.
    """
    ops = check(a, b, c, sa, sb, config)
    from emu.kernels import run

    return run(ops)
