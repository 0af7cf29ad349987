"""The general kernel: one output element at a time, every knob and special value,
exact sums in a Kulisch accumulator.  It mirrors emu.numerics.reference step by step and
serves every element the fast kernels do not take (NaN/Inf inputs, wide exponent
spans, unusual configurations): the last entry of emu.kernels.KERNELS, it accepts
every configuration.

``prm`` is the parameter record (emu.kernels.record: ``Params(...).record()``), read by
field name where the value is needed."""

from __future__ import annotations

import math

import numpy as np

from emu.kernels.core import KLIMBS, RD, add_exact_round, jit, kulisch_add, kulisch_round
from emu.kernels.record import CLS_INF, CLS_NAN, CLS_NUM, NAN_SCALE


@jit
def cut_add(limbs, m, lsb, qe, rne, rna, neg):
    """Add the term m * 2**lsb cut to a multiple of 2**qe (2.1 step 4) to limbs:
    truncation of the magnitude, or round to nearest at 2**qe when rne (ties to
    even) or rna (ties away from zero)."""
    if lsb >= qe:
        kulisch_add(limbs, m, lsb, neg)
        return
    sh = qe - lsb
    if sh > 62:
        return  # m < 2**62 <= half a quantum: cut to zero
    n = m >> sh
    if rne or rna:
        rem = m & ((np.int64(1) << sh) - 1)
        half = np.int64(1) << (sh - 1)
        if rem > half or (rem == half and (rna or (n & 1) == 1)):
            n += 1
    if n != 0:
        kulisch_add(limbs, n, qe, neg)


@jit
def fused_step(c, i, j, k0, k1, a_m, a_s, a_e, a_c, b_m, b_s, b_e, b_c, prm, limbs):
    """One fused step (spec 2.1 and 2.2): accumulator c plus products k0 <= k < k1."""
    nan = math.isnan(c)
    pinf = c == np.inf
    ninf = c == -np.inf
    any_term = False
    all_neg_zero = True
    emax = -(1 << 30)
    for k in range(k0, k1):
        ca = a_c[i, k]
        cb = b_c[k, j]
        neg = a_s[i, k] != b_s[k, j]
        if ca == CLS_NAN or cb == CLS_NAN:
            nan = True
        elif ca == CLS_INF or cb == CLS_INF:
            if (ca == CLS_NUM and a_m[i, k] == 0) or (cb == CLS_NUM and b_m[k, j] == 0):
                nan = True
            elif neg:
                ninf = True
            else:
                pinf = True
        elif a_m[i, k] == 0 or b_m[k, j] == 0:
            if not neg:
                all_neg_zero = False
        else:
            any_term = True
            emax = max(emax, a_e[i, k] + b_e[k, j])
    if nan or (pinf and ninf):
        return np.nan
    if pinf:
        return np.inf
    if ninf:
        return -np.inf
    c_nz = c != 0
    if not any_term and not c_nz:
        return -0.0 if (all_neg_zero and math.copysign(1.0, c) < 0) else 0.0
    align = prm.align_bits
    cin = prm.c_in_alignment
    csig = np.int64(0)
    clsb = 0
    if c_nz:
        fr, ex = math.frexp(abs(c))
        csig = np.int64(math.ldexp(fr, 53))
        clsb = ex - 53
        if cin:
            emax = max(emax, max(ex - 1, 2 - (1 << (prm.acc_ebits - 1))))
    qe = emax - align
    rne, rna = prm.align_rne, prm.align_rna
    frac = prm.frac_bits
    for k in range(k0, k1):
        m = np.int64(a_m[i, k]) * b_m[k, j]
        if m != 0:
            neg = a_s[i, k] != b_s[k, j]
            lsb = a_e[i, k] + b_e[k, j] - frac
            if align < 0:
                kulisch_add(limbs, m, lsb, neg)
            else:
                cut_add(limbs, m, lsb, qe, rne, rna, neg)
    if c_nz:
        if cin and align >= 0:
            cut_add(limbs, csig, clsb, qe, rne, rna, c < 0)
        else:
            kulisch_add(limbs, csig, clsb, c < 0)
    zero, v = kulisch_round(limbs, prm.acc_ebits, prm.acc_mbits, prm.acc_mode, prm.acc_subnormals)
    if zero:
        return -0.0 if prm.acc_mode == RD else 0.0
    return v


@jit
def promote(o, p, s, prm):
    """o <- round(o + p * 2**s) into promote_format, one rounding (spec 2.4)."""
    if s == NAN_SCALE or math.isnan(o) or math.isnan(p):
        return np.nan
    if math.isinf(o) or math.isinf(p):
        if math.isinf(o) and math.isinf(p) and (o > 0) != (p > 0):
            return np.nan
        return o if math.isinf(o) else p
    pp = math.ldexp(p, s)
    if o == 0 and pp == 0:
        both_neg = math.copysign(1.0, o) < 0 and math.copysign(1.0, p) < 0
        return -0.0 if both_neg else 0.0
    if o == -pp:
        return -0.0 if prm.promote_mode == RD else 0.0
    return add_exact_round(o, pp, prm.promote_ebits, prm.promote_mbits, prm.promote_mode, True)


@jit
def dot_element(i, j, a_m, a_s, a_e, a_c, b_m, b_s, b_e, b_c, c0, sa_p, sb_p, prm, limbs):
    """D[i, j] per spec section 2 (fused steps, promotion, promotion-time scales)."""
    K = a_m.shape[1]
    step = max(prm.fused, 1)
    P = prm.promote_every
    if P == 0:
        acc = c0
        for k0 in range(0, K, step):
            acc = fused_step(
                acc, i, j, k0, min(k0 + step, K), a_m, a_s, a_e, a_c, b_m, b_s, b_e, b_c, prm, limbs
            )
        return acc
    o = c0
    for p0 in range(0, K, P):
        inner = 0.0
        for k0 in range(p0, min(p0 + P, K), step):
            inner = fused_step(
                inner,
                i,
                j,
                k0,
                min(k0 + step, K),
                a_m,
                a_s,
                a_e,
                a_c,
                b_m,
                b_s,
                b_e,
                b_c,
                prm,
                limbs,
            )
        s = 0
        if prm.scale_at_promotion:
            kb = p0 // prm.scale_block
            sa = sa_p[i, kb]
            sb = sb_p[kb, j]
            s = NAN_SCALE if (sa == NAN_SCALE or sb == NAN_SCALE) else sa + sb
        o = promote(o, inner, s, prm)
    return o


@jit
def gemm_general(r0, r1, a_m, a_s, a_e, a_c, b_m, b_s, b_e, b_c, c, sa_p, sb_p, prm, mask, out):
    """out[i, j] = D[i, j] wherever mask[i, j], for rows r0 <= i < r1."""
    N = b_m.shape[1]
    for i in range(r0, r1):
        limbs = np.zeros(KLIMBS, dtype=np.int64)
        for j in range(N):
            if mask[i, j]:
                out[i, j] = dot_element(
                    i,
                    j,
                    a_m,
                    a_s,
                    a_e,
                    a_c,
                    b_m,
                    b_s,
                    b_e,
                    b_c,
                    np.float64(c[i, j]),
                    sa_p,
                    sb_p,
                    prm,
                    limbs,
                )
