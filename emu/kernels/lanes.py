"""The lanes kernel: ``lanes`` > 1 with C joined at ``join_bits`` and the sum
normalised to ``norm_bits`` (AMD CDNA3, MMA-Sim's GTR_FDPA), unscaled FP8 operands,
no promotion, every zero result +0, zero terms dropped.

Why it is exact (config rules: align_bits <= 30; the kernel's rule: join_bits -
align_bits <= 16 and a few lanes of at most LANE_TERMS products): every product is an
exact float64; cut to 2**(e_l - A) (trunc or rint) it is an integer below 2**(A + 2);
a lane sums at most LANE_TERMS of them (below 2**(A + 2 + 6)); the lane sums cut
again to 2**(e_dot - A) (floor, trunc, rint or ceil of a scaled integer) and added
stay below 2**(A + 2 + 6 + bitlen(lanes)); the join cuts that sum to 2**(e_j - J)
and C to 2**(e_j - A) and adds them in units of 2**(e_j - J): an integer below
2**(J + 11 + bitlen(lanes)) <= 2**53.  The normalisation to norm_bits and the final
rounding work on the float64 bits (fast._round_vec); what those cannot decide
(subnormal, overflowing, zero) is rounded one by one.
"""

from __future__ import annotations

import math

import numpy as np

from emu.kernels.core import OVF_INF, RD, RNE, RZ, float_bounds, jit, round_f64, round_int
from emu.kernels.fast import COLS, _round_vec

LANE_TERMS = 64  # products per lane the kernel sums (fused / lanes)
NO_EXP = -(1 << 30)


def fits(cfg, K: int) -> bool:
    """The kernel's condition on the config (the module docstring)."""
    if not (isinstance(cfg.join_bits, int) and isinstance(cfg.norm_bits, int)):
        return False
    steps = K if cfg.fused == "k" else cfg.fused
    per_lane = -(-steps // cfg.lanes)
    return (
        per_lane <= LANE_TERMS
        and cfg.join_bits - cfg.align_bits <= 16
        and cfg.join_bits + 11 + int(cfg.lanes).bit_length() <= 53
    )


@jit
def _cut(x, mode):
    """x (an exact float64 multiple of a power of two) to an integer by mode."""
    if mode == RZ:
        return np.trunc(x)
    if mode == RNE:
        return np.rint(x)
    if mode == RD:
        return np.floor(x)
    return np.ceil(x)  # RU


@jit
def gemm_lanes(r0, r1, a_val, a_e, b_val, b_e, c, prm, rows, out, redo):
    """out[i, :] for rows r0 <= i < r1 with rows[i]; redo: elements for the general
    kernel (an infinite accumulator).  a_val/b_val: exact operand values; a_e/b_e:
    their exponents e = max(E, 1) - bias (a zero value's is never read)."""
    M, K = a_val.shape
    N = b_val.shape[1]
    step = prm.fused
    L = prm.lanes
    A, J, NB = prm.align_bits, prm.join_bits, prm.norm_bits
    amode = prm.align_mode
    lmode, jmode, nmode = prm.lane_mode, prm.join_mode, prm.norm_mode
    aeb, amb, acc_mode, asub = prm.acc_ebits, prm.acc_mbits, prm.acc_mode, prm.acc_subnormals
    ovf = prm.overflow_inf
    emin = 2 - (1 << (aeb - 1))
    lo_acc, hi_acc = float_bounds(aeb, amb)
    hi_norm = float_bounds(aeb, NB)[1]
    el = np.empty((L, COLS), np.int64)
    nl = np.empty((L, COLS), np.float64)
    S = np.empty(COLS, np.float64)
    V = np.empty(COLS, np.float64)
    T = np.zeros(COLS, np.float64)
    flag = np.empty(COLS, np.bool_)
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
                for lane in range(L):  # each lane's e_max, then its cut sum
                    for t in range(n):
                        el[lane, t] = NO_EXP
                        nl[lane, t] = 0.0
                    for k in range(k0 + lane, k1, L):
                        if a_val[i, k] != 0:
                            ae = a_e[i, k]
                            for t in range(n):
                                if b_val[k, j0 + t] != 0:
                                    el[lane, t] = max(el[lane, t], ae + b_e[k, j0 + t])
                    for k in range(k0 + lane, k1, L):
                        av = a_val[i, k]
                        if av != 0:
                            for t in range(n):
                                if el[lane, t] != NO_EXP:
                                    x = math.ldexp(av * b_val[k, j0 + t], A - el[lane, t])
                                    nl[lane, t] += _cut(x, amode)
                for t in range(n):
                    e_dot = NO_EXP
                    for lane in range(L):
                        e_dot = max(e_dot, el[lane, t])
                    dot = 0.0
                    if e_dot != NO_EXP:
                        for lane in range(L):  # lane sums cut to 2**(e_dot - A)
                            if el[lane, t] != NO_EXP:
                                dot += _cut(math.ldexp(nl[lane, t], el[lane, t] - e_dot), lmode)
                    cv = acc[t]
                    e_j = e_dot
                    ce = 0
                    if cv != 0:
                        fr, ex = math.frexp(abs(cv))
                        ce = max(ex - 1, emin)
                        e_j = max(e_j, ce)
                    s = 0.0  # the joined sum in units of 2**(e_j - J)
                    if e_dot != NO_EXP:
                        s = _cut(math.ldexp(dot, e_dot - A - e_j + J), jmode)
                    if cv != 0 and ce >= e_j - A - 1:
                        s += math.ldexp(_cut(math.ldexp(cv, A - e_j), jmode), J - A)
                    V[t] = math.ldexp(s, e_j - J) if s != 0 else 0.0
                _round_vec(V, T, S, flag, n, NB, nmode, lo_acc, hi_norm, False)
                for t in range(n):  # the normalised sum: what _round_vec left
                    if flag[t]:
                        v = V[t]
                        if v == 0 or math.isinf(v):
                            S[t] = v
                        else:
                            fr, ex = math.frexp(abs(v))
                            S[t] = round_int(np.int64(math.ldexp(fr, 53)), ex - 53, v < 0, aeb,
                                             NB, nmode, True)  # fmt: skip
                        if math.isinf(S[t]):  # beyond the range: the exact value
                            S[t] = v
                _round_vec(S, T, acc, flag, n, amb, acc_mode, lo_acc, hi_acc, False)
                for t in range(n):
                    if flag[t]:
                        v = S[t]
                        if v == 0:
                            acc[t] = 0.0
                        else:
                            acc[t] = round_f64(v, 0.0, aeb, amb, acc_mode + (OVF_INF if ovf else 0),
                                               asub)  # fmt: skip
                            if acc[t] == 0:
                                acc[t] = 0.0
                            if math.isinf(acc[t]):
                                redo[i, j0 + t] = True
            for t in range(n):
                out[i, j0 + t] = acc[t]
