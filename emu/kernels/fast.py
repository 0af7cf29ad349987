"""The fast kernel for a finite alignment window (align_bits an integer).

For one row i and one fused step it works on whole rows of B (contiguous in j, so
LLVM vectorises the inner loops):

1. e_max[j] over the step's non-zero products (zero operands carry a very negative
   exponent instead of a branch) and, with c_in_alignment, the accumulator;
2. every term cut to the quantum 2**(e_max - align_bits) with integer shifts and
   summed exactly in int64 (the caller guarantees the sum fits);
3. one rounding into acc_format per element.

Elements this kernel does not decide are flagged in ``redo`` and recomputed by the
general kernel: every term zero (signed-zero rules), an infinite accumulator after
overflow.  Rows/columns with NaN or Inf operands never reach it (the caller masks
them).  Promotion (2.4) and its scales are applied per element as in the general
kernel.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from .core import RD, add_exact_round, jit, pjit, round_int
from .general import (NAN_SCALE, P_AEB, P_ALIGN, P_ALIGN_RNE, P_AMB, P_AMODE, P_ASUB,
                      P_BS, P_CIN, P_FRAC, P_FUSED, P_PROMOTE, P_SCALE_PROMO, promote)

ZERO_EXP = -(1 << 14)        # exponent carried by zero operands (never the maximum)
NO_TERM = -(1 << 20)         # e_max when a step has no non-zero term
F64_FRAC = (np.int64(1) << 52) - 1


@jit
def _step(i, k0, k1, a_sm, a_e, b_sm, b_e, acc, prm, emax, X, redo):
    """acc[j] <- one fused step over k0 <= k < k1 for every column j."""
    N = acc.shape[0]
    align = prm[P_ALIGN]
    frac = prm[P_FRAC]
    cin = prm[P_CIN] != 0
    rne = prm[P_ALIGN_RNE] != 0
    emin_acc = 2 - (1 << (prm[P_AEB] - 1))
    L = max(align - frac, 0)
    accb = acc.view(np.int64)
    # 1. e_max (the accumulator joins when c_in_alignment)
    for j in range(N):
        e = NO_TERM
        if cin and acc[j] != 0:
            e = max(((accb[j] >> 52) & 0x7FF) - 1023, emin_acc)
        emax[j] = e
    for k in range(k0, k1):
        if a_sm[i, k] != 0:
            ae = a_e[i, k]
            for j in range(N):
                emax[j] = max(emax[j], ae + b_e[k, j])
    # 2. cut and sum; c first (its 53-bit significand, lsb = exponent - 52)
    for j in range(N):
        x = np.int64(0)
        if cin and acc[j] != 0:
            sig = (accb[j] & F64_FRAC) | (np.int64(1) << 52)
            sh = min(emax[j] - align - (((accb[j] >> 52) & 0x7FF) - 1023 - 52), 62)
            r = sig >> sh
            if rne:
                rem = sig & ((np.int64(1) << sh) - 1)
                half = np.int64(1) << (sh - 1)
                if rem > half or (rem == half and (r & 1) == 1):
                    r += 1
            x = -r if acc[j] < 0 else r
        X[j] = x
    shift0 = L + frac - align
    for k in range(k0, k1):
        am = np.int64(a_sm[i, k])
        if am != 0:
            ae = a_e[i, k]
            if rne:
                for j in range(N):
                    m = am * b_sm[k, j]
                    mag = abs(m) << L
                    s = min(emax[j] - ae - b_e[k, j] + shift0, 60)
                    hb = (np.int64(1) << s) >> 1
                    r = (mag + hb - 1 + ((mag >> s) & 1)) >> s if s > 0 else mag
                    X[j] += -r if m < 0 else r
            else:
                for j in range(N):
                    m = am * b_sm[k, j]
                    s = min(emax[j] - ae - b_e[k, j] + shift0, 60)
                    r = (abs(m) << L) >> s
                    X[j] += -r if m < 0 else r
    # 3. one rounding per element
    aeb, amb, amode, asub = prm[P_AEB], prm[P_AMB], prm[P_AMODE], prm[P_ASUB] != 0
    for j in range(N):
        if emax[j] == NO_TERM and acc[j] == 0:
            redo[j] = True                     # every term zero: signed-zero rules
            continue
        x = X[j]
        qe = emax[j] - align
        if not cin and acc[j] != 0:
            if emax[j] == NO_TERM:
                x = 0
            xf = float(x) * 2.0 ** qe if x != 0 else 0.0
            if xf == -acc[j]:
                v = -0.0 if amode == RD else 0.0
            else:
                v = add_exact_round(xf, acc[j], aeb, amb, amode, asub)
        elif x == 0:
            v = -0.0 if amode == RD else 0.0
        else:
            v = round_int(abs(x), qe, x < 0, aeb, amb, amode, asub)
        if np.isinf(v):
            redo[j] = True
        acc[j] = v


@pjit
def gemm_fast(a_sm, a_e, b_sm, b_e, c, sa_p, sb_p, prm, rows, out, redo):
    """out[i, :] for every i with rows[i]; redo[i, j] flags elements left undecided."""
    M = a_sm.shape[0]
    K = a_sm.shape[1]
    N = b_sm.shape[1]
    step = prm[P_FUSED]
    P = prm[P_PROMOTE]
    for i in prange(M):
        if not rows[i]:
            continue
        emax = np.empty(N, dtype=np.int64)
        X = np.empty(N, dtype=np.int64)
        acc = np.empty(N, dtype=np.float64)
        r = redo[i]
        if P == 0:
            for j in range(N):
                acc[j] = c[i, j]
            for k0 in range(0, K, step):
                _step(i, k0, min(k0 + step, K), a_sm, a_e, b_sm, b_e, acc, prm, emax, X, r)
            for j in range(N):
                out[i, j] = acc[j]
            continue
        for j in range(N):
            out[i, j] = c[i, j]
        for p0 in range(0, K, P):
            acc[:] = 0.0
            for k0 in range(p0, min(p0 + P, K), step):
                _step(i, k0, min(k0 + step, K), a_sm, a_e, b_sm, b_e, acc, prm, emax, X, r)
            for j in range(N):
                s = 0
                if prm[P_SCALE_PROMO] != 0:
                    kb = p0 // prm[P_BS]
                    s = sa_p[i, kb] + sb_p[kb, j]
                    if sa_p[i, kb] == NAN_SCALE or sb_p[kb, j] == NAN_SCALE:
                        s = NAN_SCALE
                out[i, j] = promote(out[i, j], acc[j], s, prm)
