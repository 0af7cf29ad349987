"""The fast kernel for a finite alignment window (align_bits an integer).

Why it is exact: every FP8 product a*b is exactly a float64 (at most 8 significant
bits, exponent within +-300 even with two UE8M0 scales).  Let q = 2**(e_max -
align_bits).  Then p / q is a power-of-two scaling (exact, no float64 underflow),
trunc(p / q) is the rz cut and rint(p / q) the rne cut (2.1 step 4), and the sum
of the cut terms is an integer below 2**53 (the caller checks align_bits + 2 +
log2(fused + 1) <= 52), so float64 adds it exactly.

Per fused step, for a block of rows and a tile of columns (contiguous in j, so the
inner loops vectorise and the tile of B stays in cache):

1. e_max[j] in int16 over the step's non-zero products (zero operands carry a very
   negative exponent instead of a branch) and, with c_in_alignment, the accumulator;
2. X[j] = sum of cut(term * 2**(align_bits - e_max[j])), exact in float64;
3. X[j] * q rounded once into acc_format with integer operations on the float64 bits
   (rz, rne, ru, rd); subnormal, overflowing and zero results take the scalar path.

A step whose terms are all zero gets its sign of zero here (the operand values keep
signed zeros).  Elements this kernel does not decide are flagged in ``redo`` for the
general kernel: an infinite accumulator after overflow.
Rows/columns with NaN or Inf operands and non-finite C never reach it (the caller
masks them).  Promotion (2.4) folds each interval into the outer accumulator.

``prm`` is the parameter record (emu.kernels.record: ``Params(...).record()``);
gemm_fast reads its fields into locals once, outside the loops.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from emu.kernels.core import OVF_INF, RD, RNE, RZ, float_bounds, jit, round_f64
from emu.kernels.general import promote, zero_result
from emu.kernels.record import NAN_SCALE

ZERO_EXP = -(1 << 14)  # exponent carried by zero operands (never the maximum)
NO_TERM = -(1 << 15) + 1  # e_max when a step has no term at all (e_max is int16)
ALL_ZERO = NO_TERM - 1  # marks a step whose terms are all zero (its sign rule is known)
REAL = -(1 << 13)  # e_max above this: the step has a non-zero term
ROWS = 16  # rows of A per block (each tile of B is reused by all)
COLS = 256  # columns of B per tile
SIGN = np.int64(-0x8000000000000000)
FP32_MAX = float(np.finfo(np.float32).max)
NARROW = 40  # operands within 2**+-NARROW: the float32 cut applies (_cut_sum32)
MAX_ALIGN32 = 40
NO_F32 = np.zeros((0, 0), np.float32)  # no float32 copy of A
MAG = np.int64(0x7FFFFFFFFFFFFFFF)


def operands(ops, sa_p, sb_p):
    """The fast kernel's operands in one numba pass over the codes (no numpy
    temporaries): ((a_val, a_e, b_val, b_ef), rows, cols).  a_val/b_val: exact
    float64 values, product-time UE8M0 scales included (b_val as float32 when every
    value is exactly one); a_e (int32) / b_ef (int16): the exponents e = max(E, 1) -
    bias plus the scale's, ZERO_EXP for a zero b; rows[i] / cols[j]: every code of
    the row / column a number and every scale not NaN (others go to the general
    kernel, which decodes on its own: emu.kernels.decode.decode_operands)."""
    from emu.kernels.decode import value_tables

    cfg = ops.config
    on = bool(cfg.scale_block) and cfg.scale_apply == "product"
    bs = max(int(cfg.scale_block), 1)
    av, ae, aok = value_tables(cfg.a_format)
    bv, be, bok = value_tables(cfg.b_format)
    M, K = ops.a.shape
    N = ops.b.shape[1]
    a_val = np.empty((M, K), np.float64)
    a_e = np.empty((M, K), np.int32)
    b_val = np.empty((K, N), np.float64)
    b_ef = np.empty((K, N), np.int16)
    rows = np.empty(M, np.bool_)
    cols = np.empty(N, np.bool_)
    sa = sa_p if on else np.zeros((M, 1), np.int32)
    sb = sb_p if on else np.zeros((1, N), np.int32)
    stats = np.zeros(6, np.float64)
    f32, narrow = _operands(ops.a, ops.b, av, ae, aok, bv, be, bok, sa, sb, on, bs, a_val,
                            a_e, b_val, b_ef, rows, cols, stats)  # fmt: skip
    a32 = NO_F32
    b64 = b_val
    if f32:  # half the memory traffic
        b_val = b_val.astype(np.float32)
        if narrow:  # the float32 cut (see _cut_sum32)
            a32 = a_val.astype(np.float32)
    return FastOperands(a_val, a_e, b_val, b_ef, a32, b64, *stats), rows, cols


class FastOperands(NamedTuple):
    """What :func:`operands` makes.  The exponent ranges and largest magnitudes are
    those of the non-zero numbers (scales included; lo > hi when there is none)."""

    a_val: np.ndarray
    a_e: np.ndarray
    b_val: np.ndarray  # float32 when exact, else float64
    b_ef: np.ndarray
    a32: np.ndarray  # A as float32 for the float32 cut, or NO_F32
    b64: np.ndarray  # B as float64
    a_lo: float  # smallest exponent e of a non-zero a
    a_hi: float
    b_lo: float
    b_hi: float
    a_max: float  # largest |a|
    b_max: float


@jit
def _operands(
    a, b, av, ae, aok, bv, be, bok, sa, sb, on, bs, a_val, a_e, b_val, b_ef, rows, cols, stats
):
    """The loop of :func:`operands`; returns (every b value is an fp32, every
    non-zero value of A and B lies within [2**-NARROW, 2**NARROW]) and fills stats
    (FastOperands.a_lo ... b_max)."""
    M, K = a.shape
    N = b.shape[1]
    lo, hi = 2.0**-NARROW, 2.0**NARROW
    narrow = True
    a_lo, a_hi, b_lo, b_hi, a_max, b_max = 1 << 30, -(1 << 30), 1 << 30, -(1 << 30), 0.0, 0.0
    for i in range(M):
        good = True
        for k in range(K):
            c = a[i, k]
            s = sa[i, k // bs] if on else 0
            if s == NAN_SCALE:
                good = False
                s = 0
            good = good and aok[c]
            v = math.ldexp(av[c], s)
            a_val[i, k] = v
            e = ae[c] + s
            a_e[i, k] = e
            if v != 0:
                a_lo, a_hi, a_max = min(a_lo, e), max(a_hi, e), max(a_max, abs(v))
                if abs(v) < lo or abs(v) > hi:
                    narrow = False
        rows[i] = good
    for j in range(N):
        cols[j] = True
    f32 = True
    for k in range(K):
        for j in range(N):
            c = b[k, j]
            s = sb[k // bs, j] if on else 0
            if s == NAN_SCALE:
                cols[j] = False
                s = 0
            if not bok[c]:
                cols[j] = False
            v = math.ldexp(bv[c], s)
            b_val[k, j] = v
            b_ef[k, j] = ae_zero(v, be[c] + s)
            if f32 and (abs(v) > FP32_MAX or np.float64(np.float32(v)) != v):
                f32 = False
            if v != 0:
                e = be[c] + s
                b_lo, b_hi, b_max = min(b_lo, e), max(b_hi, e), max(b_max, abs(v))
                if abs(v) < lo or abs(v) > hi:
                    narrow = False
    stats[0], stats[1], stats[2], stats[3], stats[4], stats[5] = (
        a_lo,
        a_hi,
        b_lo,
        b_hi,
        a_max,
        b_max,
    )
    return f32, narrow


@jit
def ae_zero(v, e):
    """The exponent the fast kernel reads for b: ZERO_EXP for a zero value."""
    return ZERO_EXP if v == 0 else e


@jit
def _cut_sum(
    a_val, a_e, b_val, b_e, i, k0, k1, cin, rne, align, emin_acc, zon, zexp, acc, emax, sc,
    isc, X, j0, j1, f64,
):  # fmt: skip
    """Steps 1-2 for row i, columns j0 <= j < j1 (tile-local arrays).  ``zon``: zero
    terms enter e_max at ``zexp`` (zero_exp an integer).  ``f64``: the products here,
    in float64 (else _cut_sum32 adds them)."""
    n = j1 - j0
    accb = acc.view(np.int64)
    for t in range(n):
        e = NO_TERM
        if cin and acc[t] != 0:
            e = max(np.int16(((accb[t] >> 52) & 0x7FF) - 1023), emin_acc)
        elif cin and zon:
            e = zexp
        emax[t] = e
    for k in range(k0, k1):
        if a_val[i, k] != 0:
            ae = np.int16(a_e[i, k])
            erow = b_e[k, j0:j1]  # 1-D slices: the loops vectorise
            if zon:  # a zero b (exponent ZERO_EXP) enters at zexp
                for t in range(n):
                    e = np.int16(ae + erow[t])
                    emax[t] = max(emax[t], e if e > REAL else zexp)
            else:
                for t in range(n):
                    emax[t] = max(emax[t], np.int16(ae + erow[t]))
        elif zon:  # a zero a: every product of the row is zero
            for t in range(n):
                emax[t] = max(emax[t], zexp)
    scb = sc.view(np.int64)
    iscb = isc.view(np.int64)
    for t in range(n):  # sc = 2**(align - e_max) and isc = 1 / sc, from their bits
        d = align - emax[t] if emax[t] > REAL else 0
        scb[t] = np.int64(d + 1023) << 52
        iscb[t] = np.int64(1023 - d) << 52
    if cin and rne:
        for t in range(n):
            X[t] = np.rint(acc[t] * sc[t])
    elif cin:
        for t in range(n):
            X[t] = np.trunc(acc[t] * sc[t])
    else:
        X[:n] = 0.0
    if not f64:
        return
    for k in range(k0, k1):
        av = a_val[i, k]
        if av != 0:
            brow = b_val[k, j0:j1]
            if rne:
                for t in range(n):
                    X[t] += np.rint(av * np.float64(brow[t]) * sc[t])
            else:
                for t in range(n):
                    X[t] += np.trunc(av * np.float64(brow[t]) * sc[t])


@jit
def _cut_sum32(a32, b_val, i, k0, k1, rne, sc, sc32, X, Y, n, j0, j1, flush):
    """Step 2's products in float32, twice the lanes of float64.  Exact when every
    non-zero value lies within 2**+-NARROW (operands: ``narrow``) and align_bits <=
    MAX_ALIGN32: a product a*b (at most 8 significant bits, within 2**+-82) is an
    exact float32; so is p * 2**(align - e_max) unless it is below 2**-141 (then far
    below a quantum: its cut is 0 either way); its cut (trunc / rint) is an integer
    of magnitude at most 2**(align + 2) (p < 4 * 2**e_max).  ``flush`` > 0: that many
    cut terms fit an int32 sum (align_bits <= 28), which is added to X every
    ``flush`` products; 0: each term goes to X in float64.  sc32: 2**(align - e_max)
    as float32; a step whose e_max is below align - 126 has no non-zero product
    (e_max >= -82 whenever it has one) and gets 2**127."""
    for t in range(n):
        d = sc[t]
        sc32[t] = np.float32(d) if d <= 2.0**127 else np.float32(2.0**127)
    if flush:
        Y[:n] = 0
    count = 0
    for k in range(k0, k1):
        av = a32[i, k]
        if av != 0:
            brow = b_val[k, j0:j1]
            if flush:
                if count == flush:
                    for t in range(n):
                        X[t] += np.float64(Y[t])
                        Y[t] = 0
                    count = 0
                count += 1
                if rne:
                    for t in range(n):
                        Y[t] += np.int32(np.rint(av * brow[t] * sc32[t]))
                else:
                    for t in range(n):
                        Y[t] += np.int32(av * brow[t] * sc32[t])  # truncates: the rz cut
            elif rne:
                for t in range(n):
                    X[t] += np.float64(np.rint(av * brow[t] * sc32[t]))
            else:
                for t in range(n):
                    X[t] += np.float64(np.trunc(av * brow[t] * sc32[t]))
    if flush:
        for t in range(n):
            X[t] += np.float64(Y[t])


@jit
def _round_vec(x, tail, out, flag, n, mbits, mode, lo_bits, hi_bits, has_tail):
    """out[t] = x[t] + tail[t] rounded to mbits fraction bits by mode, with integer
    operations on the float64 bits (|tail| < ulp(x)/2 carries only its sign, as from
    TwoSum; ``has_tail`` False: every tail is 0).  flag[t] marks results this cannot
    decide: zero, x or the result below 2**emin (lo_bits: the format's spacing is
    coarser there, e.g. x = 2**emin with a negative tail under rz), above max finite
    (hi_bits); the caller rounds those one by one.  One loop per mode (the mode is
    the same for every t), so that each vectorises."""
    xb = x.view(np.int64)
    ob = out.view(np.int64)
    d = 52 - mbits
    low_mask = (np.int64(1) << d) - 1
    keep = ~low_mask
    half = np.int64(1) << (d - 1)
    unit = low_mask + 1
    if not has_tail:
        if mode == RNE:
            for t in range(n):
                b = xb[t]
                mag = b & MAG
                low = mag & low_mask
                odd = (mag >> d) & 1
                up = (low > half) | ((low == half) & (odd == 1))
                r = (mag & keep) + (unit if up else 0)
                ob[t] = r | (b & SIGN)
                flag[t] = (mag < lo_bits) | (r < lo_bits) | (r > hi_bits)
        elif mode == RZ:
            for t in range(n):
                b = xb[t]
                mag = b & MAG
                r = mag & keep
                ob[t] = r | (b & SIGN)
                flag[t] = (mag < lo_bits) | (r < lo_bits) | (r > hi_bits)
        else:  # RU, RD: toward zero on one side, away on the other
            for t in range(n):
                b = xb[t]
                mag = b & MAG
                neg = b < 0
                r = mag & keep if (mode == RD) != neg else (mag + low_mask) & keep
                ob[t] = r | (b & SIGN)
                flag[t] = (mag < lo_bits) | (r < lo_bits) | (r > hi_bits)
        return
    for t in range(n):
        b = xb[t]
        mag = b & MAG
        low = mag & low_mask
        neg = b < 0
        same = tail[t] != 0 and (tail[t] < 0) == neg  # exact is just above |x|
        opp = tail[t] != 0 and (tail[t] < 0) != neg  # exact is just below |x|
        if mode == RNE:
            up = low > half or (low == half and (same or (not opp and (mag >> d) & 1 == 1)))
            r = (mag & keep) + (unit if up else 0)
        elif mode == RZ or (mode == RD) != neg:  # toward zero
            r = ((mag - 1) if (opp and low == 0) else mag) & keep
        else:  # away from zero
            r = (mag + low_mask + (1 if (same and low == 0) else 0)) & keep
        ob[t] = r | (b & SIGN)
        flag[t] = (mag < lo_bits) | (r < lo_bits) | (r > hi_bits)


@jit
def _zero_signs(a_val, b_val, i, j0, n, k0, k1, acc, emax, amode, out):
    """out[t] = the IEEE zero result of each step element whose terms are all zero
    (emax <= REAL and c = +-0; 2.1 step 6): the zeros' common sign, else +0 (-0 under
    rd).  The operand values carry signed zeros (decode.value_tables), so a
    product's zero has its sign; the loops run over contiguous rows of B."""
    neg = np.zeros(n, np.bool_)
    pos = np.zeros(n, np.bool_)
    for t in range(n):
        if math.copysign(1.0, acc[t]) < 0:
            neg[t] = True
        else:
            pos[t] = True
    for k in range(k0, k1):
        av = a_val[i, k]
        brow = b_val[k, j0 : j0 + n]
        for t in range(n):
            if math.copysign(1.0, av * brow[t]) < 0:
                neg[t] = True
            else:
                pos[t] = True
    for t in range(n):
        if emax[t] <= REAL and acc[t] == 0:
            out[t] = zero_result(neg[t], pos[t], amode, False)
            emax[t] = ALL_ZERO


@jit
def _finish(
    X, sc, isc, acc, emax, flag, tail, redo, j0, n, cin, aeb, amb, amode, asub, zpos, ovf,
    lo_bits, hi_bits, a_val, b_val, i, k0, k1,
):  # fmt: skip
    """Step 3: acc <- round(X / sc), or round(X / sc + c) when c is outside the
    alignment (TwoSum gives that sum exactly as X + tail).  ``zpos``: every zero
    result is +0 (zero_sign = positive); ``ovf``: every overflow is +-Inf.  A step
    whose terms are all zero takes the sign rule of _zero_signs (kept in sc, marked
    in emax)."""
    for t in range(n):
        X[t] = X[t] * isc[t]  # exact: X < 2**53, isc = 1 / sc a power of 2
    if not zpos:
        for t in range(n):
            if emax[t] <= REAL and acc[t] == 0:  # some step with every term zero
                _zero_signs(a_val, b_val, i, j0, n, k0, k1, acc, emax, amode, sc)
                break
    if not cin:  # c + X exactly, as X + tail (TwoSum)
        for t in range(n):
            x = X[t]
            c = acc[t]
            s = c + x
            bb = s - c
            X[t] = s
            tail[t] = (c - (s - bb)) + (x - bb)
    else:
        tail[:n] = 0.0
    _round_vec(X, tail, acc, flag, n, amb, amode, lo_bits, hi_bits, not cin)
    for t in range(n):
        if not flag[t] or redo[j0 + t]:  # redone elements: skip their garbage
            continue
        if emax[t] == ALL_ZERO:
            acc[t] = sc[t]
            continue
        if X[t] == 0:  # an exact cancellation (or, with zpos, every term zero)
            v = -0.0 if amode == RD and not zpos else 0.0
        else:
            v = round_f64(X[t], tail[t], aeb, amb, amode + (OVF_INF if ovf else 0), asub)
            if zpos and v == 0:
                v = 0.0
        if np.isinf(v):
            redo[j0 + t] = True
        acc[t] = v


@jit
def _fold(o, p, sa_p, sb_p, i, p0, j0, n, prm, sc, x, err, flag, special, lo_bits, hi_bits):
    """Promotion (2.4) for one row tile: o <- round(o + p * 2**scale), p <- 0.  TwoSum
    gives the exact sum as x + err; _round_vec rounds it; specials, zeros, subnormal
    and overflowing results go through the scalar promote()."""
    on = prm.scale_at_promotion
    kb = p0 // prm.scale_block if on else 0
    sa = sa_p[i, kb] if on else 0
    sbrow = sb_p[kb, j0 : j0 + n] if on else sb_p[0, 0:0]
    scb = sc.view(np.int64)
    for t in range(n):  # scale exponent per element (NAN_SCALE kept)
        s = sa + sbrow[t] if on else 0
        if on and (sa == NAN_SCALE or sbrow[t] == NAN_SCALE):
            s = NAN_SCALE
        err[t] = s  # scratch: the exponent, as a float
        scb[t] = np.int64((0 if s == NAN_SCALE else s) + 1023) << 52
    for t in range(n):
        a = o[t]
        b = p[t] * sc[t]
        s_ = a + b
        bb = s_ - a
        x[t] = s_
        special[t] = err[t] == NAN_SCALE
        err[t] = (a - (s_ - bb)) + (b - bb)
    _round_vec(x, err, x, flag, n, prm.promote_mbits, prm.promote_mode, lo_bits, hi_bits, True)
    for t in range(n):
        if flag[t] or special[t] or not np.isfinite(o[t]) or not np.isfinite(p[t]):
            s = NAN_SCALE if special[t] else (sa + sbrow[t] if on else 0)
            o[t] = promote(o[t], p[t], s, prm)
        else:
            o[t] = x[t]
        p[t] = 0.0


@jit
def gemm_fast(r0, r1, a_val, a_e, b_val, b_e, a32, c, sa_p, sb_p, prm, rows, out, redo):
    """out[i, :] for every i with rows[i], r0 <= i < r1 (r0 a multiple of ROWS);
    redo[i, j] flags elements left undecided.  Each element's arithmetic is
    independent of the blocking and the thread count.  a32: A as float32 when the
    float32 cut applies (operands: narrow data), else an empty placeholder."""
    M, K = a_val.shape
    N = b_val.shape[1]
    step = prm.fused
    use32 = a32.shape[0] == M and a32.shape[1] == K and M > 0 and prm.align_bits <= MAX_ALIGN32
    # int32 sums of cut terms (each at most 2**(align + 2)): how many fit
    flush = ((1 << 31) - 1) >> (prm.align_bits + 2) if prm.align_bits <= 28 else 0
    P = prm.promote_every if prm.promote_every > 0 else max(K, 1)
    promoted = prm.promote_every > 0
    align = prm.align_bits
    cin = prm.c_in_alignment
    rne = prm.align_rne
    aeb, amb, amode, asub = prm.acc_ebits, prm.acc_mbits, prm.acc_mode, prm.acc_subnormals
    zon, zexp = prm.zero_exp_on, np.int16(prm.zero_exp)
    zpos, ovf = prm.zero_positive, prm.overflow_inf
    emin_acc = np.int16(2 - (1 << (aeb - 1)))
    lo_bits, hi_bits = float_bounds(aeb, amb)  # 2**emin, max finite
    p_lo, p_hi = float_bounds(prm.promote_ebits, prm.promote_mbits)
    for blk in range(r0 // ROWS, (r1 + ROWS - 1) // ROWS):
        emax = np.empty(COLS, dtype=np.int16)
        sc = np.empty(COLS, dtype=np.float64)
        isc = np.empty(COLS, dtype=np.float64)
        X = np.empty(COLS, dtype=np.float64)
        flag = np.empty(COLS, dtype=np.bool_)
        special = np.empty(COLS, dtype=np.bool_)
        accs = np.empty((ROWS, COLS), dtype=np.float64)
        err = np.empty(COLS, dtype=np.float64)
        sc32 = np.empty(COLS, dtype=np.float32)
        Y = np.empty(COLS, dtype=np.int32)
        for j0 in range(0, N, COLS):
            j1 = min(j0 + COLS, N)
            n = j1 - j0
            for r in range(ROWS):
                i = blk * ROWS + r
                if i < r1 and rows[i]:
                    for t in range(n):
                        accs[r, t] = 0.0 if promoted else c[i, j0 + t]
                        out[i, j0 + t] = c[i, j0 + t]
            for p0 in range(0, K, P):
                for k0 in range(p0, min(p0 + P, K), step):
                    k1 = min(k0 + step, K)
                    for r in range(ROWS):
                        i = blk * ROWS + r
                        if i >= r1 or not rows[i]:
                            continue
                        acc = accs[r]
                        _cut_sum(
                            a_val,
                            a_e,
                            b_val,
                            b_e,
                            i,
                            k0,
                            k1,
                            cin,
                            rne,
                            align,
                            emin_acc,
                            zon,
                            zexp,
                            acc,
                            emax,
                            sc,
                            isc,
                            X,
                            j0,
                            j1,
                            not use32,
                        )
                        if use32:
                            _cut_sum32(a32, b_val, i, k0, k1, rne, sc, sc32, X, Y, n, j0, j1, flush)
                        _finish(
                            X,
                            sc,
                            isc,
                            acc,
                            emax,
                            flag,
                            err,
                            redo[i],
                            j0,
                            n,
                            cin,
                            aeb,
                            amb,
                            amode,
                            asub,
                            zpos,
                            ovf,
                            lo_bits,
                            hi_bits,
                            a_val,
                            b_val,
                            i,
                            k0,
                            k1,
                        )
                for r in range(ROWS):
                    i = blk * ROWS + r
                    if i >= r1 or not rows[i]:
                        continue
                    if not promoted:
                        for t in range(n):
                            out[i, j0 + t] = accs[r, t]
                        continue
                    _fold(
                        out[i, j0:j1],
                        accs[r],
                        sa_p,
                        sb_p,
                        i,
                        p0,
                        j0,
                        n,
                        prm,
                        sc,
                        X,
                        err,
                        flag,
                        special,
                        p_lo,
                        p_hi,
                    )
