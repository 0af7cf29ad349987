"""Kernels whose exactness is a float64 fact (each fact is proved here and tested at
its limits in tests/test_kernels.py).

One exact step (``align_bits = "exact"``, the whole of K in one fused step, scales
if any applied to the products, no promotion) -- the ``exact`` preset.  Every
non-zero FP8 value times its UE8M0 scale is an integer multiple of 2**lsb (its own
last-place unit), and |value| <= max.  So every
product of row i of A and column j of B is an integer multiple of
u = 2**(lsb_a + lsb_b), at most amax * bmax in magnitude, where lsb_a, lsb_b are the
smallest last-place exponents and amax, bmax the largest magnitudes present.  Any
partial sum, in any order, is then an integer multiple of u below
K * amax * bmax; when that is at most 2**53 * u every float64 addition and every
FMA is exact, so BLAS float64 matmul returns the exact sum S (for E4M3 data:
u >= 2**-18, amax * bmax < 2**18, so K <= 2**17 always qualifies).  The result is
then round(S + C) -- one rounding of an exact two-term sum (TwoSum).

A chain of fp32 FMAs (``fused = 1``, exact alignment, fp32 rne with subnormals, no
scales, no promotion) -- the ``fp32-seq`` preset.  Each step is
RNE_24(c + p) with c an fp32 value and p an FP8 product (at most 8 significant bits,
inside the fp32 exponent range).  float64 holds p exactly and computes
RN_53(c + p); since 53 >= 2 * 24 + 2, rounding that again to fp32 equals rounding the
exact sum once (double rounding is innocuous: Figueroa, "When is double rounding
innocuous?", SIGNUM 1995); sums below 2**-126 are multiples of 2**-149 and exact.
IEEE arithmetic also gives the spec's signed zeros (-0 + -0 = -0, x - x = +0),
overflow to Inf under rne and Inf staying Inf.
"""

from __future__ import annotations

import numpy as np

from emu.kernels.core import RD, add_exact_round, float_bounds, jit, round_f64
from emu.kernels.fast import COLS, ROWS, _round_vec


def exact_step_fits(a_f, b_f, a_lsb, b_lsb, K: int) -> bool:
    """The condition above, from the data: K * amax * bmax <= 2**53 * 2**(lsb_a+lsb_b).
    a_f/b_f: float64 values (finite); a_lsb/b_lsb: last-place exponents of the
    non-zero values (empty when all are zero)."""
    if K == 0 or a_lsb.size == 0 or b_lsb.size == 0:
        return True
    amax, bmax = np.abs(a_f).max(), np.abs(b_f).max()
    bound = np.log2(float(K)) + np.log2(amax) + np.log2(bmax)
    return bound <= 53 + int(a_lsb.min()) + int(b_lsb.min()) - 1e-9


@jit
def finish_exact(r0, r1, S, c, prm, out, redo):
    """out = round(S + C) once into acc_format by acc_round (prm: the parameter record),
    rows r0 <= i < r1; all-zero cases -> redo.  Per row: TwoSum gives S + C exactly as
    x + tail, fast._round_vec rounds every element on the float64 bits, and the
    elements it cannot decide (zero, subnormal, overflowing) are rounded one by one."""
    ebits, mbits, mode, sub = prm.acc_ebits, prm.acc_mbits, prm.acc_mode, prm.acc_subnormals
    N = S.shape[1]
    lo_bits, hi_bits = float_bounds(ebits, mbits)
    X = np.empty(N, np.float64)
    T = np.empty(N, np.float64)
    flag = np.empty(N, np.bool_)
    for i in range(r0, r1):
        for j in range(N):
            s = S[i, j]
            cv = np.float64(c[i, j])
            x = s + cv
            bb = x - s
            X[j] = x
            T[j] = (s - (x - bb)) + (cv - bb)
        row = out[i]
        _round_vec(X, T, row, flag, N, mbits, mode, lo_bits, hi_bits, True)
        for j in range(N):
            if not flag[j]:
                continue
            s = S[i, j]
            cv = np.float64(c[i, j])
            if s == 0:
                if cv == 0:
                    redo[i, j] = True  # signed-zero rules need the products
                else:
                    row[j] = round_f64(cv, 0.0, ebits, mbits, mode, sub)
            elif cv == -s:
                row[j] = -0.0 if mode == RD else 0.0
            elif cv == 0:
                row[j] = round_f64(s, 0.0, ebits, mbits, mode, sub)
            else:
                row[j] = add_exact_round(s, cv, ebits, mbits, mode, sub)


@jit
def fma_chain_fp32(r0, r1, a_f, b_f, c, rows, out):
    """out[i, j] = c[i, j] folded with fp32 FMAs over k in order (rows[i], r0 <= i < r1).
    Blocks of ROWS rows x COLS columns keep their tile of B in cache."""
    K = a_f.shape[1]
    N = b_f.shape[1]
    acc = np.empty((ROWS, COLS), dtype=np.float32)
    for i0 in range(r0, r1, ROWS):
        nr = min(ROWS, r1 - i0)
        for j0 in range(0, N, COLS):
            j1 = min(j0 + COLS, N)
            n = j1 - j0
            for r in range(nr):
                acc[r, :n] = c[i0 + r, j0:j1]
            for k in range(K):
                brow = b_f[k, j0:j1]
                for r in range(nr):
                    av = np.float64(a_f[i0 + r, k])
                    arow = acc[r]
                    for t in range(n):
                        arow[t] = np.float32(np.float64(arow[t]) + av * np.float64(brow[t]))
            for r in range(nr):
                if rows[i0 + r]:
                    out[i0 + r, j0:j1] = acc[r, :n]
