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

from emu.kernels.core import (
    KLIMBS,
    OVF_INF,
    RD,
    RU,
    add_exact_round,
    jit,
    kulisch_add,
    kulisch_round,
    round_f64,
    shift_round,
)
from emu.kernels.record import CLS_INF, CLS_NAN, CLS_NUM, NAN_SCALE

NO_EXP = -(1 << 30)  # e_max of a step without terms


@jit
def requant(n, lsb, qe, mode):
    """The signed value n * 2**lsb (|n| < 2**62) cut to a multiple of 2**qe by mode
    (RZ truncates the magnitude; RNE nearest, ties to even; RNA nearest, ties away;
    RD floors the signed value; RU ceils it).  Returns (count, exponent) with the
    same meaning; a value already a multiple of 2**qe comes back unchanged.  Matches
    emu.numerics.reference.requantize."""
    sh = qe - lsb
    if sh <= 0 or n == 0:
        return n, lsb
    neg = n < 0
    a = -n if neg else n
    if sh > 62:  # a < 2**62 <= half a quantum
        q = np.int64(0)
        if (mode == RD and neg) or (mode == RU and not neg):
            q = np.int64(1)
    else:
        q = shift_round(a, sh, neg, mode)
    return (-q if neg else q), qe


@jit
def count_at(n, lsb, qe, mode):
    """requant as a count of 2**qe (the caller knows it fits in int64)."""
    q, e = requant(n, lsb, qe, mode)
    return q << (e - qe)


@jit
def cut_add(limbs, m, lsb, qe, mode, neg):
    """Add the term (-1)**neg * m * 2**lsb cut to a multiple of 2**qe by mode (2.1 step
    4) to limbs."""
    n, e = requant(-m if neg else m, lsb, qe, mode)
    if n != 0:
        kulisch_add(limbs, -n if n < 0 else n, e, n < 0)


@jit
def product_at(k, i, j, a_m, a_s, a_e, b_m, b_s, b_e, frac):
    """Product k of the step as (signed significand, last-place exponent)."""
    m = np.int64(a_m[i, k]) * b_m[k, j]
    if a_s[i, k] != b_s[k, j]:
        m = -m
    return m, a_e[i, k] + b_e[k, j] - frac


@jit
def term_at(k, k1, G, i, j, a_m, a_s, a_e, b_m, b_s, b_e, frac):
    """The term starting at k: one product, or (group G > 1) the exact sum of the G
    products k <= kk < min(k + G, k1), which share one last place
    (record.operand_frac).  Returns (signed
    significand, last place, alignment exponent, is a term)."""
    if G == 1:
        m, lsb = product_at(k, i, j, a_m, a_s, a_e, b_m, b_s, b_e, frac)
        return m, lsb, a_e[i, k] + b_e[k, j], m != 0
    n = np.int64(0)
    live = False
    for kk in range(k, min(k + G, k1)):
        m, lsb = product_at(kk, i, j, a_m, a_s, a_e, b_m, b_s, b_e, frac)
        n += m
        live = live or m != 0
    return n, a_e[i, k] + b_e[k, j] - frac, a_e[i, k] + b_e[k, j], live


@jit
def zero_result(neg_zero, pos_zero, mode, positive):
    """The sign of a zero result (2.1 step 6): every zero of one sign keeps it; mixed
    signs, or an exact cancellation (neg_zero = pos_zero = False), give +0, -0 under
    RD; ``positive`` (zero_sign = positive): +0."""
    if positive:
        return 0.0
    if neg_zero and not pos_zero:
        return -0.0
    if pos_zero and not neg_zero:
        return 0.0
    return -0.0 if mode == RD else 0.0


@jit
def step_specials(c, i, j, k0, k1, a_m, a_s, a_c, b_m, b_s, b_c):
    """2.2 over the products of a step and c: 0 none, 1 NaN, 2 +Inf, 3 -Inf; and the
    signs of the zero products (any negative, any positive)."""
    nan = math.isnan(c)
    pinf = c == np.inf
    ninf = c == -np.inf
    negz = False
    posz = False
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
            if neg:
                negz = True
            else:
                posz = True
    sp = 0
    if nan or (pinf and ninf):
        sp = 1
    elif pinf:
        sp = 2
    elif ninf:
        sp = 3
    return sp, negz, posz


@jit
def lane_dot(i, j, k0, k1, a_m, a_s, a_e, b_m, b_s, b_e, prm):
    """The dot part of a step as one int64 (n, lsb), when it must be cut again later
    (lanes > 1 or join_bits an integer; config rules keep align_bits <= 30, so every
    sum fits): each lane (k - k0 = l mod lanes) aligned on its own e_max (zero terms
    as zero_exp says), cut by align_round, summed; the lane sums cut by lane_round to
    align_bits below the largest lane exponent e_dot and added.  Returns (n, lsb,
    e_dot, has_term)."""
    L = prm.lanes
    A = prm.align_bits
    frac = prm.frac_bits
    e_dot = NO_EXP
    for lane in range(L):  # the lane exponents
        e_l = lane_emax(lane, i, j, k0, k1, a_m, a_e, b_m, b_e, prm)
        e_dot = max(e_dot, e_l)
    if e_dot == NO_EXP:
        return np.int64(0), 0, NO_EXP, False
    total = np.int64(0)
    for lane in range(L):
        e_l = lane_emax(lane, i, j, k0, k1, a_m, a_e, b_m, b_e, prm)
        if e_l == NO_EXP:
            continue
        n_l = np.int64(0)
        for k in range(k0 + lane, k1, L):
            m, lsb = product_at(k, i, j, a_m, a_s, a_e, b_m, b_s, b_e, frac)
            if m != 0:
                n_l += count_at(m, lsb, e_l - A, prm.align_mode)
        total += count_at(n_l, e_l - A, e_dot - A, prm.lane_mode)
    return total, e_dot - A, e_dot, True


@jit
def lane_emax(lane, i, j, k0, k1, a_m, a_e, b_m, b_e, prm):
    """The e_max of one lane (NO_EXP: no term)."""
    L = prm.lanes
    e = NO_EXP
    zero = False
    for k in range(k0 + lane, k1, L):
        if a_m[i, k] == 0 or b_m[k, j] == 0:
            zero = True
        else:
            e = max(e, a_e[i, k] + b_e[k, j])
    if zero and prm.zero_exp_on:
        e = max(e, prm.zero_exp)
    return e


@jit
def c_parts(c, acc_ebits):
    """A non-zero finite c as (sig, lsb, exponent): c = sig * 2**lsb, |sig| < 2**53,
    exponent floor(log2|c|) clamped below at the accumulator's emin (2.1 step 2)."""
    fr, ex = math.frexp(abs(c))
    sig = np.int64(math.ldexp(fr, 53))
    return (-sig if c < 0 else sig), ex - 53, max(ex - 1, 2 - (1 << (acc_ebits - 1)))


@jit
def join_add(limbs, n, lsb, e_dot, c, prm):
    """C outside the alignment joins the dot part (n, lsb) in limbs (2.1 step 5): at
    e_j = max(e_dot, e_c), the dot part cut to 2**(e_j - join_bits) and C to
    2**(e_j - align_bits) by join_round, C dropped more than align_bits + 1 below."""
    A, J, mode = prm.align_bits, prm.join_bits, prm.join_mode
    e_j = e_dot
    cs, clsb, ce = np.int64(0), 0, 0
    if c != 0:
        cs, clsb, ce = c_parts(c, prm.acc_ebits)
        e_j = max(e_j, ce)
    if n != 0:
        d, dl = requant(n, lsb, e_j - J, mode)
        if d != 0:
            kulisch_add(limbs, -d if d < 0 else d, dl, d < 0)
    if c != 0 and ce >= e_j - A - 1:
        q, ql = requant(cs, clsb, e_j - A, mode)
        if q != 0:
            kulisch_add(limbs, -q if q < 0 else q, ql, q < 0)


@jit
def round_out(limbs, prm):
    """Round the step's exact sum (limbs) into acc_format (2.1 step 5), through the
    normalisation to norm_bits when set.  Returns (zero, value)."""
    mode = prm.acc_mode + (OVF_INF if prm.overflow_inf else 0)
    if prm.norm_bits < 0:
        return kulisch_round(limbs, prm.acc_ebits, prm.acc_mbits, mode, prm.acc_subnormals)
    saved = limbs.copy()
    zero, v = kulisch_round(limbs, prm.acc_ebits, prm.norm_bits, prm.norm_mode, True)
    if zero:
        return True, 0.0
    if math.isinf(v):  # beyond the range: round the exact value, which overflows
        limbs[:] = saved
        return kulisch_round(limbs, prm.acc_ebits, prm.acc_mbits, mode, prm.acc_subnormals)
    if v == 0:
        return False, v
    return False, round_f64(v, 0.0, prm.acc_ebits, prm.acc_mbits, mode, prm.acc_subnormals)


@jit
def fused_step(c, i, j, k0, k1, a_m, a_s, a_e, a_c, b_m, b_s, b_e, b_c, prm, limbs):
    """One fused step (spec 2.1 and 2.2): accumulator c plus products k0 <= k < k1.
    Mirrors emu.numerics.reference.fused_step."""
    sp, negz, posz = step_specials(c, i, j, k0, k1, a_m, a_s, a_c, b_m, b_s, b_c)
    if sp == 1:
        return np.nan
    if sp == 2:
        return np.inf
    if sp == 3:
        return -np.inf
    G = prm.group
    frac = prm.frac_bits
    align = prm.align_bits
    cin = prm.c_in_alignment
    c_nz = c != 0
    # 3. e_max over the terms (a group: its scale exponent), zero terms per zero_exp
    any_term = False
    zero_term = False
    emax = NO_EXP
    for k in range(k0, k1, G):
        m, lsb, e, live = term_at(k, k1, G, i, j, a_m, a_s, a_e, b_m, b_s, b_e, frac)
        if live:
            any_term = True
            emax = max(emax, e)
        else:
            zero_term = True
    if not any_term and not c_nz:
        if math.copysign(1.0, c) < 0:
            negz = True
        else:
            posz = True
        return zero_result(negz, posz, prm.acc_mode, prm.zero_positive)
    if cin:
        if c_nz:
            _, _, ce = c_parts(c, prm.acc_ebits)
            emax = max(emax, ce)
        else:
            zero_term = True
    if zero_term and prm.zero_exp_on:
        emax = max(emax, prm.zero_exp)
    if prm.lanes > 1 or (prm.join_bits >= 0 and not cin):
        if prm.lanes > 1:
            n, lsb, e_dot, _ = lane_dot(i, j, k0, k1, a_m, a_s, a_e, b_m, b_s, b_e, prm)
        else:  # one lane: the terms cut at align_bits below e_max, summed in int64
            n = np.int64(0)
            for k in range(k0, k1):
                m, plsb = product_at(k, i, j, a_m, a_s, a_e, b_m, b_s, b_e, frac)
                if m != 0:
                    n += count_at(m, plsb, emax - align, prm.align_mode)
            lsb, e_dot = emax - align, emax
        if prm.join_bits >= 0:
            join_add(limbs, n, lsb, e_dot, c, prm)
        else:
            if n != 0:
                kulisch_add(limbs, -n if n < 0 else n, lsb, n < 0)
            if c_nz:
                cs, clsb, _ = c_parts(c, prm.acc_ebits)
                kulisch_add(limbs, -cs if cs < 0 else cs, clsb, cs < 0)
    else:
        # 4. every term cut to a multiple of 2**(e_max - align_bits), added exactly
        qe = emax - align
        for k in range(k0, k1, G):
            m, lsb, e, live = term_at(k, k1, G, i, j, a_m, a_s, a_e, b_m, b_s, b_e, frac)
            if m != 0:
                if align < 0:
                    kulisch_add(limbs, -m if m < 0 else m, lsb, m < 0)
                else:
                    cut_add(limbs, -m if m < 0 else m, lsb, qe, prm.align_mode, m < 0)
        if c_nz:
            cs, clsb, _ = c_parts(c, prm.acc_ebits)
            if cin and align >= 0:
                cut_add(limbs, -cs if cs < 0 else cs, clsb, qe, prm.align_mode, cs < 0)
            else:
                kulisch_add(limbs, -cs if cs < 0 else cs, clsb, cs < 0)
    zero, v = round_out(limbs, prm)  # 5.
    if zero:  # 6. an exact cancellation
        return zero_result(False, False, prm.acc_mode, prm.zero_positive)
    if v == 0 and prm.zero_positive:
        return 0.0
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
    mode = prm.promote_mode
    if o == 0 and pp == 0:
        return zero_result(
            math.copysign(1.0, o) < 0 or math.copysign(1.0, p) < 0,
            math.copysign(1.0, o) > 0 or math.copysign(1.0, p) > 0,
            mode,
            prm.zero_positive,
        )
    if o == -pp:
        return zero_result(False, False, mode, prm.zero_positive)
    full = mode + (OVF_INF if prm.overflow_inf else 0)
    v = add_exact_round(o, pp, prm.promote_ebits, prm.promote_mbits, full, True)
    if v == 0 and prm.zero_positive:
        return 0.0
    return v


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
