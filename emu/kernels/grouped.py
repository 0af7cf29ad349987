"""The grouped kernel: ``group`` = G > 1 (Blackwell's k64 FP4 forms, MMA-Sim's
GST_FDPA), any scale format, no promotion.

Why it is exact: a group's sum V of G products of unscaled operand values is an
exact float64 when its span fits 53 bits (:func:`fits`: G * max|a| * max|b| over the
products' smallest last place, for the formats of the config), and so is V times
the group's scale significands (UE8M0: 1; UE4M3: at most 4 bits each).  A group is
one term of alignment exponent e_g = e_sa + e_sb (2.1b); with q = 2**(e_max -
align_bits), V * s * 2**e_g / q is that value times a power of two (exact), its
trunc / rint is the rz / rne cut, and a step adds at most fused / G + 1 such
integers, each below 2**(align_bits + log2(4 G max|a| max|b|)): :func:`fits` keeps
that sum below 2**53.

Per fused step, for a row and a tile of columns: the group sums and whether each
group is live (a non-zero product and a non-zero scale; a zero group enters e_max
as zero_exp says), e_max, the cut sum, then the rounding of the fast kernel
(emu.kernels.fast._finish: IEEE or positive zeros, overflow, Inf results redone by
the general kernel).
"""

from __future__ import annotations

import math

import numpy as np

from emu.kernels.core import float_bounds, jit
from emu.kernels.fast import COLS, NO_TERM, REAL, _finish

MAX_GROUPS = 64  # groups per fused step the kernel keeps (fused / group)


def fits(cfg, K: int) -> bool:
    """The exactness condition of the module docstring, from the config's formats."""
    from emu.numerics.formats import get_format

    fa, fb = get_format(cfg.a_format), get_format(cfg.b_format)
    G = cfg.group
    scaled = bool(cfg.scale_block) and cfg.scale_apply == "product"
    ms = get_format(cfg.scale_format).mbits if scaled else 0
    top = math.log2(G * fa.max_finite * fb.max_finite)
    lsb = (fa.emin - fa.mbits) + (fb.emin - fb.mbits)
    steps = (K if cfg.fused == "k" else cfg.fused) // G + 1
    if steps - 1 > MAX_GROUPS or not isinstance(cfg.align_bits, int):
        return False
    value_bits = top - lsb + 2 * (ms + 1)
    window = cfg.align_bits + top + 2 + int(steps).bit_length()
    return value_bits <= 53 and window <= 52


def scale_values(codes, fmt):
    """Scale codes -> (significand value m * 2**-M as float64, exponent e as int32)
    (NaN codes: 0 and 0; their rows and columns go to the general kernel)."""
    from emu.kernels.decode import scale_tables
    from emu.numerics.formats import get_format

    m, e, _ = scale_tables(fmt)
    f = get_format(fmt)
    return np.ldexp(m.astype(np.float64), -f.mbits)[codes], e[codes].astype(np.int32)


@jit
def gemm_grouped(r0, r1, a_val, b_val, sam, sae, sbm, sbe, c, prm, rows, out, redo):
    """out[i, :] for every i with rows[i], r0 <= i < r1; redo flags elements left to
    the general kernel.  a_val/b_val: unscaled operand values (signed zeros kept);
    sam/sae (M, blocks), sbm/sbe (blocks, N): scale significands and exponents
    (one block of 1.0 without scales)."""
    M, K = a_val.shape
    N = b_val.shape[1]
    step = prm.fused
    G = prm.group
    bs = prm.scale_block if sam.shape[1] > 0 and prm.scale_block > 0 else max(K, 1)
    align = prm.align_bits
    cin = prm.c_in_alignment
    rne = prm.align_rne
    aeb, amb, amode, asub = prm.acc_ebits, prm.acc_mbits, prm.acc_mode, prm.acc_subnormals
    zon, zexp = prm.zero_exp_on, np.int16(prm.zero_exp)
    zpos, ovf = prm.zero_positive, prm.overflow_inf
    emin_acc = np.int16(2 - (1 << (aeb - 1)))
    lo_bits, hi_bits = float_bounds(aeb, amb)
    V = np.empty((MAX_GROUPS, COLS), np.float64)
    live = np.empty((MAX_GROUPS, COLS), np.bool_)
    emax = np.empty(COLS, np.int16)
    sc = np.empty(COLS, np.float64)
    isc = np.empty(COLS, np.float64)
    X = np.empty(COLS, np.float64)
    flag = np.empty(COLS, np.bool_)
    err = np.empty(COLS, np.float64)
    acc = np.empty(COLS, np.float64)
    for i in range(r0, r1):
        if not rows[i]:
            continue
        for j0 in range(0, N, COLS):
            j1 = min(j0 + COLS, N)
            n = j1 - j0
            for t in range(n):
                acc[t] = c[i, j0 + t]
            for k0 in range(0, K, step):
                k1 = min(k0 + step, K)
                accb = acc.view(np.int64)
                for t in range(n):  # 2.1 step 2: C's exponent, or a zero term
                    e = NO_TERM
                    if cin and acc[t] != 0:
                        e = max(np.int16(((accb[t] >> 52) & 0x7FF) - 1023), emin_acc)
                    elif cin and zon:
                        e = zexp
                    emax[t] = e
                g = 0
                for g0 in range(k0, k1, G):  # 2.1b: each group's sum, liveness, e_g
                    kb = g0 // bs
                    for t in range(n):
                        V[g, t] = 0.0
                        live[g, t] = False
                    for k in range(g0, min(g0 + G, k1)):
                        av = a_val[i, k]
                        if av != 0:
                            brow = b_val[k, j0:j1]
                            for t in range(n):
                                V[g, t] += av * brow[t]
                                live[g, t] = live[g, t] | (brow[t] != 0)
                    sa_m, sa_e = sam[i, kb], sae[i, kb]
                    for t in range(n):
                        sv = sa_m * sbm[kb, j0 + t]
                        V[g, t] *= sv
                        ok = live[g, t] and sv != 0
                        live[g, t] = ok
                        if ok:
                            emax[t] = max(emax[t], np.int16(sa_e + sbe[kb, j0 + t]))
                        elif zon:
                            emax[t] = max(emax[t], zexp)
                    g += 1
                scb = sc.view(np.int64)
                iscb = isc.view(np.int64)
                for t in range(n):
                    d = align - emax[t] if emax[t] > REAL else 0
                    scb[t] = np.int64(d + 1023) << 52
                    iscb[t] = np.int64(1023 - d) << 52
                    if cin:
                        x = acc[t] * sc[t]
                        X[t] = np.rint(x) if rne else np.trunc(x)
                    else:
                        X[t] = 0.0
                g = 0
                for g0 in range(k0, k1, G):  # 2.1 step 4: the cut of each group term
                    kb = g0 // bs
                    sa_e = sae[i, kb]
                    for t in range(n):
                        if live[g, t]:
                            # V * 2**e_g * sc: the power of two applied once (exact)
                            x = math.ldexp(V[g, t] * sc[t], sa_e + sbe[kb, j0 + t])
                            X[t] += np.rint(x) if rne else np.trunc(x)
                    g += 1
                _finish(X, sc, isc, acc, emax, flag, err, redo[i], j0, n, cin, aeb, amb, amode,
                        asub, zpos, ovf, lo_bits, hi_bits, a_val, b_val, i, k0, k1)  # fmt: skip
            for t in range(n):
                out[i, j0 + t] = acc[t]
