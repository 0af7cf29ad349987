"""The public GEMM entry point: checks operands, then emu.kernels.run (the kernel is
chosen by emu.kernels.select from the declarations in emu/kernels/dispatch.py)."""

from __future__ import annotations

import numpy as np

from emu.numerics.operands import batched, check


def _parallel(calls, macs):
    """The matrices of a stack, each with its own B: small ones (below the size at
    which one GEMM uses threads) on the kernels' threads, a share each; each result
    is computed by one call on its own operands, so nothing depends on the split."""
    from emu.kernels.core import SERIAL_WORK, n_threads, run_calls

    if macs >= SERIAL_WORK or n_threads() == 1 or len(calls) < 2:
        return [f() for f in calls]
    return run_calls(calls)


@batched(parallel=_parallel)
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
